"""``flask okta-scim sso sp-key`` and the options that need it: the SP's own key pairs.

Keys belong to one organization's connection (``ORG``) or, with ``--app``, to
the whole application (every connection without keys of its own uses them).
Registered on the ``sso`` group when :mod:`flask_okta_scim.cli` is imported.
"""

from __future__ import annotations

import typing as t

import click

from .._current import extension
from ._common import emit
from ._common import explain
from ._common import reports_errors
from ._common import unit_of_work
from .sso import _connection
from .sso import sso


@sso.group("sp-key")
def sp_key() -> None:
    """The SP key pairs that sign requests and decrypt assertions (per ORG, or --app)."""


def _scope(directory: t.Any, org_ref: str | None, app_wide: bool) -> tuple[t.Any, str]:
    """The connection named by ORG (or ``None`` with ``--app``) and a label for messages."""
    if app_wide == bool(org_ref):
        raise click.UsageError("Give ORG, or --app for the application's keys: one of them.")
    if app_wide:
        return None, "the application"
    organization, connection = _connection(directory, str(org_ref))
    return connection, repr(organization.name)


_org_argument = click.argument("org_ref", metavar="[ORG]", required=False)
_app_option = click.option(
    "--app", "app_wide", is_flag=True, help="The application's keys, for every connection."
)


@sp_key.command("generate")
@_org_argument
@_app_option
@reports_errors
def generate(org_ref: str | None, app_wide: bool) -> None:
    """Make a key pair; print its certificate (PEM) to upload to Okta.

    The first key is active at once; with an active key the new one is
    "next": published in the SP metadata, used once activated.
    """
    vault = extension().sp_key_vault()
    with unit_of_work() as directory:
        connection, label = _scope(directory, org_ref, app_wide)
        name = connection.integration_id if connection is not None else "application"
        row = directory.generate_sp_key(connection, vault, common_name=f"SAML SP {name}")
        state, certificate, print_ = row.state, row.certificate, row.fingerprint
    explain(
        f"Generated an SP key pair for {label} ({state}, SHA-256 {print_})."
        + (
            " Upload the certificate below to Okta, then run 'sso sp-key activate'."
            if state == "next"
            else " Upload the certificate below to Okta (Signature Certificate, or "
            "Encryption Certificate)."
        )
    )
    emit(certificate.strip())


@sp_key.command("activate")
@_org_argument
@_app_option
@reports_errors
def activate(org_ref: str | None, app_wide: bool) -> None:
    """Make the next key active (it signs from now on); the active one retires."""
    with unit_of_work() as directory:
        connection, label = _scope(directory, org_ref, app_wide)
        row = directory.activate_sp_key(connection)
        print_ = row.fingerprint
    explain(
        f"The SP key {print_} of {label} is active. The retired key still decrypts; remove it "
        "once Okta uses the new certificate ('sso sp-key remove')."
    )


@sp_key.command("list")
@_org_argument
@_app_option
@reports_errors
def list_keys(org_ref: str | None, app_wide: bool) -> None:
    """Print the keys ORG uses (its own, else the application's) as JSON. No private key."""
    with unit_of_work() as directory:
        connection, _ = _scope(directory, org_ref, app_wide)
        emit(
            [
                {
                    "id": row.id,
                    "state": row.state,
                    "scope": "application" if row.connection_id is None else "connection",
                    "fingerprint": row.fingerprint,
                    "not_after": row.not_after.isoformat(),
                    "created_at": row.created_at.isoformat(),
                }
                for row in directory.sp_keys(connection)
            ]
        )


@sp_key.command("certificate")
@_org_argument
@_app_option
@click.option("--next", "upcoming", is_flag=True, help="The next key's certificate.")
@reports_errors
def certificate(org_ref: str | None, app_wide: bool, upcoming: bool) -> None:
    """Print the active (or --next) key's certificate, PEM, to upload to Okta."""
    wanted = "next" if upcoming else "active"
    with unit_of_work() as directory:
        connection, label = _scope(directory, org_ref, app_wide)
        found = [row for row in directory.sp_keys(connection) if row.state == wanted]
        if not found:
            raise click.ClickException(f"{label} has no {wanted} SP key.")
        emit(found[0].certificate.strip())


@sp_key.command("remove")
@_org_argument
@click.argument("key_id", type=int)
@_app_option
@reports_errors
def remove(org_ref: str | None, key_id: int, app_wide: bool) -> None:
    """Delete a next or retired key (KEY_ID from 'sp-key list'); never the active one."""
    with unit_of_work() as directory:
        connection, label = _scope(directory, org_ref, app_wide)
        directory.remove_sp_key(connection, key_id)
    explain(f"Removed SP key {key_id} of {label}.")


@sp_key.command("reseal")
@reports_errors
def reseal() -> None:
    """Seal every private key again with the first OKTA_SCIM_SP_KEY_SECRETS secret."""
    vault = extension().sp_key_vault()
    with unit_of_work() as directory:
        count = directory.reseal_sp_keys(vault)
    explain(f"Resealed {count} SP key(s). Older secrets may now be removed from the configuration.")


@sso.command("signed-requests")
@click.argument("org_ref", metavar="ORG")
@click.argument("state", type=click.Choice(["on", "off"]))
@reports_errors
def signed_requests(org_ref: str, state: str) -> None:
    """Sign ORG's AuthnRequests (Okta: Signed Requests) with the SP key, or stop."""
    with unit_of_work() as directory:
        organization, connection = _connection(directory, org_ref)
        directory.set_signed_requests(connection, state == "on")
    explain(
        f"Signed requests are {state} for {organization.name!r}."
        + (" In Okta, turn on Signed Requests with the SP certificate." if state == "on" else "")
    )


@sso.command("encrypted-assertions")
@click.argument("org_ref", metavar="ORG")
@click.argument("state", type=click.Choice(["on", "off"]))
@reports_errors
def encrypted_assertions(org_ref: str, state: str) -> None:
    """Accept only encrypted assertions for ORG (Okta: Assertion Encryption), or stop."""
    with unit_of_work() as directory:
        organization, connection = _connection(directory, org_ref)
        directory.set_encrypted_assertions(connection, state == "on")
    explain(
        f"Encrypted assertions are {'required' if state == 'on' else 'no longer required'} "
        f"for {organization.name!r}."
        + (
            " In Okta, set Assertion Encryption to Encrypted with the SP certificate "
            "(RSA-OAEP key transport)."
            if state == "on"
            else ""
        )
    )
