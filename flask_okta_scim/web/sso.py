"""Okta sign-in over SAML: SP-initiated start, the ACS, SP metadata.

URLs (under ``OKTA_SCIM_SSO_URL_PREFIX``, default ``/users/sign-in/sso/okta``):
``GET /<integration_id>``, ``POST /<integration_id>/acs``,
``GET /<integration_id>/metadata``, and ``GET|POST /<integration_id>/continue``
for IdP-initiated sign-ins that must be confirmed (:mod:`.sso_unsolicited`).
Every public URL is built from ``OKTA_SCIM_BASE_URL``. A failed sign-in shows a
page with no details (unless the app is in debug mode); the reason goes, one
bounded line, to the log and the audit record (:mod:`.sso_guard`, which also
bounds bodies and counts refusals).
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from flask import Blueprint
from flask import Response
from flask import g
from flask import redirect
from flask import request
from flask import session
from flask.typing import ResponseReturnValue
from flask_login import login_user

from .._current import extension
from ..core.errors import DirectoryError
from ..core.errors import JitRefused
from ..core.redirects import safe_next_path
from ..logs import log
from ..saml.certificates import trusted_certificates
from ..saml.errors import NoTrustedCertificate
from ..saml.errors import SamlError
from ..saml.keys import KeyUnavailable
from ..saml.rotation import explain_refusal
from ..saml.service import ReadResponse
from ..saml.service import SamlIdentity
from ..saml.service import check_in_response_to
from ..saml.service import login_url
from ..saml.service import process_response
from ..saml.service import read_response
from ..saml.service import sp_metadata
from ..saml.settings import ServiceProvider
from ..saml.settings import certificate_body
from ..saml.settings import saml_settings
from ..sqla.directory.connections import is_configured
from ..sqla.directory.sp_keys import SpCredentials
from . import sso_unsolicited as unsolicited
from .link import start_link
from .session import record_sign_in
from .sso_binding import COOKIE as COOKIE
from .sso_binding import COOKIE_HTTP as COOKIE_HTTP
from .sso_binding import browser_key
from .sso_binding import is_cross_site_post
from .sso_binding import nonce_for_new_sign_in
from .sso_binding import presented_browser_key
from .sso_binding import set_binding_cookies
from .sso_guard import Where
from .sso_guard import client_address
from .sso_guard import error_page
from .sso_guard import log_overrun
from .sso_guard import too_large
from .sso_guard import too_many

bp = Blueprint("okta_scim_sso", __name__, template_folder="../templates")


class ConnectionUrls(t.NamedTuple):
    sign_in: str
    acs: str
    metadata: str
    slo: str


def urls(integration_id: str) -> ConnectionUrls:
    """The public URLs of a connection, from ``OKTA_SCIM_BASE_URL`` (never the Host header)."""
    settings = extension().settings
    base = settings.url(f"{settings.sso_url_prefix}/{integration_id}")
    return ConnectionUrls(base, f"{base}/acs", f"{base}/metadata", f"{base}/slo")


def service_provider(connection: t.Any, credentials: SpCredentials | None) -> ServiceProvider:
    """Our side of ``connection``: URLs, options, and the keys in ``credentials`` if given."""
    u = urls(connection.integration_id)
    active = credentials.active if credentials is not None else None
    return ServiceProvider(
        entity_id=u.metadata,
        acs_url=u.acs,
        slo_url=u.slo,
        certificate=active[0] if active else None,
        private_key=active[1] if active else None,
        next_certificate=credentials.next_certificate if credentials is not None else None,
        sign_requests=bool(connection.sign_requests),
        want_encrypted=bool(connection.encrypt_assertions),
    )


def credentials_of(directory: t.Any, connection: t.Any) -> SpCredentials:
    """The connection's SP keys, opened with the host's secrets (:class:`SamlError` if not)."""
    try:
        return t.cast(
            SpCredentials, directory.sp_credentials(connection, extension().sp_key_vault())
        )
    except (KeyUnavailable, RuntimeError) as e:
        raise SamlError(str(e)) from None


def still_trusted(connection: t.Any) -> list[str]:
    """The connection's IdP certificates, less those whose rollover overlap has ended."""
    retiring = connection.retiring_certificates or {}
    if not retiring:
        return list(connection.idp_certificates or [])
    now = datetime.now(timezone.utc)
    ended = set()
    for body, until in retiring.items():
        try:
            end = datetime.fromisoformat(str(until))
        except ValueError:
            continue
        if (end if end.tzinfo else end.replace(tzinfo=timezone.utc)) <= now:
            ended.add(certificate_body(body))
    return [c for c in connection.idp_certificates or [] if certificate_body(c) not in ended]


def _settings_for(connection: t.Any, credentials: SpCredentials | None = None) -> dict[str, t.Any]:
    """python3-saml settings trusting only the connection's certificates valid now.

    Raises :class:`NoTrustedCertificate` when none is left: expired (without
    the connection's ``allow_expired_certificate`` override), not valid yet,
    or weak. Our key pair is in the settings only when ``credentials`` are
    given (reading them costs a query): signing a request needs them,
    decrypting an assertion passes them to the ACS separately. A certificate
    a metadata refresh found gone is trusted until the end of its overlap
    (``retiring_certificates``) even if no refresh ran since.
    """
    trust = trusted_certificates(
        still_trusted(connection),
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
        idp_slo_url=connection.idp_slo_url,
        sp=service_provider(connection, credentials),
    )


@bp.errorhandler(413)
def _too_large(error: Exception) -> Response:
    return too_large()


def _not_found() -> Response:
    return error_page(
        404,
        "Unknown sign-in link",
        "This single sign-on link does not exist. Check the link with your admin.",
    )


@bp.get("/<integration_id>")
def sign_in(integration_id: str) -> ResponseReturnValue:
    """SP-initiated sign-in: send the browser to Okta with an AuthnRequest.

    The binding cookie keeps a nonce the server issued (:mod:`.sso_binding`);
    a browser keeps a few sign-ins in progress at most, and a client address
    may start only so many (429 beyond).
    """
    ext = extension()
    directory = ext.directory(actor="sso")
    connection = directory.connection_by_integration_id(integration_id)
    if connection is None:
        return _not_found()
    if not is_configured(connection):
        return error_page(
            409,
            "Single sign-on is not set up yet",
            "Your organization has not finished setting up Okta sign-in. "
            "Ask your admin to complete it.",
        )
    budget = ext.sign_in_budgets.starts_per_address
    if not budget.spend(client_address()):
        directory.session.rollback()
        return too_many(budget.retry_after(client_address()))
    settings = ext.settings
    u = urls(integration_id)
    try:
        credentials = credentials_of(directory, connection) if connection.sign_requests else None
        saml = _settings_for(connection, credentials)
    except NoTrustedCertificate as e:
        return _certificate_error(e.reason, Where.of(connection))
    except SamlError as e:
        return _key_error(e.reason, Where.of(connection))
    if connection.sign_requests and (credentials is None or credentials.active is None):
        return _key_error(
            "signed requests are on but there is no active SP key", Where.of(connection)
        )
    target, request_id = login_url(saml, u.sign_in)
    nonce = nonce_for_new_sign_in()
    lifetime = timedelta(seconds=settings.sso_request_lifetime)
    with directory.atomic():
        directory.start_sign_in(
            connection,
            request_id,
            browser_key(nonce),
            safe_next_path(request.args.get("next")),
            lifetime,
        )
    response = redirect(target)
    # The connection's own path: sent back to the ACS and to later sign-ins (so that
    # several tabs share one browser binding), never elsewhere.
    set_binding_cookies(response, nonce, _path(integration_id), int(lifetime.total_seconds()))
    return response


def _path(integration_id: str) -> str:
    settings = extension().settings
    return urls(integration_id).sign_in.removeprefix(settings.base_url) or "/"


@bp.post("/<integration_id>/acs")
def acs(integration_id: str) -> ResponseReturnValue:
    """The Assertion Consumer Service: validate the response, let the directory decide, sign in.

    An unsolicited response that would replace another person's session is not
    signed in here (:mod:`.sso_unsolicited`).
    """
    directory = extension().directory(actor="sso")
    try:
        read: ReadResponse | None = read_response(request.form)
        unreadable = None
    except SamlError as e:
        read, unreadable = None, e
    # The member the assertion names is read with the connection, and used only if the
    # validated identity says exactly the same (SignIns.connection_for_sign_in).
    connection, organization = directory.connection_for_sign_in(
        integration_id, read.email_hint if read is not None else None
    )
    if connection is None:
        return _not_found()
    relay_state = request.form.get("RelayState")
    try:
        if not is_configured(connection):
            raise SamlError("single sign-on is not configured for this connection")
        if read is None:
            raise t.cast(SamlError, unreadable)
        identity = process_response(
            _settings_for(connection),
            urls(integration_id).acs,
            request.form,
            read=read,
            decryption_keys=lambda: credentials_of(directory, connection).decryption,
            require_encrypted=bool(connection.encrypt_assertions),
        )
        if not identity.in_response_to:
            check_in_response_to(
                identity, set(), allow_idp_initiated=connection.allow_idp_initiated
            )
    except SamlError as e:
        # A failed signature may be Okta's rotated certificate: say so (never trusted).
        e = explain_refusal(e, request.form, connection.idp_certificates or [])
        return _refuse(directory, organization, connection, e)
    if identity.in_response_to:
        return _finish(directory, connection, organization, identity, relay_state)
    item = unsolicited.pending(integration_id, identity, relay_state)
    if is_cross_site_post():
        # The session may be hidden from this request (SameSite): decide on a GET.
        bounced = unsolicited.bounce(
            urls(integration_id).sign_in + "/continue", _path(integration_id), item
        )
        if bounced is not None:
            directory.session.rollback()
            return bounced
        return _refuse(directory, organization, connection, SamlError("identity too large"))
    return _unsolicited(directory, connection, organization, item)


@bp.route("/<integration_id>/continue", methods=["GET", "POST"])
def continue_sign_in(integration_id: str) -> ResponseReturnValue:
    """Finish an IdP-initiated sign-in: after the ACS's bounce (``GET``), or once confirmed."""
    directory = extension().directory(actor="sso")
    connection, organization = directory.connection_and_organization(integration_id)
    if connection is None:
        return _not_found()
    if request.method == "GET":
        item = unsolicited.take_bounced(integration_id)
        if item is None:
            response = _expired()
        else:
            response = _unsolicited(directory, connection, organization, item)
        return unsolicited.forget_bounced(response, _path(integration_id))
    item = unsolicited.take_confirmed(integration_id)
    if item is None:
        return _expired()
    identity = unsolicited.identity_of(item)
    return _finish(directory, connection, organization, identity, item["next"])


def _expired() -> Response:
    return error_page(
        400,
        "This sign-in cannot continue",
        "There is no sign-in to continue in this browser, or it expired. Start again from Okta.",
    )


def _unsolicited(
    directory: t.Any, connection: t.Any, organization: t.Any, item: dict[str, t.Any]
) -> Response:
    """Sign in from an unsolicited response, unless someone else is signed in: then ask."""
    other = unsolicited.signed_in_as_someone_else(item["email"])
    if other is not None:
        directory.session.rollback()
        return unsolicited.ask(connection.integration_id, organization, item, other)
    identity = unsolicited.identity_of(item)
    return _finish(directory, connection, organization, identity, item["next"])


def _finish(
    directory: t.Any,
    connection: t.Any,
    organization: t.Any,
    identity: SamlIdentity,
    relay_state: str | None,
) -> Response:
    """Let the directory decide on a validated identity, then sign the person in."""
    integration_id = connection.integration_id
    try:
        # The account and organization are only read afterwards: no reload after the commit.
        with directory.atomic(expire=False):
            signed_in = directory.complete_sign_in(
                connection,
                organization,
                identity,
                browser_key=presented_browser_key(),
                relay_state=relay_state,
            )
    except SamlError as e:
        return _refuse(directory, organization, connection, e)
    except JitRefused as e:
        refusal = SamlError(f"JIT refused: {e}")
        response = _refuse(directory, organization, connection, refusal, jit=e)
        if e.reason == JitRefused.NOT_MANAGED and response.status_code != 429:
            link_url = start_link(integration_id, identity)
            if link_url is not None:
                response = _not_managed(refusal.reason, link_url, None, log_reason=False)
        return response
    except DirectoryError as e:  # e.g. the same person's first sign-in twice at once
        return _refuse(directory, organization, connection, SamlError(f"directory: {e}"))

    account = signed_in.account
    session.clear()  # a new session: no fixation
    g._okta_scim_sso_sign_in = True  # tells on_login this is no password sign-in
    login_user(account)
    # After login_user: it sends user_logged_in, whose receiver (on_login) clears
    # the record, so that no other sign-in inherits an SSO record.
    record_sign_in(
        account,
        organization,
        integration_id=integration_id,
        epoch=signed_in.epoch,
        identity=identity,
    )
    return t.cast(Response, redirect(signed_in.next_path or "/"))


def _refuse(
    directory: t.Any,
    organization: t.Any,
    connection: t.Any,
    error: SamlError,
    jit: JitRefused | None = None,
) -> Response:
    """Audit, log and answer a refusal, within the refusal budgets (429 past them)."""
    directory.session.rollback()
    where = Where.of(connection)
    budgets = extension().sign_in_budgets
    address = client_address()
    within = [
        budgets.failures_per_address.spend(address),
        budgets.failures_per_connection.spend(connection.integration_id),
    ]
    if not all(within):
        budget, key = (
            (budgets.failures_per_address, address)
            if not within[0]
            else (budgets.failures_per_connection, connection.integration_id)
        )
        log_overrun(budget, key)
        return too_many(budget.retry_after(key))
    try:
        directory.record_refusal(organization, connection, error.reason)
        directory.session.commit()
    except Exception:  # the audit must not turn a refusal into a crash
        log(
            "sso.audit_failed",
            logging.ERROR,
            "Could not record a refused sign-in in the audit log",
            organization=where.organization,
            connection=where.connection,
            reason=error.reason,
            exc_info=True,
        )
        directory.session.rollback()
    back = _test_sign_in_page(directory, connection)
    if back is not None:
        return t.cast(Response, redirect(back))
    if jit is not None:
        if jit.reason == JitRefused.DEACTIVATED:
            message = (
                "Your access to this organization was removed by its identity "
                "provider. Ask your admin to assign you again in Okta."
            )
        elif jit.reason == JitRefused.NOT_MANAGED:
            return _not_managed(error.reason, None, where)
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
        return error_page(403, "Ask your admin for access", message, error.reason, where=where)
    if isinstance(error, NoTrustedCertificate):
        return _certificate_error(error.reason, where)
    if error.status == 400:
        return error_page(
            400,
            "Sign-in failed",
            "The sign-in message from your identity provider could not be read. "
            "Start again from Okta.",
            error.reason,
            where=where,
        )
    return error_page(
        403,
        "Sign-in failed",
        "The sign-in could not be verified. Start again from your Okta dashboard "
        "or your organization's sign-in link.",
        error.reason,
        where=where,
    )


def _key_error(reason: str, where: Where) -> Response:
    return error_page(
        503,
        "Okta sign-in is unavailable",
        "This application cannot sign its sign-in requests to your identity provider right "
        "now. Ask your organization's admin to check the service provider key in the single "
        "sign-on settings.",
        reason,
        where=where,
    )


def _certificate_error(reason: str, where: Where) -> Response:
    return error_page(
        403,
        "Okta sign-in is unavailable",
        "Your organization's identity provider signs with a certificate that has expired or "
        "is not accepted, so its sign-ins cannot be verified. Ask your organization's admin "
        "to update the Okta signing certificate here.",
        reason,
        where=where,
    )


def _not_managed(
    reason: str, link_url: str | None, where: Where | None, *, log_reason: bool = True
) -> Response:
    return error_page(
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
        log_reason=log_reason,
        where=where,
    )


@bp.get("/<integration_id>/metadata")
def metadata(integration_id: str) -> Response:
    """The SP metadata for Okta (entity ID = this URL).

    Publishes the ACS, the single logout URL, and the SP certificates (the
    active key's and, during a rollover, the next one's) for signing and
    encryption. Never a private key: the keys are not opened here.
    """
    directory = extension().directory()
    connection = directory.connection_by_integration_id(integration_id)
    if connection is None:
        return _not_found()
    keys = directory.sp_keys(connection)
    active = next((k.certificate for k in keys if k.state == "active"), None)
    upcoming = next((k.certificate for k in keys if k.state == "next"), None)
    sp = service_provider(connection, None)
    sp = dataclasses.replace(sp, certificate=active, next_certificate=upcoming)
    xml = sp_metadata(sp)
    return Response(xml, mimetype="application/samlmetadata+xml")


#: How the admin console's **Test sign-in** marks the page a sign-in returns to.
TEST_SIGN_IN = "/sso?test=1"


def _test_sign_in_page(directory: t.Any, connection: t.Any) -> str | None:
    """Where a refused sign-in goes when this browser started it with **Test sign-in**.

    The admin console's SSO page, marked ``test=failed``: it shows the reason
    from the audit log (the admin administers this organization; other people
    see the error page and a reference only). Found through the sign-ins this
    browser started (its binding cookie), so an unsolicited response never
    gets here. ``None`` for any other sign-in.
    """
    key = presented_browser_key()
    if key is None:
        return None
    prefix = extension().settings.admin_url_prefix + "/"
    for next_path in directory.outstanding_sign_ins(connection, key).values():
        if next_path and next_path.startswith(prefix) and next_path.endswith(TEST_SIGN_IN):
            return str(next_path)[: -len("1")] + "failed"
    return None
