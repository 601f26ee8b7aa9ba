"""``flask okta-scim team``: teams, their members and pre-approved domains."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..core.emails import normalize_domain
from ._common import emit
from ._common import explain
from ._common import public_id
from ._common import reports_errors
from ._common import unit_of_work

team = AppGroup(
    "team",
    help="Manage teams. TEAM is the id printed by 'team create' or the team's name.",
)


@team.command("create")
@click.argument("org_ref", metavar="ORG")
@click.argument("name")
@reports_errors
def create(org_ref: str, name: str) -> None:
    """Create a team NAME in ORG and print its id."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        created = directory.create_team(organization, name)
    explain(f"Created team {created.name!r} in {organization.name!r}.")
    emit(public_id(created.id))


@team.command("list")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def list_(org_ref: str) -> None:
    """Print ORG's teams with their domains and members as JSON."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        emit(
            [
                {
                    "id": public_id(t.id),
                    "name": t.name,
                    "managed_by_okta": directory.managed_by_okta(t),
                    "domains": directory.team_domains(t),
                    "members": [a.email for a in directory.team_members(t)],
                }
                for t in directory.teams(organization)
            ]
        )


@team.command("rename")
@click.argument("org_ref", metavar="ORG")
@click.argument("team_ref", metavar="TEAM")
@click.argument("name")
@reports_errors
def rename(org_ref: str, team_ref: str, name: str) -> None:
    """Rename TEAM of ORG to NAME."""
    with unit_of_work() as directory:
        found = directory.get_team(directory.get_organization(org_ref), team_ref)
        changed = directory.rename_team(found, name)
    explain(f"Renamed the team to {name!r}." if changed else "The team already has that name.")


@team.command("delete")
@click.argument("org_ref", metavar="ORG")
@click.argument("team_ref", metavar="TEAM")
@click.option("--yes", is_flag=True, help="Confirm: the team's resources are deleted with it.")
@reports_errors
def delete(org_ref: str, team_ref: str, yes: bool) -> None:
    """Delete TEAM of ORG and, through the host's receivers, all its resources."""
    if not yes:
        raise click.ClickException(
            "Deleting a team deletes all its resources. Repeat with --yes to confirm."
        )
    with unit_of_work() as directory:
        found = directory.get_team(directory.get_organization(org_ref), team_ref)
        name = found.name
        directory.delete_team(found)
    explain(f"Deleted team {name!r}.")


@team.command("add-domain")
@click.argument("org_ref", metavar="ORG")
@click.argument("team_ref", metavar="TEAM")
@click.argument("domain")
@reports_errors
def add_domain(org_ref: str, team_ref: str, domain: str) -> None:
    """Pre-approve DOMAIN for just-in-time provisioning into TEAM of ORG."""
    with unit_of_work() as directory:
        found = directory.get_team(directory.get_organization(org_ref), team_ref)
        added = directory.add_team_domain(found, domain)
        domain = normalize_domain(domain)
    explain(
        f"People with an address at {domain} may now join {found.name!r} "
        "when they sign in through the organization's Okta."
        if added
        else f"{domain} was already pre-approved for {found.name!r}."
    )


@team.command("remove-domain")
@click.argument("org_ref", metavar="ORG")
@click.argument("team_ref", metavar="TEAM")
@click.argument("domain")
@reports_errors
def remove_domain(org_ref: str, team_ref: str, domain: str) -> None:
    """Stop pre-approving DOMAIN for TEAM of ORG."""
    with unit_of_work() as directory:
        found = directory.get_team(directory.get_organization(org_ref), team_ref)
        removed = directory.remove_team_domain(found, domain)
    if not removed:
        raise click.ClickException(f"{domain} is not pre-approved for {found.name!r}.")
    explain(f"{domain} is no longer pre-approved for {found.name!r}.")


@team.command("add-member")
@click.argument("org_ref", metavar="ORG")
@click.argument("team_ref", metavar="TEAM")
@click.argument("email")
@reports_errors
def add_member(org_ref: str, team_ref: str, email: str) -> None:
    """Add EMAIL, a member of ORG, to TEAM."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        found = directory.get_team(organization, team_ref)
        account = directory.find_account(email)
        if account is None:
            raise click.ClickException(f"No account {email}: add it to the organization first.")
        added = directory.add_team_members(found, [account])
    explain(f"Added {email} to {found.name!r}." if added else f"{email} was already in the team.")


@team.command("remove-member")
@click.argument("org_ref", metavar="ORG")
@click.argument("team_ref", metavar="TEAM")
@click.argument("email")
@reports_errors
def remove_member(org_ref: str, team_ref: str, email: str) -> None:
    """Remove EMAIL from TEAM of ORG."""
    with unit_of_work() as directory:
        found = directory.get_team(directory.get_organization(org_ref), team_ref)
        account = directory.find_account(email)
        removed = directory.remove_team_members(found, [account]) if account is not None else []
    if not removed:
        raise click.ClickException(f"{email} is not a member of {found.name!r}.")
    explain(f"Removed {email} from {found.name!r}.")


@team.command("quarantined")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def quarantined(org_ref: str) -> None:
    """Print ORG's quarantined teams (Okta deleted their groups) as JSON, oldest first."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        emit(
            [
                {
                    "id": public_id(found.id),
                    "name": found.name,
                    "quarantined_at": record.quarantined_at.isoformat(),
                    "purge_after": record.purge_after.isoformat(),
                    "members": len(record.member_ids or []),
                }
                for found, record in directory.quarantined_teams(organization)
            ]
        )


@team.command("restore")
@click.argument("org_ref", metavar="ORG")
@click.argument("team_id", metavar="TEAM_ID")
@click.option("--name", help="Restore it under this name (another team took its name).")
@reports_errors
def restore(org_ref: str, team_id: str, name: str | None) -> None:
    """Take the quarantined team TEAM_ID of ORG out of quarantine, members and Okta link back."""
    with unit_of_work() as directory:
        found = directory.get_team(directory.get_organization(org_ref), team_id)
        back = directory.restore_team(found, name=name)
        restored = found.name
    explain(f"Restored {restored!r} with {len(back)} member(s).")
