"""What the Single sign-on screen says about Okta's metadata and certificates over time.

For a connection, :func:`screen_state` gives the SSO screen (:mod:`.sso`):

- a warning when the certificate that expires last expires within
  ``OKTA_SCIM_CERTIFICATE_WARNING_DAYS`` days (or none is trusted any more);
- the latest refused sign-in of the last 7 days whose response was signed with
  a certificate the connection does not have (Okta probably rotated it);
- for a connection configured from a metadata link: when it was last
  refreshed, why the last refresh failed, and **Refresh metadata**.

``POST <prefix>/<org_id>/sso/refresh-metadata`` (**Refresh metadata**, CSRF
protected like every form of the console) fetches the metadata now, outside
any transaction, and applies it as ``flask okta-scim sso refresh-metadata``
does. It does not change the metadata URL: **Save** does.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta
from datetime import timezone

from flask import flash
from flask import redirect
from flask import url_for
from flask_wtf import FlaskForm

from ..._current import extension
from ...saml.certificates import EXPIRED
from ...saml.certificates import VALID
from ...saml.certificates import CertificateRefused
from ...saml.certificates import inspect_certificate
from ...saml.certificates import trusted_certificates
from ...sqla.directory.connections import _aware
from ...sqla.directory.metadata_refresh import FAILED
from ...sqla.directory.metadata_refresh import REFRESHED
from ...sqla.directory.metadata_refresh import refresh_from_source
from ...sqla.mixins import utcnow
from . import actor
from . import bp
from . import organization
from . import render


class RefreshForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token: **Refresh metadata** takes no input."""


@bp.post("/<int:org_id>/sso/refresh-metadata")
def refresh_metadata() -> t.Any:
    if not RefreshForm().validate_on_submit():
        return render("error", 400, message="The form expired: reload the page and try again.")
    ext = extension()
    directory = ext.directory(actor=actor())
    sources = directory.metadata_sources(organization=organization())
    directory.session.rollback()  # no transaction stays open during the fetch
    if not sources:
        return render(
            "error",
            409,
            message="This connection was not set up from a metadata link: save Okta's "
            "metadata link first.",
        )
    settings = ext.settings
    outcome = refresh_from_source(
        lambda: ext.directory(actor=actor()),
        sources[0],
        allow_private=settings.metadata_allow_private,
        overlap=timedelta(days=settings.certificate_overlap_days),
    )
    if outcome.result == REFRESHED:
        flash(f"Metadata refreshed: {outcome.describe().removeprefix('refreshed: ')}.")
    elif outcome.result == FAILED:
        flash("The metadata was not applied; nothing changed. See Metadata refresh below.")
    else:
        flash("Metadata checked: nothing changed.")
    return redirect(url_for(".sso"))


def screen_state(directory: t.Any, connection: t.Any, warning_days: int) -> dict[str, t.Any]:
    """The SSO screen's certificate warning, rotated-certificate refusal and refresh state."""
    if connection is None:
        return {"certificate_alert": None, "unknown_signer": None, "metadata_state": None}
    checked_at = _aware(connection.metadata_checked_at)
    return {
        "certificate_alert": certificate_alert(connection, warning_days),
        "unknown_signer": directory.unknown_signer_refusal(organization(), connection),
        "metadata_state": (
            {
                "checked_at": checked_at.astimezone(timezone.utc) if checked_at else None,
                "error": connection.metadata_error,
            }
            if connection.metadata_url
            else None
        ),
        "refresh_form": RefreshForm(),
    }


def certificate_alert(connection: t.Any, warning_days: int) -> str | None:
    """What to tell the admin when sign-ins stop soon for want of a certificate, or ``None``.

    Judged like ``flask okta-scim sso check-certificates``: by the strong
    certificate that expires last, so that a rollover's old certificate
    expiring next to a newer one is no warning. Nothing is said under the
    ``allow_expired_certificate`` override, except when no certificate is
    trusted at all.
    """
    certificates = connection.idp_certificates or []
    if not certificates:
        return None
    now = utcnow()
    allow_expired = bool(connection.allow_expired_certificate)
    if not trusted_certificates(certificates, now=now, allow_expired=allow_expired).trusted:
        return (
            "No signing certificate of this connection is trusted now: every sign-in through "
            "Okta is refused. Save Okta's current metadata link or certificate."
        )
    strong = []
    for text in certificates:
        try:
            info = inspect_certificate(text)
        except CertificateRefused:
            continue
        if info.state(now) in (VALID, EXPIRED):
            strong.append(info)
    last = max(strong, key=lambda info: info.not_after, default=None)
    if last is None or allow_expired or last.days_left(now) > warning_days:
        return None
    return (
        f"Okta's signing certificate expires in {last.days_left(now)} day(s), on "
        f"{last.not_after.strftime('%Y-%m-%d')}: sign-ins through Okta stop then. Ask your "
        "Okta admin to activate a new certificate, then refresh the metadata (or save the new "
        "certificate here)."
    )
