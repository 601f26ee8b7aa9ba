"""Without ``OKTA_SCIM_BASE_URL`` the app starts; only what builds public URLs refuses (issue 11).

Commands that need no URL (``org create``, ``flask routes``, migrations) work;
SCIM requests get a SCIM 503, sign-in a 503 page, and the commands that print
URLs exit 1 naming the key. A base URL that is set is still validated at start-up.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.cli import routes_command

from flask_okta_scim import BaseUrlNotSet
from flask_okta_scim import ConfigError
from sample_app import create_app
from sample_app.models import okta
from tests.conftest import OKTA_HEADERS
from tests.conftest import okta_cli
from tests.conftest import okta_cli_ok
from tests.conftest import sample_app_on

ROOT = Path(__file__).resolve().parents[2]
MISSING = "OKTA_SCIM_BASE_URL must be set to the public base URL of the application"


@pytest.fixture
def app(database_url: str, backend: str) -> Iterator[Flask]:
    """The sample app with no base URL (it sets one by default: ``None`` removes it)."""
    with sample_app_on(database_url, backend, OKTA_SCIM_BASE_URL=None) as app:
        yield app


def test_the_app_starts_and_knows_it_has_no_base_url(app):
    with app.app_context():
        assert not okta.settings.has_base_url
        with pytest.raises(BaseUrlNotSet, match=MISSING):
            okta.settings.url("/x")


def test_commands_that_need_no_url_work(app):
    org_id = okta_cli_ok(app, "org", "create", "Acme").strip()
    assert org_id.isdigit()
    assert okta_cli_ok(app, "team", "create", org_id, "Ops").strip().isdigit()
    routes = app.test_cli_runner().invoke(routes_command)
    assert routes.exit_code == 0 and "/scim/v2" in routes.stdout


def test_sso_show_and_scim_enable_exit_1_naming_the_key(app):
    org_id = okta_cli_ok(app, "org", "create", "Acme").strip()
    connected = okta_cli(app, "sso", "connect", org_id)
    assert connected.exit_code == 0 and connected.stdout.strip()
    assert "OKTA_SCIM_BASE_URL is not set" in connected.stderr
    shown = okta_cli(app, "sso", "show", org_id)
    assert shown.exit_code == 1 and shown.stdout == ""
    assert MISSING in shown.stderr and "'flask okta-scim sso show'" in shown.stderr
    assert "Traceback" not in shown.stderr
    with app.app_context(), okta.directory().atomic() as directory:
        directory.mark_connected(directory.get_connection(directory.get_organization(org_id)))
    enabled = okta_cli(app, "scim", "enable", org_id)
    assert enabled.exit_code == 1 and enabled.stdout == ""
    assert "'flask okta-scim scim enable' builds its URLs" in enabled.stderr
    status = json.loads(okta_cli_ok(app, "scim", "status", org_id))
    assert status["enabled"] is False and status["tokens"] == []


def test_a_scim_request_gets_a_scim_503(app, caplog):
    with app.app_context(), okta.directory().atomic() as directory:
        org = directory.create_organization("Acme")
        directory.mark_connected(directory.connect(org))
        token = directory.enable_provisioning(org)
    caplog.set_level(logging.ERROR, logger="flask_okta_scim")
    for method, path in [("GET", "/Users"), ("POST", "/Users"), ("GET", "/ServiceProviderConfig")]:
        response = app.test_client().open(
            f"/scim/v2{path}",
            method=method,
            headers={**OKTA_HEADERS, "Authorization": f"Bearer {token}"},
            data="{}" if method == "POST" else None,
        )
        assert response.status_code == 503
        assert response.mimetype == "application/scim+json"
        body = response.get_json(force=True)
        assert body["status"] == "503"
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert "OKTA_SCIM_BASE_URL" not in body["detail"]
    assert MISSING in caplog.text and "the SCIM API builds its URLs" in caplog.text


def test_sign_in_gets_a_clear_503_page(app, caplog):
    okta_cli_ok(app, "org", "create", "Acme")
    integration_id = okta_cli_ok(app, "sso", "connect", "Acme").strip()
    caplog.set_level(logging.ERROR, logger="flask_okta_scim")
    client = app.test_client()
    for response in (
        client.get(f"/users/sign-in/sso/okta/{integration_id}"),
        client.post(f"/users/sign-in/sso/okta/{integration_id}/acs", data={"SAMLResponse": "x"}),
        client.get(f"/users/sign-in/sso/okta/{integration_id}/metadata"),
    ):
        assert response.status_code == 503
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html"
        assert "Single sign-on is not available" in page and "Traceback" not in page
    assert "single sign-on builds its URLs from it" in caplog.text


def test_the_host_s_own_pages_are_untouched(app):
    assert app.test_client().get("/me").status_code == 401


def test_an_empty_base_url_counts_as_absent(database_url, backend):
    with sample_app_on(database_url, backend, OKTA_SCIM_BASE_URL="") as app, app.app_context():
        assert not okta.settings.has_base_url


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("app.example.com", "OKTA_SCIM_BASE_URL must be an absolute http(s) URL"),
        ("https://a.example#x", "OKTA_SCIM_BASE_URL must not contain"),
        (42, "OKTA_SCIM_BASE_URL must be a string"),
    ],
)
def test_a_base_url_that_is_set_is_still_validated_at_start_up(value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "OKTA_SCIM_BASE_URL": value})


def test_the_real_flask_command_without_a_base_url(tmp_path):
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'cli.sqlite'}",
        "FLASK_OKTA_SCIM_BASE_URL": "",
        "FLASK_SECRET_KEY": "cli test",
    }

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "sample_app", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert flask("routes").returncode == 0
    assert flask("init-db").returncode == 0
    created = flask("okta-scim", "org", "create", "Subprocess Inc")
    assert created.returncode == 0, created.stderr
    connected = flask("okta-scim", "sso", "connect", created.stdout.strip())
    assert connected.returncode == 0, connected.stderr
    shown = flask("okta-scim", "sso", "show", created.stdout.strip())
    assert shown.returncode == 1 and MISSING in shown.stderr
    assert "Traceback" not in shown.stderr
