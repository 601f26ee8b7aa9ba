"""The Single sign-on screen: connect, configure the IdP, see what to paste into Okta.

``GET <prefix>/<org_id>/sso`` shows the connection's state (not set up,
configured, connected; the last successful sign-in), its Integration ID, the
sign-in URL to give people, the values to paste into Okta (ACS URL, entity
ID, metadata URL), the IdP's certificates with their expiry (and what
:mod:`.sso_metadata` adds: expiry and rotated-certificate warnings, the
metadata refresh with **Refresh metadata**), and the form
that sets the IdP: Okta's **Metadata URL**, or its **SSO URL** and **X.509
certificate**, and **Allow IdP-initiated sign-in**. ``POST .../sso/connect``
(**Connect**) creates the connection; ``POST .../sso`` (**Save**) configures
it. Whatever is wrong with the input (a URL that does not answer, metadata
without a signing key, a certificate that does not parse or is weak) is
shown next to the form and nothing is changed.
"""

from __future__ import annotations

import typing as t

from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import Length
from wtforms.validators import Optional

from ..._current import extension
from ...core.errors import DirectoryError
from ...saml.certificates import CertificateRefused
from ...saml.certificates import inspect_certificate
from ...saml.errors import MetadataError
from ...saml.metadata import IdpMetadata
from ...saml.metadata import fetch_metadata
from ...saml.metadata import idp_by_hand
from ...sqla.mixins import utcnow
from ..session import get_sso_organization
from ..sso import urls
from . import actor
from . import bp
from . import organization
from . import render
from .sso_metadata import screen_state
from .sso_options import saml_options

#: What the status of a connection is called on the page.
STATUS = {None: "Not set up", "pending": "Not set up", "configured": "Configured"}


class ConnectForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token: **Connect** takes no input."""


class IdpForm(FlaskForm):  # type: ignore[misc]
    metadata_url = StringField("Metadata URL", validators=[Optional(), Length(max=2048)])
    sso_url = StringField("SSO URL", validators=[Optional(), Length(max=2048)])
    certificate = TextAreaField("X.509 certificate", validators=[Optional(), Length(max=20000)])
    allow_idp_initiated = BooleanField("Allow IdP-initiated sign-in")


@bp.get("/<int:org_id>/sso")
def sso() -> t.Any:
    connection = extension().directory().get_connection(organization())
    form = IdpForm(
        metadata_url=connection.metadata_url if connection else None,
        sso_url=None if connection is None or connection.metadata_url else connection.idp_sso_url,
        allow_idp_initiated=connection.allow_idp_initiated if connection else True,
    )
    return _page(connection, form)


@bp.post("/<int:org_id>/sso/connect")
def connect() -> t.Any:
    if not ConnectForm().validate_on_submit():
        return render("error", 400, message="The form expired: reload the page and try again.")
    with extension().directory(actor=actor()).atomic() as directory:
        directory.connect(organization())
    flash("Connected. Enter the Integration ID in Okta, then paste Okta's metadata link below.")
    return redirect(url_for(".sso"))


@bp.post("/<int:org_id>/sso")
def configure() -> t.Any:
    ext = extension()
    connection = ext.directory().get_connection(organization())
    form = IdpForm()
    if connection is None or not form.validate_on_submit():
        return _page(connection, form, 400, error="The form expired: reload the page.")
    error: str | None = None
    field = "metadata_url" if (form.metadata_url.data or "").strip() else "certificate"
    try:
        idp, metadata_url = _idp(form)
    except MetadataError as e:
        error, field = str(e), _field_of(str(e), field)
    else:
        try:
            with ext.directory(actor=actor()).atomic() as directory:
                connection = directory.get_connection(organization())
                directory.configure_connection(
                    connection,
                    idp_entity_id=idp.entity_id,
                    idp_sso_url=idp.sso_url,
                    certificates=idp.certificates,
                    metadata_url=metadata_url,
                    # By hand, the Single Logout URL is set under Advanced SAML settings.
                    idp_slo_url=idp.slo_url if metadata_url else connection.idp_slo_url,
                )
                directory.set_allow_idp_initiated(connection, form.allow_idp_initiated.data)
        except DirectoryError as e:
            error = str(e)
    if error is not None:
        connection = ext.directory().get_connection(organization())
        return _page(connection, form, 400, error=error, error_field=field)
    flash("Saved. Use Test sign-in to check it through Okta.")
    return redirect(url_for(".sso"))


def _idp(form: IdpForm) -> tuple[IdpMetadata, str | None]:
    """The IdP the form describes: by its metadata link, or by hand; MetadataError if neither."""
    metadata_url = (form.metadata_url.data or "").strip()
    sso_url = (form.sso_url.data or "").strip()
    certificate = (form.certificate.data or "").strip()
    if metadata_url and (sso_url or certificate):
        raise MetadataError("Give the Metadata URL, or the SSO URL and certificate: not both.")
    if metadata_url:
        allow_private = extension().settings.metadata_allow_private
        return fetch_metadata(metadata_url, allow_private=allow_private), metadata_url
    if not sso_url or not certificate:
        raise MetadataError("Give Okta's Metadata URL, or its SSO URL and X.509 certificate.")
    return idp_by_hand(sso_url, [certificate]), None


def _field_of(message: str, default: str) -> str:
    """The field an input error is about, for ``aria-invalid``: by what its message names."""
    if "sign-on URL" in message or "entity ID" in message or "SSO URL" in message:
        return "sso_url"
    if "Metadata URL, or" in message:
        return "metadata_url"
    return default


def _page(
    connection: t.Any,
    form: IdpForm,
    status: int = 200,
    error: str | None = None,
    error_field: str | None = None,
) -> tuple[str, int]:
    ext = extension()
    settings = ext.settings
    directory = ext.directory()
    last = directory.audit_log(organization(), limit=1, kind="sso.login")
    failed = last[0] if last and last[0].outcome == "failure" else None
    return render(
        "sso",
        status,
        connection=connection,
        status_label=STATUS.get(connection.status if connection else None, "Connected"),
        urls=urls(connection.integration_id) if connection and settings.has_base_url else None,
        last_sign_in=_last_success(directory),
        last_failure=failed,
        test_result=_test_result(failed),
        certificates=_certificates(connection),
        warning_days=settings.certificate_warning_days,
        **screen_state(directory, connection, settings.certificate_warning_days),
        form=form,
        connect_form=ConnectForm(),
        error=error,
        error_field=error_field,
        **saml_options(connection),
    )


def _last_success(directory: t.Any) -> t.Any:
    rows = directory.audit_log(organization(), limit=20, kind="sso.login")
    return next((row for row in rows if row.outcome == "success"), None)


def _test_result(failed: t.Any) -> dict[str, t.Any] | None:
    """What **Test sign-in** came back with (``?test=1`` or ``?test=failed``), or ``None``."""
    test = request.args.get("test")
    if test == "1" and get_sso_organization() == organization():
        email = current_user.email
        return {
            "ok": True,
            "message": f"Test sign-in succeeded: you signed in through Okta as {email}.",
        }
    if test in ("1", "failed"):
        reason = failed.detail.get("reason") if failed is not None else None
        return {
            "ok": False,
            "message": f"Test sign-in failed: {reason}."
            if reason
            else "Test sign-in did not complete.",
        }
    return None


def _certificates(connection: t.Any) -> list[dict[str, t.Any]]:
    """Each IdP certificate's subject, expiry and days left, or why it cannot be read."""
    out: list[dict[str, t.Any]] = []
    now = utcnow()
    for body in (connection.idp_certificates or []) if connection else []:
        try:
            info = inspect_certificate(body)
        except CertificateRefused as e:
            out.append({"error": str(e)})
            continue
        days = (info.not_after - now).days
        out.append({"subject": info.subject, "not_after": info.not_after, "days_left": days})
    return out
