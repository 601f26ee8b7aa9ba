"""The ownership commands: `user end-sessions`, `user show`, `org require-sso`, `audit`."""

from __future__ import annotations

import json
import typing as t

import pytest
from flask import Flask

from sample_app.models import okta
from tests.conftest import BASE_URL
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok
from tests.saml.test_sso import connect


@pytest.fixture
def acme(app: Flask) -> dict[str, t.Any]:
    """Acme, connected, with Ann provisioned by its SCIM (so Acme manages her account)."""
    org_id, integration_id = connect(app, "Acme")
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.get_organization(org_id)
        identity, _ = directory.provision(org, user_name="ann@acme.example")
        directory.sync_password(identity, "ann's pw")
    return {"org_id": str(org_id), "integration_id": integration_id}


def signed_in(app: Flask, email: str, password: str) -> t.Any:
    client = app.test_client()
    response = client.post(f"{BASE_URL}/login", data={"email": email, "password": password})
    assert response.status_code == 302
    assert client.get(f"{BASE_URL}/me").status_code == 200
    return client


def test_end_sessions_signs_the_account_out_everywhere(app, acme):
    first = signed_in(app, "ann@acme.example", "ann's pw")
    second = signed_in(app, "ann@acme.example", "ann's pw")
    okta_cli_ok(app, "user", "end-sessions", "ann@acme.example")
    assert first.get(f"{BASE_URL}/me").status_code == 401
    assert second.get(f"{BASE_URL}/me").status_code == 401
    # A new sign-in works again.
    assert signed_in(app, "ann@acme.example", "ann's pw")


def test_end_sessions_of_nobody_is_an_error(app):
    result = okta_cli(app, "user", "end-sessions", "nobody@acme.example")
    assert result.exit_code != 0 and "no account" in result.stderr


def test_user_show_names_the_managing_organization(app, acme):
    shown = json.loads(okta_cli_ok(app, "user", "show", "ann@acme.example"))
    assert shown["managed_by"] == acme["org_id"]
    with app.app_context(), okta.directory().atomic() as directory:
        directory.ensure_account("solo@elsewhere.example")
    assert (
        json.loads(okta_cli_ok(app, "user", "show", "solo@elsewhere.example"))["managed_by"] is None
    )


def test_require_sso_keeps_password_sessions_out(app, acme):
    client = signed_in(app, "ann@acme.example", "ann's pw")
    assert [o["name"] for o in client.get(f"{BASE_URL}/me").json["organizations"]] == ["Acme"]
    okta_cli_ok(app, "org", "require-sso", acme["org_id"], "on")
    assert client.get(f"{BASE_URL}/me").json["organizations"] == []
    okta_cli_ok(app, "org", "require-sso", acme["org_id"], "off")
    assert [o["name"] for o in client.get(f"{BASE_URL}/me").json["organizations"]] == ["Acme"]


def test_require_sso_needs_a_configured_connection(app):
    org_id = okta_cli_ok(app, "org", "create", "Bare").strip()
    result = okta_cli(app, "org", "require-sso", org_id, "on")
    assert result.exit_code != 0 and "configured Okta connection" in result.stderr


def test_audit_prints_json_lines_filtered_by_kind_and_time(app, acme):
    lines = okta_cli_ok(app, "audit", acme["org_id"], "--json").splitlines()
    entries = [json.loads(line) for line in lines]
    actions = [e["action"] for e in entries]
    assert "user.provision" in actions and "sso.connect" in actions
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)  # oldest first
    only_users = [
        json.loads(x)
        for x in okta_cli_ok(app, "audit", acme["org_id"], "--json", "--kind", "user").splitlines()
    ]
    assert only_users and all(e["action"].startswith("user.") for e in only_users)
    future = okta_cli_ok(app, "audit", acme["org_id"], "--since", "2999-01-01T00:00:00Z")
    assert future == ""
    bad = okta_cli(app, "audit", acme["org_id"], "--since", "yesterday")
    assert bad.exit_code != 0 and "ISO 8601" in bad.stderr


def test_audit_never_shows_a_password(app, acme):
    text = okta_cli_ok(app, "audit", acme["org_id"])
    assert "ann's pw" not in text and "scrypt" not in text
