"""``flask okta-scim org``: organizations and their members."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..config import TEAM_DELETION_POLICIES
from ..sqla.directory.base import audit_entry
from ._common import emit
from ._common import explain
from ._common import public_id
from ._common import reports_errors
from ._common import unit_of_work

org = AppGroup("org", help="Create and inspect organizations (tenants) and their members.")


@org.command("create")
@click.argument("name")
@reports_errors
def create(name: str) -> None:
    """Create an organization named NAME and print its id."""
    with unit_of_work() as directory:
        organization = directory.create_organization(name)
    explain(f"Created organization {organization.name!r}.")
    emit(public_id(organization.id))


@org.command("list")
@reports_errors
def list_() -> None:
    """Print every organization as JSON."""
    with unit_of_work() as directory:
        emit([{"id": public_id(o.id), "name": o.name} for o in directory.organizations()])


@org.command("show")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def show(org_ref: str) -> None:
    """Print ORG with its members and teams as JSON."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        emit(
            {
                "id": public_id(organization.id),
                "name": organization.name,
                "members": [
                    {"id": public_id(a.id), "email": a.email, "role": role}
                    for a, role in directory.members(organization)
                ],
                "teams": [
                    {
                        "id": public_id(team.id),
                        "name": team.name,
                        "managed_by_okta": directory.managed_by_okta(team),
                        "domains": directory.team_domains(team),
                        "members": [a.email for a in directory.team_members(team)],
                    }
                    for team in directory.teams(organization)
                ],
            }
        )


@org.command("add-member")
@click.argument("org_ref", metavar="ORG")
@click.argument("email")
@click.option("--role", default=None, help="Role in the organization (default: the default role).")
@reports_errors
def add_member(org_ref: str, email: str, role: str | None) -> None:
    """Make EMAIL a member of ORG (creating the account if needed); print the account id."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        account, created = directory.ensure_account(email)
        added = directory.add_member(organization, account, role=role)
        if not added and role is not None:
            directory.set_role(organization, account, role)
    explain(
        f"{'Created account' if created else 'Account'} {account.email} "
        f"{'joined' if added else 'was already a member of'} {organization.name!r}."
    )
    emit(public_id(account.id))


@org.command("remove-member")
@click.argument("org_ref", metavar="ORG")
@click.argument("email")
@click.option(
    "--delete-orphan",
    is_flag=True,
    help="Delete the account if it then belongs to no organization "
    "(disabled instead if the application's foreign keys forbid it).",
)
@click.option(
    "--disable-orphan",
    is_flag=True,
    help="Disable the account if it then belongs to no organization.",
)
@reports_errors
def remove_member(org_ref: str, email: str, delete_orphan: bool, disable_orphan: bool) -> None:
    """Remove EMAIL from ORG and all of ORG's teams.

    An account that then belongs to no organization is kept as it is, unless
    --delete-orphan or --disable-orphan says otherwise.
    """
    if delete_orphan and disable_orphan:
        raise click.UsageError("Use --delete-orphan or --disable-orphan, not both.")
    orphan = "delete" if delete_orphan else "disable" if disable_orphan else None
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        account = directory.find_account(email)
        if account is None or directory.member_role(organization, account) is None:
            raise click.ClickException(f"{email} is not a member of {organization.name!r}.")
        directory.remove_member(organization, account, orphan=orphan)
    explain(f"Removed {email} from {organization.name!r}.")


@org.command("audit")
@click.argument("org_ref", metavar="ORG")
@click.option("--limit", default=50, show_default=True, help="How many entries, newest first.")
@reports_errors
def audit(org_ref: str, limit: int) -> None:
    """Print ORG's newest audit log entries as JSON."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        emit([audit_entry(row) for row in directory.audit_log(organization, limit=limit)])


@org.command("require-sso")
@click.argument("org_ref", metavar="ORG")
@click.argument("state", type=click.Choice(["on", "off"]))
@reports_errors
def require_sso(org_ref: str, state: str) -> None:
    """Let only sessions vouched for by ORG's own Okta act in ORG (on), or any member (off)."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        directory.set_require_sso(organization, state == "on")
    explain(
        f"{organization.name!r} now requires sign-in through its Okta."
        if state == "on"
        else f"{organization.name!r} no longer requires single sign-on."
    )


@org.command("team-deletion")
@click.argument("org_ref", metavar="ORG")
@click.argument("policy", required=False, type=click.Choice([*TEAM_DELETION_POLICIES, "default"]))
@reports_errors
def team_deletion(org_ref: str, policy: str | None) -> None:
    """Show or set what Okta deleting a pushed group does to ORG's teams.

    quarantine: the team is set aside with its resources and can be restored
    until it is purged; delete: the team and its resources are deleted at once;
    detach: the team stays as an ordinary team; default: the application's
    OKTA_SCIM_TEAM_DELETION. Without POLICY, prints the policy in force.
    """
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        if policy is not None:
            directory.set_team_deletion_policy(
                organization, None if policy == "default" else policy
            )
        emit(directory.team_deletion_policy(organization))
