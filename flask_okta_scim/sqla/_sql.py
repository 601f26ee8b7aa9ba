"""Set-based writes that stay correct under concurrent requests.

Membership changes are inserts and deletes of individual rows, never a
read-modify-write of a whole list: two Okta PATCHes adding different members to
one group at the same moment both land.
"""

from __future__ import annotations

import functools
import json
import typing as t
from collections.abc import Iterable
from collections.abc import Iterator

from sqlalchemy import ColumnElement
from sqlalchemy import Text
from sqlalchemy import TypeDecorator
from sqlalchemy import any_
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert as insert_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

#: Ids per ``IN`` list: well under SQLite's (32,766 since 3.32) and PostgreSQL's (65,535)
#: limits on a statement's parameters, and above the member lists Okta and Entra send in
#: one request, so that a change of 1,000 people costs as many statements as one of 10.
CHUNK = 5000


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


class _JsonList(TypeDecorator[t.Any]):
    """A list bound as one JSON array parameter (SQLite's ``json_each`` reads it back), each
    item first processed as ``item_type`` binds it (a UUID as its text, say)."""

    impl = Text
    cache_ok = True

    def __init__(self, item_type: t.Any) -> None:
        super().__init__()
        self.item_type = item_type

    def process_bind_param(self, value: t.Any, dialect: t.Any) -> str:
        process = self.item_type.dialect_impl(dialect).bind_processor(dialect)
        return json.dumps(list(value) if process is None else [process(v) for v in value])


def _each(column: t.Any, values: t.Any, dialect: str) -> t.Any:
    """The values of a list parameter, one row each, typed as ``column``; ``None`` where the
    database has no such function (then an expanding ``IN`` or an executemany does).

    ``values`` is the list, or the name of the parameter the statement is run with. One
    parameter, however many values: PostgreSQL's ``unnest`` of an array, SQLite's
    ``json_each`` of a JSON array. Drivers then parse no placeholder per value, and
    SQLAlchemy processes none (psycopg parses each long statement's text anew: with a
    thousand placeholders, that costs more than the query).
    """
    key, value = (values, None) if isinstance(values, str) else (None, list(values))
    if dialect == "postgresql":
        return bindparam(key, value, postgresql.ARRAY(column.type))
    if dialect == "sqlite":
        param = bindparam(key, value, _JsonList(column.type))
        return func.json_each(param).table_valued("value").c.value
    return None


def among(column: t.Any, values: t.Any, dialect: str) -> ColumnElement[bool]:
    """``column IN values``: for a list of values, or the name of a parameter holding one.

    One parameter on PostgreSQL (``= ANY(:values)``) and SQLite (``IN (SELECT value
    FROM json_each(:values))``): see :func:`_each`. Elsewhere an expanding ``IN``.

    SQLite's planner, without ``ANALYZE`` statistics, prefers an equality on another
    indexed column (the organization) to a list of a thousand values, and then scans
    the organization: wrap that column in :class:`unindexed` in the same WHERE.
    """
    each = _each(column, values, dialect)
    if dialect == "postgresql":
        return t.cast(ColumnElement[bool], column == any_(each))
    if each is not None:
        return t.cast(ColumnElement[bool], column.in_(select(each)))
    if isinstance(values, str):
        return t.cast(ColumnElement[bool], column.in_(bindparam(values, expanding=True)))
    return t.cast(ColumnElement[bool], column.in_(values))


class unindexed(ColumnElement[t.Any]):
    """A column SQLite's planner does not use an index for (``+column``, SQLite's own
    way); the column as it is on other databases. See :func:`among`."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: t.Any) -> None:
        self.column = column
        self.type = column.type


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: t.Any, **kw: t.Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: t.Any, **kw: t.Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def insert_each_ignore(
    session: Session,
    model: t.Any,
    fixed: dict[str, t.Any],
    varying: t.Any,
    values: list[t.Any],
    returning: t.Any,
) -> list[t.Any]:
    """:func:`insert_ignore` of one row per value of the attribute ``varying``, the other
    attributes set as ``fixed`` (by mapped name): a group's or a team's new members.

    On PostgreSQL and SQLite, one statement however many rows: ``INSERT ... SELECT
    :fixed, value FROM <the values> ON CONFLICT DO NOTHING RETURNING``, the values one
    parameter (:func:`_each`), the columns' Python-side defaults computed once for all
    rows. Elsewhere, :func:`insert_ignore`.
    """
    if not values:
        return []
    dialect = session.get_bind().dialect.name
    column = varying.expression
    each = _each(column, values, dialect)
    if each is None:
        key = varying.key
        return insert_ignore(session, model, [{**fixed, key: v} for v in values], returning)
    columns = [getattr(model, name).expression for name in fixed]
    picked = [
        bindparam(f"fixed_{i}", value, type_=c.type)
        for i, (c, value) in enumerate(zip(columns, fixed.values(), strict=True))
    ]
    if dialect == "postgresql":
        each = func.unnest(each)
    insert: t.Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(model.__table__)
        # WHERE true: SQLite reads "SELECT ... FROM f(...) ON CONFLICT" as a join otherwise
        .from_select([*columns, column], select(*picked, each).where(true()))
        .on_conflict_do_nothing()
        .returning(returning.expression)
    )
    return list(session.execute(stmt).scalars())


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
        # One executemany: SQLAlchemy sends it as multi-row INSERTs of up to 1,000 rows
        # ("insertmanyvalues"), from one statement compiled once and cached.
        stmt = insert(model).on_conflict_do_nothing().returning(returning)
        return list(session.execute(stmt, rows).scalars())
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
