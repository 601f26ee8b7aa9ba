"""Alembic's environment for the legacy host's migrations, run by Flask-Migrate.

``flask --app tests.legacy_host.app db upgrade`` runs it inside the app: the
database is the app's ``SQLALCHEMY_DATABASE_URI`` and the target of ``flask db migrate``
is ``db.metadata``, which holds the host's tables and the extension's (defined on the
same ``db.Model`` by :class:`~flask_okta_scim.OktaSCIM`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from logging.config import fileConfig

from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from flask import current_app

config = context.config
# `flask db ...` logs what it runs; a process that set up its own logging (a test run,
# a host calling upgrade()) keeps it.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

migrate = current_app.extensions["migrate"]
db = migrate.db
#: The options of tests.legacy_host.app.migrate (batch operations, what to compare).
options = migrate.configure_args


def run_migrations_offline() -> None:
    """Write the SQL to standard output (``flask db upgrade --sql``)."""
    context.configure(
        url=db.engine.url,
        target_metadata=db.metadata,
        literal_binds=True,
        **options,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the app's database."""
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch operation copies the table and drops the old one: with foreign keys
            # on (the host turns them on), the drop would cascade into the tables that
            # reference it. The pragma has no effect inside a transaction, hence the commit.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=db.metadata,
                process_revision_directives=_no_empty_revision,
                **options,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _no_empty_revision(
    context: MigrationContext,
    revision: str | Iterable[str | None] | Iterable[str],
    directives: list[MigrationScript],
) -> None:
    """``flask db migrate`` writes no revision when it finds no change."""
    if getattr(config.cmd_opts, "autogenerate", False):
        upgrade_ops = directives[0].upgrade_ops
        if upgrade_ops is None or upgrade_ops.is_empty():
            directives[:] = []
            logging.getLogger("alembic.env").info("No changes in schema detected.")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
