"""Single logout with Okta: the SLO URL, and signing out through the IdP.

``GET|POST <prefix>/<integration_id>/slo`` receives, by either binding:

- a **LogoutRequest** from the IdP (IdP-initiated: the person signed out of
  Okta, or of another application): the person's sessions vouched for by this
  connection end on every process (:mod:`flask_okta_scim.sqla.directory.logouts`),
  this browser's at once, and the IdP gets a signed LogoutResponse;
- a **LogoutResponse** answering our LogoutRequest (SP-initiated): it must
  answer a request this browser started (its binding cookie), once.

Messages are read by :func:`flask_okta_scim.saml.logout.read_logout_message`
(signature, issuer, destination, freshness) and their IDs go through the
replay cache. A refused message gets an error page, a log line and an audit
record, and no answer to the IdP. :func:`single_logout` is what a host's
sign-out view returns.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import timedelta

from flask import current_app
from flask import redirect
from flask import request
from flask import session
from flask.typing import ResponseReturnValue
from flask_login import logout_user
from werkzeug.wrappers import Response

from .. import signals
from .._current import extension
from ..core.redirects import safe_next_path
from ..logs import log
from ..saml.errors import SamlError
from ..saml.logout import REQUEST
from ..saml.logout import LogoutMessage
from ..saml.logout import logout_request_url
from ..saml.logout import logout_response_url
from ..saml.logout import read_logout_message
from ..sqla.directory.connections import is_configured
from .session import SSO
from .session import current_record
from .sso import _path
from .sso import _settings_for
from .sso import bp
from .sso import credentials_of
from .sso import urls
from .sso_binding import browser_key
from .sso_binding import nonce_for_new_sign_in
from .sso_binding import presented_browser_key
from .sso_binding import set_binding_cookies
from .sso_guard import Where
from .sso_guard import client_address
from .sso_guard import error_page
from .sso_guard import log_overrun
from .sso_guard import too_many

#: The replay cache keeps logout message IDs apart from assertion IDs.
_REPLAY_PREFIX = "slo:"


@bp.route("/<integration_id>/slo", methods=["GET", "POST"])
def slo(integration_id: str) -> ResponseReturnValue:
    """The single logout URL: a LogoutRequest from the IdP, or the answer to ours."""
    directory = extension().directory(actor="sso")
    connection, organization = directory.connection_and_organization(integration_id)
    if connection is None or not is_configured(connection):
        return error_page(404, "Unknown sign-out link", "This single logout link does not exist.")
    where = Where.of(connection)
    try:
        trusted = _settings_for(connection)["idp"]
        certificates = (trusted.get("x509certMulti") or {}).get("signing") or [trusted["x509cert"]]
        message = read_logout_message(
            method=request.method,
            query_string=request.query_string,
            form=request.form,
            slo_url=urls(integration_id).slo,
            idp_entity_id=connection.idp_entity_id,
            certificates=certificates,
        )
        if not directory.remember_assertion(
            connection, _REPLAY_PREFIX + message.id, message.remember_until
        ):
            raise SamlError(f"the {message.kind} {message.id!r} was already used (a replay)")
        if message.kind == REQUEST:
            return _idp_logout(directory, connection, organization, message)
        return _logout_answered(directory, connection, message)
    except SamlError as e:
        return _refuse(directory, organization, connection, e, where)


def _idp_logout(
    directory: t.Any, connection: t.Any, organization: t.Any, message: LogoutMessage
) -> Response:
    """End the person's sessions through this connection everywhere; answer the IdP, signed."""
    assert message.name_id is not None
    keep = max(current_app.permanent_session_lifetime, timedelta(days=1))
    with directory.atomic():
        directory.record_logout(
            connection, message.name_id, message.session_indexes, keep=keep, initiated_by="idp"
        )
        directory._send(
            signals.sso_logout,
            organization=organization,
            connection=connection,
            name_id=message.name_id,
            initiated_by="idp",
        )
    log(
        "sso.logout",
        logging.INFO,
        "Single logout asked by the IdP of connection %s",
        connection.integration_id,
        organization=organization.id,
        connection=connection.integration_id,
        initiated_by="idp",
    )
    record = current_record()
    if (
        record is not None
        and record.get("integration_id") == connection.integration_id
        and record.get("name_id") == message.name_id
    ):
        logout_user()  # this browser at once; other processes at their next request
    credentials = credentials_of(directory, connection)
    settings = _settings_for(connection, credentials)
    target = logout_response_url(settings, message.id, relay_state=message.relay_state)
    return redirect(target)


def _logout_answered(directory: t.Any, connection: t.Any, message: LogoutMessage) -> Response:
    """The IdP's answer to our LogoutRequest: it must answer one this browser sent."""
    outstanding = directory.outstanding_sign_ins(
        connection, presented_browser_key(), purpose="sign_out"
    )
    if message.in_response_to not in outstanding:
        raise SamlError("the LogoutResponse answers no sign-out started in this browser")
    with directory.atomic():
        directory.finish_sign_in(message.in_response_to)
    next_path = outstanding[message.in_response_to] or "/"
    if not message.succeeded:
        log(
            "sso.logout_incomplete",
            logging.WARNING,
            "The IdP of connection %s answered the sign-out with %s",
            connection.integration_id,
            message.status,
            connection=connection.integration_id,
            status=message.status,
        )
        return error_page(
            200,
            "Signed out here",
            "You are signed out of this application. Your identity provider could not end "
            "its own session: sign out of Okta too if this is a shared computer.",
            f"LogoutResponse status {message.status}",
            action=(next_path, "Continue"),
        )
    return redirect(next_path)


def single_logout(next_path: str | None = "/") -> Response:
    """Sign the current person out here and, for an SSO session whose IdP supports it, at Okta.

    Call it from the host's sign-out view and return what it returns. The
    local session ends first, whatever happens next. When the session was
    opened by a connection with an IdP SLO URL and an SP key (Okta requires
    a signed LogoutRequest), the browser goes to Okta with a signed
    LogoutRequest and comes back to ``next_path`` through the SLO URL;
    otherwise straight to ``next_path``. Does not end the person's other
    sessions (the IdP does that, if configured to).
    """
    next_path = safe_next_path(next_path) or "/"
    record = current_record()
    logout_user()
    session.pop("_fresh", None)
    if record is None or record.get("via") != SSO or not record.get("name_id"):
        return redirect(next_path)
    ext = extension()
    directory = ext.directory(actor="sso")
    connection, organization = directory.connection_and_organization(
        str(record.get("integration_id"))
    )
    if connection is None or not connection.idp_slo_url or not is_configured(connection):
        return redirect(next_path)
    try:
        credentials = credentials_of(directory, connection)
        if credentials.active is None:
            return redirect(next_path)
        settings = _settings_for(connection, credentials)
    except SamlError as e:
        log(
            "sso.logout_local_only",
            logging.WARNING,
            "Signed out locally only: %s",
            e.reason,
            connection=connection.integration_id,
            reason=e.reason,
        )
        return redirect(next_path)
    target, request_id = logout_request_url(
        settings,
        name_id=str(record["name_id"]),
        name_id_format=record.get("name_id_format"),
        session_index=record.get("session_index"),
    )
    nonce = nonce_for_new_sign_in()
    lifetime = timedelta(seconds=ext.settings.sso_request_lifetime)
    with directory.atomic():
        directory.start_sign_in(
            connection, request_id, browser_key(nonce), next_path, lifetime, purpose="sign_out"
        )
        directory.audit(
            organization, "sso.logout", "connection", connection.integration_id, initiated_by="sp"
        )
    response = redirect(target)
    path = _path(connection.integration_id)
    set_binding_cookies(response, nonce, path, int(lifetime.total_seconds()))
    return response


def _refuse(
    directory: t.Any,
    organization: t.Any,
    connection: t.Any,
    error: SamlError,
    where: Where,
) -> Response:
    directory.session.rollback()
    budgets = extension().sign_in_budgets
    address = client_address()
    for budget, key in (
        (budgets.failures_per_address, address),
        (budgets.failures_per_connection, connection.integration_id),
    ):
        if not budget.spend(key):
            log_overrun(budget, key)
            return too_many(budget.retry_after(key))
    try:
        directory.audit(
            organization,
            "sso.logout",
            "connection",
            connection.integration_id,
            outcome="failure",
            reason=error.reason[:500],
        )
        directory.session.commit()
    except Exception:
        directory.session.rollback()
    status = 400 if error.status == 400 else 403
    return error_page(
        status,
        "Sign-out failed",
        "The sign-out message from your identity provider could not be verified. "
        "You may still be signed in here: sign out from the application's menu.",
        error.reason,
        where=where,
    )
