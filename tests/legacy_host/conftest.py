"""Fixtures of the legacy host: a database that lived through the old app, then the migration.

Once per run and backend, a *template* database is built the way a real one got there:
``upgrade`` to revision 1 (the legacy schema), the old app's rows inserted with plain SQL,
``upgrade`` to head (the extension's tables), then ``flask okta-scim scim reindex`` (the
documented data step after adding the extension). Each test gets a copy of it (SQLite:
the file; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``), so every test starts from the
same pre-existing rows.
"""

from __future__ import annotations

import os
import shutil
import typing as t
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

import flask_migrate
import pytest
from blinker import NamedSignal
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

from tests.conftest import BASE_URL
from tests.conftest import POSTGRES_SERVER
from tests.conftest import ScimClient
from tests.conftest import fresh_postgres_database
from tests.conftest import okta_cli_ok
from tests.conftest import service_missing
from tests.legacy_host.app import create_app
from tests.legacy_host.app import db
from tests.legacy_host.app import okta

#: Revision 1: the schema of the old app, before the extension.
LEGACY_REVISION = "e567c7440701"

#: The old app's passwords (pbkdf2 hashes, made long before the extension's scrypt).
ALICE_PASSWORD = "alice's old password"
BOB_PASSWORD = "bob's old password"

#: A time for the host's own writes.
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)

#: What every test app runs with (the rate limits have their own tests elsewhere).
TEST_CONFIG: dict[str, t.Any] = {
    "TESTING": True,
    "OKTA_SCIM_BASE_URL": BASE_URL,
    "OKTA_SCIM_RATE_LIMIT": "100000/minute",
    "OKTA_SCIM_SSO_FAILURE_LIMIT": "100000/minute",
    "OKTA_SCIM_SSO_ADDRESS_FAILURE_LIMIT": "100000/minute",
    "OKTA_SCIM_SSO_START_LIMIT": "100000/minute",
}


@dataclass(frozen=True)
class Legacy:
    """The ids of the old app's rows (assigned by the database, as they were)."""

    acme: int
    globex: int
    alice: int
    bob: int
    gina: int
    engineering: int
    document: int


def insert_legacy_rows() -> Legacy:
    """The old app's data, written with plain SQL on the revision-1 schema.

    Acme: alice (owner, with a password, in the group Engineering), bob (member, the
    author of a document). Globex: gina (owner).
    """
    now = "2019-05-01 12:00:00+00:00"

    def insert(sql: str, **params: t.Any) -> int:
        return int(db.session.execute(text(sql + " RETURNING id"), params).scalar_one())

    def company(name: str) -> int:
        return insert("INSERT INTO accounts (company_name, created) VALUES (:n, :c)", n=name, c=now)

    def user(email: str, name: str, password: str | None) -> int:
        pw = generate_password_hash(password, method="pbkdf2:sha256") if password else None
        return insert(
            "INSERT INTO users (email_address, full_name, pw_hash, signup_date)"
            " VALUES (:e, :n, :p, :d)",
            e=email,
            n=name,
            p=pw,
            d=now,
        )

    def member(company_id: int, user_id: int, role: str) -> None:
        insert(
            "INSERT INTO memberships (account_id, user_id, role) VALUES (:a, :u, :r)",
            a=company_id,
            u=user_id,
            r=role,
        )

    acme, globex = company("Acme"), company("Globex")
    alice = user("alice@acme.test", "Alice Archer", ALICE_PASSWORD)
    bob = user("bob@acme.test", "Bob Baker", BOB_PASSWORD)
    gina = user("gina@globex.test", "Gina Gold", None)
    member(acme, alice, "owner")
    member(acme, bob, "member")
    member(globex, gina, "owner")
    engineering = insert(
        "INSERT INTO groups (account_id, title) VALUES (:a, 'Engineering')", a=acme
    )
    insert(
        "INSERT INTO group_memberships (group_id, user_id) VALUES (:g, :u)", g=engineering, u=alice
    )
    document = insert("INSERT INTO documents (title, author_id) VALUES ('Q3 plan', :u)", u=bob)
    db.session.commit()
    return Legacy(acme, globex, alice, bob, gina, engineering, document)


def migrate_legacy_database(url: str, *, data_steps: bool = True) -> Legacy:
    """Build the old app's database at ``url``, then add the extension as a host would."""
    app = create_app(url, **TEST_CONFIG)
    with app.app_context():
        try:
            flask_migrate.upgrade(revision=LEGACY_REVISION)
            legacy = insert_legacy_rows()
            flask_migrate.upgrade(revision="head")
        finally:
            db.session.remove()
            db.engine.dispose()
    if data_steps:
        okta_cli_ok(app, "scim", "reindex")
        with app.app_context():
            db.engine.dispose()
    return legacy


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Legacy]:
    path = tmp_path_factory.mktemp("legacy") / "template.sqlite"
    return str(path), migrate_legacy_database(f"sqlite:///{path}")


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[str, Legacy]]:
    name = f"legacy_template_{os.getpid()}"
    with fresh_postgres_database(name) as url:
        yield name, migrate_legacy_database(url)


def _postgres_admin() -> t.Any:
    server = make_url(POSTGRES_SERVER)
    return create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture
def legacy_database(
    backend: str, tmp_path: t.Any, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Legacy]]:
    """A copy of the migrated legacy database for this test: ``(url, ids)``."""
    if backend == "sqlite":
        template, legacy = request.getfixturevalue("sqlite_template")
        path = tmp_path / "legacy.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}", legacy
        return
    template, legacy = request.getfixturevalue("postgres_template")
    name = f"legacy_test_{os.getpid()}"
    admin = _postgres_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    except Exception as e:  # pragma: no cover - the template fixture skipped already
        admin.dispose()
        service_missing(f"PostgreSQL: cannot copy the legacy template: {e}")
    try:
        url = make_url(POSTGRES_SERVER).set(database=name)
        yield url.render_as_string(hide_password=False), legacy
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def legacy(legacy_database: tuple[str, Legacy]) -> Legacy:
    """The ids of the pre-existing rows."""
    return legacy_database[1]


@pytest.fixture
def make_app(legacy_database: tuple[str, Legacy]) -> Iterator[Callable[..., Flask]]:
    """``make_app(**config)``: the legacy app on this test's database (one per test)."""
    made: list[Flask] = []

    def make(**config: t.Any) -> Flask:
        assert not made, "one app per test"
        made.append(create_app(legacy_database[0], **{**TEST_CONFIG, **config}))
        return made[0]

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def legacy_app(make_app: Callable[..., Flask]) -> Flask:
    """The legacy app with the default settings."""
    return make_app()


# -- helpers -------------------------------------------------------------------------------------


def sql(app: Flask, query: str, **params: t.Any) -> list[tuple[t.Any, ...]]:
    """Rows of a plain SQL query on the host's tables, on a connection of its own."""
    with app.app_context(), db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query), params)]


def execute(app: Flask, statement: str, **params: t.Any) -> None:
    """The host's own write, in plain SQL, committed."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(statement), params)


def scalar(app: Flask, query: str, **params: t.Any) -> t.Any:
    rows = sql(app, query, **params)
    assert len(rows) <= 1 and all(len(row) == 1 for row in rows), rows
    return rows[0][0] if rows else None


def memberships(app: Flask, company_id: int) -> dict[str, str]:
    """``{email: role}`` of a company, from the host's ``memberships`` table."""
    rows = sql(
        app,
        "SELECT u.email_address, m.role FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.account_id = :c",
        c=company_id,
    )
    return dict(rows)


def group_members(app: Flask, group_id: int) -> list[str]:
    """The emails in a group, sorted, from the host's ``group_memberships`` table."""
    rows = sql(
        app,
        "SELECT u.email_address FROM group_memberships g JOIN users u ON u.id = g.user_id"
        " WHERE g.group_id = :g",
        g=group_id,
    )
    return sorted(row[0] for row in rows)  # in Python: the server's collation may differ


def provisioning(app: Flask, company_id: int) -> ScimClient:
    """Turn on SCIM for a pre-existing company (a connected Okta first); its SCIM client."""
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        company = directory.get_organization(company_id)
        connection = directory.get_connection(company) or directory.connect(company)
        directory.mark_connected(connection)
        token = directory.enable_provisioning(company)
    return ScimClient(app, token)


@contextmanager
def account_ids(signal: NamedSignal) -> Iterator[list[int]]:
    """The ``account`` ids of every send of ``signal`` inside the block (read when sent: the
    instances are expired once the request's transaction commits)."""
    heard: list[int] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        heard.append(kwargs["account"].id)

    signal.connect(receiver, weak=False)
    try:
        yield heard
    finally:
        signal.disconnect(receiver)


def sign_in(client: t.Any, email: str, password: str) -> t.Any:
    """The host's own password sign-in."""
    return client.post(f"{BASE_URL}/login", data={"email": email, "password": password})


def whoami(client: t.Any) -> t.Any:
    return client.get(f"{BASE_URL}/whoami")
