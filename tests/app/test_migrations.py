"""The sample app's migrations build exactly ``db.metadata``, on PostgreSQL and on SQLite.

Each test starts from a database of its own, empty (the suite's other tests use
``db.metadata.create_all``, which is faster). After ``upgrade``, Alembic's autogenerate
comparison with the models finds nothing to do: a model changed without a new
revision (the sample's, or the extension's own tables) fails here.

One thing the comparison cannot see: SQLAlchemy does not reflect expression-based
indexes from SQLite, so there Alembic skips the unique index on ``lower(email)`` (it
warns, and says so). :func:`test_the_indexes_autogenerate_cannot_compare_hold` checks it
by its effect instead, on both databases.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterator

import flask_migrate
import pytest
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from sample_app import create_app
from sample_app.models import db
from sample_app.models import okta
from sample_app.schema import MIGRATION_OPTIONS
from sample_app.schema import VERSION_TABLE
from tests import migration_drift as drift
from tests.conftest import fresh_postgres_database

#: The index SQLite's reflection cannot show Alembic.
EMAIL_INDEX = "uq_account_email_lower"


@pytest.fixture
def empty_database(backend: str, tmp_path: t.Any) -> Iterator[str]:
    """The URL of an empty database of this test's own."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        return
    with fresh_postgres_database(f"flask_okta_scim_migrations_{os.getpid()}") as url:
        yield url


@pytest.fixture
def app_on_empty(empty_database: str) -> Iterator[Flask]:
    """The sample app on the empty database, in an application context."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "SECRET_KEY": "migrations"})
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def migrated(app_on_empty: Flask) -> Flask:
    """The sample app on a database that ``upgrade`` to the newest revision made."""
    flask_migrate.upgrade(revision="head")
    return app_on_empty


def tables() -> set[str]:
    with db.engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def differences() -> list[t.Any]:
    return drift.differences(db, MIGRATION_OPTIONS, EMAIL_INDEX)


def assert_no_drift() -> None:
    drift.assert_no_drift(db, MIGRATION_OPTIONS, EMAIL_INDEX)


def test_upgrade_creates_every_table_of_the_models(migrated: Flask) -> None:
    assert tables() == set(db.metadata.tables) | {VERSION_TABLE}
    # The extension's tables are among them: they are on the host's metadata.
    assert okta.models.own_tables <= tables()


def test_autogenerate_finds_nothing_to_do_after_upgrade(migrated: Flask) -> None:
    assert_no_drift()


def test_downgrade_to_base_then_upgrade_again(migrated: Flask) -> None:
    flask_migrate.downgrade(revision="base")
    assert tables() == {VERSION_TABLE}
    flask_migrate.upgrade(revision="head")
    assert tables() == set(db.metadata.tables) | {VERSION_TABLE}
    assert_no_drift()


def test_the_indexes_autogenerate_cannot_compare_hold(migrated: Flask) -> None:
    """The ``lower(email)`` index (not comparable on SQLite) and the partial domain index."""
    m = okta.models
    db.session.add(m.account(email="Ann@acme.example"))
    db.session.commit()
    db.session.add(m.account(email="ann@ACME.example"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()

    acme, globex = m.organization(name="Acme"), m.organization(name="Globex")
    db.session.add_all([acme, globex])
    db.session.flush()
    for org in (acme, globex):  # claims by two organizations: unverified, both allowed
        db.session.add(m.domain(organization_id=org.id, domain="acme.example", challenge="c"))
    db.session.commit()
    for claim in db.session.scalars(db.select(m.domain)):
        claim.verified_at = db.func.now()
    with pytest.raises(IntegrityError):  # at most one organization holds it verified
        db.session.commit()
    db.session.rollback()


def test_sqlite_foreign_keys_are_on_again_after_migrating(tmp_path: t.Any) -> None:
    """env.py turns them off while it migrates SQLite (batch operations copy tables)."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fk.sqlite'}", "SECRET_KEY": "fk"}
    )
    with app.app_context():
        flask_migrate.upgrade(revision="head")
        try:
            for _ in range(3):  # whichever pooled connection comes
                with db.engine.connect() as connection:
                    assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        finally:
            db.engine.dispose()


def test_init_db_runs_the_migrations(app_on_empty: Flask) -> None:
    runner = app_on_empty.test_cli_runner()
    done = runner.invoke(args=["init-db"])
    assert done.exit_code == 0, done.output
    assert "newest revision" in done.output
    assert tables() == set(db.metadata.tables) | {VERSION_TABLE}
    assert_no_drift()
    assert runner.invoke(args=["init-db"]).exit_code == 0  # again: nothing to do


def test_init_db_adopts_tables_made_by_create_all(app_on_empty: Flask) -> None:
    """A database made before there were migrations is marked current when it matches."""
    db.create_all()
    done = app_on_empty.test_cli_runner().invoke(args=["init-db"])
    assert done.exit_code == 0, done.output
    assert "marked them" in done.output
    with db.engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    assert revision is not None


def test_init_db_refuses_tables_that_differ_from_the_models(app_on_empty: Flask) -> None:
    db.create_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE monitor"))
    done = app_on_empty.test_cli_runner().invoke(args=["init-db"])
    assert done.exit_code != 0
    assert "differ from the models" in done.output
    assert VERSION_TABLE not in tables()
