"""SCIM groups: the identity provider's member lists behind Okta-managed teams.

A group's members are identities, deactivated ones included (Okta keeps them in
its group). Team membership follows for the active ones; when a person is
reactivated, the teams of their groups are given back (rule 7), so that Okta,
which does not push memberships it believes unchanged, stays right.
"""

from __future__ import annotations

import typing as t

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from ... import signals
from .._sql import among
from .._sql import chunks
from .._sql import delete_returning
from .._sql import insert_each_ignore
from .base import bump_version
from .teams import Teams


class Groups(Teams):
    """Member lists of Okta-managed teams, as set operations on identities."""

    def set_group_external_id(self, group: t.Any, external_id: str | None) -> bool:
        """Record the identity provider's ``externalId`` of ``group``; return whether it changed.

        Does not commit.
        """
        if group.external_id == external_id:
            return False
        group.external_id = external_id
        bump_version(group)
        self.audit(group.organization_id, "group.external_id", "group", group.id)
        return True

    def link_group(self, group: t.Any, team: t.Any) -> bool:
        """Let Okta manage ``team`` from now on (Okta's *Link Group*); return whether it was new.

        The group's member list starts as the team's provisioned people, the
        view Okta was shown before linking; Okta's next push then sets it.
        Audited as ``group.link`` and sent as ``team_linked``. Does not commit.
        """
        if group.managed:
            return False
        gm = self.models.group_member
        group.managed = True
        bump_version(group)
        insert_each_ignore(
            self.session,
            gm,
            {"group_id": group.id},
            gm.identity_id,
            self.team_identity_ids(team),
            gm.identity_id,
        )
        organization = self._organization_of(team)
        self.audit(organization, "group.link", "team", team.id, group=group.id)
        self._send(signals.team_linked, organization=organization, team=team, group_id=group.id)
        return True

    def team_identity_ids(self, team: t.Any) -> list[str]:
        """The SCIM ids of ``team``'s members provisioned in its organization, by creation."""
        tm, ident = self.models.team_member, self.models.identity
        return list(
            self.session.scalars(
                select(ident.id)
                .join(tm, tm.account_id == ident.account_id)
                .where(
                    tm.team_id == team.id,
                    ident.organization_id == team.organization_id,
                    ident.deleted_at.is_(None),
                )
                .order_by(ident.created_at, ident.id)
            )
        )

    def lock_groups_of(self, organization: t.Any, scim_id: str) -> None:
        """Lock the group rows ``scim_id`` is listed in, in id order (before the identity's).

        The first step of every SCIM write of a user: a group write locks its
        group, then people; a user write locks the groups, then the person.
        """
        gm, group = self.models.group_member, self.models.group
        self.session.execute(
            select(group.id)
            .where(
                group.organization_id == organization.id,
                group.id.in_(select(gm.group_id).where(gm.identity_id == scim_id)),
            )
            .order_by(group.id)
            .with_for_update()
        ).all()

    def group_member_ids(self, group: t.Any) -> set[str]:
        """The SCIM ids of ``group``'s members."""
        gm = self.models.group_member
        return set(self.session.scalars(select(gm.identity_id).where(gm.group_id == group.id)))

    def add_group_members(self, group: t.Any, team: t.Any, identities: list[t.Any]) -> None:
        """Add identities to ``group``; the active ones join ``team``. Does not commit.

        ``identities`` need only ``id``, ``active`` and ``account_id`` (rows of
        :func:`~..scim_query.member_rows` will do). Set operations in a number of
        statements that does not grow with the number of people.
        """
        gm = self.models.group_member
        added = insert_each_ignore(
            self.session,
            gm,
            {"group_id": group.id},
            gm.identity_id,
            [i.id for i in identities],
            gm.identity_id,
        )
        self._bump_identities(added)
        self.add_team_members(team, _accounts(identities))

    def remove_group_members(self, group: t.Any, team: t.Any, identities: list[t.Any]) -> None:
        """Remove identities from ``group`` and their accounts from ``team``. Does not commit."""
        gm = self.models.group_member
        removed: list[str] = []
        for batch in chunks([i.id for i in identities]):
            removed += delete_returning(
                self.session,
                gm,
                [gm.group_id == group.id, among(gm.identity_id, batch, self._dialect)],
                gm.identity_id,
            )
        self._bump_identities(removed)
        self.remove_team_members(team, _accounts(identities))

    def replace_group_members(self, group: t.Any, team: t.Any, identities: list[t.Any]) -> None:
        """Make ``group``'s members exactly ``identities``; ``team`` follows.

        The team ends up with exactly the active members' accounts: people
        added to an Okta-managed team by other means leave it. Does not commit.
        """
        gm = self.models.group_member
        current = self.group_member_ids(group)
        wanted = {i.id for i in identities}
        insert_each_ignore(
            self.session,
            gm,
            {"group_id": group.id},
            gm.identity_id,
            sorted(wanted - current),
            gm.identity_id,
        )
        for batch in chunks(sorted(current - wanted)):
            self.session.execute(
                delete(gm).where(
                    gm.group_id == group.id, among(gm.identity_id, batch, self._dialect)
                )
            )
        self._bump_identities(wanted ^ current)
        self.replace_team_members(team, _accounts(identities))

    def _restore_group_teams(self, identity: t.Any) -> None:
        """Give a reactivated person back the teams of the groups they are in."""
        gm, group, team = self.models.group_member, self.models.group, self.models.team
        teams = self.session.scalars(
            select(team)
            .join(group, group.team_id == team.id)
            .join(gm, gm.group_id == group.id)
            .where(gm.identity_id == identity.id)
            .order_by(team.id)
        ).all()
        for found in teams:
            self.add_team_members(found, [identity.account_id])

    def _forget_group_memberships(self, identity: t.Any) -> None:
        """Take a deleted identity out of every group (their versions change)."""
        gm, group = self.models.group_member, self.models.group
        left = delete_returning(self.session, gm, [gm.identity_id == identity.id], gm.group_id)
        if left:
            self.session.execute(
                update(group).where(group.id.in_(left)).values(version=group.version + 1)
            )


def _accounts(identities: list[t.Any]) -> list[t.Any]:
    return [i.account_id for i in identities if i.active and i.account_id is not None]
