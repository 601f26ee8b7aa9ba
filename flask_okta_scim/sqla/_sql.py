"""Set-based writes that stay correct under concurrent requests.

Membership changes are inserts and deletes of individual rows, never a
read-modify-write of a whole list: two Okta PATCHes adding different members to
one group at the same moment both land.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable
from collections.abc import Iterator

from sqlalchemy import delete
from sqlalchemy import insert as insert_
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

#: Rows per statement: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


def chunks(values: Iterable[t.Any], size: int = CHUNK) -> Iterator[list[t.Any]]:
    """Yield ``values`` in lists of at most ``size`` items."""
    batch: list[t.Any] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_ignore(
    session: Session, model: t.Any, rows: list[dict[str, t.Any]], returning: t.Any
) -> list[t.Any]:
    """Insert ``rows``, skipping those that would break a unique key; return what was inserted.

    The result holds the ``returning`` column of each inserted row.

    Uses ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on PostgreSQL and
    SQLite; other databases get one savepoint per row. ``rows`` are keyed by
    the model's mapped attribute names, whatever its columns are called. Does
    not touch the ORM identity map and does not commit.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    inserted: list[t.Any] = []
    if dialect in ("postgresql", "sqlite"):
        insert: t.Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for batch in chunks(rows):
            stmt = insert(model).values(batch).on_conflict_do_nothing().returning(returning)
            inserted.extend(session.execute(stmt).scalars())
        return inserted
    for row in rows:
        try:
            with session.begin_nested():
                session.execute(insert_(model).values(row))
        except IntegrityError:
            continue
        inserted.append(row[returning.key])
    return inserted


def delete_returning(
    session: Session, model: t.Any, where: list[t.Any], returning: t.Any
) -> list[t.Any]:
    """Delete the rows of ``model`` matching ``where``; return ``returning`` of the deleted rows.

    Does not commit.
    """
    stmt = delete(model).where(*where).returning(returning)
    return list(session.execute(stmt).scalars())
