"""Provisioning in dry run (issue 14): Okta's writes are answered as they would be and planned,
nothing is applied; arming applies the plan in order, with the ids Okta was given."""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from flask_okta_scim.testing import scenarios
from flask_okta_scim.testing.organizations import ReadyOrganization
from flask_okta_scim.testing.organizations import ready_organization
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok
from tests.saml_idp import TestIdP

DOMAIN = "acme.example"


def dry_org(app: Flask) -> ReadyOrganization:
    """Acme, connected, with provisioning turned on in dry run (the token by the command)."""
    org = ready_organization(app, "Acme", TestIdP(), domains=[DOMAIN], provisioning=False)
    token = okta_cli_ok(app, "scim", "enable", str(org.id), "--dry-run").strip()
    return dataclasses.replace(org, token=token)


def counts(app: Flask) -> dict[str, int]:
    """Rows of what provisioning makes: identities, teams, memberships."""
    with app.app_context():
        models = okta.models
        return {
            name: int(db.session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in (
                ("identities", models.identity),
                ("teams", models.team),
                ("memberships", models.membership),
            )
        }


def plan(app: Flask, org: ReadyOrganization) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads(okta_cli_ok(app, "scim", "plan", str(org.id))))


def test_a_whole_okta_scenario_changes_nothing_and_plans_every_write(app):
    org = dry_org(app)
    before = counts(app)
    client = org.scim()
    for name in ("onboarding", "reorg", "offboarding"):
        scenarios.load(name).run(client, DOMAIN)  # every answer a success, as Okta needs
    writes = [s for s in client.log if s.method != "GET"]
    assert counts(app) == before
    planned = plan(app, org)
    assert planned["dry_run"] is True
    assert [(c["method"], c["status"]) for c in planned["changes"]] == [
        (s.method, "planned") for s in writes
    ]
    assert all(c["password_dropped"] for c in planned["changes"][:50])  # password sync on
    with app.app_context():
        audit = okta.models.audit
        stored = json.dumps(
            [r.detail for r in db.session.scalars(select(audit))]
            + [r.body for r in db.session.scalars(select(okta.models.held_change))]
        )
    assert "Synced-Passw0rd" not in stored


def test_arming_applies_the_plan_with_the_ids_okta_holds(app):
    org = dry_org(app)
    client = org.scim()
    for name in ("onboarding", "reorg", "offboarding"):
        scenarios.load(name).run(client, DOMAIN)
    result = okta_cli(app, "scim", "arm", str(org.id))
    assert result.exit_code == 0, result.stderr
    applied = json.loads(result.stdout)
    assert applied and {c["outcome"] for c in applied} == {"applied"}
    assert plan(app, org) == {"dry_run": False, "changes": []}
    with app.app_context():
        directory = okta.directory()
        organization = directory.get_organization(org.id)
        for name in ("onboarding", "reorg", "offboarding"):
            plan_ = scenarios.load(name)
            assert scenarios.check_expectations(plan_, directory, organization, DOMAIN) == []
    # Okta's ids are the application's: its next requests land.
    for email, scim_id in list(client.user_ids.items())[:5]:
        got = client.request("GET", f"/Users/{scim_id}").json
        assert got["userName"].lower() == email
    client.deactivate(f"engineer01@{DOMAIN}")  # applied at once now
    with app.app_context():
        directory = okta.directory()
        account = directory.find_account(f"engineer01@{DOMAIN}")
        assert directory.member_role(directory.get_organization(org.id), account) is None


def test_a_bad_request_in_dry_run_is_refused_and_not_planned(app):
    org = dry_org(app)
    client = org.scim()
    client.assign(f"ann@{DOMAIN}")
    answer = client.transport(
        "POST",
        "/Users",
        {"Authorization": f"Bearer {org.token}", "Content-Type": "application/scim+json"},
        b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}',
    )
    assert answer.status == 400
    assert [c["method"] for c in plan(app, org)["changes"]] == ["POST"]


def test_discarding_the_plan_applies_nothing(app):
    org = dry_org(app)
    scenarios.load("offboarding").run(org.scim(), DOMAIN)
    before = counts(app)
    result = okta_cli(app, "scim", "arm", str(org.id), "--discard-plan")
    assert result.exit_code == 0, result.stderr
    assert counts(app) == before
    assert plan(app, org) == {"dry_run": False, "changes": []}
    again = okta_cli(app, "scim", "arm", str(org.id))
    assert again.exit_code == 1 and "not in dry run" in again.stderr


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_the_admin_console_turns_a_dry_run_on_shows_the_plan_and_arms_it(app):
    from tests.app.test_admin_console import PREFIX
    from tests.app.test_admin_console import csrf
    from tests.app.test_admin_console import post
    from tests.app.test_admin_console import signed_in

    org = ready_organization(app, "Acme", TestIdP(), domains=[DOMAIN], provisioning=False)
    with app.app_context(), okta.directory().atomic() as directory:
        ada, _ = directory.ensure_account(f"ada@{DOMAIN}")
        ada.set_password("ada-pw")
        directory.add_member(directory.get_organization(org.id), ada, role="admin")
    admin = signed_in(app, f"ada@{DOMAIN}")
    screen = f"{PREFIX}/{org.id}/provisioning"
    page = admin.get(screen)
    once = re.search(rb'name="once" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    enabled = admin.post(
        f"{screen}/enable", data={"csrf_token": csrf(page), "once": once, "dry_run": "y"}
    )
    assert enabled.status_code == 200, enabled.data
    token = re.search(rb'id="bearer-token"[^>]*value="([^"]+)"', enabled.data).group(1).decode()
    client = dataclasses.replace(org, token=token).scim()
    scenarios.load("offboarding").run(client, DOMAIN)
    shown = admin.get(screen).data.decode()
    assert "Dry run: Okta" in shown and f"finance1@{DOMAIN}" in shown
    assert counts(app)["identities"] == 0
    armed = post(admin, f"{screen}/arm", screen)
    assert armed.status_code == 302
    assert "Dry run: Okta" not in admin.get(screen).data.decode()
    with app.app_context():
        directory = okta.directory()
        problems = scenarios.check_expectations(
            scenarios.load("offboarding"), directory, directory.get_organization(org.id), DOMAIN
        )
    assert problems == []
