"""Group PATCH (RFC 7644 §3.5.2) as set operations on the membership, in order.

:func:`group_changes` reads the operations :func:`~.patch.parse_patch` parsed;
it never sees the stored group, so the cost of a one-member change does not
grow with the group, and concurrent PATCHes never overwrite each other's members.
"""

from __future__ import annotations

import typing as t

from ..core.errors import InvalidValue
from .constants import GROUP
from .errors import InvalidPath
from .filters import Compare
from .filters import Node
from .filters import Or
from .patch import GroupChanges
from .patch import Operation
from .resources import MAX_EXTERNAL_ID
from .resources import MAX_GROUP_NAME
from .resources import check_length
from .resources import member_values


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
    changes.membership = [(action, list(dict.fromkeys(ids))) for action, ids in changes.membership]
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
            _member_change(changes, "remove", _filtered_member_ids(value_filter))
        elif op == "remove":
            if has_value and value not in (None, []):
                _member_change(changes, "remove", member_values(value))
            else:
                _member_change(changes, "replace", [])
        elif op == "add":
            _member_change(changes, "add", member_values(value if value is not None else []))
        else:
            _member_change(changes, "replace", member_values(value if value is not None else []))
    else:
        raise InvalidPath(f"Groups have no attribute {name!r}.")


def _filtered_member_ids(node: Node) -> list[str]:
    """``value eq "a" or value eq "b"`` -> ``["a", "b"]``, in one pass (no list concatenation)."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Or):
            stack += (current.right, current.left)  # left first, as written
        elif (
            isinstance(current, Compare)
            and current.op == "eq"
            and current.attribute.lower() == "value"
        ):
            if not isinstance(current.value, str):
                raise InvalidPath("members[value eq ...] needs a string id.")
            found.append(current.value)
        else:
            raise InvalidPath('Only members[value eq "id"] filters (joined by or) are supported.')
    return found


def _member_change(changes: GroupChanges, action: str, ids: list[str]) -> None:
    """Queue a member change; consecutive adds, or removes, become one (one query, not one per
    operation: Okta sends a removal per member). Does not merge across a ``replace``."""
    last = changes.membership[-1] if changes.membership else None
    if last is not None and last[0] == action and action in ("add", "remove"):
        last[1].extend(ids)
    else:
        changes.membership.append((action, list(ids)))


__all__ = ["GroupChanges", "group_changes"]
