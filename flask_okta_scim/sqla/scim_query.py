"""SCIM filter trees (:mod:`flask_okta_scim.scim.filters`) as SQLAlchemy expressions.

What an attribute *is* (its type, whether it is case-exact) is a SCIM fact and
lives in :mod:`flask_okta_scim.scim.attributes`; this module only says where
each canonical attribute is stored: a column, a JSON path, a row of another
table (a user's ``emails``), or (for a group's members) a subquery. No SQL text
is ever built from the filter, and nothing is filtered in Python after loading.

Case-insensitive attributes are compared through keys folded in Python
(:func:`~flask_okta_scim.core.text.fold`), never SQL ``lower()``, which is
ASCII-only on SQLite and locale-bound on PostgreSQL. ``userName eq`` compares
the indexed ``user_name_key`` column, so the lookup Okta makes before every
create stays one index probe; ``displayName eq`` of groups (Okta's lookup before
a push) the indexed ``name_key``.
"""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

from sqlalchemy import ColumnElement
from sqlalchemy import Integer
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..core.text import fold
from ..scim.attributes import GROUP_FILTERS
from ..scim.attributes import USER_FILTERS
from ..scim.constants import ENTERPRISE_USER
from ..scim.errors import InvalidFilter
from ..scim.filters import And
from ..scim.filters import Attribute
from ..scim.filters import AttributeMap
from ..scim.filters import Compare
from ..scim.filters import Node
from ..scim.filters import Not
from ..scim.filters import Or
from ..scim.filters import ValuePath
from ._sql import among
from ._sql import unindexed
from .models import Models


@dataclass(frozen=True)
class Lowered:
    """A column or JSON path that holds the folded value (compared as is, index intact)."""

    column: t.Any


@dataclass(frozen=True)
class Elements:
    """A multi-valued attribute kept as rows of ``table``, one per element.

    ``link`` ties a row to the resource being filtered; the sub-attributes
    (``emails.type``) are stored in ``table``'s columns.
    """

    table: t.Any
    link: Callable[[], ColumnElement[bool]]


@dataclass(frozen=True)
class Condition:
    """An attribute that is no column: ``build`` makes the whole condition for a comparison."""

    build: Callable[[Compare], ColumnElement[bool]]


#: Where a canonical attribute is stored: a column, a :class:`Lowered` column, or a
#: :class:`Condition`.
Storage = t.Any


def _json_text(models: Models, *path: str) -> t.Any:
    return models.identity.attributes[path].as_string()


def _folded(models: Models, name: str) -> Lowered:
    return Lowered(models.identity.folded[name].as_string())


@functools.cache
def user_storage(models: Models) -> dict[str, Storage]:
    """Where each filterable User attribute is stored, by canonical name.

    Built once per set of models (the expressions are immutable and reused by
    every query); do not change the returned dict.
    """
    ident, email = models.identity, models.identity_email
    e = ENTERPRISE_USER
    folded = (
        "displayName",
        "nickName",
        "title",
        "userType",
        "locale",
        "preferredLanguage",
        "name.givenName",
        "name.familyName",
        "name.formatted",
        *(
            f"{e}:{name}"
            for name in ("employeeNumber", "costCenter", "organization", "division", "department")
        ),
    )
    return {
        "id": ident.id,
        "userName": Lowered(ident.user_name_key),
        "externalId": ident.external_id,
        **{name: _folded(models, name) for name in folded},
        "emails": Elements(email, lambda: email.identity_id == ident.id),
        "emails.value": Lowered(email.value_key),
        "emails.type": Lowered(email.type_key),
        "emails.primary": email.primary,
        "active": ident.active,
        "meta.created": ident.created_at,
        "meta.lastModified": ident.updated_at,
        f"{e}:manager.value": _json_text(models, e, "manager", "value"),
    }


@functools.cache
def group_storage(models: Models) -> dict[str, Storage]:
    """Where each filterable Group attribute is stored (a group joined to its team).

    Built once per set of models; do not change the returned dict.
    """
    group = models.group

    def members(node: Compare) -> ColumnElement[bool]:
        """Okta's member list for a managed group; the team's provisioned people otherwise."""
        if node.op not in ("eq", "pr"):
            raise InvalidFilter("members may only be filtered with eq or pr.")
        gm, ident, tm = models.group_member, models.identity, models.team_member
        listed = (
            select(gm.group_id)
            .join(ident, ident.id == gm.identity_id)
            .where(gm.group_id == group.id, ident.deleted_at.is_(None))
        )
        in_team = (
            select(tm.team_id)
            .join(ident, ident.account_id == tm.account_id)
            .where(
                tm.team_id == group.team_id,
                ident.organization_id == group.organization_id,
                ident.deleted_at.is_(None),
            )
        )
        if node.op == "eq":
            listed = listed.where(ident.id == node.value)
            in_team = in_team.where(ident.id == node.value)
        return or_(
            and_(group.managed.is_(True), exists(listed)),
            and_(group.managed.is_(False), exists(in_team)),
        )

    return {
        "id": group.id,
        "displayName": Lowered(group.name_key),
        "externalId": group.external_id,
        "members.value": Condition(members),
        "meta.created": group.created_at,
        "meta.lastModified": group.updated_at,
    }


def user_name_key(node: Node | None) -> str | None:
    """The folded key of a ``userName eq "..."`` filter (Okta's lookup), else ``None``."""
    if (
        isinstance(node, Compare)
        and node.attribute == "userName"
        and node.op == "eq"
        and isinstance(node.value, str)
    ):
        return fold(node.value)
    return None


@functools.cache
def user_name_lookup(models: Models) -> t.Any:
    """The prepared ``userName eq`` page: parameters ``org``, ``key``, ``skip``, ``n``.

    Built once per set of models: SQLAlchemy then reuses its compiled form and
    cache key, where a statement built per request costs more Python than the
    query costs the database. Same rows, order and paging as the general path.
    """
    ident = models.identity
    return (
        select(ident)
        .where(
            ident.organization_id == bindparam("org"),
            ident.deleted_at.is_(None),
            ident.user_name_key == bindparam("key"),
        )
        .order_by(ident.created_at, ident.id)
        .offset(bindparam("skip"))
        .limit(bindparam("n"))
    )


@functools.cache
def user_name_count(models: Models) -> t.Any:
    """COUNT of the ``userName eq`` filter: parameters ``org``, ``key``."""
    ident = models.identity
    return (
        select(func.count())
        .select_from(ident)
        .where(
            ident.organization_id == bindparam("org"),
            ident.deleted_at.is_(None),
            ident.user_name_key == bindparam("key"),
        )
    )


def page_of_users(models: Models, *conditions: ColumnElement[bool]) -> t.Any:
    """A page of the users a list shows, in list order (creation, then id): parameters
    ``org``, ``skip``, ``n``; ``conditions`` (a filter) narrow it.

    A deferred join: the page's ``n`` ids are picked first, ``skip`` rows past the
    start, from the index in list order (``ix_*_identity_org_created``, partial on the
    people not deleted: on PostgreSQL an index-only scan), then only those ``n`` rows
    are read whole. A deep page then walks index entries, not the rows it skips.
    """
    ident = models.identity
    ids = (
        select(ident.id)
        .where(ident.organization_id == bindparam("org"), ident.deleted_at.is_(None), *conditions)
        .order_by(ident.created_at, ident.id)
        .offset(bindparam("skip"))
        .limit(bindparam("n"))
        .subquery("page")
    )
    return select(ident).join(ids, ids.c.id == ident.id).order_by(ident.created_at, ident.id)


def count_of_users(models: Models, *conditions: ColumnElement[bool]) -> t.Any:
    """``totalResults`` of :func:`page_of_users`: parameter ``org``."""
    ident = models.identity
    return (
        select(func.count())
        .select_from(ident)
        .where(ident.organization_id == bindparam("org"), ident.deleted_at.is_(None), *conditions)
    )


@functools.cache
def user_page(models: Models) -> t.Any:
    """:func:`page_of_users` without a filter (Okta's import, Entra's listing), built once."""
    return page_of_users(models)


@functools.cache
def user_count(models: Models) -> t.Any:
    """:func:`count_of_users` without a filter, built once."""
    return count_of_users(models)


#: Rows a streamed list of members holds at a time (``yield_per``).
MEMBER_BATCH = 1000


@functools.cache
def group_member_ids(models: Models) -> t.Any:
    """The SCIM ids of an Okta-managed group's members (deleted people aside), in list
    order: parameter ``group``. Streamed, :data:`MEMBER_BATCH` rows at a time."""
    gm, ident = models.group_member, models.identity
    return (
        select(ident.id)
        .join(gm, gm.identity_id == ident.id)
        .where(gm.group_id == bindparam("group"), ident.deleted_at.is_(None))
        .order_by(ident.created_at, ident.id)
        .execution_options(yield_per=MEMBER_BATCH)
    )


@functools.cache
def team_member_ids(models: Models) -> t.Any:
    """The SCIM ids of a team's members provisioned in its organization, in list order:
    parameters ``team``, ``org``. Streamed, :data:`MEMBER_BATCH` rows at a time."""
    tm, ident = models.team_member, models.identity
    return (
        select(ident.id)
        .join(tm, tm.account_id == ident.account_id)
        .where(
            tm.team_id == bindparam("team"),
            ident.organization_id == bindparam("org"),
            ident.deleted_at.is_(None),
        )
        .order_by(ident.created_at, ident.id)
        .execution_options(yield_per=MEMBER_BATCH)
    )


@functools.cache
def member_rows(models: Models, dialect: str) -> t.Any:
    """The users a group change names, locked in id order: parameters ``org``, ``ids`` (a list).

    Rows of ``id``, ``active`` and ``account_id`` (all a member change needs), never
    ORM objects; deleted users are not found. Built once per models and database kind
    (the list is an array parameter on PostgreSQL: :func:`~._sql.among`).
    """
    ident = models.identity
    return (
        select(ident.id, ident.active, ident.account_id)
        .where(
            unindexed(ident.organization_id) == bindparam("org"),
            among(ident.id, "ids", dialect),
            ident.deleted_at.is_(None),
        )
        .order_by(ident.id)
        .with_for_update()
    )


def user_condition(node: Node, models: Models) -> ColumnElement[bool]:
    """The WHERE clause for a User filter (the caller adds the organization)."""
    return _Translator(USER_FILTERS, user_storage(models)).build(node)


def group_condition(node: Node, models: Models) -> ColumnElement[bool]:
    """The WHERE clause for a Group filter over ``group`` joined to ``team``."""
    return _Translator(GROUP_FILTERS, group_storage(models)).build(node)


class _Translator:
    def __init__(self, attributes: AttributeMap, storage: dict[str, Storage]) -> None:
        self.attributes = attributes
        self.storage = storage

    def build(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(self.build(node.left), self.build(node.right))
        if isinstance(node, Or):
            return or_(self.build(node.left), self.build(node.right))
        if isinstance(node, Not):
            # SQL's NOT of NULL is NULL; a filter on a missing value is false, so "not" is true.
            return not_(func.coalesce(self.build(node.expr), false()))
        if isinstance(node, ValuePath):
            elements = self.storage.get(node.attribute)
            if not isinstance(elements, Elements):
                raise InvalidFilter(f"Filtering on {node.attribute!r} is not supported.")
            return exists(
                select(literal(1))
                .select_from(elements.table)
                .where(elements.link(), self.build(node.filter))
            )
        attribute: Attribute | None = self.attributes.get(node.attribute.lower())
        stored = self.storage.get(node.attribute)
        if attribute is None or stored is None:
            raise InvalidFilter(f"Filtering on {node.attribute!r} is not supported.")
        if isinstance(stored, Lowered):
            column, lowered = stored.column, True
        elif isinstance(stored, Condition):
            return stored.build(node)
        elif attribute.case_exact or attribute.type != "string":
            column, lowered = stored, False
        else:  # a case-insensitive string needs a folded key (see the module's docstring)
            raise InvalidFilter(f"Filtering on {node.attribute!r} is not supported.")
        return _compare(column, attribute.type, lowered, node)


def _compare(column: t.Any, kind: str, lowered: bool, node: Compare) -> ColumnElement[bool]:
    op, value = node.op, node.value
    if op == "pr":
        if kind == "string":
            return and_(column.is_not(None), column != "")
        return t.cast(ColumnElement[bool], column.is_not(None))
    if value is None:
        return t.cast(ColumnElement[bool], column.is_(None) if op == "eq" else column.is_not(None))
    if kind == "boolean":
        return t.cast(ColumnElement[bool], column == value if op == "eq" else column != value)
    operand: t.Any = value
    if kind == "dateTime":
        operand = _datetime(value, node.attribute)
        if op in ("co", "sw", "ew"):
            raise InvalidFilter(f"{node.attribute} cannot be compared with {op}.")
    elif lowered and isinstance(value, str):
        operand = fold(value)
    value = operand
    if op == "eq":
        return t.cast(ColumnElement[bool], column == value)
    if op == "ne":
        return or_(column != value, column.is_(None))
    if op in ("co", "sw", "ew") and not lowered and isinstance(value, str):
        return _exact_substring(column, op, value)
    if op == "co":
        return t.cast(ColumnElement[bool], column.contains(value, autoescape=True))
    if op == "sw":
        return t.cast(ColumnElement[bool], column.startswith(value, autoescape=True))
    if op == "ew":
        return t.cast(ColumnElement[bool], column.endswith(value, autoescape=True))
    return t.cast(
        ColumnElement[bool],
        {"gt": column > value, "ge": column >= value, "lt": column < value, "le": column <= value}[
            op
        ],
    )


class _position(FunctionElement[int]):
    """1-based position of a substring, 0 if absent: ``strpos`` (PostgreSQL), ``instr`` (SQLite)."""

    type = Integer()
    inherit_cache = True


@compiles(_position)
def _position_default(element: t.Any, compiler: t.Any, **kw: t.Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(_position, "sqlite")
def _position_sqlite(element: t.Any, compiler: t.Any, **kw: t.Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


def _exact_substring(column: t.Any, op: str, value: str) -> ColumnElement[bool]:
    """co/sw/ew on a case-exact attribute: LIKE ignores case on SQLite, so do not use it."""
    if op == "co":
        return _position(column, value) > 0
    if op == "sw":
        return func.substr(column, 1, len(value)) == value
    return and_(
        func.length(column) >= len(value),
        func.substr(column, func.length(column) - len(value) + 1) == value,
    )


def _datetime(value: t.Any, attribute: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        # SQLite stores UTC wall-clock strings: compare in UTC everywhere.
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise InvalidFilter(
            f"{attribute} must be compared with an RFC 3339 date-time within years 1-9999."
        ) from None
