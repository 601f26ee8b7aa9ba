"""The cookie that binds an SP-initiated sign-in to the browser that started it.

Its value is a random nonce the server issued, signed with the application's
``SECRET_KEY`` and timestamped (itsdangerous); the database keeps only the
nonce's SHA-256 (the *browser key*) next to each AuthnRequest. A value the
server did not sign, or signed longer ago than
``OKTA_SCIM_SSO_REQUEST_LIFETIME``, is ignored as if absent: a client cannot
choose its browser key, so it cannot make its sign-ins share another
browser's. On an https base URL only the ``Secure`` cookie is read; the
plain-http twin (set for development over http) could be planted by anyone on
the network path.
"""

from __future__ import annotations

import hashlib
import secrets
import typing as t

from flask import current_app
from flask import request
from itsdangerous import BadSignature
from itsdangerous import TimestampSigner
from werkzeug.wrappers import Response

from .._current import extension

#: The cookie that binds an SP-initiated sign-in to the browser that started it.
COOKIE = "okta_scim_sso"
#: Its non-Secure twin, set and read only when the base URL is plain http.
COOKIE_HTTP = "okta_scim_sso_http"
#: Longer cookie values are not even checked.
_MAX_VALUE = 256
_SALT = "flask-okta-scim.sso-binding"


def _signer() -> TimestampSigner:
    key = current_app.secret_key
    if not key:
        raise RuntimeError("SSO sign-in needs the application's SECRET_KEY to sign its cookie.")
    return TimestampSigner(key, salt=_SALT, digest_method=hashlib.sha256)


def browser_key(nonce: str) -> str:
    """What the database keeps of the binding nonce: its hash, never the nonce itself."""
    return hashlib.sha256(nonce.encode()).hexdigest()


def _plain_http() -> bool:
    return not extension().settings.base_url.startswith("https://")


def presented_nonce() -> str | None:
    """The nonce of this browser's binding cookie, if the server issued it and it is recent.

    ``None`` for no cookie, a value the server did not sign, or one older
    than the sign-in lifetime. Reads the plain-http twin only when the base
    URL is plain http. Does not look at the database.
    """
    names = (COOKIE, COOKIE_HTTP) if _plain_http() else (COOKIE,)
    lifetime = extension().settings.sso_request_lifetime
    signer = _signer()
    for name in names:
        value = request.cookies.get(name)
        if not value or len(value) > _MAX_VALUE:
            continue
        try:
            return signer.unsign(value, max_age=lifetime).decode()
        except (BadSignature, UnicodeDecodeError):
            continue
    return None


def presented_browser_key() -> str | None:
    """:func:`browser_key` of :func:`presented_nonce`, or ``None``."""
    nonce = presented_nonce()
    return browser_key(nonce) if nonce else None


def nonce_for_new_sign_in() -> str:
    """The browser's valid nonce (several tabs share one binding), or a new random one.

    Never a value the client chose: an unsigned or forged cookie gets a new nonce.
    """
    return presented_nonce() or secrets.token_urlsafe(32)


def set_binding_cookies(response: Response, nonce: str, path: str, lifetime: int) -> None:
    """Set the binding cookie (re-signed now) on ``response``, for the connection's ``path``."""
    settings = extension().settings
    value = _signer().sign(nonce).decode()
    secure = settings.cross_site_cookies_possible
    cookie: dict[str, t.Any] = {"max_age": lifetime, "path": path, "httponly": True}
    # Okta's POST to the ACS is cross-site: only SameSite=None (hence Secure) cookies
    # ride along.
    response.set_cookie(
        COOKIE, value, secure=secure, samesite="None" if secure else "Lax", **cookie
    )
    if _plain_http():
        # On a plain-http base URL (development, tests) also a non-Secure Lax copy:
        # HTTP clients other than browsers never send Secure cookies over http.
        response.set_cookie(COOKIE_HTTP, value, secure=False, samesite="Lax", **cookie)


def is_cross_site_post() -> bool:
    """Whether the browser says this request came from another site (``Sec-Fetch-Site``).

    Such a request carries no ``SameSite=Lax`` or ``Strict`` cookie, so the
    host's session (who is signed in) may be hidden from it. Clients that send
    no ``Sec-Fetch-Site`` (not browsers, or old ones) are taken at their word:
    their cookies are all there.
    """
    return request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")
