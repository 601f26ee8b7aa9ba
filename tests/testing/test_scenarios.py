"""The shipped provisioning scenarios (issue 13): each runs through ``flask okta-scim simulate``
against the sample app, in each of the client's modes, and the resulting organizations, teams
and accounts are checked here independently of the scenario's own expectations. Then the
command's refusals: bad scenario files, missing or wrong tokens, unmet expectations."""

from __future__ import annotations

import dataclasses
import json
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_okta_scim.testing import scenarios
from flask_okta_scim.testing.organizations import ReadyOrganization
from flask_okta_scim.testing.organizations import ready_organization
from flask_okta_scim.testing.scim_client import MODES
from flask_okta_scim.testing.scim_client import HTTPTransport
from flask_okta_scim.testing.scim_client import SimulatedSCIMClient
from sample_app.models import Monitor
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import okta_cli
from tests.saml_idp import TestIdP

DOMAIN = "acme.example"


@pytest.fixture
def acme(app: Flask) -> ReadyOrganization:
    return ready_organization(app, "Acme", TestIdP(), domains=[DOMAIN])


def simulate(app: Flask, org: ReadyOrganization, *args: str) -> t.Any:
    return okta_cli(app, "simulate", *args, "--org", str(org.id), "--token", org.token or "")


def state(app: Flask, org: ReadyOrganization) -> tuple[dict[str, set[str]], dict[str, bool]]:
    """``({team: member emails}, {member email: disabled})`` of the organization."""
    with app.app_context():
        directory = okta.directory()
        organization = directory.get_organization(org.id)
        teams = {
            team.name: {a.email for a in directory.team_members(team)}
            for team in directory.teams(organization)
        }
        members = {a.email: directory.is_disabled(a) for a, _ in directory.members(organization)}
        return teams, members


def actions(app: Flask, org: ReadyOrganization, kind: str) -> list[dict[str, t.Any]]:
    with app.app_context():
        directory = okta.directory()
        rows = directory.audit_log(directory.get_organization(org.id), kind=kind, limit=1000)
        return [row.detail or {} for row in reversed(rows)]


def password_works(app: Flask, email: str, password: str) -> bool:
    with app.app_context():
        return bool(okta.directory().find_account(email).check_password(password))


def emails(prefix: str, count: int, width: int = 0) -> set[str]:
    return {
        f"{prefix}{n:0{width}d}@{DOMAIN}" if width else f"{prefix}{n}@{DOMAIN}"
        for n in range(1, count + 1)
    }


def test_the_shipped_scenarios():
    assert scenarios.shipped() == [
        "mass-unassign",
        "mistaken-unlink",
        "offboarding",
        "onboarding",
        "reorg",
    ]
    for name in scenarios.shipped():
        plan = scenarios.load(name)
        assert plan.title and plan.description and plan.expect


@pytest.mark.parametrize("mode", MODES)
def test_onboarding_fifty_people(app, acme, mode):
    result = simulate(app, acme, "onboarding", "--mode", mode)
    assert result.exit_code == 0, result.output
    assert "looks as the scenario expects" in result.stderr
    teams, members = state(app, acme)
    assert teams == {
        "Engineering": emails("engineer", 20, 2),
        "Sales": emails("seller", 15, 2),
        "Support": emails("support", 15, 2),
    }
    assert len(members) == 50 and not any(members.values())
    # Okta sends the synced password with each create; Entra never sends passwords.
    assert password_works(app, f"engineer07@{DOMAIN}", "Synced-Passw0rd") is (mode != "entra")


@pytest.mark.parametrize("mode", MODES)
def test_reorg_renames_a_team_in_place_and_sets_the_merged_one_aside(app, acme, mode):
    result = simulate(app, acme, "reorg", "--mode", mode)
    assert result.exit_code == 0, result.output
    teams, members = state(app, acme)
    everyone = emails("web", 4) | emails("mobile", 3) | {f"lead@{DOMAIN}"}
    assert teams == {"Product Engineering": everyone}
    assert set(members) == everyone and not any(members.values())
    created = [d["name"] for d in actions(app, acme, "team.create")]
    assert created == ["Web", "Mobile"]  # the rename did not make a new team
    assert [d.get("name") for d in actions(app, acme, "team.quarantine")] == ["Mobile"]


@pytest.mark.parametrize("mode", MODES)
def test_offboarding_detaches_the_leavers_and_brings_one_back(app, acme, mode):
    result = simulate(app, acme, "offboarding", "--mode", mode)
    assert result.exit_code == 0, result.output
    teams, members = state(app, acme)
    stay = {f"finance{n}@{DOMAIN}" for n in (1, 2, 3, 5)}
    assert teams == {"Finance": stay}
    assert set(members) == stay and not any(members.values())
    with app.app_context():
        directory = okta.directory()
        gone = directory.find_account(f"finance4@{DOMAIN}")
        assert gone is not None and directory.is_disabled(gone)  # kept, disabled
    assert password_works(app, f"finance1@{DOMAIN}", "New-Synced-Passw0rd") is (mode != "entra")


def legal_with_a_monitor(app: Flask, org: ReadyOrganization) -> int:
    with app.app_context():
        directory = okta.directory()
        legal = directory.get_team(directory.get_organization(org.id), "Legal")
        db.session.add(Monitor(team_id=legal.id, name="Contracts", url="https://c.example/"))
        db.session.commit()
        return int(legal.id)


def monitors_of(app: Flask, team_id: int) -> int:
    with app.app_context():
        return db.session.query(Monitor).filter_by(team_id=team_id).count()


@pytest.mark.parametrize("mode", MODES)
def test_mistaken_unlink_quarantines_the_team_and_a_new_push_makes_another(app, acme, mode):
    plan = scenarios.load("mistaken-unlink")
    client = acme.scim(mode)
    dataclasses.replace(plan, steps=plan.steps[:2]).run(client, DOMAIN)
    old = legal_with_a_monitor(app, acme)
    dataclasses.replace(plan, steps=plan.steps[2:]).run(client, DOMAIN)
    teams, members = state(app, acme)
    assert teams == {"Legal": emails("legal", 3)}
    assert set(members) == emails("legal", 3)
    # The old team is quarantined with its monitor; the new one owns nothing.
    assert [d["name"] for d in actions(app, acme, "team.create")] == ["Legal", "Legal"]
    assert [d["name"] for d in actions(app, acme, "team.quarantine")] == ["Legal"]
    with app.app_context():
        directory = okta.directory()
        organization = directory.get_organization(acme.id)
        assert [t.id for t, _ in directory.quarantined_teams(organization)] == [old]
        new = directory.get_team(organization, "Legal").id
        assert scenarios.check_expectations(plan, directory, organization, DOMAIN) == []
    assert monitors_of(app, old) == 1 and monitors_of(app, new) == 0


@pytest.mark.parametrize("mode", MODES)
def test_restoring_before_the_new_push_lets_okta_link_the_old_team(app, acme, mode):
    plan = scenarios.load("mistaken-unlink")
    client = acme.scim(mode)
    dataclasses.replace(plan, steps=plan.steps[:2]).run(client, DOMAIN)
    old = legal_with_a_monitor(app, acme)
    dataclasses.replace(plan, steps=plan.steps[2:3]).run(client, DOMAIN)  # the unlink
    assert okta_cli(app, "team", "restore", str(acme.id), str(old)).exit_code == 0
    client.group_ids.clear()  # Okta forgot the unlinked group: it looks the name up again
    dataclasses.replace(plan, steps=plan.steps[3:]).run(client, DOMAIN)
    teams, _ = state(app, acme)
    assert teams == {"Legal": emails("legal", 3)}
    assert [d["name"] for d in actions(app, acme, "team.create")] == ["Legal"]
    assert monitors_of(app, old) == 1  # what the team owned survived the mistake


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.app_config(
    OKTA_SCIM_GUARD_DEACTIVATIONS=50,
    OKTA_SCIM_GUARD_DEACTIVATION_PERCENT=20,
    OKTA_SCIM_GUARD_TEAM_DELETIONS=10,
)
def test_mass_unassign_is_held_by_the_guard(app, acme, mode):
    """The application's default thresholds: 20% of 100 members, never fewer than 20."""
    result = simulate(app, acme, "mass-unassign", "--mode", mode)
    assert result.exit_code == 0, result.output
    _, members = state(app, acme)
    gone = [
        e for e in emails("support-team", 30, 2) | emails("sales-team", 30, 2) if e not in members
    ]
    assert len(gone) == 20  # the first twenty went through
    assert len(members) == 80 and emails("staying", 40, 2) <= set(members)
    out = okta_cli(app, "held", "list", str(acme.id))
    assert len(json.loads(out.stdout)["changes"]) == 40
    okta_cli(app, "held", "discard", str(acme.id), "--yes")
    assert len(state(app, acme)[1]) == 80


def test_a_scenario_runs_twice_as_okta_would_send_it_again(app, acme):
    for _ in range(2):
        result = simulate(app, acme, "offboarding")
        assert result.exit_code == 0, result.output
    teams, _ = state(app, acme)
    assert teams == {"Finance": {f"finance{n}@{DOMAIN}" for n in (1, 2, 3, 5)}}


def test_a_scenario_over_http_to_a_running_server(app, acme, live):
    result = simulate(app, acme, "offboarding", "--url", f"{live}/scim/v2")
    assert result.exit_code == 0, result.output
    assert state(app, acme)[0] == {"Finance": {f"finance{n}@{DOMAIN}" for n in (1, 2, 3, 5)}}


def test_the_domain_defaults_to_a_pre_approved_one(app):
    org = ready_organization(app, "Jit Only", TestIdP(), domains=[], provisioning=True)
    with app.app_context(), okta.directory().atomic() as directory:
        team = directory.create_team(directory.get_organization(org.id), "Everyone")
        directory.add_team_domain(team, "jit.example")
    assert simulate(app, org, "offboarding").exit_code == 0
    teams, _ = state(app, org)
    assert teams["Finance"] == {f"finance{n}@jit.example" for n in (1, 2, 3, 5)}


# -- refusals ------------------------------------------------------------------------------------


def refused(result: t.Any, *words: str) -> None:
    assert result.exit_code == 1, result.output
    for word in words:
        assert word in result.stderr, result.stderr


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("steps: [", ("not valid YAML",)),
        ("- just a list", ("list of 'steps'",)),
        ("steps: []\nhack: 1", ("unknown key(s) hack",)),
        ("steps:\n  - explode: x@{domain}", ("step 1", "unknown action 'explode'")),
        ("steps:\n  - assign: a@{domain}\n  - rename_group: {group: A}", ("step 2", "missing to")),
        ("steps:\n  - push_group: {group: A, owner: x}", ("unknown key(s) owner",)),
        ("steps:\n  - push_group: A", ("give its keys as a mapping",)),
        ("people: {x: {count: 99999, email: 'p{n}@{domain}'}}\nsteps: []", ("count (1-10000)",)),
        ("people: {x: {count: 2, email: 'same@{domain}'}}\nsteps: []", ("email with {n}",)),
        ("steps:\n  - assign: '@nobody'", ("no people set @nobody",)),
        ("steps: []\nexpect: {teams_like: {}}", ("'expect' takes",)),
        ("!!python/object/apply:os.system ['true']", ("not valid YAML",)),
    ],
)
def test_a_bad_scenario_file_is_refused_before_anything_is_sent(app, acme, tmp_path, text, words):
    result = simulate(app, acme, write(tmp_path, text))
    refused(result, *words)
    teams, members = state(app, acme)
    assert teams == {} and members == {}


def test_an_unknown_scenario_name_lists_the_shipped_ones(app, acme):
    refused(simulate(app, acme, "hiring-spree"), "No shipped scenario", "onboarding, reorg")


def test_a_token_is_required_and_a_wrong_one_is_refused_by_the_api(app, acme):
    result = okta_cli(app, "simulate", "offboarding", "--org", str(acme.id))
    refused(result, "--token", "--new-token")
    result = okta_cli(
        app, "simulate", "offboarding", "--org", str(acme.id), "--token", "not-the-token"
    )
    refused(result, "refused a request", "401")
    assert state(app, acme) == ({}, {})


def test_new_token_issues_one_and_okta_s_token_stops_working(app, acme):
    result = okta_cli(app, "simulate", "offboarding", "--org", str(acme.id), "--new-token")
    assert result.exit_code == 0, result.output
    old = acme.scim()
    with pytest.raises(Exception, match="401"):
        old.assign(f"someone@{DOMAIN}")


def test_unmet_expectations_fail_the_command(app, acme, tmp_path):
    text = """
steps:
  - assign: ["a@{domain}", "b@{domain}"]
  - push_group: {group: Pair, members: ["a@{domain}"]}
expect:
  teams: {Pair: ["a@{domain}", "b@{domain}"], Ghost: []}
  no_teams: [Pair]
  members: ["c@{domain}"]
  not_members: ["a@{domain}"]
"""
    result = simulate(app, acme, write(tmp_path, text))
    refused(
        result,
        "Not as expected",
        f"Team 'Pair': missing b@{DOMAIN}",
        "There is no team 'Ghost'",
        "The team 'Pair' should not exist",
        f"c@{DOMAIN} should be a member",
        f"a@{DOMAIN} should not be a member",
    )


def test_an_organization_without_domains_needs_domain(app):
    org = ready_organization(app, "Bare", TestIdP())
    refused(simulate(app, org, "offboarding"), "--domain")
    assert simulate(app, org, "offboarding", "--domain", "bare.example").exit_code == 0


def test_the_http_transport_reports_error_statuses(live, acme):
    client = SimulatedSCIMClient(HTTPTransport(f"{live}/scim/v2"), "wrong")
    with pytest.raises(Exception, match="answered 401"):
        client.assign(f"x@{DOMAIN}")
