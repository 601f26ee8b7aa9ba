"""Listing by query parameters or by ``POST .search`` (RFC 7644 §3.4.2, §3.4.3), as one query.

:class:`ListQuery` is what a list asks for, whichever way it was sent;
:func:`parse_search_request` reads it from a SearchRequest body, checking
types only. :func:`conditions_by_type` applies one filter to several resource
types at once, for a search from the root. Nothing here pages, loads or renders:
:class:`~flask_okta_scim.scim.service.ScimService` does that.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass

from ..core.errors import InvalidValue
from .constants import SEARCH_REQUEST
from .errors import InvalidFilter
from .errors import InvalidSyntax
from .filters import And
from .filters import Attribute
from .filters import AttributeMap
from .filters import Compare
from .filters import Node
from .filters import Not
from .filters import Or
from .filters import ValuePath
from .filters import parse_filter

#: What a filter asks of one resource type: a condition, ``True`` (all), ``False`` (none).
Condition = Node | bool


@dataclass(frozen=True)
class ListQuery:
    """The parameters of a list, as sent: not yet bounded (see ``page_bounds``) nor parsed."""

    filter: str | None = None
    start_index: int = 1
    count: int | None = None
    attributes: list[str] | None = None
    excluded_attributes: list[str] | None = None


def parse_search_request(body: t.Any) -> ListQuery:
    """The :class:`ListQuery` of a SearchRequest body (RFC 7644 §3.4.3).

    Member names are case-insensitive (RFC 7643 §2.1); ``null`` is absent.
    Raises :class:`InvalidSyntax` for a body that is not an object or whose
    ``schemas`` does not list the SearchRequest URN, and
    :class:`~flask_okta_scim.core.errors.InvalidValue` for a member of the
    wrong JSON type: ``attributes`` and ``excludedAttributes`` must be lists of
    strings, ``filter``, ``sortBy`` and ``sortOrder`` strings, ``startIndex``
    and ``count`` integers. Does not parse the filter (the caller does, per
    resource type) and does not bound ``startIndex`` or ``count`` (out-of-range
    values mean what they mean in a query string). ``sortBy`` and ``sortOrder``
    are checked, then ignored, as on ``GET``: sorting is not supported.
    Other members are ignored.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("A search body must be a JSON object (a SearchRequest).")
    fields = {str(k).lower(): v for k, v in body.items() if v is not None}
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or SEARCH_REQUEST not in schemas:
        raise InvalidSyntax(f"A search body must have schemas [{SEARCH_REQUEST!r}].")
    for name in ("sortBy", "sortOrder"):
        _typed(fields, name, str, "a string")
    start = _typed(fields, "startIndex", int, "an integer")
    return ListQuery(
        filter=_typed(fields, "filter", str, "a string"),
        start_index=1 if start is None else start,
        count=_typed(fields, "count", int, "an integer"),
        attributes=_names(fields, "attributes"),
        excluded_attributes=_names(fields, "excludedAttributes"),
    )


T = t.TypeVar("T")


def _typed(fields: dict[str, t.Any], name: str, kind: type[T], what: str) -> T | None:
    value = fields.get(name.lower())
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):  # true is no integer here
        raise InvalidValue(f"{name} must be {what}.")
    return value


def _names(fields: dict[str, t.Any], name: str) -> list[str] | None:
    value = fields.get(name.lower())
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidValue(f"{name} must be a list of attribute names (strings).")
    return [v.strip() for v in value if v.strip()] or None


def conditions_by_type(text: str, types: Mapping[str, AttributeMap]) -> dict[str, Condition]:
    """What the filter ``text`` asks of each resource type, for a search across types.

    The filter is applied to each type on its own (RFC 7644 §3.4.3). A
    comparison naming an attribute that a type does not have is false for that
    type, as for an attribute without a value (so ``not`` of it is true), and the
    rest of the filter is simplified around it: ``userName eq "x"`` finds no
    groups, ``userName eq "x" or displayName eq "y"`` finds users by either and
    groups by ``displayName``. A type for which the filter is always false gets
    ``False`` (not queried at all), always true gets ``True`` (no condition).

    Raises :class:`InvalidFilter` for what ``GET`` would refuse for every
    type: bad syntax, an attribute that no type has, and also a comparison
    that does not fit the type of an attribute that some type has.
    """
    recorders = {name: _Recording(attributes) for name, attributes in types.items()}
    trees = {name: parse_filter(text, recorder) for name, recorder in recorders.items()}
    unknown_to_all = set.intersection(*(r.unknown for r in recorders.values()))
    if unknown_to_all:
        raise InvalidFilter(f"Filtering on {sorted(unknown_to_all)[0]!r} is not supported.")
    return {name: _decide(tree) for name, tree in trees.items()}


#: Marks the names a type does not have; no filter contains NUL (``parse_filter`` refuses it).
_UNKNOWN = "\x00"


class _Recording(Mapping[str, Attribute]):
    """One type's attribute map that resolves any other name to a placeholder, and notes it."""

    def __init__(self, known: AttributeMap) -> None:
        self.known = known
        self.unknown: set[str] = set()

    def __getitem__(self, key: str) -> Attribute:
        found = self.known.get(key)
        if found is None:
            self.unknown.add(key)
            return Attribute(_UNKNOWN + key, "any")
        return found

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


def _decide(node: Node) -> Condition:
    """``node`` with every comparison on a placeholder replaced by false, simplified."""
    if isinstance(node, Compare):
        return False if node.attribute.startswith(_UNKNOWN) else node
    if isinstance(node, Not):
        inner = _decide(node.expr)
        return (not inner) if isinstance(inner, bool) else Not(inner)
    if isinstance(node, ValuePath):
        inner = _decide(node.filter)
        return inner if isinstance(inner, bool) else ValuePath(node.attribute, inner)
    left, right = _decide(node.left), _decide(node.right)
    absorbing = isinstance(node, Or)  # true absorbs an "or", false an "and"
    if left is absorbing or right is absorbing:
        return absorbing
    if isinstance(left, bool):
        return right
    if isinstance(right, bool):
        return left
    return Or(left, right) if absorbing else And(left, right)
