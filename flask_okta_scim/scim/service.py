"""The SCIM protocol for one organization: requests in, resources out, over a store.

:class:`ScimService` is where each step of a SCIM request happens, in order:
parse the body or filter, find the resource, check its version against
``If-Match``, ask the store to change it, render the answer. The store
(:class:`ScimStore`, implemented for SQLAlchemy by
:class:`flask_okta_scim.sqla.SQLAlchemyScimStore`) only loads and saves; it
knows no HTTP and parses nothing. Nothing here knows about Flask or a database,
and nothing here commits.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from dataclasses import dataclass

from ..core.errors import NotFound
from .attributes import GROUP_FILTERS
from .attributes import USER_FILTERS
from .constants import GROUP
from .constants import LIST_RESPONSE
from .constants import USER
from .errors import PreconditionFailed
from .filters import Node
from .filters import parse_filter
from .group_patch import group_changes
from .patch import GroupChanges
from .patch import apply_patch
from .patch import parse_patch
from .resources import GroupInput
from .resources import UserInput
from .resources import etag
from .resources import parse_group
from .resources import parse_user
from .search import Condition
from .search import conditions_by_type

#: The largest ``startIndex`` honoured: beyond any result, within SQL's OFFSET range.
MAX_START_INDEX = 2**31 - 1
#: The longest id looked up; longer ones cannot be ours and are not found without a query.
MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class Page:
    """One page of a list: the exact ``total`` and the rendered resources of the page."""

    total: int
    resources: list[dict[str, t.Any]]


class Versioned(t.Protocol):
    """What the service needs of a stored resource: its version (for ETags)."""

    @property
    def version(self) -> int: ...


R = t.TypeVar("R", bound=Versioned)


class ScimStore(t.Protocol):
    """What persistence provides for one organization; every method is scoped to it.

    Records are the store's own objects, opaque here except for ``version``.
    No method commits; the caller runs the whole request as one unit of work.
    """

    def find_users(
        self, condition: Node | None, start: int, count: int, *, with_groups: bool
    ) -> Page: ...
    def load_user(self, scim_id: str, *, for_update: bool = False) -> Versioned | None: ...
    def user_resource(self, record: t.Any, *, with_groups: bool) -> dict[str, t.Any]: ...
    def editable_user(self, record: t.Any) -> dict[str, t.Any]: ...
    def create_user(self, data: UserInput) -> Versioned: ...
    def update_user(self, record: t.Any, data: UserInput) -> None: ...
    def delete_user(self, record: t.Any) -> None: ...

    def find_groups(
        self, condition: Node | None, start: int, count: int, *, members: bool
    ) -> Page: ...
    def load_group(self, scim_id: str, *, for_update: bool = False) -> Versioned | None: ...
    def group_resource(self, record: t.Any, *, members: bool) -> dict[str, t.Any]: ...
    def member_ids(self, record: t.Any) -> Iterator[list[str]]: ...
    def create_group(self, data: GroupInput) -> Versioned: ...
    def replace_group(self, record: t.Any, data: GroupInput) -> None: ...
    def change_group(self, record: t.Any, changes: GroupChanges) -> None: ...
    def delete_group(self, record: t.Any) -> None: ...


class ScimService:
    """Users and Groups of one organization, as RFC 7644 describes them.

    :param store: the organization's :class:`ScimStore`.
    :param max_results: the largest page a list returns (``count`` is capped to it).
    """

    def __init__(self, store: ScimStore, *, max_results: int) -> None:
        self.store = store
        self.max_results = max_results

    # -- users ------------------------------------------------------------------

    def list_users(
        self, filter_text: str | None, start: int, count: int | None, *, with_groups: bool
    ) -> dict[str, t.Any]:
        """``GET /Users``: a ListResponse, filtered and paged (RFC 7644 §3.4.2)."""
        condition = parse_filter(filter_text, USER_FILTERS) if filter_text else None
        start, count = page_bounds(start, count, self.max_results)
        page = self.store.find_users(condition, start, count, with_groups=with_groups)
        return list_response(page.total, start, page.resources)

    def get_user(self, scim_id: str, *, with_groups: bool = False) -> dict[str, t.Any]:
        """``GET /Users/{id}``; a missing or deleted user is :class:`NotFound`."""
        return self.store.user_resource(self._user(scim_id), with_groups=with_groups)

    def create_user(self, body: t.Any) -> dict[str, t.Any]:
        """``POST /Users``: directory rules 4 and 7; a duplicate active userName is a conflict."""
        record = self.store.create_user(parse_user(body))
        return self.store.user_resource(record, with_groups=False)

    def replace_user(self, scim_id: str, body: t.Any, if_match: str | None) -> dict[str, t.Any]:
        """``PUT /Users/{id}``: every mutable attribute as sent; read-only ones ignored."""
        record = self._user(scim_id, if_match, write=True)
        self.store.update_user(record, parse_user(body))
        return self.store.user_resource(record, with_groups=False)

    def patch_user(self, scim_id: str, body: t.Any, if_match: str | None) -> dict[str, t.Any]:
        """``PATCH /Users/{id}``: the operations applied to the stored user, saved like a PUT."""
        record = self._user(scim_id, if_match, write=True)
        operations = parse_patch(body, USER)
        patched = apply_patch(self.store.editable_user(record), operations, USER)
        self.store.update_user(record, parse_user(patched))
        return self.store.user_resource(record, with_groups=False)

    def delete_user(self, scim_id: str, if_match: str | None) -> None:
        """``DELETE /Users/{id}`` (Entra): deactivate, and answer 404 from now on."""
        self.store.delete_user(self._user(scim_id, if_match, write=True))

    # -- groups -----------------------------------------------------------------

    def list_groups(
        self, filter_text: str | None, start: int, count: int | None, *, members: bool
    ) -> dict[str, t.Any]:
        """``GET /Groups``: a ListResponse, filtered and paged."""
        condition = parse_filter(filter_text, GROUP_FILTERS) if filter_text else None
        start, count = page_bounds(start, count, self.max_results)
        page = self.store.find_groups(condition, start, count, members=members)
        return list_response(page.total, start, page.resources)

    def get_group(self, scim_id: str, *, members: bool = True) -> dict[str, t.Any]:
        """``GET /Groups/{id}``."""
        return self.store.group_resource(self._group(scim_id), members=members)

    def get_group_streamed(self, scim_id: str) -> tuple[dict[str, t.Any], Iterator[list[str]]]:
        """``GET /Groups/{id}`` in two parts, for an answer written as it is read: the
        group without ``members``, and its members' ids in order, in batches read only
        as they are iterated (:meth:`ScimStore.member_ids`)."""
        record = self._group(scim_id)
        return self.store.group_resource(record, members=False), self.store.member_ids(record)

    def group_version(self, scim_id: str) -> str:
        """The ETag of a group, without rendering its members."""
        return etag(self._group(scim_id).version)

    def create_group(self, body: t.Any) -> dict[str, t.Any]:
        """``POST /Groups``: a new team managed by Okta, with the members sent."""
        record = self.store.create_group(parse_group(body))
        return self.store.group_resource(record, members=True)

    def replace_group(self, scim_id: str, body: t.Any, if_match: str | None) -> dict[str, t.Any]:
        """``PUT /Groups/{id}``: rename, and set the members to exactly the list sent."""
        record = self._group(scim_id, if_match, write=True)
        self.store.replace_group(record, parse_group(body))
        return self.store.group_resource(record, members=True)

    def patch_group(self, scim_id: str, body: t.Any, if_match: str | None) -> None:
        """``PATCH /Groups/{id}``: renames and member changes as set operations, in order.

        Returns nothing: the cost of a one-member change must not grow with the
        group (RFC 7644 §3.5.2 allows 204 No Content).
        """
        record = self._group(scim_id, if_match, write=True)
        self.store.change_group(record, group_changes(parse_patch(body, GROUP)))

    def delete_group(self, scim_id: str, if_match: str | None) -> None:
        """``DELETE /Groups/{id}``: the team goes (``team_deleted``)."""
        self.store.delete_group(self._group(scim_id, if_match, write=True))

    # -- both -------------------------------------------------------------------

    def list_all(
        self,
        filter_text: str | None,
        start: int,
        count: int | None,
        *,
        with_groups: bool,
        members: bool,
    ) -> dict[str, t.Any]:
        """``POST /.search``: Users, then Groups, as one ListResponse paged across both.

        ``totalResults`` is the sum of both types' matches; ``startIndex`` and
        ``count`` page through the users (in their list order) followed by the
        groups. The filter applies to each type on its own: a comparison on an
        attribute one type lacks is false for that type (see
        :func:`~flask_okta_scim.scim.search.conditions_by_type`); an attribute
        neither has is :class:`InvalidFilter`, as on ``GET``. Costs at most a
        page query and a count query per type, however deep the page: nothing
        is loaded to be skipped, and a type the filter excludes is not queried.
        """
        conditions: dict[str, Condition] = (
            conditions_by_type(filter_text, {USER: USER_FILTERS, GROUP: GROUP_FILTERS})
            if filter_text
            else {USER: True, GROUP: True}
        )
        start, count = page_bounds(start, count, self.max_results)
        users = Page(0, [])
        if conditions[USER] is not False:
            users = self.store.find_users(
                _where(conditions[USER]), start, count, with_groups=with_groups
            )
        groups = Page(0, [])
        if conditions[GROUP] is not False:
            # the page's rest, from the group that follows the users already passed
            groups = self.store.find_groups(
                _where(conditions[GROUP]),
                max(1, start - users.total),
                count - len(users.resources),
                members=members,
            )
        return list_response(users.total + groups.total, start, users.resources + groups.resources)

    # -- finding a resource -----------------------------------------------------

    def _user(self, scim_id: str, if_match: str | None = None, *, write: bool = False) -> Versioned:
        """The user, locked for a write, its version checked against ``If-Match`` after the lock.

        Checking after the lock makes the check part of the write: of two
        changes sent with the same ``If-Match``, the second sees the first's
        version and gets 412; of two changes of different attributes, the
        second starts from the first's result, so neither is lost.
        """
        found = self.store.load_user(scim_id, for_update=write) if plausible_id(scim_id) else None
        if found is None:
            raise NotFound(f"No user {scim_id!r}.")
        preconditions(etag(found.version), if_match=if_match)
        return found

    def _group(
        self, scim_id: str, if_match: str | None = None, *, write: bool = False
    ) -> Versioned:
        """The group, locked for a write, its version checked after the lock (see :meth:`_user`)."""
        found = self.store.load_group(scim_id, for_update=write) if plausible_id(scim_id) else None
        if found is None:
            raise NotFound(f"No group {scim_id!r}.")
        preconditions(etag(found.version), if_match=if_match)
        return found


def _where(condition: Condition) -> Node | None:
    """The store's form of a condition that is not ``False``: ``None`` for "every resource"."""
    return None if isinstance(condition, bool) else condition


def plausible_id(scim_id: str) -> bool:
    """Whether ``scim_id`` could be an id of ours; others are not looked up at all."""
    return 0 < len(scim_id) <= MAX_ID_LENGTH and scim_id.isprintable()


def page_bounds(start: int, count: int | None, max_results: int) -> tuple[int, int]:
    """``startIndex`` and ``count`` as RFC 7644 §3.4.2.4 reads them, within our limits.

    A ``startIndex`` below 1 is 1; ``count`` defaults to, and is capped at,
    ``max_results``; a negative ``count`` is 0 (only ``totalResults`` is asked for).
    """
    start = min(max(start, 1), MAX_START_INDEX)
    count = max_results if count is None else max(0, min(count, max_results))
    return start, count


def list_response(total: int, start: int, resources: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """A ListResponse (RFC 7644 §3.4.2): integers for the counts, the page's resources."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def preconditions(
    current: str, *, if_match: str | None = None, if_none_match: str | None = None
) -> bool:
    """Check ``If-Match`` and ``If-None-Match`` against the ``current`` ETag (RFC 7644 §3.14).

    Raises :class:`PreconditionFailed` (412) when ``If-Match`` names neither
    the current version nor ``*``. Returns ``True`` when ``If-None-Match``
    names the current version (or ``*``): a read then answers 304. Tags are
    compared weakly (``W/"3"`` equals ``"3"``). Does not decide which methods
    the headers apply to: the caller passes only the ones that do.
    """
    tag = _opaque(current)
    if if_match is not None and not _names(if_match, tag):
        raise PreconditionFailed()
    return if_none_match is not None and _names(if_none_match, tag)


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def _names(header: str, tag: str) -> bool:
    wanted = {_opaque(part) for part in header.split(",")}
    return "*" in wanted or tag in wanted
