"""IdP-initiated sign-ins that would replace someone else's session: ask first.

An unsolicited (IdP-initiated) response is bound to no browser: anyone holding
a valid response for their own account can make another browser post it (a
cross-site form), and before this module the victim's session became the
attacker's without a word (login CSRF). Now, when someone else is signed in in
this browser, the response signs nobody in: the browser gets a page naming
both accounts, whose confirmation ``POST`` carries a single-use value kept in
the (signed) Flask session, good for :data:`PENDING_LIFETIME` seconds. A
cross-site page cannot read that value, so only the person at this browser can
confirm. The same person already signed in, or nobody, proceeds at once; an
SP-initiated response (bound to this browser's nonce) is not concerned.

Browsers do not send ``SameSite=Lax`` cookies (Chrome's default for cookies
without the attribute) with Okta's cross-site ``POST``, so the ACS may not see
who is signed in. A cross-site post (``Sec-Fetch-Site``) of an unsolicited
response is therefore answered with a 303 to ``<integration_id>/continue``, a
top-level ``GET`` that carries those cookies, the validated identity riding
along in a signed, short-lived cookie; the decision is made there.

The assertion's ID enters the replay cache when the sign-in completes, so a
pending sign-in and the response it came from are good for one sign-in in all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import typing as t
from datetime import datetime

from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask_login import current_user
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer

from .._current import extension
from ..core.redirects import safe_next_path
from ..saml.service import SamlIdentity

#: Seconds a pending IdP-initiated sign-in may wait for its confirmation.
PENDING_LIFETIME = 300
#: The cookie that carries a bounced response's identity to ``/continue``.
PENDING_COOKIE = "okta_scim_sso_pending"
#: Where the session keeps a sign-in waiting for confirmation.
SESSION_KEY = "_okta_scim_sso_pending"
#: A bounced identity larger than this (a very long display name) is refused.
_MAX_COOKIE = 3000
_SALT = "flask-okta-scim.sso-unsolicited"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.secret_key or "", salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def pending(
    integration_id: str, identity: SamlIdentity, relay_state: str | None
) -> dict[str, t.Any]:
    """What a sign-in waiting to be confirmed keeps of a validated unsolicited response."""
    return {
        "i": integration_id,
        "email": identity.email,
        "name_id": identity.name_id,
        "display_name": identity.display_name,
        "assertion_id": identity.assertion_id,
        "until": identity.remember_until.isoformat(),
        "session_index": identity.session_index,
        "name_id_format": identity.name_id_format,
        "next": safe_next_path(relay_state),
        "at": time.time(),
    }


def identity_of(item: dict[str, t.Any]) -> SamlIdentity:
    """The identity a pending sign-in was made from (attributes are not kept)."""
    return SamlIdentity(
        name_id=str(item["name_id"]),
        email=str(item["email"]),
        display_name=item.get("display_name"),
        attributes={},
        assertion_id=str(item["assertion_id"]),
        in_response_to=frozenset(),
        remember_until=datetime.fromisoformat(item["until"]),
        session_index=item.get("session_index"),
        name_id_format=item.get("name_id_format"),
    )


def signed_in_as_someone_else(email: str) -> str | None:
    """The email of the account signed in in this browser, if it is not ``email``'s."""
    if not current_user.is_authenticated:
        return None
    mine = str(getattr(current_user, "email", "") or "")
    return mine if mine.casefold() != email.casefold() else None


def bounce(continue_url: str, path: str, item: dict[str, t.Any]) -> Response | None:
    """A 303 to ``continue_url`` carrying ``item`` in a signed cookie; ``None`` if too large."""
    value = _serializer().dumps(item)
    if len(value) > _MAX_COOKIE:
        return None
    response = t.cast(Response, redirect(continue_url, 303))
    secure = extension().settings.base_url.startswith("https://")
    response.set_cookie(
        PENDING_COOKIE,
        value,
        max_age=PENDING_LIFETIME,
        path=path,
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
    return response


def take_bounced(integration_id: str) -> dict[str, t.Any] | None:
    """The identity a bounce left in this browser for ``integration_id``, if valid and recent.

    The caller must delete the cookie (:func:`forget_bounced`) on its response.
    """
    value = request.cookies.get(PENDING_COOKIE)
    if not value or len(value) > _MAX_COOKIE:
        return None
    try:
        item = _serializer().loads(value, max_age=PENDING_LIFETIME)
    except BadSignature:
        return None
    if not isinstance(item, dict) or item.get("i") != integration_id:
        return None
    return item


def forget_bounced(response: Response, path: str) -> Response:
    response.delete_cookie(PENDING_COOKIE, path=path)
    return response


def ask(
    integration_id: str, organization: t.Any, item: dict[str, t.Any], signed_in_as: str
) -> Response:
    """Keep ``item`` in the session and ask whether to switch accounts (a 200 page)."""
    nonce = secrets.token_urlsafe(32)
    session[SESSION_KEY] = {**item, "nonce": nonce}  # "at": when the response was validated
    body = render_template(
        "okta_scim/switch_account.html",
        organization=organization,
        signed_in_as=signed_in_as,
        email=item["email"],
        nonce=nonce,
        action=request.script_root + request.path,
    )
    response = Response(body, mimetype="text/html")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    return response


def take_confirmed(integration_id: str) -> dict[str, t.Any] | None:
    """The sign-in this browser confirmed, once: the form's value must match the session's.

    Removes the pending sign-in from the session whatever the outcome, so a
    confirmation is tried once. ``None`` when there is none, it expired, it
    belongs to another connection, or the value does not match.
    """
    item = session.pop(SESSION_KEY, None)
    if not isinstance(item, dict) or item.get("i") != integration_id:
        return None
    if time.time() - float(item.get("at", 0)) > PENDING_LIFETIME:
        return None
    presented = request.form.get("confirm", "")
    if not presented or not hmac.compare_digest(presented, str(item.get("nonce", ""))):
        return None
    return item
