"""What ``flask db migrate`` would change: Alembic's autogenerate comparison, for the no-drift
tests of the sample app (tests/app/test_migrations.py) and of the legacy host
(tests/legacy_host/test_migrations.py)."""

from __future__ import annotations

import pprint
import typing as t
import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def differences(db: t.Any, options: dict[str, t.Any], email_index: str) -> list[t.Any]:
    """The comparison of the database with ``db.metadata``, with ``flask db migrate``'s options.

    On SQLite, the only warning allowed is the one about ``email_index`` (the
    ``lower(email)`` index SQLAlchemy cannot read back there); any other warning fails.
    """
    options = {k: v for k, v in options.items() if k != "render_as_batch"}
    with db.engine.connect() as connection, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        context = MigrationContext.configure(connection, opts=options)
        diff = list(compare_metadata(context, db.metadata))
        sqlite = connection.dialect.name == "sqlite"
    unexpected = [str(w.message) for w in caught if not (sqlite and email_index in str(w.message))]
    assert not unexpected, unexpected
    return diff


def assert_no_drift(db: t.Any, options: dict[str, t.Any], email_index: str) -> None:
    diff = differences(db, options, email_index)
    assert diff == [], "the models differ from the migrated database:\n" + pprint.pformat(diff)
