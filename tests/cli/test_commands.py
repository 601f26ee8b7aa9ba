"""``flask okta-scim ...``: the SPEC §3 commands, through Click's runner and a real ``flask``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok

ROOT = Path(__file__).resolve().parents[2]


run = okta_cli
ok = okta_cli_ok


def test_org_create_prints_only_the_id(app):
    result = run(app, "org", "create", "Acme Inc")
    assert result.exit_code == 0
    assert result.stdout.strip().isdigit() and result.stdout.count("\n") == 1
    assert "Acme Inc" in result.stderr


def test_team_create_add_domain_and_user_show(app):
    org_id = ok(app, "org", "create", "Acme").strip()
    team_id = ok(app, "team", "create", org_id, "Operations").strip()
    assert team_id.isdigit()
    assert ok(app, "team", "add-domain", org_id, "Operations", "ACME.example") == ""
    assert ok(app, "team", "add-domain", org_id, team_id, "acme.example") == ""
    account_id = ok(app, "org", "add-member", org_id, "Ann@ACME.example", "--role", "admin")
    assert account_id.strip().isdigit()
    ok(app, "team", "add-member", org_id, team_id, "ann@acme.example")
    shown = json.loads(ok(app, "user", "show", "ANN@acme.example"))
    assert shown["email"] == "Ann@acme.example"
    assert shown["organizations"] == [
        {
            "id": org_id,
            "name": "Acme",
            "role": "admin",
            "teams": [{"id": team_id, "name": "Operations"}],
        },
    ]
    teams = json.loads(ok(app, "team", "list", org_id))
    assert teams[0]["domains"] == ["acme.example"]
    assert teams[0]["members"] == ["Ann@acme.example"]


def test_user_show_of_an_unknown_email_prints_null(app):
    assert json.loads(ok(app, "user", "show", "nobody@example.com")) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("team", "create", "999", "Ops"), "No organization '999'"),
        (("team", "add-domain", "1", "Nope", "acme.example"), "No team 'Nope'"),
        (("team", "add-domain", "1", "Ops", "not a domain"), "is not a valid domain"),
        (("org", "create", "   "), "must be a non-empty string"),
        (("team", "delete", "1", "Ops"), "--yes"),
        (("org", "add-member", "1", "not-an-email"), "is not an email address"),
    ],
)
def test_errors_go_to_stderr_with_a_failing_status(app, args, message):
    ok(app, "org", "create", "Acme")
    ok(app, "team", "create", "1", "Ops")
    result = run(app, *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_orgs_can_be_named_instead_of_numbered(app):
    ok(app, "org", "create", "Acme")
    team_id = ok(app, "team", "create", "Acme", "Ops").strip()
    shown = json.loads(ok(app, "org", "show", "Acme"))
    assert [t["id"] for t in shown["teams"]] == [team_id]


def test_team_delete_and_audit(app):
    org_id = ok(app, "org", "create", "Acme").strip()
    ok(app, "team", "create", org_id, "Doomed")
    ok(app, "team", "delete", org_id, "Doomed", "--yes")
    assert json.loads(ok(app, "team", "list", org_id)) == []
    actions = [row["action"] for row in json.loads(ok(app, "org", "audit", org_id))]
    assert actions == ["team.delete", "team.create", "organization.create"]
    assert all(row["actor"] == "cli" for row in json.loads(ok(app, "org", "audit", org_id)))


def test_remove_member_detaches_from_teams(app):
    org_id = ok(app, "org", "create", "Acme").strip()
    ok(app, "team", "create", org_id, "Ops")
    ok(app, "org", "add-member", org_id, "bob@acme.example")
    ok(app, "team", "add-member", org_id, "Ops", "bob@acme.example")
    ok(app, "org", "remove-member", org_id, "bob@acme.example", "--delete-orphan")
    assert json.loads(ok(app, "user", "show", "bob@acme.example")) is None


@pytest.mark.parametrize(
    "command",
    [
        (),
        ("org",),
        ("org", "create"),
        ("team",),
        ("team", "create"),
        ("team", "add-domain"),
        ("user",),
        ("user", "show"),
    ],
)
def test_every_command_has_help(app, command):
    result = run(app, *command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


def flask(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "FLASK_OKTA_SCIM_BASE_URL": "https://app.example.test",
        "FLASK_SECRET_KEY": "cli test",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "sample_app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_real_flask_command(app, database_url):
    assert flask(database_url, "init-db").returncode == 0
    created = flask(database_url, "okta-scim", "org", "create", "Subprocess Inc")
    assert created.returncode == 0, created.stderr
    org_id = created.stdout.strip()
    assert org_id.isdigit() and "Subprocess Inc" in created.stderr
    team = flask(database_url, "okta-scim", "team", "create", org_id, "Ops")
    assert team.stdout.strip().isdigit()
    failed = flask(database_url, "okta-scim", "team", "create", "12345", "Ops")
    assert failed.returncode != 0 and "No organization" in failed.stderr
    assert failed.stdout == ""
    shown = flask(database_url, "okta-scim", "user", "show", "nobody@example.com")
    assert shown.stdout.strip() == "null"
