"""Persistence of SCIM Users and Groups for one organization, over the directory service.

:class:`SQLAlchemyScimStore` is the :class:`~flask_okta_scim.scim.service.ScimStore`
that :class:`~flask_okta_scim.scim.service.ScimService` drives: it loads rows,
renders them as resources, and makes every change through
:class:`~flask_okta_scim.sqla.Directory`, which enforces the directory rules,
audits and versions. It parses no request, checks no precondition, pages no
list and does not commit.
"""

from __future__ import annotations

import typing as t
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select

from ..core.errors import Conflict
from ..core.errors import InvalidValue
from ..core.errors import NotReady
from ..core.text import fold
from ..scim.filters import Node
from ..scim.patch import GroupChanges
from ..scim.resources import GroupInput
from ..scim.resources import UserInput
from ..scim.resources import group_member
from ..scim.resources import primary_email
from ..scim.resources import render_group
from ..scim.resources import render_user
from ..scim.service import Page
from ..scim.service import plausible_id
from ._sql import chunks
from .directory import UNSET
from .directory import Directory
from .scim_query import count_of_users
from .scim_query import group_condition
from .scim_query import group_member_ids
from .scim_query import member_rows
from .scim_query import page_of_users
from .scim_query import team_member_ids
from .scim_query import user_condition
from .scim_query import user_count
from .scim_query import user_name_count
from .scim_query import user_name_key
from .scim_query import user_name_lookup
from .scim_query import user_page


@dataclass(frozen=True)
class GroupRecord:
    """A SCIM group and the team it manages."""

    group: t.Any
    team: t.Any

    @property
    def version(self) -> int:
        return int(self.group.version)


class SQLAlchemyScimStore:
    """The SCIM Users and Groups of one organization.

    :param directory: the directory service, inside an open unit of work.
    :param organization: the organization the bearer token belongs to; every
        lookup is scoped to it, so other organizations' ids are simply not found.
    :param base_url: the public URL of the SCIM root (``https://host/scim/v2``).
    """

    def __init__(self, directory: Directory, organization: t.Any, *, base_url: str) -> None:
        self.directory = directory
        self.organization = organization
        self.base_url = base_url
        self.models = directory.models
        self.session = directory.session

    # -- users ------------------------------------------------------------------

    def find_users(
        self, condition: Node | None, start: int, count: int, *, with_groups: bool
    ) -> Page:
        """The organization's users, in a stable order (creation, then id)."""
        key = user_name_key(condition)
        if key is not None:  # Okta's lookup before every create and update
            values = {"org": self.organization.id, "key": key}
            rows = (
                list(
                    self.session.scalars(
                        user_name_lookup(self.models), {**values, "skip": start - 1, "n": count}
                    )
                )
                if count
                else []
            )
            total = self._total(rows, start, count, lambda: user_name_count(self.models), values)
        else:  # in list order, however deep the page: see page_of_users
            values = {"org": self.organization.id}
            if condition is None:
                page, counted = user_page(self.models), user_count(self.models)
            else:
                where = user_condition(condition, self.models)
                page = page_of_users(self.models, where)
                counted = count_of_users(self.models, where)
            rows = (
                list(self.session.scalars(page, {**values, "skip": start - 1, "n": count}))
                if count
                else []
            )
            total = self._total(rows, start, count, lambda: counted, values)
        groups = self._groups_of([r.id for r in rows]) if with_groups else None
        return Page(
            total,
            [
                self._render_user(r, groups.get(r.id, []) if groups is not None else None)
                for r in rows
            ],
        )

    def load_user(self, scim_id: str, *, for_update: bool = False) -> t.Any:
        """The organization's identity ``scim_id``; ``None`` if absent or deleted.

        ``for_update`` locks the row for the rest of the request (writes).
        """
        identity = self.directory.get_identity(self.organization, scim_id, for_update=for_update)
        return None if identity is None or identity.deleted_at is not None else identity

    def user_resource(self, record: t.Any, *, with_groups: bool) -> dict[str, t.Any]:
        groups = self._groups_of([record.id]).get(record.id, []) if with_groups else None
        return self._render_user(record, groups)

    def editable_user(self, record: t.Any) -> dict[str, t.Any]:
        """The stored user as a PATCH starts from: the attributes as sent, and what we own."""
        resource: dict[str, t.Any] = dict(record.attributes or {})
        resource["userName"] = record.user_name
        resource["active"] = record.active
        if record.external_id:
            resource["externalId"] = record.external_id
        return resource

    def create_user(self, data: UserInput) -> t.Any:
        identity, _ = self.directory.provision(
            self.organization,
            user_name=data.user_name,
            email=data.email,
            external_id=data.external_id,
            display_name=data.display_name,
            attributes=data.attributes,
            primary_email=primary_email(data.attributes),
            password=data.password,
            active=data.active is not False,
        )
        return identity

    def update_user(self, record: t.Any, data: UserInput) -> None:
        self.directory.update_identity(
            record,
            user_name=data.user_name,
            email=data.email,
            external_id=data.external_id,
            display_name=data.display_name,
            attributes=data.attributes,
            primary_email=primary_email(data.attributes),
            password=data.password if data.password else UNSET,
            active=UNSET if data.active is None else data.active,
        )

    def delete_user(self, record: t.Any) -> None:
        """Deactivate (rule 6) and hide; the row stays so that the same id can come back."""
        self.directory.delete_identity(record)

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
        """The groups each identity is a member of: the read-only ``groups`` attribute.

        Okta's member lists for the groups it manages; the other teams through
        the person's account (the same view as :meth:`_members`).
        """
        found: dict[str, list[dict[str, str]]] = defaultdict(list)
        if not identity_ids:
            return found
        gm, group, team = self.models.group_member, self.models.group, self.models.team
        tm, ident = self.models.team_member, self.models.identity
        listed = (
            select(gm.identity_id, group.id, team.name)
            .join(group, group.id == gm.group_id)
            .join(team, team.id == group.team_id)
            .where(gm.identity_id.in_(identity_ids), group.managed.is_(True))
        )
        in_team = (
            select(ident.id, group.id, team.name)
            .join(tm, tm.account_id == ident.account_id)
            .join(team, team.id == tm.team_id)
            .join(group, group.team_id == team.id)
            .where(
                ident.id.in_(identity_ids),
                team.organization_id == self.organization.id,
                group.managed.is_(False),
            )
        )
        rows = self.session.execute(listed.union_all(in_team).order_by(team.name))
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

    def find_groups(self, condition: Node | None, start: int, count: int, *, members: bool) -> Page:
        """The organization's teams (every team is a SCIM group), in creation order."""
        group, team = self.models.group, self.models.team
        # The team's organization too: a group row never outlives a team's move.
        where = [
            group.organization_id == self.organization.id,
            team.organization_id == self.organization.id,
        ]
        if condition is not None:
            where.append(group_condition(condition, self.models))
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
            lambda: (
                select(func.count())
                .select_from(group)
                .join(team, team.id == group.team_id)
                .where(*where)
            ),
        )
        return Page(
            total,
            [self.group_resource(GroupRecord(g, tm), members=members) for g, tm in rows],
        )

    def load_group(self, scim_id: str, *, for_update: bool = False) -> GroupRecord | None:
        """The organization's group ``scim_id`` with its team; ``None`` if absent.

        ``for_update`` locks the group's row (first, before anything of the
        team) for the rest of the request, and reads it afresh.
        """
        group, team = self.models.group, self.models.team
        stmt = (
            select(group, team)
            .join(team, team.id == group.team_id)
            .where(
                group.id == scim_id,
                group.organization_id == self.organization.id,
                team.organization_id == self.organization.id,
            )
        )
        if for_update:
            stmt = stmt.with_for_update(of=group).execution_options(populate_existing=True)
        row = self.session.execute(stmt).first()
        return None if row is None else GroupRecord(row[0], row[1])

    def group_resource(self, record: GroupRecord, *, members: bool) -> dict[str, t.Any]:
        group, team = record.group, record.team
        return render_group(
            scim_id=group.id,
            display_name=team.name,
            external_id=group.external_id,
            members=self._members(record) if members else None,
            created=group.created_at,
            modified=group.updated_at,
            version=group.version,
            location=f"{self.base_url}/Groups/{group.id}",
        )

    def create_group(self, data: GroupInput) -> GroupRecord:
        """A new team managed by Okta, with the given members (rule 10)."""
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
        return GroupRecord(group, team)

    def replace_group(self, record: GroupRecord, data: GroupInput) -> None:
        group, team = record.group, record.team
        self.directory.link_group(group, team)
        if fold(data.display_name) != fold(team.name):
            self._refuse_duplicate_name(data.display_name)
        self.directory.rename_team(team, data.display_name)
        self.directory.set_group_external_id(group, data.external_id)
        self.directory.replace_group_members(
            group, team, self._identities_for(data.member_ids or [])
        )

    def change_group(self, record: GroupRecord, changes: GroupChanges) -> None:
        """Apply a PATCH; a team Okta did not manage yet is linked first (*Link Group*)."""
        group, team = record.group, record.team
        self.directory.link_group(group, team)
        if changes.display_name is not None and changes.display_name != team.name:
            if fold(changes.display_name) != fold(team.name):
                self._refuse_duplicate_name(changes.display_name)
            self.directory.rename_team(team, changes.display_name)
        if changes.external_id_set:
            self.directory.set_group_external_id(group, changes.external_id)
        for action, ids in changes.membership:
            if action == "remove":
                identities = self._identities_for(ids, strict=False)
                self.directory.remove_group_members(group, team, identities)
            elif action == "add":
                self.directory.add_group_members(group, team, self._identities_for(ids))
            else:
                self.directory.replace_group_members(group, team, self._identities_for(ids))

    def delete_group(self, record: GroupRecord) -> None:
        """The organization's team-deletion policy decides what becomes of the team
        (quarantined by default; :mod:`..directory.team_removal`).

        Only a team Okta manages (created or linked): a team the host made and
        Okta never linked is refused (:class:`NotReady`, a 403), whatever
        the token says.
        """
        if not record.group.managed:
            raise NotReady(
                f"The team {record.team.name!r} is not managed by the identity provider: "
                "link it to a pushed group before deleting it through SCIM."
            )
        self.directory.remove_pushed_team(record.team)

    def _refuse_duplicate_name(self, name: str) -> None:
        """:class:`Conflict` if another team of the organization has this name.

        Compared through folded keys (``"Équipe"`` is ``"ÉQUIPE"``). Every team
        counts, Okta's or not, those made with plain SQL included (their group
        rows are made here): Okta links an existing team instead of pushing a
        duplicate. The organization row is locked first (``FOR UPDATE``), so
        that two concurrent creates of one name cannot both pass the check.
        """
        org = self.models.organization
        self.session.execute(select(org.id).where(org.id == self.organization.id).with_for_update())
        # Teams the host inserted with plain SQL, before `scim reindex`, count too.
        self.directory.give_teams_group_rows(self.organization)
        group = self.models.group
        taken = self.session.scalar(
            select(group.id)
            .where(
                group.organization_id == self.organization.id,
                group.name_key == fold(name),
            )
            .limit(1)
        )
        if taken is not None:
            raise Conflict(f"A group named {name!r} already exists ({taken}).")

    def member_ids(self, record: GroupRecord) -> Iterator[list[str]]:
        """The SCIM ids of the group's members, in list order, in batches: Okta's list
        (deactivated people too) once Okta manages it; before that, the team's members
        who were provisioned in the organization (people who only signed in with SSO
        have no SCIM id).

        Read as they are iterated, from a streamed cursor, :data:`~.scim_query.MEMBER_BATCH`
        at a time: a group of 50,000 is never a list in memory. The group is read now,
        its members at the first ``next()`` (when the answer streams, after the request's
        unit of work committed: :mod:`flask_okta_scim.web.scim_stream`).
        """
        group, team = record.group, record.team
        if group.managed:
            return self._streamed(group_member_ids(self.models), {"group": group.id})
        values = {"team": team.id, "org": team.organization_id}
        return self._streamed(team_member_ids(self.models), values)

    def _streamed(self, statement: t.Any, values: dict[str, t.Any]) -> Iterator[list[str]]:
        # Core rows (no ORM loading for a column of ids), a batch per fetch.
        result = self.session.connection().execute(statement, values).scalars()
        try:
            yield from (list(batch) for batch in result.partitions())
        finally:
            result.close()

    def _members(self, record: GroupRecord) -> list[dict[str, str]]:
        """The group's ``members``, as a list (:meth:`member_ids`)."""
        return [group_member(i, self.base_url) for batch in self.member_ids(record) for i in batch]

    def _identities_for(self, scim_ids: list[str], *, strict: bool = True) -> list[t.Any]:
        """This organization's users ``scim_ids`` (deactivated ones included), locked.

        Each is a row of what a member change needs (``id``, ``active``,
        ``account_id``: :func:`~.scim_query.member_rows`), not an ORM object: a
        PATCH of 1,000 members loads 1,000 small tuples, one ``IN`` query per
        :data:`~._sql.CHUNK` ids. The rows are locked in id order (after the
        group's: one lock order) and read afresh, so that a person deactivated
        at the same moment is seen inactive, not half-detached.

        With ``strict``, an id that is not a user of this organization is an
        :class:`InvalidValue` naming it, and nothing changes; otherwise
        (removals) it is skipped.
        """
        found: dict[str, t.Any] = {}
        for batch in chunks(sorted({i for i in scim_ids if plausible_id(i)})):
            found.update(
                (row.id, row)
                for row in self.session.execute(
                    member_rows(self.models, self.directory._dialect),
                    {"org": self.organization.id, "ids": batch},
                )
            )
        self.directory.locked_identities().update(found)
        missing = [i for i in scim_ids if i not in found]
        if missing and strict:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise InvalidValue(
                f"{len(missing)} member value(s) are not users of this organization: {shown}."
            )
        return [found[i] for i in dict.fromkeys(scim_ids) if i in found]

    def _total(
        self,
        rows: Sequence[t.Any],
        start: int,
        count: int,
        count_query: Callable[[], t.Any],
        values: dict[str, t.Any] | None = None,
    ) -> int:
        """``totalResults``: counted by the database unless the first page says it all.

        ``count_query`` makes the COUNT statement (run with ``values``), only when needed.
        """
        if start == 1 and len(rows) < count:
            return len(rows)
        return int(self.session.scalar(count_query(), values or {}) or 0)
