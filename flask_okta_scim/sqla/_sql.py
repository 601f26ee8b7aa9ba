"""Set-based writes that stay correct under concurrent requests.

Membership changes are inserts and deletes of individual rows, never a
read-modify-write of a whole list: two Okta PATCHes adding different members to
one group at the same moment both land.
"""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Iterable
from collections.abc import Iterator

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import insert as insert_
from sqlalchemy import inspect as sa_inspect
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


def insert_ignore_one(
    session: Session, model: t.Any, row: dict[str, t.Any], returning: t.Any
) -> bool:
    """Insert one ``row`` unless it would break a unique key; return whether it was inserted.

    :func:`insert_ignore` for the single row of a hot path (a sign-in's replay
    cache): a Core statement on the model's table, built once per model, set
    of keys and database so that SQLAlchemy reuses its compiled form, run on
    the session's connection without the ORM's bulk machinery. It does not
    flush the session first. Does not commit.
    """
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return bool(insert_ignore(session, model, [row], returning))
    stmt = _insert_ignore_statement(model, tuple(sorted(row)), returning.key, dialect)
    return session.connection().execute(stmt, row).first() is not None


@functools.cache
def _insert_ignore_statement(
    model: t.Any, keys: tuple[str, ...], returning: str, dialect: str
) -> t.Any:
    insert: t.Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    mapper = sa_inspect(model)
    columns = {key: mapper.attrs[key].columns[0] for key in (*keys, returning)}
    return (
        insert(mapper.local_table)
        .values({columns[key].key: bindparam(key) for key in keys})
        .on_conflict_do_nothing()
        .returning(columns[returning])
    )


def delete_returning(
    session: Session, model: t.Any, where: list[t.Any], returning: t.Any
) -> list[t.Any]:
    """Delete the rows of ``model`` matching ``where``; return ``returning`` of the deleted rows.

    Does not commit.
    """
    stmt = delete(model).where(*where).returning(returning)
    return list(session.execute(stmt).scalars())
