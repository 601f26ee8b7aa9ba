"""``flask okta-scim sso``: an organization's Okta single sign-on connection."""

from __future__ import annotations

import base64
import hashlib
import re
import typing as t
from pathlib import Path

import click
from flask.cli import AppGroup

from .._current import extension
from ..saml.errors import MetadataError
from ..saml.metadata import fetch_metadata
from ..saml.metadata import parse_metadata
from ..saml.settings import checked_certificate
from ..web.sso import urls
from ._common import emit
from ._common import explain
from ._common import reports_errors
from ._common import unit_of_work

sso = AppGroup("sso", help="Connect an organization's Okta for single sign-on.")

#: Okta's sign-on URLs end in .../<app id exk...>/sso/saml; its entity ID is http://www.okta.com/<id>.
_OKTA_SSO_URL = re.compile(r"^https://[^/]+/app/[^/]+/(?P<app>[A-Za-z0-9]+)/sso/saml/?$")


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
@reports_errors
def configure(
    org_ref: str,
    metadata_url: str | None,
    metadata_file: Path | None,
    sso_url: str | None,
    certificates: tuple[Path, ...],
    entity_id: str | None,
) -> None:
    """Set the IdP of ORG: from Okta's metadata link, or by hand (SSO URL + certificate).

    By hand, the entity ID may be left out for an Okta sign-on URL
    (``https://ORG.okta.com/app/NAME/exk.../sso/saml``): it is
    ``http://www.okta.com/exk...``.
    """
    chosen = [bool(metadata_url), bool(metadata_file), bool(sso_url or certificates)]
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
            entity, sso_target, certs = found.entity_id, found.sso_url, found.certificates
        elif metadata_file:
            found = parse_metadata(metadata_file.read_bytes())
            entity, sso_target, certs = found.entity_id, found.sso_url, found.certificates
        else:
            if not sso_url or not certificates:
                raise click.UsageError("--sso-url needs at least one --certificate.")
            match = _OKTA_SSO_URL.match(sso_url)
            guessed = entity_id or (f"http://www.okta.com/{match['app']}" if match else None)
            if not guessed:
                raise click.UsageError(
                    "--entity-id is needed for a sign-on URL that is not Okta's."
                )
            entity = guessed
            sso_target = sso_url
            certs = [_read_certificate(path) for path in certificates]
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
        )
    explain(
        f"Configured {organization.name!r} for {entity} ({len(certs)} signing certificate(s)). "
        "Sign in once through Okta to finish connecting."
    )


def _fingerprint(body: str) -> str:
    """The SHA-256 fingerprint of a certificate, as Okta shows it (``AB:CD:...``)."""
    digest = hashlib.sha256(base64.b64decode(body)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _read_certificate(path: Path) -> str:
    try:
        return checked_certificate(path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise click.ClickException(f"{path} is not a PEM certificate.") from None


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
    """Print ORG's connection as JSON: the values to enter in Okta, and its state."""
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
                "allow_idp_initiated": c.allow_idp_initiated,
                "idp_entity_id": c.idp_entity_id,
                "idp_sso_url": c.idp_sso_url,
                "idp_certificates": [_fingerprint(cert) for cert in c.idp_certificates or []],
                "metadata_url": c.metadata_url,
                "provisioning_enabled": c.provisioning_enabled,
            }
        )
