"""End to end, as an operator does it: the real ``flask`` command line, a real server, HTTP.

On a SQLite file and on a PostgreSQL database of its own (both empty: ``init-db``
creates the tables), the operator creates an organization, is refused provisioning
until single sign-on works, turns it on, points Okta at the running app, and later
rotates the token and turns provisioning off. Okta's side is replayed over a real
socket with Okta's headers. Every subprocess and request has a timeout.
"""

from __future__ import annotations

import gzip
import json
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta
from tests.conftest import OKTA_HEADERS
from tests.conftest import patch_body
from tests.conftest import user_body
from tests.sample_server import REQUEST_TIMEOUT
from tests.sample_server import SECRET_KEY
from tests.sample_server import SampleServer

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def operator_db(backend: str, database_url: str) -> Iterator[str]:
    """An empty database: a new SQLite file, or a PostgreSQL database made for this test."""
    if backend == "sqlite":
        yield database_url
        return
    url = make_url(database_url)
    name = f"{url.database}_e2e"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def operator(operator_db: str, tmp_path: Path) -> Iterator[SampleServer]:
    """Runs ``python -m flask --app sample_app ...`` as an operator would, in the repo root."""
    operator = SampleServer(operator_db, tmp_path / "server.log")
    try:
        yield operator
    finally:
        operator.stop()


@pytest.fixture
def server(operator: SampleServer) -> Callable[[], str]:
    """Start the app with ``flask run`` once asked (returns its base URL); stopped at teardown."""

    def start() -> str:
        operator.start()
        return operator.base_url

    return start


def call(
    base: str, method: str, path: str, token: str | None, body: t.Any = None
) -> tuple[int, dict[str, str], t.Any]:
    """One SCIM request with Okta's headers; ``(status, headers, JSON body or None)``."""
    headers = dict(OKTA_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/scim+json; charset=utf-8"
    req = urllib.request.Request(
        base + "/scim/v2" + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as response:
            status, got, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            status, got, raw = error.code, error.headers, error.read()
    if got.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    return status, dict(got.items()), json.loads(raw) if raw else None


class Okta:
    """Okta's provisioning client, pointed at the running app with one token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def __call__(self, method: str, path: str, body: t.Any = None) -> tuple[int, dict, t.Any]:
        return call(self.base, method, path, self.token, body)

    def status_of(self, token: str) -> int:
        """The status a plain list request gets with ``token``."""
        return call(self.base, "GET", "/Users?count=1", token)[0]


def q(filter_: str) -> str:
    return urllib.parse.quote(filter_)


def assert_error(
    answer: tuple[int, dict, t.Any], status: int, scim_type: str | None = None
) -> None:
    got, headers, body = answer
    assert got == status, body
    assert headers["Content-Type"].startswith("application/scim+json")
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    if scim_type is not None:
        assert body["scimType"] == scim_type


def mark_sso_connected(database_url: str, base_url: str, org_id: str) -> None:
    """What the organization's first successful SSO sign-in will record.

    SAML sign-in is not built yet, so the test does in-process what the ACS view will
    do: start the Okta connection and mark it connected, in one unit of work.
    """
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "OKTA_SCIM_BASE_URL": base_url,
            "SECRET_KEY": SECRET_KEY,
        }
    )
    with app.app_context():
        try:
            with okta.directory(actor="sso").atomic() as directory:
                organization = directory.get_organization(org_id)
                assert directory.mark_connected(directory.connect(organization)) is True
        finally:
            db.session.remove()
            db.engine.dispose()


def one_line(stdout: str) -> str:
    assert stdout.endswith("\n") and stdout.count("\n") == 1, repr(stdout)
    return stdout.strip()


def test_operator_turns_on_provisioning_and_okta_provisions(operator, server):
    # -- the operator sets the app up --------------------------------------------------
    initialised = operator.run("init-db")
    assert initialised.returncode == 0, initialised.stderr
    org_id = one_line(operator.ok("okta-scim", "org", "create", "Acme"))
    assert org_id.isdigit()

    # Provisioning is refused while single sign-on has not worked once.
    refused = operator.run("okta-scim", "scim", "enable", org_id)
    assert refused.returncode != 0
    assert refused.stdout == ""
    assert "single sign-on" in refused.stderr and "sign-in through Okta" in refused.stderr
    assert "Traceback" not in refused.stderr

    mark_sso_connected(operator.database_url, operator.base_url, org_id)

    enabled = operator.run("okta-scim", "scim", "enable", "Acme")
    assert enabled.returncode == 0, enabled.stderr
    token = one_line(enabled.stdout)
    assert len(token) >= 40 and " " not in token
    assert f"{operator.base_url}/scim/v2" in enabled.stderr
    assert token not in enabled.stderr

    # -- Okta provisions through the running app -----------------------------------------
    base = server()
    okta_client = Okta(base, token)
    email = "Ann.Example@acme.example"

    status, _, found = okta_client("GET", "/Users?filter=" + q(f'userName eq "{email}"'))
    assert status == 200 and found["totalResults"] == 0 and found["Resources"] == []

    status, headers, created = okta_client("POST", "/Users", user_body(email))
    assert status == 201, created
    uid = created["id"]
    assert headers["Location"] == f"{base}/scim/v2/Users/{uid}" == created["meta"]["location"]
    assert created["userName"] == email and created["active"] is True
    assert "password" not in created

    assert_error(okta_client("POST", "/Users", user_body(email)), 409, "uniqueness")
    assert_error(okta_client("POST", "/Users", user_body(email.upper())), 409, "uniqueness")

    status, _, found = okta_client("GET", "/Users?filter=" + q(f'userName eq "{email.lower()}"'))
    assert [u["id"] for u in found["Resources"]] == [uid]

    # Profile update: a PUT of what the app returned, changed.
    status, _, current = okta_client("GET", f"/Users/{uid}")
    current["name"]["givenName"] = "Annette"
    current["displayName"] = "Annette Example"
    status, _, replaced = okta_client("PUT", f"/Users/{uid}", current)
    assert status == 200 and replaced["id"] == uid
    assert replaced["name"]["givenName"] == "Annette"

    # Deactivate, read back, reactivate on the same id.
    status, _, patched = okta_client(
        "PATCH", f"/Users/{uid}", patch_body({"op": "replace", "value": {"active": False}})
    )
    assert status == 200 and patched["active"] is False
    status, _, read = okta_client("GET", f"/Users/{uid}")
    assert status == 200 and read["active"] is False and read["name"]["givenName"] == "Annette"
    status, _, patched = okta_client(
        "PATCH", f"/Users/{uid}", patch_body({"op": "replace", "value": {"active": True}})
    )
    assert status == 200 and patched["id"] == uid and patched["active"] is True

    # Group push: create, add the member, rename, delete.
    status, _, found = okta_client("GET", "/Groups?filter=" + q('displayName eq "Engineering"'))
    assert status == 200 and found["totalResults"] == 0
    status, headers, group = okta_client(
        "POST", "/Groups", {"schemas": [GROUP], "displayName": "Engineering", "members": []}
    )
    assert status == 201, group
    gid = group["id"]
    assert headers["Location"] == f"{base}/scim/v2/Groups/{gid}"
    status, _, group = okta_client(
        "PATCH",
        f"/Groups/{gid}",
        patch_body({"op": "add", "path": "members", "value": [{"value": uid, "display": email}]}),
    )
    assert status in (200, 204), group  # Okta takes either
    status, _, group = okta_client("GET", f"/Groups/{gid}")
    assert [m["value"] for m in group["members"]] == [uid]
    status, _, user = okta_client("GET", f"/Users/{uid}?attributes=groups")
    assert [g["value"] for g in user["groups"]] == [gid]
    status, _, group = okta_client(
        "PATCH",
        f"/Groups/{gid}",
        patch_body({"op": "replace", "value": {"id": gid, "displayName": "Engineering Team"}}),
    )
    assert status in (200, 204), group
    status, _, group = okta_client("GET", f"/Groups/{gid}")
    assert status == 200 and group["displayName"] == "Engineering Team"
    shown = json.loads(operator.ok("okta-scim", "user", "show", email.lower()))
    assert shown["organizations"][0]["teams"][0]["name"] == "Engineering Team"
    status, _, body = okta_client("DELETE", f"/Groups/{gid}")
    assert status == 204 and body is None
    assert_error(okta_client("GET", f"/Groups/{gid}"), 404)

    # -- the operator rotates the token ---------------------------------------------------
    new_token = one_line(operator.ok("okta-scim", "scim", "rotate-token", org_id))
    assert new_token != token
    assert okta_client.status_of(token) == 200  # the old one keeps working...
    assert okta_client.status_of(token) == 200
    assert okta_client.status_of(new_token) == 200  # ...until Okta uses the new one
    assert_error(call(base, "GET", "/Users?count=1", token), 401)
    assert okta_client.status_of(new_token) == 200

    # -- and turns provisioning off ----------------------------------------------------------
    disabled = operator.run("okta-scim", "scim", "disable", "Acme")
    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout == ""
    answer = call(base, "GET", "/Users?count=1", new_token)
    assert_error(answer, 401)
    assert answer[1]["WWW-Authenticate"].startswith("Bearer")

    status_out = operator.ok("okta-scim", "scim", "status", org_id)
    assert token not in status_out and new_token not in status_out
    state = json.loads(status_out)
    assert state["enabled"] is False
    assert state["sso_status"] == "connected"
    assert len(state["tokens"]) == 2
    assert all(row["revoked"] for row in state["tokens"])
    assert all(row["first_used_at"] for row in state["tokens"])

    shown = json.loads(operator.ok("okta-scim", "user", "show", email.lower()))
    assert shown["email"].lower() == email.lower()
    assert shown["display_name"] == "Annette Example"
    assert shown["organizations"] == [{"id": org_id, "name": "Acme", "role": "member", "teams": []}]
