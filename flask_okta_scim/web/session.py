"""Which organization's IdP vouched for the session (directory rule 9, docs/directory.rst)."""

from __future__ import annotations

import typing as t

from flask import session
from flask_login import current_user
from werkzeug.local import LocalProxy

from .._current import extension
from .sso import SESSION_KEY


def get_sso_organization() -> t.Any:
    """The organization whose Okta signed the current person in, or ``None``.

    ``None`` after a password sign-in, when nobody is signed in, or when the
    session's account is not the one the IdP vouched for. Hosts use it to scope
    what an SSO session may reach: a session vouched by organization B must not
    act in organization A, even for a person who belongs to both.
    """
    info = session.get(SESSION_KEY)
    if not info or not current_user.is_authenticated:
        return None
    if str(current_user.get_id()) != str(info.get("account_id")):
        return None
    ext = extension()
    return ext.db.session.get(ext.models.organization, info.get("organization_id"))


#: :func:`get_sso_organization` as a proxy for templates (``{% if current_sso_organization %}``).
#: In Python code call the function: a proxy is never ``None``.
current_sso_organization: t.Any = LocalProxy(get_sso_organization)


def forget_sso(sender: t.Any, **kwargs: t.Any) -> None:
    """Flask-Login receiver: any other sign-in or sign-out drops the SSO record."""
    session.pop(SESSION_KEY, None)
