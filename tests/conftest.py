"""Fixtures: every app-level test runs once on SQLite and once on PostgreSQL.

PostgreSQL is reached at ``OKTA_SCIM_TEST_POSTGRES`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432``); the suite creates its own
database there. Where no server answers, PostgreSQL tests are skipped with the
reason, unless ``OKTA_SCIM_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which
turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import threading
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from blinker import NamedSignal
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from werkzeug.serving import make_server

from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta

POSTGRES_SERVER = os.environ.get(
    "OKTA_SCIM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
REQUIRE_SERVICES = os.environ.get("OKTA_SCIM_REQUIRE_SERVICES") == "1"
BASE_URL = "https://app.example.test"


def service_missing(reason: str) -> t.NoReturn:
    """Skip for a missing service, or fail when the run requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (OKTA_SCIM_REQUIRE_SERVICES=1: skipping is not allowed)")
    pytest.skip(reason)


@contextmanager
def fresh_postgres_database(name: str, *settings: str) -> Iterator[str]:
    """Create the empty PostgreSQL database ``name`` (dropping a leftover one), yield its URL,
    drop it afterwards. ``settings`` are ``"key = 'value'"`` pairs set on the database where
    the role may (a superuser); elsewhere they are skipped.

    Skips the test (fails it with OKTA_SCIM_REQUIRE_SERVICES=1) when no server answers.
    """
    server = make_url(POSTGRES_SERVER)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # any driver or connection error means: no server
        admin.dispose()
        service_missing(f"PostgreSQL is not reachable at {server.render_as_string()}: {e}")
    for setting in settings:
        with contextlib.suppress(ProgrammingError), admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET {setting}'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, with the sample app's tables."""
    # One database per test run, so that concurrent runs on one server never collide.
    with fresh_postgres_database(f"flask_okta_scim_test_{os.getpid()}") as url:
        engine = create_engine(url)
        db.metadata.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database the test runs on."""
    return t.cast(str, request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgresql_only`` (concurrency) have no SQLite variant."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("postgresql_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def database_url(backend: str, tmp_path: t.Any, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'app.sqlite'}"
    return t.cast(str, request.getfixturevalue("postgres_url"))


def _empty_tables() -> None:
    names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.session.commit()


@contextmanager
def sample_app_on(database_url: str, backend: str, **config: t.Any) -> Iterator[Flask]:
    """The sample app on an empty database, with the suite's settings and ``config``."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "OKTA_SCIM_BASE_URL": BASE_URL,
            "WTF_CSRF_ENABLED": False,
            # Suites send hundreds of SCIM requests a minute; the limit has its own tests.
            "OKTA_SCIM_RATE_LIMIT": "100000/minute",
            # Attack corpora refuse hundreds of sign-ins from one address; test_rate_limits.py
            # tests the budgets.
            "OKTA_SCIM_SSO_FAILURE_LIMIT": "100000/minute",
            "OKTA_SCIM_SSO_ADDRESS_FAILURE_LIMIT": "100000/minute",
            "OKTA_SCIM_SSO_START_LIMIT": "100000/minute",
            # Suites deactivate and delete by the dozen; the guard has its own tests
            # (tests/scim_api/test_guard.py).
            "OKTA_SCIM_GUARD_DEACTIVATIONS": 0,
            "OKTA_SCIM_GUARD_DEACTIVATION_PERCENT": 0,
            "OKTA_SCIM_GUARD_TEAM_DELETIONS": 0,
            **config,
        }
    )
    with app.app_context():
        if backend == "sqlite":
            db.create_all()
        else:
            _empty_tables()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(database_url: str, backend: str, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The sample app on an empty database; ``@pytest.mark.app_config(KEY=value)`` adds config."""
    config: dict[str, t.Any] = {}
    for marker in reversed(list(request.node.iter_markers("app_config"))):
        config.update(marker.kwargs)
    with sample_app_on(database_url, backend, **config) as app:
        yield app


#: Seconds a live server may take to stop.
LIVE_TIMEOUT = 30


@pytest.fixture
def live(app: Flask) -> Iterator[str]:
    """The app served by a threaded WSGI server on a free port of 127.0.0.1; its base URL.

    For tests whose requests must really overlap (one database connection each).
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=LIVE_TIMEOUT)
        assert not thread.is_alive(), "the live server did not stop"


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An application context for the test's duration."""
    with app.app_context():
        yield


@pytest.fixture
def directory(ctx: None) -> t.Any:
    """A directory service acting as ``test``."""
    return okta.directory(actor="test")


@pytest.fixture
def models(app: Flask) -> t.Any:
    return okta.models


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement ``app`` sends to its database inside the block, whitespace
    collapsed (``BEGIN`` and ``COMMIT`` are not statements here)."""
    sent: list[str] = []

    def record(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        sent.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def listen(signal: NamedSignal) -> Iterator[list[tuple[t.Any, dict[str, t.Any]]]]:
    """Record ``(sender, kwargs)`` of every send of ``signal`` inside the block."""
    calls: list[tuple[t.Any, dict[str, t.Any]]] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append((sender, kwargs))

    signal.connect(receiver, weak=False)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


@contextmanager
def raising(signal: NamedSignal, exc: Exception) -> Iterator[None]:
    """Connect a receiver to ``signal`` that raises ``exc``."""

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        raise exc

    signal.connect(receiver, weak=False)
    try:
        yield
    finally:
        signal.disconnect(receiver)


def okta_cli(app: Flask, *args: str) -> t.Any:
    """Run ``flask okta-scim ARGS`` through Click's runner (stdout and stderr apart)."""
    return app.test_cli_runner().invoke(args=["okta-scim", *args], catch_exceptions=False)


def okta_cli_ok(app: Flask, *args: str) -> str:
    """:func:`okta_cli` for a command that must succeed; its stdout."""
    result = okta_cli(app, *args)
    assert result.exit_code == 0, result.stderr
    return t.cast(str, result.stdout)


@pytest.fixture
def client(app: Flask) -> t.Any:
    return app.test_client()


# -- SCIM ----------------------------------------------------------------------------------------

#: The headers Okta's provisioning client sends (see the Okta SCIM reference).
OKTA_HEADERS = {
    "Accept": "application/scim+json",
    "Accept-Charset": "utf-8",
    "User-Agent": "Okta SCIM Client 1.0.0",
    "Accept-Encoding": "gzip,deflate",
}


def provisioning_org(app: Flask, name: str) -> tuple[t.Any, str]:
    """Create an organization with a connected Okta connection and provisioning on.

    Returns ``(organization id, bearer token)``. ``mark_connected`` is what a first
    successful SSO sign-in calls.
    """
    with app.app_context(), okta.directory(actor="test").atomic() as directory:
        org = directory.create_organization(name)
        directory.mark_connected(directory.connect(org))
        token = directory.enable_provisioning(org)
        return org.id, token


class ScimClient:
    """Speaks to ``/scim/v2`` as Okta does: Okta's headers, JSON bodies as application/scim+json."""

    def __init__(self, app: Flask, token: str | None, prefix: str = "/scim/v2") -> None:
        self.client = app.test_client()
        self.token = token
        self.prefix = prefix

    def headers(self, extra: dict[str, str] | None = None, body: bool = False) -> dict[str, str]:
        headers = dict(OKTA_HEADERS)
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if body:
            headers["Content-Type"] = "application/scim+json; charset=utf-8"
        headers.update(extra or {})
        return headers

    def request(
        self, method: str, path: str, body: t.Any = None, headers: dict[str, str] | None = None
    ) -> t.Any:
        import json as _json

        data = None if body is None else (body if isinstance(body, str) else _json.dumps(body))
        return self.client.open(
            self.prefix + path,
            method=method,
            data=data,
            headers=self.headers(headers, body=body is not None),
        )

    def get(self, path: str, **kw: t.Any) -> t.Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: t.Any, **kw: t.Any) -> t.Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: t.Any, **kw: t.Any) -> t.Any:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: t.Any, **kw: t.Any) -> t.Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: t.Any) -> t.Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def scim_org(app: Flask) -> tuple[t.Any, str]:
    """An organization ready for provisioning: ``(id, token)``."""
    return provisioning_org(app, "Acme")


@pytest.fixture
def scim(app: Flask, scim_org: tuple[t.Any, str]) -> ScimClient:
    """A SCIM client holding the Acme organization's token."""
    return ScimClient(app, scim_org[1])


def user_body(user_name: str, **extra: t.Any) -> dict[str, t.Any]:
    """A User as Okta creates it."""
    local = user_name.split("@")[0]
    body: dict[str, t.Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": local.title(), "familyName": "Tester"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{local.title()} Tester",
        "locale": "en-US",
        "externalId": f"00u{abs(hash(user_name)) % 10**12}",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    body.update(extra)
    return body


PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch_body(*operations: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def assert_scim_error(response: t.Any, status: int, scim_type: str | None = None) -> None:
    """An RFC 7644 §3.12 error body with the SCIM media type."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    body = response.get_json(force=True)
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert isinstance(body["detail"], str) and body["detail"]
    if scim_type is not None:
        assert body.get("scimType") == scim_type
