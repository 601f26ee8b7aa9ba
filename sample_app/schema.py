"""The sample app's schema: its migrations, run with Flask-Migrate.

The revisions in ``sample_app/migrations/versions/`` create the sample's tables and the
extension's, which :class:`~flask_okta_scim.OktaSCIM` defines on the same ``db.Model``:
``flask --app sample_app db migrate`` compares the database with ``db.metadata`` and
finds both. ``init-db`` (:func:`upgrade_database`) and ``flask --app sample_app db
upgrade`` bring a database to the newest revision.
"""

from __future__ import annotations

import os
import typing as t
import warnings

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from .models import db

#: The directory of the sample app's migrations, wherever the command runs from.
MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

#: Alembic's options, for ``flask db`` (through env.py) and :func:`drift`.
#: Batch operations are plain ``ALTER``\ s on PostgreSQL and copy the table on SQLite
#: (which cannot alter most things in place), so a revision generated on either
#: database runs on both. Types and server defaults are compared too.
MIGRATION_OPTIONS: dict[str, t.Any] = {
    "render_as_batch": True,
    "compare_type": True,
    "compare_server_default": True,
}

migrate = flask_migrate.Migrate(db=db, directory=MIGRATIONS, **MIGRATION_OPTIONS)

#: The table in which Alembic records the database's revision.
VERSION_TABLE = "alembic_version"


#: What the comparison cannot see, by the warnings that say so: SQLAlchemy does not
#: reflect expression-based indexes from SQLite, so there Alembic skips the unique index
#: on ``lower(email)`` (tests/app/test_migrations.py checks it another way).
UNCOMPARED_ON_SQLITE = "expression-based index"


def drift() -> list[t.Any]:
    """What ``flask db migrate`` would change to make the database match the models.

    Alembic's autogenerate comparison; empty when they match.
    """
    options = {k: v for k, v in MIGRATION_OPTIONS.items() if k != "render_as_batch"}
    with db.engine.connect() as connection, warnings.catch_warnings():
        if connection.dialect.name == "sqlite":
            warnings.filterwarnings("ignore", message=f".*{UNCOMPARED_ON_SQLITE}")
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, db.metadata))


def upgrade_database() -> str:
    """Bring the app's database to the newest revision; return what was done, for people.

    A database whose tables ``db.create_all()`` made (``init-db`` did before there were
    migrations) has no revision: when it matches the models, it is marked as being at
    the newest one; otherwise this refuses, rather than fail half-way through the first
    revision.
    """
    with db.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE not in tables and tables & set(db.metadata.tables):
        differences = drift()
        if differences:
            raise RuntimeError(
                "The database has tables but no migration revision, and they differ from "
                f"the models ({len(differences)} differences, first {differences[0]!r}). "
                "Bring them in line by hand, then run 'flask --app sample_app db stamp head' "
                "and 'init-db' again; or start from an empty database."
            )
        flask_migrate.stamp(revision="head")
        return "The existing tables match the models: marked them as at the newest revision."
    flask_migrate.upgrade(revision="head")
    return "The database is at the newest revision."
