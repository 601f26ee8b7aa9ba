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

from .._sql import chunks
from .._sql import delete_returning
from .._sql import insert_ignore
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

    def group_member_ids(self, group: t.Any) -> set[str]:
        """The SCIM ids of ``group``'s members."""
        gm = self.models.group_member
        return set(self.session.scalars(select(gm.identity_id).where(gm.group_id == group.id)))

    def add_group_members(self, group: t.Any, team: t.Any, identities: list[t.Any]) -> None:
        """Add identities to ``group``; the active ones join ``team``. Does not commit."""
        gm = self.models.group_member
        insert_ignore(
            self.session,
            gm,
            [{"group_id": group.id, "identity_id": i.id} for i in identities],
            gm.identity_id,
        )
        self.add_team_members(team, _accounts(identities))

    def remove_group_members(self, group: t.Any, team: t.Any, identities: list[t.Any]) -> None:
        """Remove identities from ``group`` and their accounts from ``team``. Does not commit."""
        gm = self.models.group_member
        for batch in chunks([i.id for i in identities]):
            delete_returning(
                self.session,
                gm,
                [gm.group_id == group.id, gm.identity_id.in_(batch)],
                gm.identity_id,
            )
        self.remove_team_members(team, _accounts(identities))

    def replace_group_members(self, group: t.Any, team: t.Any, identities: list[t.Any]) -> None:
        """Make ``group``'s members exactly ``identities``; ``team`` follows.

        The team ends up with exactly the active members' accounts: people
        added to an Okta-managed team by other means leave it. Does not commit.
        """
        gm = self.models.group_member
        current = self.group_member_ids(group)
        wanted = {i.id for i in identities}
        insert_ignore(
            self.session,
            gm,
            [{"group_id": group.id, "identity_id": i} for i in wanted - current],
            gm.identity_id,
        )
        for batch in chunks(sorted(current - wanted)):
            self.session.execute(
                delete(gm).where(gm.group_id == group.id, gm.identity_id.in_(batch))
            )
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
