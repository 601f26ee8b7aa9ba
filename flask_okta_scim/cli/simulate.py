"""``flask okta-scim simulate``: run a provisioning scenario as Okta would send it."""

from __future__ import annotations

import typing as t
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from .._current import extension
from ..sqla.directory import Directory
from ._common import explain
from ._common import reports_errors
from ._common import unit_of_work

#: The client's modes (flask_okta_scim.testing.scim_client.MODES), spelled out here so that
#: the command line does not import the testing kit until the command runs.
MODES = ("okta", "okta-put", "entra")


@click.command("simulate")
@click.argument("scenario", metavar="SCENARIO")
@click.option("--org", "org_ref", required=True, help="The organization (id or name).")
@click.option(
    "--token",
    envvar="OKTA_SCIM_SIMULATE_TOKEN",
    help="The organization's SCIM bearer token (or OKTA_SCIM_SIMULATE_TOKEN).",
)
@click.option(
    "--new-token",
    is_flag=True,
    help="Issue a new token for the run instead: Okta's token stops working once it is used.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="okta",
    show_default=True,
    help="okta: an OIN app (PATCH); okta-put: a custom app without PATCH; entra: Entra's forms.",
)
@click.option("--domain", help="The people's email domain (default: the organization's).")
@click.option(
    "--url",
    help="Send the requests over HTTP to this running server's SCIM base URL "
    "(default: through the application in this process).",
)
@with_appcontext
@reports_errors
def simulate(
    scenario: str,
    org_ref: str,
    token: str | None,
    new_token: bool,
    mode: str,
    domain: str | None,
    url: str | None,
) -> None:
    """Send SCENARIO's provisioning requests to ORG's SCIM API, as Okta sends them.

    SCENARIO is a shipped scenario (onboarding, reorg, offboarding,
    mistaken-unlink, mass-unassign) or a path to a YAML file. Each request
    goes through the SCIM API and its bearer token, exactly as Okta's would.
    Afterwards the scenario's expectations are checked against the directory:
    exit status 1 when one is not met. For demos and tests: it really
    provisions the organization.
    """
    # The testing kit is imported here, not with the command line: an application that
    # never runs this command never imports it.
    from ..testing.scenarios import ScenarioError
    from ..testing.scenarios import check_expectations
    from ..testing.scenarios import load
    from ..testing.scim_client import FlaskTransport
    from ..testing.scim_client import HTTPTransport
    from ..testing.scim_client import SCIMRequestFailed
    from ..testing.scim_client import SimulatedSCIMClient

    try:
        plan = load(scenario)
    except ScenarioError as e:
        raise click.ClickException(str(e)) from None
    if bool(token) == new_token:
        raise click.ClickException(
            "Give the organization's SCIM token with --token (or OKTA_SCIM_SIMULATE_TOKEN), "
            "or --new-token to issue one (the token Okta holds then stops working)."
        )
    settings = extension().settings
    with unit_of_work() as directory:
        organization = directory.get_organization(org_ref)
        domain = domain or _domain_of(directory, organization)
        if new_token:
            token = directory.rotate_token(organization, timedelta(0))
    assert token is not None
    scim_base = settings.url(settings.scim_url_prefix) if settings.base_url else None
    if url:
        transport: FlaskTransport | HTTPTransport = HTTPTransport(url)
    else:
        transport = FlaskTransport(
            current_app, scim_base or f"http://localhost{settings.scim_url_prefix}"
        )
    client = SimulatedSCIMClient(transport, token, mode=mode)
    explain(f"{plan.title} ({mode}, people @{domain}, organization {organization.name!r})")
    if plan.description:
        explain(plan.description)
    try:
        plan.run(client, domain, progress=explain)
    except SCIMRequestFailed as e:
        raise click.ClickException(f"The application refused a request: {e}") from None
    except LookupError as e:
        raise click.ClickException(str(e)) from None
    with unit_of_work() as directory:
        organization = directory.get_organization(organization.id)
        problems = check_expectations(plan, directory, organization, domain)
    explain(f"{len(client.log)} SCIM request(s) sent.")
    if problems:
        raise click.ClickException("Not as expected:\n  " + "\n  ".join(problems))
    explain("The organization looks as the scenario expects.")


def _domain_of(directory: Directory, organization: t.Any) -> str:
    """The organization's first verified domain, else a domain a team pre-approves."""
    claims = [c for c in directory.domains(organization) if c.verified_at is not None]
    if claims:
        return str(claims[0].domain)
    for team in directory.teams(organization):
        for domain in directory.team_domains(team):
            return str(domain)
    raise click.ClickException(
        "The organization has no verified or pre-approved domain: give one with --domain."
    )
