"""Sessions that end when they should, and may act only where they are allowed to.

Every sign-in records in the Flask session who signed in, how (``"sso"`` or
``"password"``), which organization vouched for it, and the account's
credentials epoch (directory rule 9, docs/directory.rst):

- an SSO sign-in is vouched for by the organization whose IdP signed the
  person in;
- a password sign-in is vouched for by the organization whose SCIM set the
  password, if one did (a password an organization synced is its credential,
  good in that organization only), else by none.

:func:`check_session` runs before each request: a session whose account's
credentials epoch changed (deactivation that ended management, credentials
cleared, "sign out everywhere"), or whose vouching organization no longer has
the account as a member, is signed out. :func:`may_act_in` is the one question
hosts ask before acting in an organization.
"""

from __future__ import annotations

import time
import typing as t

from flask import current_app
from flask import g
from flask import request
from flask import session
from flask_login import current_user
from flask_login import logout_user
from werkzeug.local import LocalProxy

from .._current import extension

#: Where the session records how it was opened (a dict, see :func:`record_sign_in`).
SESSION_KEY = "_okta_scim_sso"
SSO, PASSWORD = "sso", "password"


def record_sign_in(
    account: t.Any,
    organization: t.Any = None,
    *,
    integration_id: str | None = None,
    epoch: int | None = None,
    identity: t.Any = None,
) -> None:
    """Record how the current session was opened: by ``organization``'s IdP, or by password.

    With ``organization`` the session is an SSO session vouched for by it;
    without, a password session, vouched for by the organization whose SCIM
    set the password, if any. Call it right after ``login_user``; pass the
    account's credentials ``epoch`` if you read it already. ``identity`` (the
    validated :class:`~flask_okta_scim.saml.service.SamlIdentity`) keeps the
    NameID and IdP session index that single logout needs. Does not sign
    anyone in.
    """
    directory = extension().directory()
    if organization is not None:
        vouched_by, via = organization.id, SSO
    else:
        vouched_by, via = directory.password_organization_id(account), PASSWORD
    session[SESSION_KEY] = {
        "account_id": str(account.id),
        "organization_id": vouched_by,
        "integration_id": integration_id,
        "via": via,
        **directory.session_stamp(account, epoch),
        "at": time.time(),
    }
    if identity is not None:
        session[SESSION_KEY].update(
            name_id=identity.name_id,
            name_id_format=identity.name_id_format,
            session_index=identity.session_index,
        )


def current_record() -> dict[str, t.Any] | None:
    """The current session's record, if it belongs to the signed-in account.

    Keys: ``account_id``, ``organization_id`` (who vouched, or ``None``),
    ``integration_id``, ``via`` (``"sso"`` or ``"password"``), ``epoch``, ``at``
    (when the sign-in happened, in seconds since the epoch).
    """
    info = session.get(SESSION_KEY)
    if not isinstance(info, dict) or not current_user.is_authenticated:
        return None
    if str(current_user.get_id()) != str(info.get("account_id")):
        return None
    return info


def check_session() -> None:
    """Before each request: sign out a session that no longer holds.

    The session ends when the account's credentials epoch changed, when the
    account is not the one it was opened for, or when the organization that
    vouched for it (its Okta, or its SCIM that set the password) no longer has
    the account as a member. A signed-in session without a record (one that
    Flask-Login restored from its "remember me" cookie, which knows nothing of
    epochs) is signed out, unless :data:`OKTA_SCIM_TRUST_REMEMBER_COOKIES` is
    on, in which case it becomes a password session vouched for by nobody. One
    query for signed-in visitors; SCIM clients and anonymous visitors cost
    nothing. Does not check what the request is about to do: :func:`may_act_in`
    does.
    """
    if not hasattr(current_app, "login_manager"):
        return  # no Flask-Login: there are no sign-ins to check
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if "_user_id" not in session and remember not in request.cookies:
        # No session sign-in to check (a SCIM client, an anonymous visitor, a request
        # signed by a header): cost nothing, not even loading the user.
        if SESSION_KEY in session:
            session.pop(SESSION_KEY, None)
        return
    if not current_user.is_authenticated:
        if SESSION_KEY in session:
            session.pop(SESSION_KEY, None)
        return
    info = current_record()
    if info is None:
        if extension().settings.trust_remember_cookies:
            record_sign_in(current_user)
        else:
            logout_user()
            session.pop(SESSION_KEY, None)
        return
    vouched_by = info.get("organization_id")
    directory = extension().directory()
    if not directory.session_still_valid(current_user.id, info, vouched_by):
        logout_user()
        session.pop(SESSION_KEY, None)


def may_act_in(organization: t.Any) -> bool:
    """Whether the current session may act in ``organization``.

    Yes only if someone is signed in, the account is a member of the
    organization, the session is not vouched for by another organization (an
    SSO session, or a password an organization synced, acts in that
    organization only), and, when the organization requires SSO, the session
    is vouched for by its own IdP. Does not check roles: what a member may do
    is the host's decision.
    """
    if organization is None or not current_user.is_authenticated:
        return False
    ext = extension()
    directory = ext.directory()
    if directory.member_role(organization, current_user) is None:
        return False
    info = current_record() or {"via": PASSWORD, "organization_id": None}
    vouched_by = info.get("organization_id")
    if vouched_by is not None and vouched_by != organization.id:
        return False
    if directory.requires_sso(organization):
        return info.get("via") == SSO and vouched_by == organization.id
    return True


def get_sso_organization() -> t.Any:
    """The organization whose Okta signed the current person in, or ``None``.

    ``None`` after a password sign-in, when nobody is signed in, or when the
    session's account is not the one the IdP vouched for. A session vouched
    for by organization B must not act in organization A, even for a person
    who belongs to both: ask :func:`may_act_in`.
    """
    info = current_record()
    if info is None or info.get("via") != SSO:
        return None
    ext = extension()
    return ext.db.session.get(ext.models.organization, info.get("organization_id"))


#: :func:`get_sso_organization` as a proxy for templates (``{% if current_sso_organization %}``).
#: In Python code call the function: a proxy is never ``None``.
current_sso_organization: t.Any = LocalProxy(get_sso_organization)


def on_login(sender: t.Any, user: t.Any = None, **kwargs: t.Any) -> None:
    """Flask-Login receiver: any sign-in but the ACS's is a password session."""
    session.pop(SESSION_KEY, None)
    if user is not None and not g.get("_okta_scim_sso_sign_in"):
        record_sign_in(user)


def on_logout(sender: t.Any, **kwargs: t.Any) -> None:
    """Flask-Login receiver: signing out drops the record."""
    session.pop(SESSION_KEY, None)
