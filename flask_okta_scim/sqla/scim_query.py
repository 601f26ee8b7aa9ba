"""SCIM filter trees (:mod:`flask_okta_scim.scim.filters`) as SQLAlchemy expressions.

Every attribute a filter may name maps to a column or a JSON path here; no SQL
text is ever built from the filter, and nothing is filtered in Python after
loading. ``userName eq`` compares the indexed lower-cased ``user_name_key``
column, so the lookup Okta makes before every create stays one index probe.
"""

from __future__ import annotations

import typing as t
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

from ..scim.constants import ENTERPRISE_USER
from ..scim.errors import InvalidFilter
from ..scim.filters import And
from ..scim.filters import Compare
from ..scim.filters import Node
from ..scim.filters import Not
from ..scim.filters import Or
from .models import Models

_JSON_PATHS = {
    "displayName": None,  # a column
    "nickName": ("nickName",),
    "title": ("title",),
    "userType": ("userType",),
    "locale": ("locale",),
    "preferredLanguage": ("preferredLanguage",),
    "name.givenName": ("name", "givenName"),
    "name.familyName": ("name", "familyName"),
    "name.formatted": ("name", "formatted"),
    **{
        f"{ENTERPRISE_USER}:{name}": (ENTERPRISE_USER, name)
        for name in ("employeeNumber", "costCenter", "organization", "division", "department")
    },
    f"{ENTERPRISE_USER}:manager.value": (ENTERPRISE_USER, "manager", "value"),
}


def user_condition(node: Node, models: Models) -> ColumnElement[bool]:
    """The WHERE clause for a User filter (the caller adds the organization)."""
    return _Translator(_user_operand, models).build(node)


def group_condition(node: Node, models: Models) -> ColumnElement[bool]:
    """The WHERE clause for a Group filter over ``group`` joined to ``team``."""
    return _Translator(_group_operand, models).build(node)


class _Translator:
    def __init__(
        self,
        operand: t.Callable[[Compare, Models], tuple[t.Any, str, bool] | ColumnElement[bool]],
        models: Models,
    ) -> None:
        self.operand = operand
        self.models = models

    def build(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(self.build(node.left), self.build(node.right))
        if isinstance(node, Or):
            return or_(self.build(node.left), self.build(node.right))
        if isinstance(node, Not):
            # SQL's NOT of NULL is NULL; a filter on a missing value is false, so "not" is true.
            return not_(func.coalesce(self.build(node.expr), false()))
        found = self.operand(node, self.models)
        if isinstance(found, ColumnElement):
            return found
        column, kind, lowered = found
        return _compare(column, kind, lowered, node)


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


def _user_operand(node: Compare, models: Models) -> tuple[t.Any, str, bool]:
    ident = models.identity
    name = node.attribute
    columns: dict[str, tuple[t.Any, str, bool]] = {
        "id": (ident.id, "string", False),
        "userName": (ident.user_name_key, "string", True),
        "externalId": (ident.external_id, "string", False),
        "displayName": (func.lower(ident.display_name), "string", True),
        "emails.value": (ident.primary_email_key, "string", True),
        "active": (ident.active, "boolean", False),
        "meta.created": (ident.created_at, "dateTime", False),
        "meta.lastModified": (ident.updated_at, "dateTime", False),
    }
    if name in columns:
        return columns[name]
    path = _JSON_PATHS.get(name)
    if path is None:
        raise InvalidFilter(f"Filtering on {name!r} is not supported.")
    text = ident.attributes[path].as_string()
    if name.endswith("manager.value"):
        return text, "string", False
    return func.lower(text), "string", True


def _group_operand(node: Compare, models: Models) -> tuple[t.Any, str, bool] | ColumnElement[bool]:
    group, team = models.group, models.team
    name = node.attribute
    if name == "members.value":
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
    columns: dict[str, tuple[t.Any, str, bool]] = {
        "id": (group.id, "string", False),
        "displayName": (func.lower(team.name), "string", True),
        "externalId": (group.external_id, "string", False),
        "meta.created": (group.created_at, "dateTime", False),
        "meta.lastModified": (group.updated_at, "dateTime", False),
    }
    if name not in columns:
        raise InvalidFilter(f"Filtering on {name!r} is not supported.")
    return columns[name]
