"""The sample app: home page, password sign-in (an Okta-synced password unlocks it), /me."""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from sample_app import create_app
from sample_app.models import Monitor
from sample_app.models import db
from sample_app.models import okta

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def acme(app: Flask) -> dict[str, t.Any]:
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.create_organization("Acme")
        identity, _ = directory.provision(org, user_name="ann@acme.example", display_name="Ann")
        directory.sync_password(identity, "synced by okta")
        account = directory.account_of(identity)
        team = directory.create_team(org, "Ops", managed_by_okta=True, members=[account])
        directory.add_team_domain(team, "acme.example")
        db.session.add(
            Monitor(
                team_id=team.id,
                name="Homepage",
                url="https://acme.example",
                created_by_id=account.id,
            )
        )
        return {"org_id": org.id, "team_id": team.id, "account_id": account.id}


def sign_in(client: t.Any, email: str, password: str, next_: str | None = None) -> t.Any:
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": email, "password": password})


def test_me_is_401_for_nobody(client):
    response = client.get("/me")
    assert response.status_code == 401
    assert response.json == {"error": "Not signed in."}


def test_a_password_synced_by_okta_signs_in(client, acme):
    response = sign_in(client, "ANN@acme.example", "synced by okta")
    assert response.status_code == 302
    me = client.get("/me").json
    assert me["email"] == "ann@acme.example"
    assert me["sso_organization"] is None
    assert me["organizations"] == [
        {
            "id": str(acme["org_id"]),
            "name": "Acme",
            "role": "member",
            "teams": [{"id": str(acme["team_id"]), "name": "Ops"}],
        }
    ]


def test_a_wrong_password_does_not_sign_in(client, acme):
    response = sign_in(client, "ann@acme.example", "guess")
    assert response.status_code == 401
    assert b"Wrong email or password" in response.data
    assert client.get("/me").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_next_must_stay_on_this_site(client, acme, target):
    response = sign_in(client, "ann@acme.example", "synced by okta", next_=target)
    assert response.headers["Location"] == "/"


def test_next_to_a_local_path_is_followed(client, acme):
    response = sign_in(client, "ann@acme.example", "synced by okta", next_="/me")
    assert response.headers["Location"] == "/me"


def test_sign_in_needs_a_csrf_token(app, acme):
    app.config["WTF_CSRF_ENABLED"] = True
    response = sign_in(app.test_client(), "ann@acme.example", "synced by okta")
    assert response.status_code == 400


def test_home_page_shows_what_provisioning_did(client, acme):
    shown = ("Acme", "ann@acme.example", "Ops", "managed by Okta", "acme.example", "Homepage")
    anonymous = client.get("/").get_data(as_text=True)
    assert not [text for text in shown if text in anonymous]
    sign_in(client, "ann@acme.example", "synced by okta")
    page = client.get("/").get_data(as_text=True)
    for text in shown:
        assert text in page


def test_monitors_can_be_added_by_team_members_only(app, client, acme):
    team_url = f"/teams/{acme['team_id']}/monitors"
    assert client.post(team_url, data={"name": "x", "url": "https://x"}).status_code == 302
    assert "/login" in client.post(team_url, data={"name": "x", "url": "y"}).headers["Location"]
    sign_in(client, "ann@acme.example", "synced by okta")
    assert client.post(team_url, data={"name": "API", "url": "https://api"}).status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Monitor.name).order_by(Monitor.id)).all() == [
            "Homepage",
            "API",
        ]


def test_deleting_a_team_deletes_its_monitors_only(app, acme):
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.get_organization(acme["org_id"])
        other = directory.create_team(org, "Other")
        db.session.add(Monitor(team_id=other.id, name="Kept", url="https://kept"))
    with app.app_context(), okta.directory().atomic() as directory:
        directory.delete_team(directory.get_team(directory.get_organization(acme["org_id"]), "Ops"))
    with app.app_context():
        assert db.session.scalars(select(Monitor.name)).all() == ["Kept"]


def test_deleting_an_account_keeps_its_monitors(app, acme):
    with app.app_context(), okta.directory().atomic() as directory:
        directory.account_removal = "delete"
        org = directory.get_organization(acme["org_id"])
        directory.deactivate(directory.find_identity(org, "ann@acme.example"))
    with app.app_context():
        monitor = db.session.scalars(select(Monitor)).one()
        assert monitor.created_by_id is None


def test_init_db_and_seed_demo_from_the_command_line(tmp_path):
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.sqlite'}",
        "FLASK_SECRET_KEY": "demo",
    }
    for command in (["init-db"], ["seed-demo"], ["seed-demo"]):
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "sample_app", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    assert "exists already" in done.stderr
    assert "Its Okta settings: /okta-scim/admin/1/sso" in done.stderr  # make demo shows it
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": env["FLASK_SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "demo"}
    )
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    assert "Demo Organization" not in client.get("/").get_data(as_text=True)
    sign_in(client, "admin@demo.example", "demo-password")
    assert "Demo Organization" in client.get("/").get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()
