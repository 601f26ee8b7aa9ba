"""``flask okta-scim scim``: SCIM provisioning on and off, and its bearer tokens."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .._current import extension
from ..web.scim_hold import arm
from ..web.scim_hold import describe
from ._common import emit
from ._common import explain
from ._common import reports_errors
from ._common import require_base_url
from ._common import unit_of_work

scim = AppGroup("scim", help="Turn SCIM provisioning on or off and manage its bearer token.")


@scim.command("enable")
@click.argument("org_ref", metavar="ORG")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Answer Okta's writes and plan them, apply nothing until 'scim arm'.",
)
@reports_errors
def enable(org_ref: str, dry_run: bool) -> None:
    """Turn provisioning on for ORG and print its bearer token (shown this once only).

    ORG needs a connected Okta single sign-on first, and ``OKTA_SCIM_BASE_URL``
    must be set (the SCIM base URL to give Okta is built from it). With
    ``--dry-run``, every write Okta sends is answered as it would be and recorded
    as planned (``scim plan``), and nothing is applied until ``scim arm``.
    """
    require_base_url("scim enable")
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        token = directory.enable_provisioning(organization, dry_run=dry_run)
    settings = extension().settings
    explain(
        f"Provisioning is on for {organization.name!r}. In Okta's Provisioning tab use the "
        f"SCIM base URL {settings.url(settings.scim_url_prefix)} and this bearer token; "
        "it is stored only as a hash and will not be shown again."
    )
    emit(token)


@scim.command("reindex")
@click.argument("org_ref", metavar="[ORG]", required=False)
@reports_errors
def reindex(org_ref: str | None) -> None:
    """Rebuild what SCIM filters compare (folded keys, email rows, team groups).

    Run it once after upgrading from a version without them, and after teams
    were created or renamed with plain SQL. Of ORG only, or of every
    organization. Prints the counts as JSON.
    """
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref) if org_ref else None
        counts = directory.reindex(organization)
    emit(counts)


@scim.command("rotate-token")
@click.argument("org_ref", metavar="ORG")
@click.option(
    "--grace",
    type=click.IntRange(min=0, max=90 * 24 * 3600),
    default=None,
    help="Seconds the old token keeps working if the new one is not used first "
    "(default: OKTA_SCIM_TOKEN_ROTATION_GRACE).",
)
@reports_errors
def rotate_token(org_ref: str, grace: int | None) -> None:
    """Issue a new bearer token for ORG and print it.

    The old token keeps working until Okta first uses the new one, or the grace time ends.
    """
    seconds = extension().settings.token_rotation_grace if grace is None else grace
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        token = directory.rotate_token(organization, timedelta(seconds=seconds))
    explain(
        f"New token for {organization.name!r}: paste it into Okta. The old one stops working "
        f"when this one is first used, or in {seconds} seconds."
    )
    emit(token)


@scim.command("disable")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def disable(org_ref: str) -> None:
    """Turn provisioning off for ORG: every token stops working at once."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        directory.disable_provisioning(organization)
    explain(f"Provisioning is off for {organization.name!r}; its tokens no longer work.")


@scim.command("status")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def status(org_ref: str) -> None:
    """Print ORG's provisioning state and its tokens (never the tokens themselves) as JSON."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        connection = directory.get_connection(organization)
        tok = directory.models.scim_token
        rows = directory.session.scalars(
            select(tok).where(tok.organization_id == organization.id).order_by(tok.id)
        ).all()

        def when(value: object) -> str | None:
            return value.isoformat() if value is not None else None  # type: ignore[attr-defined]

        emit(
            {
                "enabled": bool(connection and connection.provisioning_enabled),
                "sso_status": connection.status if connection else None,
                "tokens": [
                    {
                        "id": str(row.id),
                        "created_at": when(row.created_at),
                        "first_used_at": when(row.first_used_at),
                        "last_used_at": when(row.last_used_at),
                        "expires_at": when(row.expires_at),
                        "revoked": row.revoked_at is not None,
                    }
                    for row in rows
                ],
            }
        )


@scim.command("plan")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def plan(org_ref: str) -> None:
    """Print the changes ORG's dry run planned, in order, as JSON (and whether it is on)."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        emit(
            {
                "dry_run": directory.is_dry_run(organization),
                "changes": [
                    describe(c) for c in directory.held_changes(organization, status="planned")
                ],
            }
        )


@scim.command("arm")
@click.argument("org_ref", metavar="ORG")
@click.option("--discard-plan", is_flag=True, help="Drop the planned changes instead.")
@reports_errors
def arm_(org_ref: str, discard_plan: bool) -> None:
    """End ORG's dry run: apply its planned changes in order (each once), then apply
    Okta's requests as they come. Prints what came of each as JSON.

    With ``--discard-plan`` the planned changes are dropped: Okta was told they
    were made, so push again from Okta (Push Now, or reapply assignments).
    """
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        if not directory.is_dry_run(organization):
            raise click.ClickException(f"{organization.name!r} is not in dry run.")
        if discard_plan:
            for change in directory.held_changes(organization, status="planned"):
                directory.decide_change(change, "discarded")
            directory.set_dry_run(organization, False)
        organization_id = organization.id
    done = [] if discard_plan else arm(organization_id, actor="cli")
    emit(done)
    explain(f"Provisioning applies Okta's requests now ({len(done)} planned change(s) applied).")
