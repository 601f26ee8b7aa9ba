"""``flask okta-scim sso``: an organization's Okta single sign-on connection."""

from __future__ import annotations

import sys
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import click
from flask.cli import AppGroup

from .._current import extension
from ..saml.certificates import CertificateRefused
from ..saml.certificates import fingerprint
from ..saml.certificates import inspect_certificate
from ..saml.errors import MetadataError
from ..saml.metadata import fetch_metadata
from ..saml.metadata import idp_by_hand
from ..saml.metadata import okta_entity_id
from ..saml.metadata import parse_metadata
from ..saml.settings import checked_certificate
from ..web.sso import urls
from ._common import emit
from ._common import explain
from ._common import public_id
from ._common import reports_errors
from ._common import require_base_url
from ._common import unit_of_work

sso = AppGroup("sso", help="Connect an organization's Okta for single sign-on.")


def _connection(directory: t.Any, org_ref: str) -> tuple[t.Any, t.Any]:
    organization = directory.get_organization(org_ref)
    connection = directory.get_connection(organization)
    if connection is None:
        raise click.ClickException(
            f"{organization.name!r} has no Okta connection: run 'sso connect' first."
        )
    return organization, connection


@sso.command("connect")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def connect(org_ref: str) -> None:
    """Start ORG's Okta connection and print its Integration ID (paste it into Okta)."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        existing = directory.get_connection(organization) is not None
        connection = directory.connect(organization)
    explain(
        f"{organization.name!r} already has a connection ({connection.status})."
        if existing
        else f"Started the Okta connection of {organization.name!r}. Enter this Integration "
        "ID in Okta, then run 'sso configure' with Okta's metadata link."
    )
    if not extension().settings.has_base_url:
        explain(
            "Note: OKTA_SCIM_BASE_URL is not set; 'sso show' needs it to print the URLs "
            "to enter in Okta, and sign-in answers 503 until it is set."
        )
    emit(connection.integration_id)


@sso.command("configure")
@click.argument("org_ref", metavar="ORG")
@click.option("--metadata-url", help="Okta's IdP metadata link (https).")
@click.option(
    "--metadata-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Okta's IdP metadata, saved as a file.",
)
@click.option("--sso-url", help="Okta's Identity Provider Single Sign-On URL.")
@click.option(
    "--certificate",
    "certificates",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Okta's X.509 signing certificate (PEM); repeat for a rollover.",
)
@click.option("--entity-id", help="Okta's Identity Provider Issuer (entity ID).")
@click.option(
    "--slo-url",
    help="Okta's Identity Provider Single Logout URL (by hand; metadata brings its own).",
)
@click.option(
    "--allow-expired-certificate",
    is_flag=True,
    help="Trust the IdP's certificates even once expired (never weak ones), for an IdP "
    "known to sign with an expired self-signed certificate. Audited; configuring again "
    "without it turns it off.",
)
@reports_errors
def configure(
    org_ref: str,
    metadata_url: str | None,
    metadata_file: Path | None,
    sso_url: str | None,
    certificates: tuple[Path, ...],
    entity_id: str | None,
    slo_url: str | None,
    allow_expired_certificate: bool,
) -> None:
    """Set the IdP of ORG: from Okta's metadata link, or by hand (SSO URL + certificate).

    By hand, the entity ID may be left out for an Okta sign-on URL
    (``https://ORG.okta.com/app/NAME/exk.../sso/saml``): it is
    ``http://www.okta.com/exk...``.

    Every certificate must have a strong key (RSA of 2048 bits or more, EC on
    P-256 or larger) and be valid now; an expired one is accepted only with
    ``--allow-expired-certificate``.
    """
    chosen = [bool(metadata_url), bool(metadata_file), bool(sso_url or certificates)]
    if slo_url and not chosen[2]:
        raise click.UsageError("--slo-url goes with --sso-url: metadata brings its own.")
    if sum(chosen) != 1:
        raise click.UsageError(
            "Give exactly one of --metadata-url, --metadata-file, or --sso-url with --certificate."
        )
    settings = extension().settings
    with unit_of_work() as directory:
        _connection(directory, org_ref)  # fail early, before fetching anything
    try:
        if metadata_url:
            found = fetch_metadata(metadata_url, allow_private=settings.metadata_allow_private)
        elif metadata_file:
            found = parse_metadata(metadata_file.read_bytes())
        else:
            if not sso_url or not certificates:
                raise click.UsageError("--sso-url needs at least one --certificate.")
            if not entity_id and not okta_entity_id(sso_url):
                raise click.UsageError(
                    "--entity-id is needed for a sign-on URL that is not Okta's."
                )
            found = idp_by_hand(sso_url, [_read(path) for path in certificates], entity_id, slo_url)
        entity, sso_target, certs = found.entity_id, found.sso_url, found.certificates
    except MetadataError as e:
        raise click.ClickException(str(e)) from None
    with unit_of_work() as directory:
        organization, connection = _connection(directory, org_ref)
        directory.configure_connection(
            connection,
            idp_entity_id=entity,
            idp_sso_url=sso_target,
            certificates=certs,
            metadata_url=metadata_url,
            allow_expired_certificate=allow_expired_certificate,
            idp_slo_url=found.slo_url,
        )
        warning_days = settings.certificate_warning_days
        warnings = _certificate_warnings(connection, warning_days)
    explain(
        f"Configured {organization.name!r} for {entity} ({len(certs)} signing certificate(s)). "
        "Sign in once through Okta to finish connecting."
    )
    if allow_expired_certificate:
        explain(
            "Warning: expired IdP certificates of this connection are trusted "
            "(--allow-expired-certificate)."
        )
    for line in warnings:
        explain(line)


def _read(path: Path) -> str:
    """The text of a certificate file, checked so that the error names the file."""
    try:
        text = path.read_text()
        checked_certificate(text)
    except (OSError, UnicodeDecodeError, ValueError):
        raise click.ClickException(f"{path} is not a PEM certificate.") from None
    return text


@sso.command("idp-initiated")
@click.argument("org_ref", metavar="ORG")
@click.argument("state", type=click.Choice(["on", "off"]))
@reports_errors
def idp_initiated(org_ref: str, state: str) -> None:
    """Allow (on) or refuse (off) sign-in from the Okta dashboard tile for ORG."""
    with unit_of_work() as directory:
        organization, connection = _connection(directory, org_ref)
        directory.set_allow_idp_initiated(connection, state == "on")
    explain(f"IdP-initiated sign-in is {state} for {organization.name!r}.")


@sso.command("show")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def show(org_ref: str) -> None:
    """Print ORG's connection as JSON: the values to enter in Okta, and its state.

    Each IdP certificate is shown with its fingerprint, subject, key, validity
    and days left; a warning on stderr names each one that expires within
    ``OKTA_SCIM_CERTIFICATE_WARNING_DAYS`` days or is not trusted. The URLs are
    built from ``OKTA_SCIM_BASE_URL``: without it, the command fails.
    """
    require_base_url("sso show")
    warning_days = extension().settings.certificate_warning_days
    with unit_of_work() as directory:
        _, connection = _connection(directory, org_ref)
        c = connection
        u = urls(c.integration_id)
        emit(
            {
                "integration_id": c.integration_id,
                "status": c.status,
                "sign_in_url": u.sign_in,
                "acs_url": u.acs,
                "sp_entity_id": u.metadata,
                "sp_metadata_url": u.metadata,
                "slo_url": u.slo,
                "allow_idp_initiated": c.allow_idp_initiated,
                "sign_requests": bool(c.sign_requests),
                "encrypt_assertions": bool(c.encrypt_assertions),
                "sp_keys": [
                    {
                        "id": k.id,
                        "state": k.state,
                        "scope": "application" if k.connection_id is None else "connection",
                        "fingerprint": k.fingerprint,
                    }
                    for k in directory.sp_keys(c)
                    if k.state != "retired"
                ],
                "idp_entity_id": c.idp_entity_id,
                "idp_sso_url": c.idp_sso_url,
                "idp_slo_url": c.idp_slo_url,
                "idp_certificates": [
                    _certificate_entry(cert, c.allow_expired_certificate)
                    for cert in c.idp_certificates or []
                ],
                "allow_expired_certificate": bool(c.allow_expired_certificate),
                "metadata_url": c.metadata_url,
                "provisioning_enabled": c.provisioning_enabled,
            }
        )
        warnings = _certificate_warnings(c, warning_days)
    for line in warnings:
        explain(line)


@sso.command("check-certificates")
@click.argument("org_ref", metavar="ORG", required=False)
@click.option(
    "--days",
    type=click.IntRange(0, 3650),
    help="Warn when the last certificate expires within this many days "
    "(default: OKTA_SCIM_CERTIFICATE_WARNING_DAYS).",
)
@reports_errors
def check_certificates(org_ref: str | None, days: int | None) -> None:
    """Check the IdP certificates of every connection (of ORG, or of all); for cron.

    Prints one JSON object per configured connection. Sends the signal
    ``idp_certificate_expiring`` for each connection whose last certificate
    expires within the window (or has expired), and exits 1 if there is one,
    or a connection that trusts no certificate at all.
    """
    window = extension().settings.certificate_warning_days if days is None else days
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref) if org_ref else None
        checks = directory.certificate_check(timedelta(days=window), organization)
        rows = [
            {
                "organization": public_id(check.organization.id),
                "organization_name": check.organization.name,
                "integration_id": check.connection.integration_id,
                "expiring": check.expiring,
                "trusted": check.trusted,
                "days_left": check.days_left,
                "not_after": _time(check.last.not_after) if check.last else None,
                "fingerprint": check.last.fingerprint if check.last else None,
                "allow_expired_certificate": bool(check.connection.allow_expired_certificate),
            }
            for check in checks
        ]
    emit(rows)
    for row in rows:
        if not row["trusted"]:
            explain(
                f"{row['organization_name']!r}: no IdP certificate is trusted; "
                "sign-ins are refused. Run 'sso configure' with the current certificate."
            )
        elif row["expiring"]:
            explain(
                f"{row['organization_name']!r}: the IdP certificate expires in "
                f"{row['days_left']} day(s) ({row['not_after']}). Run 'sso configure' with "
                "the new certificate before then."
            )
    if any(check.at_risk for check in checks):
        sys.exit(1)


def _certificate_entry(text: str, allow_expired: bool) -> dict[str, t.Any]:
    """How ``sso show`` prints one certificate: never the certificate itself."""
    try:
        info = inspect_certificate(text)
    except CertificateRefused:
        return {"fingerprint": _raw_fingerprint(text), "state": "unreadable", "trusted": False}
    now = datetime.now(timezone.utc)
    return {
        "fingerprint": info.fingerprint,
        "subject": info.subject,
        "key": info.key,
        "not_before": _time(info.not_before),
        "not_after": _time(info.not_after),
        "days_left": info.days_left(now),
        "state": info.state(now),
        "trusted": info.trusted(now, allow_expired=bool(allow_expired)),
    }


def _certificate_warnings(connection: t.Any, warning_days: int) -> list[str]:
    """Lines for stderr: each certificate not trusted or expiring within ``warning_days``."""
    now = datetime.now(timezone.utc)
    allow_expired = bool(connection.allow_expired_certificate)
    lines, trusted = [], 0
    for text in connection.idp_certificates or []:
        try:
            info = inspect_certificate(text)
        except CertificateRefused as e:
            lines.append(f"Warning: {e} It is not trusted.")
            continue
        trusted += info.trusted(now, allow_expired=allow_expired)
        problem = info.problem(now)
        if problem:
            override = allow_expired and info.state(now) == "expired"
            lines.append(
                f"Warning: {problem}; "
                + ("trusted anyway (--allow-expired-certificate)." if override else "not trusted.")
            )
        elif info.days_left(now) <= warning_days:
            lines.append(
                f"Warning: the certificate {info.name()} expires in {info.days_left(now)} "
                f"day(s), on {_time(info.not_after)}. Configure its successor before then."
            )
    if connection.idp_certificates and not trusted:
        lines.append("Warning: no IdP certificate is trusted now: every sign-in is refused.")
    return lines


def _raw_fingerprint(text: str) -> str | None:
    try:
        return fingerprint(text)
    except ValueError:
        return None


def _time(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat()
