"""Linking an existing account to an organization, proven by the person, not by the IdP alone.

When an organization's Okta vouches for an email whose account the organization
does not manage, just-in-time provisioning refuses it (directory rule 3): the
IdP's word alone never hands over an account. The refusal page then offers a
way forward: the person signs in to the account the application's usual way
(the host's Flask-Login ``login_view``), after the refusal, and confirms on a
page that names the organization. Only then does the account join the
organization, as just-in-time provisioning would have made it, and the person
is signed in with a session vouched for by that organization.

The link in progress lives in the (signed) Flask session, bound to the browser
that saw the IdP's response; it expires with ``OKTA_SCIM_SSO_REQUEST_LIFETIME``.
The confirmation form carries a random value kept in that session (our own
CSRF token: the view is exempt from Flask-WTF's, whose token the IdP's POST
cannot carry).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
import typing as t
from datetime import datetime

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_login import login_user

from .._current import extension
from ..core.errors import DirectoryError
from ..core.errors import JitRefused
from ..core.text import loggable
from ..logs import log
from ..saml.service import SamlIdentity
from .session import PASSWORD
from .session import SSO
from .session import current_record
from .session import record_sign_in
from .sso_guard import Where

bp = Blueprint("okta_scim_link", __name__, template_folder="../templates")

#: Where the session keeps a link in progress.
LINK_KEY = "_okta_scim_link"


def start_link(integration_id: str, identity: SamlIdentity) -> str | None:
    """Remember, in this browser's session, that the IdP vouched for ``identity``.

    Returns the URL of the link page, or ``None`` when the application has no
    sign-in page to send the person to (no Flask-Login ``login_view``). Does
    not link anything.
    """
    if not _login_view():
        return None
    session[LINK_KEY] = {
        "integration_id": integration_id,
        "email": identity.email,
        # the account keeps 200 characters; the cookie-backed session must stay small
        "display_name": identity.display_name[:200] if identity.display_name else None,
        "assertion_id": identity.assertion_id,
        "remember_until": identity.remember_until.isoformat(),
        "started": time.time(),
        "nonce": secrets.token_urlsafe(32),
    }
    return url_for("okta_scim_link.link", integration_id=integration_id)


@bp.route("/<integration_id>/link", methods=["GET", "POST"])
def link(integration_id: str) -> ResponseReturnValue:
    """Ask the person to sign in to their account, then to confirm the link; then link."""
    pending = _pending(integration_id)
    if pending is None:
        return _page(
            404,
            "No account link in progress",
            "There is no account link to confirm in this browser, or it expired. Start "
            "again by signing in through your organization's Okta.",
        )
    directory = extension().directory(actor="sso")
    connection, organization = directory.connection_and_organization(integration_id)
    if connection is None:
        session.pop(LINK_KEY, None)
        return _page(404, "Unknown sign-in link", "This single sign-on link does not exist.")
    where = Where.of(connection)
    if not _proven(pending, directory):
        # Sign in to the account the usual way, after the IdP's refusal, then come back.
        return redirect(_login_url(request.path))
    if request.method == "GET":
        return Response(
            render_template(
                "okta_scim/link_account.html",
                organization=organization,
                email=pending["email"],
                nonce=pending["nonce"],
                action=request.path,
            ),
            mimetype="text/html",
        )
    if not hmac.compare_digest(str(request.form.get("nonce", "")), pending["nonce"]):
        return _page(
            400, "Link not confirmed", "This confirmation is not valid. Start again from Okta."
        )
    account = current_user._get_current_object()
    try:
        with directory.atomic():
            until = datetime.fromisoformat(pending["remember_until"])
            if not directory.remember_assertion(connection, pending["assertion_id"], until):
                raise JitRefused("the assertion was used already", "replayed")
            directory.link_account(organization, account, pending["display_name"])
            directory.record_sign_in(
                organization,
                connection,
                account,
                jit=True,
                idp_initiated=False,
                assertion_id=pending["assertion_id"],
            )
    except DirectoryError as e:
        session.pop(LINK_KEY, None)
        log(
            "sso.link_refused",
            logging.WARNING,
            "Account link refused: %s",
            loggable(str(e)),
            organization=where.organization,
            connection=where.connection,
            reason=str(e),
        )
        return _page(
            403,
            "Your account was not linked",
            "This organization cannot add your account. Ask your organization's admin.",
        )
    session.clear()
    g._okta_scim_sso_sign_in = True
    login_user(account)
    record_sign_in(account, organization, integration_id=integration_id)
    return redirect("/")


def _pending(integration_id: str) -> dict[str, t.Any] | None:
    pending = session.get(LINK_KEY)
    if not isinstance(pending, dict) or pending.get("integration_id") != integration_id:
        return None
    lifetime = extension().settings.sso_request_lifetime
    if time.time() - float(pending.get("started", 0)) > lifetime:
        session.pop(LINK_KEY, None)
        return None
    return pending


def _proven(pending: dict[str, t.Any], directory: t.Any) -> bool:
    """Whether the person signed in to the account the usual way since the link started.

    The usual way is a password sign-in, or a sign-in through the Okta of the
    organization that manages the account; another IdP's word is no proof.
    """
    record = current_record()
    if record is None or float(record.get("at", 0)) <= float(pending["started"]):
        return False
    if str(current_user.email).lower() != str(pending["email"]).lower():
        return False
    if record.get("via") == PASSWORD:
        return True
    return bool(
        record.get("via") == SSO
        and record.get("organization_id") is not None
        and record.get("organization_id") == directory.managing_organization_id(current_user)
    )


def _login_view() -> str | None:
    manager = getattr(current_app, "login_manager", None)
    view = getattr(manager, "login_view", None)
    return view if isinstance(view, str) else None


def _login_url(next_path: str) -> str:
    view = _login_view()
    return url_for(view, next=next_path) if view else "/"


def _page(status: int, title: str, message: str) -> Response:
    body = render_template("okta_scim/sso_error.html", title=title, message=message, reference=None)
    return Response(body, status=status, mimetype="text/html")
