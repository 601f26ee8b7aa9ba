"""SCIM filter trees (:mod:`flask_okta_scim.scim.filters`) as SQLAlchemy expressions.

What an attribute *is* (its type, whether it is case-exact) is a SCIM fact and
lives in :mod:`flask_okta_scim.scim.attributes`; this module only says where
each canonical attribute is stored: a column, a JSON path, or (for a group's
members) a subquery. No SQL text is ever built from the filter, and nothing is
filtered in Python after loading. ``userName eq`` compares the indexed
lower-cased ``user_name_key`` column, so the lookup Okta makes before every
create stays one index probe.
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
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

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
from .models import Models


@dataclass(frozen=True)
class Lowered:
    """A column that already holds the lower-cased value (compared as is, index intact)."""

    column: t.Any


@dataclass(frozen=True)
class Condition:
    """An attribute that is no column: ``build`` makes the whole condition for a comparison."""

    build: Callable[[Compare], ColumnElement[bool]]


#: Where a canonical attribute is stored: a column, a :class:`Lowered` column, or a
#: :class:`Condition`.
Storage = t.Any


def _json_text(models: Models, *path: str) -> t.Any:
    return models.identity.attributes[path].as_string()


@functools.cache
def user_storage(models: Models) -> dict[str, Storage]:
    """Where each filterable User attribute is stored, by canonical name.

    Built once per set of models (the expressions are immutable and reused by
    every query); do not change the returned dict.
    """
    ident = models.identity
    e = ENTERPRISE_USER
    return {
        "id": ident.id,
        "userName": Lowered(ident.user_name_key),
        "externalId": ident.external_id,
        "displayName": ident.display_name,
        "emails.value": Lowered(ident.primary_email_key),
        "active": ident.active,
        "meta.created": ident.created_at,
        "meta.lastModified": ident.updated_at,
        "nickName": _json_text(models, "nickName"),
        "title": _json_text(models, "title"),
        "userType": _json_text(models, "userType"),
        "locale": _json_text(models, "locale"),
        "preferredLanguage": _json_text(models, "preferredLanguage"),
        "name.givenName": _json_text(models, "name", "givenName"),
        "name.familyName": _json_text(models, "name", "familyName"),
        "name.formatted": _json_text(models, "name", "formatted"),
        **{
            f"{e}:{name}": _json_text(models, e, name)
            for name in ("employeeNumber", "costCenter", "organization", "division", "department")
        },
        f"{e}:manager.value": _json_text(models, e, "manager", "value"),
    }


@functools.cache
def group_storage(models: Models) -> dict[str, Storage]:
    """Where each filterable Group attribute is stored (a group joined to its team).

    Built once per set of models; do not change the returned dict.
    """
    group, team = models.group, models.team

    def members(node: Compare) -> ColumnElement[bool]:
        if node.op not in ("eq", "pr"):
            raise InvalidFilter("members may only be filtered with eq or pr.")
        gm, ident = models.group_member, models.identity
        member = (
            select(gm.group_id)
            .join(ident, ident.id == gm.identity_id)
            .where(gm.group_id == group.id, ident.deleted_at.is_(None))
        )
        if node.op == "eq":
            member = member.where(ident.id == node.value)
        return exists(member)

    return {
        "id": group.id,
        "displayName": team.name,
        "externalId": group.external_id,
        "members.value": Condition(members),
        "meta.created": group.created_at,
        "meta.lastModified": group.updated_at,
    }


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
        else:
            column, lowered = func.lower(stored), True
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
        operand = value.lower()
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
