"""The admin console's Teams, Domains and Audit screens over HTTP (issue 12): pre-approved
domains checked as a whole, domain verification through a DNS server on loopback, the
require-SSO switch that cannot lock its admin out, the audit log paged and exported."""

from __future__ import annotations

import json
import re
import typing as t

import pytest
from flask import Flask

from sample_app.models import okta
from tests.app.test_admin_console import PREFIX
from tests.app.test_admin_console import csrf
from tests.app.test_admin_console import post
from tests.app.test_admin_console import signed_in
from tests.conftest import sample_app_on
from tests.dns_server import LoopbackDNS
from tests.dns_server import dns_server  # noqa: F401  (registers the fixture)


@pytest.fixture
def app(database_url: str, backend: str, dns_server: LoopbackDNS) -> t.Iterator[Flask]:  # noqa: F811
    with sample_app_on(
        database_url,
        backend,
        WTF_CSRF_ENABLED=True,
        OKTA_SCIM_DNS_NAMESERVERS="127.0.0.1",
        OKTA_SCIM_DNS_PORT=dns_server.port,
        OKTA_SCIM_DNS_TIMEOUT=1,
    ) as app:
        yield app


@pytest.fixture
def org(app: Flask) -> int:
    """Acme with its admin ada, a team Ops, and Globex holding globex.example verified."""
    with app.app_context(), okta.directory().atomic() as directory:
        acme = directory.create_organization("Acme")
        ada, _ = directory.ensure_account("ada@acme.example")
        ada.set_password("ada-pw")
        directory.add_member(acme, ada, role="admin")
        directory.create_team(acme, "Ops", members=[ada])
        globex = directory.create_organization("Globex")
        directory.add_domain(globex, "globex.example")
        directory.verify_domain(globex, "globex.example", None, by_operator=True)
        return t.cast(int, acme.id)


@pytest.fixture
def admin(app: Flask, org: int) -> t.Any:
    return signed_in(app, "ada@acme.example")


def team_id(app: Flask, org: int, name: str = "Ops") -> int:
    with app.app_context():
        directory = okta.directory()
        return t.cast(int, directory.get_team(directory.get_organization(org), name).id)


def team_domains(app: Flask, org: int) -> list[str]:
    with app.app_context():
        directory = okta.directory()
        return directory.team_domains(directory.get_team(directory.get_organization(org), "Ops"))


# -- Teams -------------------------------------------------------------------------------------


def test_teams_lists_members_and_configures_pre_approved_domains(app, org, admin):
    listing = admin.get(f"{PREFIX}/{org}/teams")
    assert listing.status_code == 200
    assert b"Ops" in listing.data and b"ada@acme.example" in listing.data
    page = f"{PREFIX}/{org}/teams/{team_id(app, org)}"
    assert b'<label for="domains">Pre-approved domains</label>' in admin.get(page).data
    saved = post(admin, page, page, domains="acme.example\n@Sub.Acme.example, ops.acme.example")
    assert saved.status_code == 302, saved.data
    assert team_domains(app, org) == ["acme.example", "ops.acme.example", "sub.acme.example"]
    post(admin, page, page, domains="acme.example")
    assert team_domains(app, org) == ["acme.example"]


@pytest.mark.parametrize(
    ("domains", "message"),
    [
        ("acme.example\nACME.example", b"acme.example is listed twice"),
        ("acme.example, *.acme.example", b"*.acme.example"),
        ("localhost", b"localhost"),
        ("acme.example globex.example", b"verified by another organization"),
    ],
)
def test_one_bad_domain_changes_nothing(app, org, admin, domains, message):
    page = f"{PREFIX}/{org}/teams/{team_id(app, org)}"
    post(admin, page, page, domains="keep.example")
    answer = post(admin, page, page, domains=domains)
    assert answer.status_code == 400 and message in answer.data, answer.data
    assert team_domains(app, org) == ["keep.example"]


def policy(app: Flask, org: int) -> str:
    with app.app_context():
        directory = okta.directory()
        return directory.team_deletion_policy(directory.get_organization(org))


def test_the_admin_chooses_what_happens_when_okta_deletes_a_team(app, org, admin):
    listing = admin.get(f"{PREFIX}/{org}/teams").data.decode()
    assert "When Okta deletes a team" in listing
    assert re.search(r'value="quarantine"[^>]*checked', listing), listing
    teams = f"{PREFIX}/{org}/teams"
    saved = post(admin, f"{teams}/deletion", teams, policy="detach")
    assert saved.status_code == 302 and policy(app, org) == "detach"
    refused = post(admin, f"{teams}/deletion", teams, policy="shred")
    assert refused.status_code == 400 and b"Choose one of the three" in refused.data
    assert policy(app, org) == "detach"
    assert admin.post(f"{teams}/deletion", data={"policy": "delete"}).status_code == 400
    assert policy(app, org) == "detach"  # no CSRF token, no change


def test_a_quarantined_team_is_listed_and_restored_by_the_admin(app, org, admin):
    ops = team_id(app, org)
    with app.app_context(), okta.directory().atomic() as directory:
        directory.quarantine_team(directory.get_team(directory.get_organization(org), ops))
    teams = f"{PREFIX}/{org}/teams"
    listing = admin.get(teams).data.decode()
    assert f'id="quarantined-{ops}"' in listing and "Restore Ops" in listing
    assert f'id="team-{ops}"' not in listing  # not among the live teams
    restored = post(admin, f"{teams}/{ops}/restore", teams)
    assert restored.status_code == 302, restored.data
    with app.app_context():
        directory = okta.directory()
        team = directory.get_team(directory.get_organization(org), ops)
        assert not directory.is_quarantined(team)
        assert [a.email for a in directory.team_members(team)] == ["ada@acme.example"]
        assert not directory.managed_by_okta(team)  # a team of the host's stays the host's
    again = post(admin, f"{teams}/{ops}/restore", teams)
    assert again.status_code == 400 and b"is not quarantined" in again.data


def test_another_organization_s_quarantined_team_cannot_be_restored(app, org, admin):
    with app.app_context(), okta.directory().atomic() as directory:
        globex = directory.get_organization("Globex")
        secret = directory.create_team(globex, "Secret")
        directory.quarantine_team(secret)
        secret_id = secret.id
    teams = f"{PREFIX}/{org}/teams"
    assert post(admin, f"{teams}/{secret_id}/restore", teams).status_code == 404
    with app.app_context():
        directory = okta.directory()
        assert directory.is_quarantined(
            directory.get_team(directory.get_organization("Globex"), secret_id)
        )


def test_a_team_of_another_organization_is_not_found(app, org, admin):
    with app.app_context(), okta.directory().atomic() as directory:
        other = directory.create_team(directory.get_organization("Globex"), "Secret").id
    assert admin.get(f"{PREFIX}/{org}/teams/{other}").status_code == 404
    page = f"{PREFIX}/{org}/teams/{team_id(app, org)}"
    token = csrf(admin.get(page))
    answer = admin.post(f"{PREFIX}/{org}/teams/{other}", data={"csrf_token": token, "domains": ""})
    assert answer.status_code == 404


# -- Domains -----------------------------------------------------------------------------------


def record(page: bytes, what: str) -> str:
    found = re.search(rf'id="record-{what}-1" type="text" value="([^"]+)"'.encode(), page)
    assert found, page
    return found.group(1).decode()


def test_add_domain_shows_the_record_and_verify_checks_it(app, org, admin, dns_server):  # noqa: F811
    page = f"{PREFIX}/{org}/domains"
    assert post(admin, page, page, domain="Acme.example").status_code == 302
    shown = admin.get(page).data
    name, value = record(shown, "name"), record(shown, "value")
    assert name.endswith("acme.example") and b"not verified" in shown
    refused = post(admin, f"{page}/verify", page, domain="acme.example")
    assert refused.status_code == 409 and b"acme.example is not verified" in refused.data
    dns_server.set_txt(name, value)
    verified = post(admin, f"{page}/verify", page, domain="acme.example")
    assert verified.status_code == 302
    after = admin.get(page).data
    assert b"verified</span>" in after and b"record-name-1" not in after


def test_a_domain_verified_by_another_organization_is_refused(app, org, admin, dns_server):  # noqa: F811
    page = f"{PREFIX}/{org}/domains"
    post(admin, page, page, domain="globex.example")
    name, value = record(admin.get(page).data, "name"), record(admin.get(page).data, "value")
    dns_server.set_txt(name, value)
    answer = post(admin, f"{page}/verify", page, domain="globex.example")
    assert answer.status_code in (400, 409) and b"globex.example" in answer.data
    with app.app_context():
        directory = okta.directory()
        owner = directory.verified_domain_owner("globex.example")
        assert owner == directory.get_organization("Globex").id


def test_require_sso_is_refused_from_a_password_session(app, org, admin):
    page = f"{PREFIX}/{org}/domains"
    answer = post(admin, f"{page}/require-sso", page, require_sso="y")
    assert answer.status_code == 409 and b"Sign in through your Okta first" in answer.data
    with app.app_context():
        directory = okta.directory()
        assert directory.requires_sso(directory.get_organization(org)) is False
    assert admin.get(page).status_code == 200  # still in


# -- Audit -------------------------------------------------------------------------------------


def test_audit_is_newest_first_paged_filtered_and_exported(app, org, admin):
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        acme = directory.get_organization(org)
        for n in range(60):
            directory.create_team(acme, f"Team {n:02}")
    first = admin.get(f"{PREFIX}/{org}/audit")
    assert first.status_code == 200
    names = re.findall(rb"name=Team (\d\d)", first.data)
    assert names[:2] == [b"59", b"58"] and len(names) == 50
    older = re.search(rb'href="([^"]+before=\d+)" rel="next"', first.data).group(1).decode()
    second = admin.get(older.replace("&amp;", "&"))
    assert re.findall(rb"name=Team (\d\d)", second.data)[:1] == [b"09"]
    teams_only = admin.get(f"{PREFIX}/{org}/audit?kind=member")
    assert b"team.create" not in teams_only.data and b"member.add" in teams_only.data
    exported = admin.get(f"{PREFIX}/{org}/audit.jsonl?kind=team")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    lines = [json.loads(line) for line in exported.data.decode().splitlines()]
    actions = [entry["action"] for entry in lines]
    assert actions.count("team.create") == 61 and set(actions) == {"team.create", "team.members"}
    assert all("password" not in json.dumps(entry) for entry in lines)
