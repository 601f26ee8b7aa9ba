"""SCIM filters (RFC 7644 §3.4.2.2): parsed by scim2-filter-parser into a small, typed tree.

:func:`parse_filter` checks every attribute against the caller's attribute map
and every operator against what that attribute supports, so that whatever
reaches the persistence layer is known to be translatable. The translation to
SQL lives in :mod:`flask_okta_scim.sqla.scim_query`; nothing here evaluates a
filter against data, except :func:`matches` for PATCH value paths, which works
on one resource's own attribute values (RFC 7644 §3.5.2), not on query results.
"""

from __future__ import annotations

import re
import typing as t
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from .errors import InvalidFilter

#: Comparison operators of RFC 7644 §3.4.2.2, plus ``pr`` (present).
OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "pr")
#: Operators that make sense on booleans.
BOOLEAN_OPERATORS = ("eq", "ne", "pr")

MAX_FILTER_LENGTH = 4096

Value = str | bool | int | None


@dataclass(frozen=True)
class Compare:
    """``attribute op value``: ``attribute`` is the canonical name from the attribute map."""

    attribute: str
    op: str
    value: Value = None


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    expr: Node


@dataclass(frozen=True)
class ValuePath:
    """``filter`` holds for one element of the multi-valued ``attribute`` (``emails``).

    ``emails[type eq "work"].value eq "x"`` is ``ValuePath("emails", type eq
    "work" and value eq "x")``: both about the same address. A plain
    ``emails.value eq "x"`` is a ``ValuePath`` too: some address is ``x``.
    """

    attribute: str
    filter: Node


Node = Compare | And | Or | Not | ValuePath


@dataclass(frozen=True)
class Attribute:
    """What a filterable attribute is: its canonical name, its type, its case rules."""

    name: str
    type: str = "string"  # "string", "boolean", "dateTime", "reference"
    case_exact: bool = False
    #: For a sub-attribute of a multi-valued attribute (``emails.type``): ``"emails"``.
    parent: str | None = None


AttributeMap = Mapping[str, Attribute]


class AnyAttribute(Mapping[str, Attribute]):
    """An attribute map that accepts every name with any value type.

    For the value filters of PATCH paths (``emails[type eq "work"]``), which
    :func:`matches` evaluates against one resource's own values.
    """

    def __getitem__(self, key: str) -> Attribute:
        return Attribute(name=key, type="any")

    def __iter__(self) -> t.Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def attribute_map(
    *attributes: Attribute,
    aliases: Mapping[str, str] | None = None,
    core_schema: str | None = None,
) -> dict[str, Attribute]:
    """Index ``attributes`` by lower-cased name (names are case-insensitive, RFC 7643 §2.1).

    ``aliases`` maps other spellings (``emails`` for ``emails.value``) to canonical names;
    with ``core_schema``, every name may also be written with that URN as prefix.
    """
    index = {a.name.lower(): a for a in attributes}
    for alias, target in (aliases or {}).items():
        index[alias.lower()] = index[target.lower()]
    if core_schema:  # "urn:...:core:2.0:User:displayName" is displayName (RFC 7644 §3.10)
        for name, attribute in list(index.items()):
            if not name.startswith("urn:"):
                index[f"{core_schema.lower()}:{name}"] = attribute
    return index


_VALUE_TOKENS = {"FALSE": False, "TRUE": True, "NULL": None}


def parse_filter(text: str, attributes: AttributeMap) -> Node:
    """Parse ``text`` into a :data:`Node`; raise :class:`InvalidFilter` if we cannot apply it.

    Refused: syntax errors, attributes not in ``attributes``, operators the
    attribute's type does not support, value types that do not fit. Does not
    touch a database.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidFilter("The filter is empty.")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    _check_complexity(text)
    simple = _simple_equality(text, attributes)
    return simple if simple is not None else _parsed(text, attributes)


def _parsed(text: str, attributes: AttributeMap) -> Node:
    """:func:`parse_filter` by scim2-filter-parser's lexer and parser (length checked)."""
    try:
        tokens = list(SCIMLexer().tokenize(text))
        tree = SCIMParser().parse(iter(tokens))
    except Exception:  # the library raises ValueError, its own errors, or worse
        raise InvalidFilter(f"The filter {text!r} is not valid SCIM filter syntax.") from None
    if tree is None:
        raise InvalidFilter(f"The filter {text!r} is not valid SCIM filter syntax.")
    values: deque[Value] = deque()
    for token in tokens:
        if token.type in _VALUE_TOKENS:
            values.append(_VALUE_TOKENS[token.type])
        elif token.type == "NUMBER":
            values.append(int(token.value))
        elif token.type == "COMP_VALUE":
            values.append(str(token.value))
    return _Converter(attributes, values).node(tree)


#: ``attribute eq "value"`` with a plain attribute name and a value without quotes or
#: backslashes: the form of Okta's lookups before every create and update.
_SIMPLE_EQ = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s+eq\s+"([^"\\]*)"\s*', re.IGNORECASE)


def _simple_equality(text: str, attributes: AttributeMap) -> Compare | None:
    """The :class:`Compare` of a simple string equality, without running the parser.

    The same node the parser's path makes (one look-up in ``attributes``, a
    top-level string attribute): ``None`` for anything else, which the
    parser then reads. Saves the lexer and parser on every Okta lookup.
    """
    found = _SIMPLE_EQ.fullmatch(text)
    if found is None:
        return None
    attribute = attributes.get(found.group(1).lower())
    if attribute is None or attribute.type != "string" or attribute.parent is not None:
        return None
    return Compare(attribute.name, "eq", found.group(2))


#: Parentheses and brackets may nest this deep; more is refused (and would exhaust parsers).
MAX_NESTING = 16
#: A filter may compare this many times at most.
MAX_COMPARISONS = 64


def _check_complexity(text: str) -> None:
    if "\x00" in text:
        raise InvalidFilter("The filter contains a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidFilter("The filter is not valid Unicode.") from None
    depth = deepest = 0
    for char in text:
        if char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    if deepest > MAX_NESTING:
        raise InvalidFilter(f"The filter nests deeper than {MAX_NESTING} levels.")
    comparisons = sum(
        1 for word in text.replace("(", " ").replace(")", " ").split() if word.lower() in OPERATORS
    )
    if comparisons > MAX_COMPARISONS:
        raise InvalidFilter(f"The filter has more than {MAX_COMPARISONS} comparisons.")


class _Converter:
    def __init__(self, attributes: AttributeMap, values: deque[Value]) -> None:
        self.attributes = attributes
        self.values = values
        #: Inside a value filter of a multi-valued attribute: no ValuePath of its own.
        self.within = False
        #: The multi-valued attributes the map has sub-attributes of, by lower-cased name.
        self.parents = {a.parent.lower(): a.parent for a in attributes.values() if a.parent}

    def node(self, tree: t.Any, namespace: str | None = None) -> Node:
        if isinstance(tree, ast.Filter):
            if tree.namespace is not None:
                if self.within:
                    raise InvalidFilter("Nested value filters are not supported.")
                inner_namespace = self.path(tree.namespace)
                parent = self.multi_valued(inner_namespace)
                if parent is None:
                    result = self.node(tree.expr, inner_namespace)
                else:
                    result = ValuePath(parent, self.inside(tree.expr, inner_namespace))
            else:
                result = self.node(tree.expr, namespace)
            return Not(result) if tree.negated else result
        if isinstance(tree, ast.LogExpr):
            # The library gives "and" and "or" the same precedence; RFC 7644
            # §3.4.2.2 says "and" binds tighter. Re-associate each chain written
            # without parentheses, operands converted left to right.
            operands, ops = _chain(tree)
            converted = [self.node(operand, namespace) for operand in operands]
            groups: list[Node] = [converted[0]]
            for op, operand in zip(ops, converted[1:], strict=True):
                if op == "and":
                    groups[-1] = And(groups[-1], operand)
                else:
                    groups.append(operand)
            result = groups[0]
            for group in groups[1:]:
                result = Or(result, group)
            return result
        if isinstance(tree, ast.AttrExpr):
            return self.compare(tree, namespace)
        raise InvalidFilter("The filter has a form this server does not support.")

    def multi_valued(self, name: str) -> str | None:
        """The canonical name of ``name`` if it is a multi-valued attribute we filter into.

        Looks only at the map's own attributes (never ``self.attributes[...]`` of
        a made-up name, which a recording map would note as asked for).
        """
        if self.within:
            return None
        return self.parents.get(name.lower())

    def inside(self, tree: t.Any, namespace: str) -> Node:
        """Convert the filter inside ``emails[...]``: its names are sub-attributes."""
        if self.within:
            raise InvalidFilter("Nested value filters are not supported.")
        self.within = True
        try:
            return self.node(tree, namespace)
        finally:
            self.within = False

    def path(self, attr_path: t.Any) -> str:
        name = attr_path.attr_name
        if not isinstance(name, str):
            raise InvalidFilter("Nested value filters are not supported.")
        if attr_path.uri:
            name = f"{attr_path.uri}:{name}"
        if attr_path.sub_attr is not None:
            name = f"{name}.{attr_path.sub_attr.value}"
        return name

    def compare(self, expr: t.Any, namespace: str | None) -> Node:
        op = str(expr.value).lower()
        attr_path = expr.attr_path
        selector: Node | None = None
        if isinstance(attr_path.attr_name, ast.Filter):
            # emails[type eq "work"].value eq "x": the selector and the comparison are
            # about one and the same address.
            value_filter = attr_path.attr_name
            name = self.path(value_filter.namespace)
            parent = self.multi_valued(name.split(".")[0])
            if parent is not None:
                selector = self.inside(value_filter.expr, parent)
            else:  # refused below, unless the map takes any name; its values are read still
                _Converter(AnyAttribute(), self.values).node(value_filter.expr, name)
        else:
            name = self.path(attr_path)
            if namespace is not None:
                name = f"{namespace.split('.')[0]}.{name}"
        attribute = self.attributes.get(name.lower())
        if attribute is None:
            raise InvalidFilter(f"Filtering on {name!r} is not supported.")
        value_filtered = isinstance(attr_path.attr_name, ast.Filter)
        if value_filtered and selector is None and attribute.type != "any":
            raise InvalidFilter(f"{name!r} cannot be filtered with a value filter.")
        result = self.comparison(attribute, op)
        if attribute.parent is None or self.within:
            return result
        return ValuePath(attribute.parent, result if selector is None else And(selector, result))

    def comparison(self, attribute: Attribute, op: str) -> Compare:
        if op not in OPERATORS:
            raise InvalidFilter(f"Unknown operator {op!r}.")
        if op == "pr":
            return Compare(attribute.name, op)
        value = self.values.popleft() if self.values else None
        if attribute.type == "any":
            pass
        elif attribute.type == "boolean":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"  # Entra sends string booleans
            if op not in BOOLEAN_OPERATORS or not isinstance(value, bool):
                raise InvalidFilter(f"{attribute.name} takes eq or ne with true or false.")
        elif value is not None and not isinstance(value, str):
            raise InvalidFilter(f"{attribute.name} must be compared with a string.")
        elif value is None and op not in ("eq", "ne"):
            raise InvalidFilter("null can only be compared with eq or ne.")
        return Compare(attribute.name, op, value)


def _chain(tree: t.Any) -> tuple[list[t.Any], list[str]]:
    """The operands and operators of a run of and/or written without parentheses.

    A parenthesised group is a Filter wrapping a Filter; an operand that is a
    Filter directly wrapping a LogExpr is part of the same run.
    """
    operands: list[t.Any] = []
    ops: list[str] = []
    for side in (tree.expr1, tree.expr2):
        if (
            isinstance(side, ast.Filter)
            and not side.negated
            and side.namespace is None
            and isinstance(side.expr, ast.LogExpr)
        ):
            inner_operands, inner_ops = _chain(side.expr)
        else:
            inner_operands, inner_ops = [side], []
        if operands:
            ops.append(str(tree.op).lower())
        operands += inner_operands
        ops += inner_ops
    return operands, ops


def matches(
    node: Node,
    item: Mapping[str, t.Any],
    lookup: t.Callable[[Mapping[str, t.Any], str], t.Any] | None = None,
) -> bool:
    """Whether one element of a multi-valued attribute (``{"value": ...}``) matches ``node``.

    Used for PATCH value paths (``emails[type eq "work"]``,
    ``members[value eq "..."]``): ``node``'s attribute names are looked up as
    the part after the last dot, case-insensitively: by ``lookup(item, name)``
    when given (PATCH passes an indexed one), else by scanning ``item``'s keys.
    String comparison is case-insensitive except for ``value`` of references.
    Evaluates the whole tree for every call: it does not cache across items.
    """
    if isinstance(node, And):
        return matches(node.left, item, lookup) and matches(node.right, item, lookup)
    if isinstance(node, Or):
        return matches(node.left, item, lookup) or matches(node.right, item, lookup)
    if isinstance(node, Not):
        return not matches(node.expr, item, lookup)
    if isinstance(node, ValuePath):  # never made for AnyAttribute, the map PATCH paths use
        return matches(node.filter, item, lookup)
    name = node.attribute.rpartition(".")[2]
    if lookup is not None:
        actual = lookup(item, name)
    else:
        key = name.lower()
        actual = next((v for k, v in item.items() if k.lower() == key), None)
    if node.op == "pr":
        return actual not in (None, "", [], {})
    expected = node.value
    if isinstance(actual, bool) or isinstance(expected, bool) or expected is None:
        equal = actual == expected
        return equal if node.op == "eq" else (not equal if node.op == "ne" else False)
    if not isinstance(actual, str) or not isinstance(expected, str):
        return False
    a, e = actual.lower(), expected.lower()
    return {
        "eq": a == e,
        "ne": a != e,
        "co": e in a,
        "sw": a.startswith(e),
        "ew": a.endswith(e),
        "gt": a > e,
        "ge": a >= e,
        "lt": a < e,
        "le": a <= e,
    }[node.op]
