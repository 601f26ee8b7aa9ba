"""Fixtures: every app-level test runs once on SQLite and once on PostgreSQL.

PostgreSQL is reached at ``OKTA_SCIM_TEST_POSTGRES`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432``); the suite creates its own
database there. Where no server answers, PostgreSQL tests are skipped with the
reason, unless ``OKTA_SCIM_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which
turns that skip into a failure.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from blinker import NamedSignal
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, with the sample app's tables."""
    name = "flask_okta_scim_test"
    server = make_url(POSTGRES_SERVER)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # any driver or connection error means: no server
        admin.dispose()
        service_missing(f"PostgreSQL is not reachable at {server.render_as_string()}: {e}")
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    db.metadata.create_all(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database the test runs on."""
    if request.param == "sqlite" and request.node.get_closest_marker("postgresql_only"):
        pytest.skip("this test is about PostgreSQL behaviour")
    return t.cast(str, request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: t.Any, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'app.sqlite'}"
    return t.cast(str, request.getfixturevalue("postgres_url"))


def _empty_tables() -> None:
    names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.session.commit()


@pytest.fixture
def app(database_url: str, backend: str) -> Iterator[Flask]:
    """The sample app on an empty database."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "OKTA_SCIM_BASE_URL": BASE_URL,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        if backend == "sqlite":
            db.create_all()
        else:
            _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


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


@pytest.fixture
def client(app: Flask) -> t.Any:
    return app.test_client()
