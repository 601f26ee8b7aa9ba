"""``flask okta-scim domain``: an organization's email domains and their verification."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from .._current import extension
from ..scim.resources import timestamp
from ._common import emit
from ._common import explain
from ._common import reports_errors
from ._common import unit_of_work

domain = AppGroup(
    "domain", help="Verify the email domains an organization controls (DNS TXT record)."
)


@domain.command("add")
@click.argument("org_ref", metavar="ORG")
@click.argument("name", metavar="DOMAIN")
@reports_errors
def add(org_ref: str, name: str) -> None:
    """Claim DOMAIN for ORG and print the DNS TXT record to publish: its name, then its value.

    Adding it again prints the same record.
    """
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        record = directory.domain_record(directory.add_domain(organization, name))
    explain(
        f"Publish this TXT record in the DNS of the domain, then run "
        f"'flask okta-scim domain verify {org_ref} {name}'."
    )
    emit(record.name)
    emit(record.value)


@domain.command("verify")
@click.argument("org_ref", metavar="ORG")
@click.argument("name", metavar="DOMAIN")
@click.option(
    "--by-operator",
    is_flag=True,
    help="Mark DOMAIN verified without DNS, on the operator's word (audited).",
)
@reports_errors
def verify(org_ref: str, name: str, by_operator: bool) -> None:
    """Check DOMAIN's TXT record through the resolver; exit 1 with the reason if it fails."""
    resolver = None if by_operator else extension().settings.resolver()
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        directory.actor = "cli:operator" if by_operator else "cli"
        check = directory.verify_domain(organization, name, resolver, by_operator=by_operator)
    if not check.verified:
        raise click.ClickException(f"{check.domain} is not verified: {check.reason}")
    explain(f"{check.domain} is verified for {organization.name!r}.")


@domain.command("list")
@click.argument("org_ref", metavar="ORG")
@reports_errors
def list_(org_ref: str) -> None:
    """Print ORG's domains as JSON: domain, verified, verified_at (and how, and the last error)."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        emit(
            [
                {
                    "domain": row.domain,
                    "verified": row.verified_at is not None,
                    "verified_at": timestamp(row.verified_at) if row.verified_at else None,
                    "verified_by": row.verified_by,
                    "last_error": row.check_error,
                }
                for row in directory.domains(organization)
            ]
        )


@domain.command("remove")
@click.argument("org_ref", metavar="ORG")
@click.argument("name", metavar="DOMAIN")
@reports_errors
def remove(org_ref: str, name: str) -> None:
    """Withdraw ORG's claim of DOMAIN; if it was verified, ORG stops managing its accounts."""
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        directory.remove_domain(organization, name)
    explain(f"Removed {name} from {organization.name!r}.")


@domain.command("recheck")
@click.argument("org_ref", metavar="ORG", required=False)
@reports_errors
def recheck(org_ref: str | None) -> None:
    """Check every DNS-verified domain again (of ORG, or of all); for cron.

    A domain whose record is gone stops being verified. Prints one JSON object
    per domain; exits 1 if any lost its verification.
    """
    resolver = extension().settings.resolver()
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref) if org_ref else None
        results = directory.recheck_domains(resolver, organization)
    emit(
        [
            {"domain": r.domain, "verified": r.verified, "kind": r.kind, "reason": r.reason}
            for r in results
        ]
    )
    if any(not r.verified for r in results):
        sys.exit(1)
