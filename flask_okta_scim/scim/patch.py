"""PATCH (RFC 7644 §3.5.2) with the forms Okta and Entra really send.

:func:`parse_patch` normalises a PatchOp body (operation names in any case,
Entra's string booleans are left to the resource readers). :func:`apply_patch`
applies the operations to a plain resource dict and returns a new one; the
caller then stores the result like a PUT. Group membership is not patched this
way: :func:`group_changes` turns a Group PatchOp into set operations, so that
concurrent PATCHes never overwrite each other's members.
"""

from __future__ import annotations

import copy
import re
import typing as t
from dataclasses import dataclass
from dataclasses import field

from ..core.errors import InvalidValue
from .constants import ENTERPRISE_USER
from .constants import GROUP
from .constants import PATCH_OP
from .constants import USER
from .errors import InvalidPath
from .errors import InvalidSyntax
from .errors import NoTarget
from .errors import TooMany
from .filters import And
from .filters import AnyAttribute
from .filters import Compare
from .filters import Node
from .filters import Or
from .filters import matches
from .filters import parse_filter
from .resources import MAX_EXTERNAL_ID
from .resources import MAX_GROUP_NAME
from .resources import READ_ONLY
from .resources import check_length
from .resources import member_values

MAX_OPERATIONS = 1000
#: Extension schemas whose URN may prefix a path.
KNOWN_EXTENSIONS = (ENTERPRISE_USER,)
_PATH = re.compile(
    r"^(?P<attr>[A-Za-z$][\w$-]*)(?:\[(?P<filter>.*)\])?(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$"
)


@dataclass(frozen=True)
class Path:
    """A parsed PATCH path: ``[urn:]attribute[filter][.sub]``."""

    urn: str | None
    attribute: str
    value_filter: Node | None = None
    sub: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Operation:
    op: str  # "add", "remove" or "replace"
    path: Path | None
    value: t.Any
    has_value: bool


def parse_path(text: t.Any, core_schema: str) -> Path:
    """Parse a PATCH ``path``; raise :class:`InvalidPath` for anything else."""
    if not isinstance(text, str) or not text.strip() or len(text) > 1024:
        raise InvalidPath("path must be a non-empty string.")
    raw = text.strip()
    urn = None
    for known in (core_schema, *KNOWN_EXTENSIONS):
        if raw.lower() == known.lower():
            return Path(urn=None, attribute=known, text=text)
        if raw.lower().startswith(known.lower() + ":"):
            urn, raw = known, raw[len(known) + 1 :]
            if urn == core_schema:
                urn = None
            break
    else:
        urn, raw = _split_unknown_urn(raw, text)
    match = _PATH.match(raw)
    if match is None:
        raise InvalidPath(f"Cannot read the path {text!r}.")
    value_filter = None
    if match["filter"] is not None:
        try:
            value_filter = parse_filter(match["filter"], AnyAttribute())
        except Exception:
            raise InvalidPath(f"Cannot read the filter in the path {text!r}.") from None
    return Path(urn, match["attr"], value_filter, match["sub"], text)


def _split_unknown_urn(raw: str, text: str) -> tuple[str | None, str]:
    """``urn:x:y:attr.sub`` -> (``urn:x:y``, ``attr.sub``) for extensions we do not know by name."""
    if not raw.lower().startswith("urn:"):
        return None, raw
    head, _, rest = raw.rpartition(":")
    if "[" in head or not rest:
        raise InvalidPath(f"Cannot read the path {text!r}.")
    return head, rest


def parse_patch(body: t.Any, core_schema: str) -> list[Operation]:
    """Read a PatchOp body. ``op`` is case-insensitive (Entra sends ``Replace``)."""
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or PATCH_OP not in schemas):
        raise InvalidSyntax(f"A PATCH body must have schemas [{PATCH_OP!r}].")
    ops = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(ops, list) or not ops:
        raise InvalidSyntax("A PATCH body needs a non-empty Operations list.")
    if len(ops) > MAX_OPERATIONS:
        raise TooMany(f"A PATCH may carry at most {MAX_OPERATIONS} operations.")
    result = []
    for raw in ops:
        if not isinstance(raw, dict):
            raise InvalidSyntax("Each operation must be an object.")
        raw = {k.lower(): v for k, v in raw.items()}
        op = raw.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "remove", "replace"):
            raise InvalidSyntax("Each operation's op must be add, remove or replace.")
        op = op.lower()
        path = parse_path(raw["path"], core_schema) if raw.get("path") is not None else None
        has_value = "value" in raw
        if op != "remove" and not has_value:
            raise InvalidValue(f"An {op} operation needs a value.")
        if path is None and op != "remove" and not isinstance(raw.get("value"), dict):
            raise InvalidValue(f"An {op} operation without a path needs an object value.")
        if path is None and op == "remove":
            raise NoTarget("A remove operation needs a path.")
        result.append(Operation(op, path, raw.get("value"), has_value))
    return result


# -- applying operations to a resource dict ---------------------------------------------------


def apply_patch(
    resource: dict[str, t.Any], operations: list[Operation], core_schema: str
) -> dict[str, t.Any]:
    """Apply ``operations`` to a copy of ``resource`` and return it.

    Read-only attributes (``id``, ``meta``, ``groups``, ``schemas``) named in
    an operation are ignored, as RFC 7644 §3.5.2 allows and Okta needs.
    A value filter that matches nothing is an error (``noTarget``) for
    ``replace`` of a sub-attribute, except that ``add``/``replace`` with an
    equality filter (``emails[type eq "work"].value``) creates the element, as
    Entra expects.
    """
    result = copy.deepcopy(resource)
    for operation in operations:
        if operation.path is None:
            for key, value in operation.value.items():
                path = parse_path(key, core_schema)
                _apply(result, operation.op, path, value, merge=True)
        else:
            _apply(result, operation.op, operation.path, operation.value, merge=False)
    return result


def _key(container: dict[str, t.Any], name: str) -> str:
    return next((k for k in container if k.lower() == name.lower()), name)


def _apply(resource: dict[str, t.Any], op: str, path: Path, value: t.Any, merge: bool) -> None:
    value = copy.deepcopy(value)  # never share structure with the request body
    if path.urn is None and path.attribute.lower() in READ_ONLY:
        return
    container = resource
    if path.urn is not None:
        urn_key = _key(resource, path.urn)
        if op == "remove" and urn_key not in resource:
            return
        container = resource.setdefault(urn_key, {})
        if not isinstance(container, dict):
            raise InvalidPath(f"{path.urn} is not an extension object.")
    elif path.attribute.lower().startswith("urn:"):
        # a whole extension: {"urn:...:User": {...}}
        key = _key(resource, path.attribute)
        if op == "remove":
            resource.pop(key, None)
        elif isinstance(value, dict) and isinstance(resource.get(key), dict):
            resource[key].update(value)
        else:
            resource[key] = value
        return

    key = _key(container, path.attribute)
    if path.value_filter is None and path.sub is None:
        _apply_simple(container, key, op, value, merge)
        return
    if path.value_filter is None:
        # attr.sub on a complex attribute
        target = container.setdefault(key, {}) if op != "remove" else container.get(key)
        if op == "remove":
            if isinstance(target, dict):
                target.pop(_key(target, path.sub or ""), None)
            return
        if not isinstance(target, dict):
            raise InvalidPath(f"{path.attribute} is not a complex attribute.")
        target[_key(target, path.sub or "")] = value
        return
    _apply_filtered(container, key, op, path, value)


def _apply_simple(
    container: dict[str, t.Any], key: str, op: str, value: t.Any, merge: bool
) -> None:
    if op == "remove":
        container.pop(key, None)
        return
    current = container.get(key)
    if op == "add" and isinstance(current, list):
        for item in value if isinstance(value, list) else [value]:
            if item not in current:
                current.append(item)
    elif (op == "add" or merge) and isinstance(current, dict) and isinstance(value, dict):
        current.update(value)
    elif op == "replace" and isinstance(current, dict) and isinstance(value, dict):
        current.update(value)  # RFC 7644 §3.5.2.3: unspecified sub-attributes stay
    else:
        container[key] = value


def _apply_filtered(
    container: dict[str, t.Any], key: str, op: str, path: Path, value: t.Any
) -> None:
    items = container.get(key)
    items = items if isinstance(items, list) else []
    assert path.value_filter is not None
    hits = [
        i
        for i, item in enumerate(items)
        if isinstance(item, dict) and matches(path.value_filter, item)
    ]
    if op == "remove":
        if path.sub is None:
            container[key] = [item for i, item in enumerate(items) if i not in hits]
            if not container[key]:
                container.pop(key)
        else:
            for i in hits:
                items[i].pop(_key(items[i], path.sub), None)
        return
    if not hits:
        template = _equality_template(path.value_filter)
        if template is None:
            raise NoTarget(f"Nothing matches the path {path.text!r}.")
        items.append(template)
        container[key] = items
        hits = [len(items) - 1]
    for i in hits:
        if path.sub is not None:
            items[i][_key(items[i], path.sub)] = value
        elif isinstance(value, dict):
            items[i].update(value)
        else:
            raise InvalidValue(f"The value for {path.text!r} must be an object.")


def _equality_template(node: Node) -> dict[str, t.Any] | None:
    """``type eq "work"`` -> ``{"type": "work"}``; ``None`` unless made of equalities."""
    if isinstance(node, Compare) and node.op == "eq":
        return {node.attribute: node.value}
    if isinstance(node, And):
        left, right = _equality_template(node.left), _equality_template(node.right)
        if left is not None and right is not None:
            return {**left, **right}
    return None


# -- groups: membership as set operations -------------------------------------------------------


@dataclass
class GroupChanges:
    """What a Group PATCH asks for, in order: renames and member set operations."""

    display_name: str | None = None
    external_id: str | None = None
    external_id_set: bool = False
    #: ("add" | "remove" | "replace", user ids), applied in this order.
    membership: list[tuple[str, list[str]]] = field(default_factory=list)


def group_changes(operations: list[Operation]) -> GroupChanges:
    """Turn a Group PatchOp into :class:`GroupChanges`.

    Understood: Okta's path-less ``replace`` carrying ``id`` and
    ``displayName`` (the ``id`` is ignored), ``members[value eq "…"]``
    removal (a non-member is a no-op), ``add``/``replace`` of ``members``,
    Entra's ``remove`` of ``members`` with a value list; a ``remove`` of
    ``members`` without value empties the group (RFC 7644 §3.5.2.2).
    """
    changes = GroupChanges()
    for operation in operations:
        if operation.path is None:
            for key, value in operation.value.items():
                _group_op(changes, operation.op, key, None, value, True)
        else:
            path = operation.path
            if path.urn is not None or path.sub is not None:
                raise InvalidPath(f"Groups have no attribute {path.text!r}.")
            _group_op(
                changes,
                operation.op,
                path.attribute,
                path.value_filter,
                operation.value,
                operation.has_value,
            )
    return changes


def _group_op(
    changes: GroupChanges,
    op: str,
    name: str,
    value_filter: Node | None,
    value: t.Any,
    has_value: bool,
) -> None:
    lower = name.lower()
    if lower in ("id", "meta", "schemas"):
        return
    if lower.startswith("urn:") and lower.startswith(GROUP.lower() + ":"):
        lower = lower[len(GROUP) + 1 :]
    if lower == "displayname":
        if op == "remove" or not isinstance(value, str) or not value.strip():
            raise InvalidValue("displayName must be a non-empty string.")
        check_length(value.strip(), "displayName", MAX_GROUP_NAME)
        changes.display_name = value.strip()
    elif lower == "externalid":
        if op != "remove" and value is not None and not isinstance(value, str):
            raise InvalidValue("externalId must be a string.")
        check_length(value, "externalId", MAX_EXTERNAL_ID)
        changes.external_id = None if op == "remove" else (value or None)
        changes.external_id_set = True
    elif lower == "members":
        if value_filter is not None:
            if op != "remove":
                raise InvalidPath("Only remove may use a members[value eq ...] path.")
            changes.membership.append(("remove", _filtered_member_ids(value_filter)))
        elif op == "remove":
            if has_value and value not in (None, []):
                changes.membership.append(("remove", member_values(value)))
            else:
                changes.membership.append(("replace", []))
        elif op == "add":
            changes.membership.append(("add", member_values(value if value is not None else [])))
        else:
            changes.membership.append(
                ("replace", member_values(value if value is not None else []))
            )
    else:
        raise InvalidPath(f"Groups have no attribute {name!r}.")


def _filtered_member_ids(node: Node) -> list[str]:
    if isinstance(node, Compare) and node.op == "eq" and node.attribute.lower() == "value":
        if not isinstance(node.value, str):
            raise InvalidPath("members[value eq ...] needs a string id.")
        return [node.value]
    if isinstance(node, Or):
        return _filtered_member_ids(node.left) + _filtered_member_ids(node.right)
    raise InvalidPath('Only members[value eq "id"] filters (joined by or) are supported.')


__all__ = [
    "GROUP",
    "USER",
    "GroupChanges",
    "Operation",
    "Path",
    "apply_patch",
    "group_changes",
    "parse_patch",
    "parse_path",
]
