"""SCIM Users and Groups of one organization, through the directory service.

:class:`ScimStore` takes parsed SCIM requests (from :mod:`flask_okta_scim.scim`)
and carries them out with :class:`~flask_okta_scim.sqla.Directory`, which
enforces the rules of SPEC §2. It returns resource dicts; it does not commit
(the caller runs it inside ``directory.atomic()``) and knows nothing of HTTP.
"""

from __future__ import annotations

import typing as t
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy import select

from ..core.errors import Conflict
from ..scim import errors
from ..scim.attributes import GROUP_FILTERS
from ..scim.attributes import USER_FILTERS
from ..scim.constants import GROUP
from ..scim.constants import LIST_RESPONSE
from ..scim.constants import USER
from ..scim.filters import parse_filter
from ..scim.patch import apply_patch
from ..scim.patch import group_changes
from ..scim.patch import parse_patch
from ..scim.resources import UserInput
from ..scim.resources import etag
from ..scim.resources import parse_group
from ..scim.resources import parse_user
from ..scim.resources import primary_email
from ..scim.resources import render_group
from ..scim.resources import render_user
from ._base import bump_version
from ._sql import chunks
from .directory import UNSET
from .directory import Directory
from .scim_query import group_condition
from .scim_query import user_condition


class ScimStore:
    """The SCIM view of one organization's directory.

    :param directory: the directory service, inside an open unit of work.
    :param organization: the organization the bearer token belongs to; every
        lookup is scoped to it, so other organizations' ids are simply not found.
    :param base_url: the public URL of the SCIM root (``https://host/scim/v2``).
    :param max_results: the largest page a list returns.
    """

    def __init__(
        self, directory: Directory, organization: t.Any, *, base_url: str, max_results: int
    ) -> None:
        self.directory = directory
        self.organization = organization
        self.base_url = base_url
        self.max_results = max_results
        self.models = directory.models
        self.session = directory.session

    # -- users ------------------------------------------------------------------

    def list_users(
        self, filter_text: str | None, start: int, count: int | None, *, with_groups: bool = False
    ) -> dict[str, t.Any]:
        """A ListResponse of the organization's users, in a stable order (creation, then id)."""
        ident = self.models.identity
        where = [ident.organization_id == self.organization.id, ident.deleted_at.is_(None)]
        if filter_text:
            where.append(user_condition(parse_filter(filter_text, USER_FILTERS), self.models))
        start, count = self._page(start, count)
        rows = (
            list(
                self.session.scalars(
                    select(ident)
                    .where(*where)
                    .order_by(ident.created_at, ident.id)
                    .offset(start - 1)
                    .limit(count)
                )
            )
            if count
            else []
        )
        total = self._total(
            rows, start, count, select(func.count()).select_from(ident).where(*where)
        )
        groups = self._groups_of([r.id for r in rows]) if with_groups else None
        resources = [
            self._render_user(r, groups.get(r.id, []) if groups is not None else None) for r in rows
        ]
        return _list(total, start, resources)

    def get_user(self, scim_id: str, *, with_groups: bool = False) -> dict[str, t.Any]:
        identity = self._identity(scim_id)
        groups = self._groups_of([identity.id]).get(identity.id, []) if with_groups else None
        return self._render_user(identity, groups)

    def create_user(self, body: t.Any) -> dict[str, t.Any]:
        """POST /Users: rules 4 and 7; a duplicate active userName is 409 ``uniqueness``."""
        data = parse_user(body)
        existing = self.directory.find_identity(self.organization, data.user_name)
        if existing is not None and existing.deleted_at is not None:
            existing.deleted_at = None  # a DELETEd user created again keeps its id
        try:
            identity, _ = self.directory.provision(
                self.organization,
                user_name=data.user_name,
                email=data.email,
                external_id=data.external_id,
                display_name=data.display_name,
                attributes=data.attributes,
                password=data.password,
                active=data.active is not False,
            )
        except Conflict as e:
            raise errors.Uniqueness(e.message) from None
        identity.primary_email_key = _primary_email_key(data)
        return self.get_user(identity.id)

    def replace_user(self, scim_id: str, body: t.Any, if_match: str | None) -> dict[str, t.Any]:
        """PUT /Users/{id}: every mutable attribute as sent; read-only ones ignored."""
        identity = self._identity(scim_id, if_match)
        self._update(identity, parse_user(body))
        return self.get_user(scim_id)

    def patch_user(self, scim_id: str, body: t.Any, if_match: str | None) -> dict[str, t.Any]:
        """PATCH /Users/{id}: the operations applied to the current resource, stored like a PUT."""
        identity = self._identity(scim_id, if_match)
        operations = parse_patch(body, USER)
        current = self._editable_user(identity)
        self._update(identity, parse_user(apply_patch(current, operations, USER)))
        return self.get_user(scim_id)

    def delete_user(self, scim_id: str, if_match: str | None) -> None:
        """DELETE /Users/{id} (Entra): deactivate (rule 6), and answer 404 from now on.

        The row stays, inactive, so that JIT still refuses the person and a
        new create with the same userName revives the same id (rule 7).
        """
        self.directory.delete_identity(self._identity(scim_id, if_match))

    def _update(self, identity: t.Any, data: UserInput) -> None:
        identity.primary_email_key = _primary_email_key(data)
        try:
            self.directory.update_identity(
                identity,
                user_name=data.user_name,
                email=data.email,
                external_id=data.external_id,
                display_name=data.display_name,
                attributes=data.attributes,
                password=data.password if data.password else UNSET,
                active=UNSET if data.active is None else data.active,
            )
        except Conflict as e:
            raise errors.Uniqueness(e.message) from None

    def _identity(self, scim_id: str, if_match: str | None = None) -> t.Any:
        identity = (
            self.directory.get_identity(self.organization, scim_id) if _plausible(scim_id) else None
        )
        if identity is None or identity.deleted_at is not None:
            raise errors.NotFound(f"No user {scim_id!r}.")
        _check_version(identity.version, if_match)
        return identity

    def _editable_user(self, identity: t.Any) -> dict[str, t.Any]:
        resource: dict[str, t.Any] = dict(identity.attributes or {})
        resource["userName"] = identity.user_name
        resource["active"] = identity.active
        if identity.external_id:
            resource["externalId"] = identity.external_id
        return resource

    def _render_user(
        self, identity: t.Any, groups: list[dict[str, str]] | None
    ) -> dict[str, t.Any]:
        return render_user(
            scim_id=identity.id,
            user_name=identity.user_name,
            external_id=identity.external_id,
            active=identity.active,
            attributes=identity.attributes or {},
            groups=groups,
            created=identity.created_at,
            modified=identity.updated_at,
            version=identity.version,
            location=f"{self.base_url}/Users/{identity.id}",
        )

    def _groups_of(self, identity_ids: list[str]) -> dict[str, list[dict[str, str]]]:
        """The groups each identity is a member of: the read-only ``groups`` attribute."""
        found: dict[str, list[dict[str, str]]] = defaultdict(list)
        if not identity_ids:
            return found
        gm, group, team = self.models.group_member, self.models.group, self.models.team
        rows = self.session.execute(
            select(gm.identity_id, group.id, team.name)
            .join(group, group.id == gm.group_id)
            .join(team, team.id == group.team_id)
            .where(gm.identity_id.in_(identity_ids))
            .order_by(team.name)
        )
        for identity_id, group_id, name in rows:
            found[identity_id].append(
                {
                    "value": group_id,
                    "display": name,
                    "$ref": f"{self.base_url}/Groups/{group_id}",
                    "type": "direct",
                }
            )
        return found

    # -- groups -----------------------------------------------------------------

    def list_groups(
        self, filter_text: str | None, start: int, count: int | None, *, members: bool = True
    ) -> dict[str, t.Any]:
        """A ListResponse of the organization's Okta-managed teams."""
        group, team = self.models.group, self.models.team
        where = [group.organization_id == self.organization.id]
        if filter_text:
            where.append(group_condition(parse_filter(filter_text, GROUP_FILTERS), self.models))
        start, count = self._page(start, count)
        base = select(group, team).join(team, team.id == group.team_id).where(*where)
        rows = (
            self.session.execute(
                base.order_by(group.created_at, group.id).offset(start - 1).limit(count)
            ).all()
            if count
            else []
        )
        total = self._total(
            rows,
            start,
            count,
            select(func.count())
            .select_from(group)
            .join(team, team.id == group.team_id)
            .where(*where),
        )
        resources = [
            self._render_group(g, tm, self._members(g) if members else None) for g, tm in rows
        ]
        return _list(total, start, resources)

    def get_group(self, scim_id: str, *, members: bool = True) -> dict[str, t.Any]:
        group, team = self._group(scim_id)
        return self._render_group(group, team, self._members(group) if members else None)

    def group_version(self, scim_id: str) -> str:
        return etag(self._group(scim_id)[0].version)

    def create_group(self, body: t.Any) -> dict[str, t.Any]:
        """POST /Groups: a new team managed by Okta, with the given members (rule 10)."""
        data = parse_group(body)
        self._refuse_duplicate_name(data.display_name)
        identities = self._identities_for(data.member_ids or [])
        team = self.directory.create_team(
            self.organization,
            data.display_name,
            managed_by_okta=True,
            external_id=data.external_id,
        )
        group = self.directory.group_of(team)
        self.directory.add_group_members(group, team, identities)
        return self.get_group(group.id)

    def replace_group(self, scim_id: str, body: t.Any, if_match: str | None) -> dict[str, t.Any]:
        """PUT /Groups/{id}: rename and set the members to exactly the list sent."""
        group, team = self._group(scim_id, if_match)
        data = parse_group(body)
        if data.display_name.lower() != team.name.lower():
            self._refuse_duplicate_name(data.display_name)
        self.directory.rename_team(team, data.display_name)
        if group.external_id != data.external_id:
            group.external_id = data.external_id
            bump_version(group)
        self.directory.replace_group_members(
            group, team, self._identities_for(data.member_ids or [])
        )
        return self.get_group(scim_id)

    def patch_group(self, scim_id: str, body: t.Any, if_match: str | None) -> None:
        """PATCH /Groups/{id}: renames and member changes as set operations, in order.

        Returns nothing: the cost of a one-member change must not grow with the
        group (RFC 7644 §3.5.2 allows 204 No Content).
        """
        group, team = self._group(scim_id, if_match)
        changes = group_changes(parse_patch(body, GROUP))
        if changes.display_name is not None and changes.display_name != team.name:
            if changes.display_name.lower() != team.name.lower():
                self._refuse_duplicate_name(changes.display_name)
            self.directory.rename_team(team, changes.display_name)
        if changes.external_id_set:
            group.external_id = changes.external_id
            bump_version(group)
        for action, ids in changes.membership:
            if action == "remove":
                identities = self._identities_for(ids, strict=False)
                self.directory.remove_group_members(group, team, identities)
            elif action == "add":
                self.directory.add_group_members(group, team, self._identities_for(ids))
            else:
                self.directory.replace_group_members(group, team, self._identities_for(ids))

    def delete_group(self, scim_id: str, if_match: str | None) -> None:
        """DELETE /Groups/{id}: the team goes with its resources (``team_deleted``)."""
        _, team = self._group(scim_id, if_match)
        self.directory.delete_team(team)

    def _group(self, scim_id: str, if_match: str | None = None) -> tuple[t.Any, t.Any]:
        if not _plausible(scim_id):
            raise errors.NotFound(f"No group {scim_id!r}.")
        group, team = self.models.group, self.models.team
        row = self.session.execute(
            select(group, team)
            .join(team, team.id == group.team_id)
            .where(group.id == scim_id, group.organization_id == self.organization.id)
        ).first()
        if row is None:
            raise errors.NotFound(f"No group {scim_id!r}.")
        _check_version(row[0].version, if_match)
        return row[0], row[1]

    def _refuse_duplicate_name(self, name: str) -> None:
        """409 if another Okta group of the organization has this name (case-insensitive).

        The organization row is locked first (``FOR UPDATE``), so that two
        concurrent creates of one name cannot both pass the check.
        """
        org = self.models.organization
        self.session.execute(select(org.id).where(org.id == self.organization.id).with_for_update())
        group, team = self.models.group, self.models.team
        taken = self.session.scalar(
            select(group.id)
            .join(team, team.id == group.team_id)
            .where(
                group.organization_id == self.organization.id,
                func.lower(team.name) == name.lower(),
            )
            .limit(1)
        )
        if taken is not None:
            raise errors.Uniqueness(f"A group named {name!r} already exists ({taken}).")

    def _members(self, group: t.Any) -> list[dict[str, str]]:
        """The group's members as the identity provider sees them (deactivated ones too)."""
        gm, ident = self.models.group_member, self.models.identity
        ids = self.session.scalars(
            select(ident.id)
            .join(gm, gm.identity_id == ident.id)
            .where(gm.group_id == group.id, ident.deleted_at.is_(None))
            .order_by(ident.created_at, ident.id)
        )
        return [{"value": i, "$ref": f"{self.base_url}/Users/{i}", "type": "User"} for i in ids]

    def _identities_for(self, scim_ids: list[str], *, strict: bool = True) -> list[t.Any]:
        """This organization's users ``scim_ids`` (deactivated ones included).

        With ``strict``, an id that is not a user of this organization is a 400
        naming it, and nothing changes; otherwise (removals) it is skipped.
        """
        ident = self.models.identity
        found: dict[str, t.Any] = {}
        for batch in chunks([i for i in dict.fromkeys(scim_ids) if _plausible(i)]):
            found.update(
                (row.id, row)
                for row in self.session.scalars(
                    select(ident).where(
                        ident.organization_id == self.organization.id,
                        ident.id.in_(batch),
                        ident.deleted_at.is_(None),
                    )
                )
            )
        missing = [i for i in scim_ids if i not in found]
        if missing and strict:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise errors.InvalidValue(
                f"{len(missing)} member value(s) are not users of this organization: {shown}."
            )
        return [found[i] for i in dict.fromkeys(scim_ids) if i in found]

    def _render_group(
        self, group: t.Any, team: t.Any, members: list[dict[str, str]] | None
    ) -> dict[str, t.Any]:
        return render_group(
            scim_id=group.id,
            display_name=team.name,
            external_id=group.external_id,
            members=members,
            created=group.created_at,
            modified=group.updated_at,
            version=group.version,
            location=f"{self.base_url}/Groups/{group.id}",
        )

    def _total(self, rows: Sequence[t.Any], start: int, count: int, count_query: t.Any) -> int:
        """``totalResults``: counted by the database unless the first page says it all."""
        if start == 1 and len(rows) < count:
            return len(rows)
        return int(self.session.scalar(count_query) or 0)

    def _page(self, start: int, count: int | None) -> tuple[int, int]:
        start = min(max(start, 1), 2**31 - 1)  # beyond any result, within OFFSET's range
        count = self.max_results if count is None else max(0, min(count, self.max_results))
        return start, count


def _plausible(scim_id: str) -> bool:
    """Whether ``scim_id`` could be an id of ours; others are not looked up at all."""
    return 0 < len(scim_id) <= 64 and scim_id.isprintable()


def _check_version(version: int, if_match: str | None) -> None:
    """RFC 7644 §3.14: a PUT, PATCH or DELETE with a stale If-Match gets 412."""
    if if_match is None:
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and f'"{version}"' not in wanted:
        raise errors.PreconditionFailed()


def _list(total: int, start: int, resources: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _primary_email_key(data: UserInput) -> str | None:
    """What ``emails`` filters compare: the primary address the client sent, lower-cased."""
    address = primary_email(data.attributes)
    return address.lower() if address else None
