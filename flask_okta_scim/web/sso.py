"""Okta sign-in over SAML: SP-initiated start, the ACS, SP metadata.

URLs (under ``OKTA_SCIM_SSO_URL_PREFIX``, default ``/users/sign-in/sso/okta``):
``GET /<integration_id>``, ``POST /<integration_id>/acs``,
``GET /<integration_id>/metadata``. Every public URL is built from
``OKTA_SCIM_BASE_URL``. A failed sign-in shows a page with no details (unless
the app is in debug mode); the reason goes to the log and the audit record.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import typing as t
import uuid
from datetime import timedelta

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask.typing import ResponseReturnValue
from flask_login import login_user

from .._current import extension
from ..core.errors import DirectoryError
from ..core.errors import JitRefused
from ..core.redirects import safe_next_path
from ..saml.certificates import trusted_certificates
from ..saml.errors import NoTrustedCertificate
from ..saml.errors import SamlError
from ..saml.service import login_url
from ..saml.service import process_response
from ..saml.service import sp_metadata
from ..saml.settings import saml_settings
from ..saml.settings import sp_metadata_settings
from ..sqla.directory.connections import is_configured
from .link import start_link
from .session import record_sign_in

logger = logging.getLogger("flask_okta_scim.sso")

bp = Blueprint("okta_scim_sso", __name__, template_folder="../templates")

#: The cookie that binds an SP-initiated sign-in to the browser that started it.
COOKIE = "okta_scim_sso"
#: Its non-Secure twin, set only when the base URL is plain http.
COOKIE_HTTP = "okta_scim_sso_http"


class ConnectionUrls(t.NamedTuple):
    sign_in: str
    acs: str
    metadata: str


def urls(integration_id: str) -> ConnectionUrls:
    """The public URLs of a connection, from ``OKTA_SCIM_BASE_URL`` (never the Host header)."""
    settings = extension().settings
    base = settings.url(f"{settings.sso_url_prefix}/{integration_id}")
    return ConnectionUrls(base, f"{base}/acs", f"{base}/metadata")


def _settings_for(connection: t.Any) -> dict[str, t.Any]:
    """python3-saml settings trusting only the connection's certificates valid now.

    Raises :class:`NoTrustedCertificate` when none is left: expired (without
    the connection's ``allow_expired_certificate`` override), not valid yet,
    or weak.
    """
    trust = trusted_certificates(
        connection.idp_certificates or [],
        allow_expired=bool(connection.allow_expired_certificate),
    )
    if not trust.trusted:
        raise NoTrustedCertificate(
            f"{trust.reason()}. Configure the IdP's current signing certificate: "
            "'flask okta-scim sso configure ORG --metadata-url ...' (or --certificate); "
            "see 'Changing Okta's signing certificate' in the admin guide."
        )
    u = urls(connection.integration_id)
    return saml_settings(
        sp_entity_id=u.metadata,
        acs_url=u.acs,
        idp_entity_id=connection.idp_entity_id,
        idp_sso_url=connection.idp_sso_url,
        certificates=[info.body for info in trust.trusted],
    )


def _browser_key(nonce: str) -> str:
    """What the database keeps of the binding cookie: its hash, never the cookie itself."""
    return hashlib.sha256(nonce.encode()).hexdigest()


def _error(
    status: int,
    title: str,
    message: str,
    reason: str | None = None,
    action: tuple[str, str] | None = None,
) -> Response:
    reference = uuid.uuid4().hex[:12]
    if reason:
        logger.warning("SSO sign-in refused [%s]: %s", reference, reason)
    body = render_template(
        "okta_scim/sso_error.html",
        title=title,
        message=message,
        reference=reference,
        debug_reason=reason if current_app.debug else None,
        action_url=action[0] if action else None,
        action_label=action[1] if action else None,
    )
    return Response(body, status=status, mimetype="text/html")


def _not_found() -> Response:
    return _error(
        404,
        "Unknown sign-in link",
        "This single sign-on link does not exist. Check the link with your admin.",
    )


@bp.get("/<integration_id>")
def sign_in(integration_id: str) -> ResponseReturnValue:
    """SP-initiated sign-in: send the browser to Okta with an AuthnRequest."""
    ext = extension()
    directory = ext.directory(actor="sso")
    connection = directory.connection_by_integration_id(integration_id)
    if connection is None:
        return _not_found()
    if not is_configured(connection):
        return _error(
            409,
            "Single sign-on is not set up yet",
            "Your organization has not finished setting up Okta sign-in. "
            "Ask your admin to complete it.",
        )
    settings = ext.settings
    u = urls(integration_id)
    try:
        saml = _settings_for(connection)
    except NoTrustedCertificate as e:
        return _certificate_error(e.reason)
    target, request_id = login_url(saml, u.sign_in)
    nonce = _binding_nonce() or secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=settings.sso_request_lifetime)
    with directory.atomic():
        directory.start_sign_in(
            connection,
            request_id,
            _browser_key(nonce),
            safe_next_path(request.args.get("next")),
            lifetime,
        )
    response = redirect(target)
    secure = settings.cross_site_cookies_possible
    cookie: dict[str, t.Any] = {
        "max_age": int(lifetime.total_seconds()),
        # The connection's own path: sent back to the ACS and to later sign-ins (so
        # that several tabs share one browser binding), never elsewhere.
        "path": urls(integration_id).sign_in.removeprefix(settings.base_url) or "/",
        "httponly": True,
    }
    # Okta's POST to the ACS is cross-site: only SameSite=None (hence Secure) cookies
    # ride along.
    response.set_cookie(
        COOKIE, nonce, secure=secure, samesite="None" if secure else "Lax", **cookie
    )
    if not settings.base_url.startswith("https://"):
        # On a plain-http base URL (development, tests) also a non-Secure Lax copy:
        # HTTP clients other than browsers never send Secure cookies over http.
        response.set_cookie(COOKIE_HTTP, nonce, secure=False, samesite="Lax", **cookie)
    return response


def _binding_nonce() -> str | None:
    return request.cookies.get(COOKIE) or request.cookies.get(COOKIE_HTTP)


@bp.post("/<integration_id>/acs")
def acs(integration_id: str) -> ResponseReturnValue:
    """The Assertion Consumer Service: validate the response, let the directory decide, sign in."""
    directory = extension().directory(actor="sso")
    connection, organization = directory.connection_and_organization(integration_id)
    if connection is None:
        return _not_found()
    try:
        if not is_configured(connection):
            raise SamlError("single sign-on is not configured for this connection")
        identity = process_response(
            _settings_for(connection), urls(integration_id).acs, request.form
        )
        with directory.atomic():
            signed_in = directory.complete_sign_in(
                connection,
                organization,
                identity,
                browser_key=_browser_key(nonce) if (nonce := _binding_nonce()) else None,
                relay_state=request.form.get("RelayState"),
            )
    except SamlError as e:
        return _refuse(directory, organization, connection, e)
    except JitRefused as e:
        refusal = SamlError(f"JIT refused: {e}")
        response = _refuse(directory, organization, connection, refusal, jit=e)
        if e.reason == JitRefused.NOT_MANAGED:
            link_url = start_link(integration_id, identity)
            if link_url is not None:
                response = _not_managed(refusal.reason, link_url)
        return response
    except DirectoryError as e:  # e.g. the same person's first sign-in twice at once
        return _refuse(directory, organization, connection, SamlError(f"directory: {e}"))

    account = signed_in.account
    session.clear()  # a new session: no fixation
    g._okta_scim_sso_sign_in = True  # tells on_login this is no password sign-in
    login_user(account)
    # After login_user: it sends user_logged_in, whose receiver (on_login) clears
    # the record, so that no other sign-in inherits an SSO record.
    record_sign_in(account, organization, integration_id=integration_id, epoch=signed_in.epoch)
    return redirect(signed_in.next_path or "/")


def _refuse(
    directory: t.Any,
    organization: t.Any,
    connection: t.Any,
    error: SamlError,
    jit: JitRefused | None = None,
) -> Response:
    directory.session.rollback()
    try:
        directory.record_refusal(organization, connection, error.reason)
        directory.session.commit()
    except Exception:  # the audit must not turn a refusal into a crash
        logger.exception("Could not record a refused sign-in in the audit log")
        directory.session.rollback()
    if jit is not None:
        if jit.reason == JitRefused.DEACTIVATED:
            message = (
                "Your access to this organization was removed by its identity "
                "provider. Ask your admin to assign you again in Okta."
            )
        elif jit.reason == JitRefused.NOT_MANAGED:
            return _not_managed(error.reason, None)
        elif jit.reason == JitRefused.DOMAIN_VERIFIED_ELSEWHERE:
            message = (
                "Your email domain belongs to another organization here, so this "
                "organization's sign-in cannot add you. Ask your admin."
            )
        else:
            message = (
                "You are not a member of this organization yet, and your email "
                "domain is not pre-approved for it. Ask your organization's admin to "
                "invite you or to add your domain to a team."
            )
        return _error(403, "Ask your admin for access", message, error.reason)
    if isinstance(error, NoTrustedCertificate):
        return _certificate_error(error.reason)
    if error.status == 400:
        return _error(
            400,
            "Sign-in failed",
            "The sign-in message from your identity provider could not be read. "
            "Start again from Okta.",
            error.reason,
        )
    return _error(
        403,
        "Sign-in failed",
        "The sign-in could not be verified. Start again from your Okta dashboard "
        "or your organization's sign-in link.",
        error.reason,
    )


def _certificate_error(reason: str) -> Response:
    return _error(
        403,
        "Okta sign-in is unavailable",
        "Your organization's identity provider signs with a certificate that has expired or "
        "is not accepted, so its sign-ins cannot be verified. Ask your organization's admin "
        "to update the Okta signing certificate here.",
        reason,
    )


def _not_managed(reason: str, link_url: str | None) -> Response:
    return _error(
        403,
        "Your account is not managed by this organization",
        "You already have an account here, and this organization's sign-in cannot add it "
        "by itself. Link it yourself: sign in to your account the usual way and confirm. "
        "Or ask your organization's admin to verify your email domain, or to add you by "
        "provisioning."
        if link_url
        else "You already have an account here, and this organization's sign-in cannot add "
        "it by itself. Ask your organization's admin to verify your email domain for this "
        "organization, or to add you by provisioning; until then, sign in to your account "
        "the usual way.",
        reason,
        action=(link_url, "Link your account") if link_url else None,
    )


@bp.get("/<integration_id>/metadata")
def metadata(integration_id: str) -> Response:
    """The SP metadata for Okta (entity ID = this URL)."""
    connection = extension().directory().connection_by_integration_id(integration_id)
    if connection is None:
        return _not_found()
    u = urls(integration_id)
    xml = sp_metadata(sp_metadata_settings(entity_id=u.metadata, acs_url=u.acs))
    return Response(xml, mimetype="application/samlmetadata+xml")
