"""PATCH (RFC 7644 §3.5.2) with the forms Okta and Entra really send.

:func:`parse_patch` normalises a PatchOp body (operation names in any case,
Entra's string booleans are left to the resource readers). :func:`apply_patch`
applies the operations to a plain resource dict and returns a new one; the
caller then stores the result like a PUT. Group membership is not patched this
way: :func:`~flask_okta_scim.scim.group_patch.group_changes` turns a Group
PatchOp into set operations, so that concurrent PATCHes never overwrite each
other's members.
"""

from __future__ import annotations

import copy
import json
import re
import typing as t
from dataclasses import dataclass
from dataclasses import field

from ..core.errors import InvalidValue
from .constants import ENTERPRISE_USER
from .constants import PATCH_OP
from .errors import InvalidPath
from .errors import InvalidSyntax
from .errors import NoTarget
from .errors import TooMany
from .filters import And
from .filters import AnyAttribute
from .filters import Compare
from .filters import Node
from .filters import Not
from .filters import Or
from .filters import matches
from .filters import parse_filter
from .resources import READ_ONLY

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

#: The most attribute look-ups one PATCH's value filters may make: the sum, over operations
#: with a value filter, of the elements filtered times the filter's comparisons. Okta and
#: Entra need a few dozen. Checked before each such operation runs (400 tooMany beyond).
MAX_FILTER_LOOKUPS = 50_000
#: The most characters of element values those look-ups may compare, counted as they go.
MAX_FILTER_CHARACTERS = 5_000_000


def apply_patch(
    resource: dict[str, t.Any], operations: list[Operation], core_schema: str
) -> dict[str, t.Any]:
    """Apply ``operations`` to a copy of ``resource`` and return it.

    Read-only attributes (``id``, ``meta``, ``groups``, ``schemas``) named in
    an operation are ignored, as RFC 7644 §3.5.2 allows and Okta needs.
    A value filter that matches nothing is an error (``noTarget``) for
    ``replace`` of a sub-attribute, except that ``add``/``replace`` with an
    equality filter (``emails[type eq "work"].value``) creates the element, as
    Entra expects. The enterprise ``manager`` is kept as ``{"value": id}``
    whichever form arrives (Entra sends the bare id).

    Costs O(size of the resource and the operations): attribute names are
    found through a case-insensitive index, duplicates of an ``add`` through a
    hash, and value filters within :data:`MAX_FILTER_WORK` (:class:`TooMany`
    beyond). Does not check the result: the caller reads it like a PUT body
    (:func:`~flask_okta_scim.scim.resources.parse_user`), which enforces lengths.
    """
    patcher = _Patcher(copy.deepcopy(resource))
    for operation in operations:
        if operation.path is None:
            for key, value in operation.value.items():
                patcher.apply(operation.op, parse_path(key, core_schema), value, merge=True)
        else:
            patcher.apply(operation.op, operation.path, operation.value, merge=False)
    return patcher.resource


class _Names:
    """Case-insensitive attribute names (RFC 7643 §2.1) of the objects one PATCH changes.

    :meth:`key` finds a name in O(1): an exact match first, else a per-object
    index from lower-cased names to their spellings (an object may hold more
    than one, as sent), built once per object and kept up to date by
    :meth:`set` and :meth:`pop`. Does not see changes made otherwise: while
    an object is indexed, change it only through these methods. The index
    keeps each object alive, so that its ``id`` is never reused.
    """

    def __init__(self) -> None:
        self._index: dict[int, tuple[dict[str, t.Any], dict[str, dict[str, None]]]] = {}

    def key(self, container: dict[str, t.Any], name: str) -> str:
        """The spelling of ``name`` in ``container`` (the first one), or ``name`` when absent."""
        if name in container:
            return name
        spellings = self._lowered(container).get(name.lower())
        return next(iter(spellings)) if spellings else name

    def get(self, container: t.Mapping[str, t.Any], name: str) -> t.Any:
        """The value of ``name`` in ``container``, ``None`` when absent."""
        if name in container or not isinstance(container, dict):
            return container.get(name)
        return container.get(self.key(container, name))

    def set(self, container: dict[str, t.Any], name: str, value: t.Any) -> None:
        key = self.key(container, name)
        container[key] = value
        entry = self._index.get(id(container))
        if entry is not None:
            entry[1].setdefault(key.lower(), {})[key] = None

    def pop(self, container: dict[str, t.Any], name: str) -> None:
        key = self.key(container, name)
        if key not in container:
            return
        del container[key]
        entry = self._index.get(id(container))
        if entry is not None:
            spellings = entry[1].get(key.lower(), {})
            spellings.pop(key, None)
            if not spellings:
                entry[1].pop(key.lower(), None)

    def merge(self, container: dict[str, t.Any], values: dict[str, t.Any]) -> None:
        """``container.update(values)``, names matched case-insensitively."""
        for name, value in values.items():
            self.set(container, name, value)

    def _lowered(self, container: dict[str, t.Any]) -> dict[str, dict[str, None]]:
        entry = self._index.get(id(container))
        if entry is None:
            lowered: dict[str, dict[str, None]] = {}
            for k in container:
                lowered.setdefault(k.lower(), {})[k] = None
            entry = self._index[id(container)] = (container, lowered)
        return entry[1]


class _Patcher:
    """One PATCH's working copy of a resource, and what applying to it has cost so far."""

    def __init__(self, resource: dict[str, t.Any]) -> None:
        self.resource = resource
        self.names = _Names()
        self.lookups = 0
        self.characters = 0
        #: id(list) -> (list, fingerprints of its items), so that n one-item adds cost O(n);
        #: dropped when a value filter changes the list's items (charged to the filter budget).
        self.fingerprints: dict[int, tuple[list[t.Any], set[str]]] = {}

    def apply(self, op: str, path: Path, value: t.Any, merge: bool) -> None:
        value = copy.deepcopy(value)  # never share structure with the request body
        names, resource = self.names, self.resource
        if path.urn is None and path.attribute.lower() in READ_ONLY:
            return
        container = resource
        if path.urn is not None:
            urn_key = names.key(resource, path.urn)
            if op == "remove" and urn_key not in resource:
                return
            if urn_key not in resource:
                names.set(resource, urn_key, {})
            container = resource[urn_key]
            if not isinstance(container, dict):
                raise InvalidPath(f"{path.urn} is not an extension object.")
        elif path.attribute.lower().startswith("urn:"):
            # a whole extension: {"urn:...:User": {...}}
            key = names.key(resource, path.attribute)
            if op == "remove":
                names.pop(resource, key)
            elif isinstance(value, dict) and isinstance(resource.get(key), dict):
                names.merge(resource[key], value)
            else:
                names.set(resource, key, value)
            self._manager(key)
            return

        key = names.key(container, path.attribute)
        if path.value_filter is not None:
            self._filtered(container, key, op, path, value)
        elif path.sub is None:
            self._simple(container, key, op, value, merge)
        else:
            self._sub(container, key, op, path, value)
        if path.urn is not None:
            self._manager(path.urn)

    def _manager(self, urn: str) -> None:
        """Entra's bare-id ``manager`` -> ``{"value": id}`` at once, so that a later
        ``manager.value`` operation of the same PATCH finds an object."""
        if urn.lower() != ENTERPRISE_USER.lower():
            return
        extension = self.names.get(self.resource, urn)
        if isinstance(extension, dict):
            key = self.names.key(extension, "manager")
            if isinstance(extension.get(key), str):
                self.names.set(extension, key, {"value": extension[key]})

    def _simple(
        self, container: dict[str, t.Any], key: str, op: str, value: t.Any, merge: bool
    ) -> None:
        names = self.names
        if op == "remove":
            names.pop(container, key)
            return
        current = container.get(key)
        if op == "add" and isinstance(current, list):
            entry = self.fingerprints.get(id(current))
            if entry is None:
                entry = (current, {_fingerprint(item) for item in current})
                self.fingerprints[id(current)] = entry
            seen = entry[1]
            for item in value if isinstance(value, list) else [value]:
                fingerprint = _fingerprint(item)
                if fingerprint not in seen:
                    seen.add(fingerprint)
                    current.append(item)
        elif isinstance(current, dict) and isinstance(value, dict) and (op == "add" or merge):
            names.merge(current, value)
        elif op == "replace" and isinstance(current, dict) and isinstance(value, dict):
            names.merge(current, value)  # RFC 7644 §3.5.2.3: unspecified sub-attributes stay
        else:
            names.set(container, key, value)

    def _sub(
        self, container: dict[str, t.Any], key: str, op: str, path: Path, value: t.Any
    ) -> None:
        """``attr.sub`` on a complex attribute."""
        names, sub = self.names, path.sub or ""
        target = container.get(key)
        if op == "remove":
            if isinstance(target, dict):
                names.pop(target, sub)
            return
        if target is None:
            target = {}
            names.set(container, key, target)
        if not isinstance(target, dict):
            raise InvalidPath(f"{path.attribute} is not a complex attribute.")
        names.set(target, sub, value)

    def _lookup(self, item: t.Mapping[str, t.Any], name: str) -> t.Any:
        """An element's attribute for a value filter, its characters counted."""
        value = self.names.get(item, name)
        if isinstance(value, str):
            self.characters += len(value)
            if self.characters > MAX_FILTER_CHARACTERS:
                raise _too_much_filtering()
        return value

    def _filtered(
        self, container: dict[str, t.Any], key: str, op: str, path: Path, value: t.Any
    ) -> None:
        names, node = self.names, path.value_filter
        assert node is not None
        items = container.get(key)
        items = items if isinstance(items, list) else []
        self.fingerprints.pop(id(items), None)
        self.lookups += len(items) * _comparisons(node)
        if self.lookups > MAX_FILTER_LOOKUPS:
            raise _too_much_filtering()
        hits = [
            i
            for i, item in enumerate(items)
            if isinstance(item, dict) and matches(node, item, lookup=self._lookup)
        ]
        if op == "remove":
            if path.sub is None:
                gone = set(hits)
                kept = [item for i, item in enumerate(items) if i not in gone]
                if kept:
                    names.set(container, key, kept)
                else:
                    names.pop(container, key)
            else:
                for i in hits:
                    names.pop(items[i], path.sub)
            return
        if not hits:
            template = _equality_template(node)
            if template is None:
                raise NoTarget(f"Nothing matches the path {path.text!r}.")
            items.append(template)
            names.set(container, key, items)
            hits = [len(items) - 1]
        for i in hits:
            if path.sub is not None:
                names.set(items[i], path.sub, value)
            elif isinstance(value, dict):
                names.merge(items[i], value)
            else:
                raise InvalidValue(f"The value for {path.text!r} must be an object.")


def _too_much_filtering() -> TooMany:
    return TooMany(
        "The value filters of this PATCH would examine too many elements; "
        "send fewer operations per request."
    )


def _fingerprint(item: t.Any) -> str:
    """A hashable stand-in for a JSON value: equal values, equal fingerprints."""
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def _comparisons(node: Node) -> int:
    """How many comparisons a filter makes per element (its leaves), without recursion."""
    count, stack = 0, [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (And, Or)):
            stack += (current.left, current.right)
        elif isinstance(current, Not):
            stack.append(current.expr)
        else:
            count += 1
    return count


def _equality_template(node: Node) -> dict[str, t.Any] | None:
    """``type eq "work"`` -> ``{"type": "work"}``; ``None`` unless made of equalities."""
    if isinstance(node, Compare) and node.op == "eq":
        return {node.attribute: node.value}
    if isinstance(node, And):
        left, right = _equality_template(node.left), _equality_template(node.right)
        if left is not None and right is not None:
            return {**left, **right}
    return None


# -- groups: what a Group PATCH asks for (read by group_patch.group_changes) ----------------------


@dataclass
class GroupChanges:
    """What a Group PATCH asks for, in order: renames and member set operations."""

    display_name: str | None = None
    external_id: str | None = None
    external_id_set: bool = False
    #: ("add" | "remove" | "replace", user ids), applied in this order.
    membership: list[tuple[str, list[str]]] = field(default_factory=list)


__all__ = [
    "GroupChanges",
    "Operation",
    "Path",
    "apply_patch",
    "parse_patch",
    "parse_path",
]
