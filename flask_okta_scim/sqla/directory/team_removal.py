"""What happens to a team when Okta deletes its pushed group: the team-deletion policies.

An Okta admin who unlinks a pushed group and chooses "Delete the group in the
target app" sends ``DELETE /Groups/{id}``: one click, no confirmation, and with
the seed's behaviour the team and everything it owns are gone. Each
organization chooses (the host sets the default, ``OKTA_SCIM_TEAM_DELETION``):

- ``quarantine`` (the default): the team disappears at once for Okta (its SCIM
  group is gone: ``GET`` answers 404 and a new push of the same name makes a
  new team) and for its members (they are removed from it, with the usual
  ``team_members_changed``), but the team row and its resources stay untouched.
  ``team_quarantined`` is sent. An operator can :meth:`~TeamRemoval.restore_team`
  it (members and SCIM group as they were) until ``purge_after``; then
  :meth:`~TeamRemoval.purge_team` (``flask okta-scim purge``)
  deletes it, and only then is ``team_deleted`` sent.
- ``delete``: :meth:`delete_team` at once (``team_deleted``, the host deletes
  the resources in the same transaction).
- ``detach``: the Okta link and the members go; the team stays as an ordinary
  team with its resources, no longer managed by Okta (``team_detached``).

A quarantined team is hidden from :meth:`teams`, from name lookups, from JIT
and from SCIM; :meth:`is_quarantined` tells a host that lists teams itself.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy import select

from ... import signals
from ...config import TEAM_DELETION_POLICIES
from ...core.errors import Conflict
from ...core.errors import NotFound
from ...core.text import fold
from .._sql import chunks
from ..mixins import utcnow
from ..models import unlinked_group_of
from .base import bump_version
from .groups import Groups


class TeamRemoval(Groups):
    """The team-deletion policies: quarantine, restore and purge, detach."""

    def team_deletion_policy(self, organization: t.Any) -> str:
        """The policy ``organization`` applies when Okta deletes a team: its own, or the default."""
        c = self.models.connection
        chosen = self.session.scalar(
            select(c.team_deletion).where(c.organization_id == organization.id)
        )
        return chosen if chosen in TEAM_DELETION_POLICIES else self.team_deletion

    def remove_pushed_team(self, team: t.Any) -> str:
        """Apply the organization's policy to ``team``, whose group Okta deleted.

        Returns what was done: ``"quarantined"``, ``"deleted"`` or
        ``"detached"``. The caller holds the team's group row locked (the SCIM
        layer does). Does not commit.
        """
        policy = self.team_deletion_policy(self._organization_of(team))
        if policy == "delete":
            self.delete_team(team)
            return "deleted"
        if policy == "detach":
            self.detach_team(team)
            return "detached"
        self.quarantine_team(team)
        return "quarantined"

    # -- quarantine --------------------------------------------------------------------------

    def is_quarantined(self, team: t.Any) -> bool:
        """Whether ``team`` is set aside, waiting to be restored or purged."""
        return self.session.get(self.models.team_quarantine, team.id) is not None

    def quarantine(self, team: t.Any) -> t.Any:
        """The quarantine record of ``team`` (``purge_after``...), or ``None``."""
        return self.session.get(self.models.team_quarantine, team.id)

    def quarantined_teams(self, organization: t.Any) -> list[tuple[t.Any, t.Any]]:
        """``(team, quarantine record)`` of ``organization``'s quarantined teams, oldest first."""
        q, team_model = self.models.team_quarantine, self.models.team
        rows = self.session.execute(
            select(team_model, q)
            .join(q, q.team_id == team_model.id)
            .where(q.organization_id == organization.id)
            .order_by(q.quarantined_at, q.team_id)
        )
        return [(team, record) for team, record in rows]

    def quarantine_team(self, team: t.Any, *, until: datetime | None = None) -> t.Any:
        """Set ``team`` aside until ``until`` (default: now + the quarantine period).

        Its SCIM group row and member list are recorded, then deleted (Okta
        sees the group gone); its members are removed (``team_members_changed``);
        the team row, its pre-approved domains and whatever the host keeps for
        it stay. Sends ``team_quarantined``. A team already quarantined is
        returned as is. Does not delete anything of the host's; does not commit.
        """
        existing = self.quarantine(team)
        if existing is not None:
            return existing
        organization = self._organization_of(team)
        g, gm = self.models.group, self.models.group_member
        group = self.session.scalar(select(g).where(g.team_id == team.id).with_for_update())
        snapshot: dict[str, t.Any] = {"id": None, "external_id": None, "identity_ids": []}
        if group is not None:
            snapshot = {
                "id": group.id,
                "managed": bool(group.managed),
                "external_id": group.external_id,
                "identity_ids": sorted(
                    self.session.scalars(select(gm.identity_id).where(gm.group_id == group.id))
                ),
            }
        self._bump_identities(self._member_identity_ids(team))
        members = [a.id for a in self.team_members(team)]
        self.remove_team_members(team, members)
        if group is not None:
            self.session.execute(delete(gm).where(gm.group_id == group.id))
            self.session.execute(delete(g).where(g.id == group.id))
        now = utcnow()
        record = self.models.team_quarantine(
            team_id=team.id,
            organization_id=team.organization_id,
            quarantined_at=now,
            purge_after=until or now + self.team_quarantine,
            group=snapshot,
            member_ids=members,
        )
        self.session.add(record)
        self._flush()
        self.audit(
            organization,
            "team.quarantine",
            "team",
            team.id,
            name=team.name,
            members=len(members),
            purge_after=record.purge_after.isoformat(),
        )
        self._send(
            signals.team_quarantined,
            organization=organization,
            team=team,
            purge_after=record.purge_after,
        )
        return record

    def restore_team(self, team: t.Any, *, name: str | None = None) -> list[t.Any]:
        """Take ``team`` out of quarantine: its SCIM group (same id) and members come back.

        Members who left the organization meanwhile, or whose accounts are
        disabled, do not come back to the team. ``name`` renames the team
        first, for when another team took its name meanwhile (:class:`Conflict`
        otherwise). Returns the accounts put back. Sends ``team_restored``.
        Raises :class:`NotFound` when the team is not quarantined. Does not commit.
        """
        q = self.models.team_quarantine
        record = self.session.scalar(select(q).where(q.team_id == team.id).with_for_update())
        if record is None:
            raise NotFound(f"The team {team.name!r} is not quarantined.")
        organization = self._organization_of(team)
        if name is not None:
            self.rename_team(team, name)
        g, gm = self.models.group, self.models.group_member
        taken = self.session.scalar(
            select(g.id)
            .where(g.organization_id == team.organization_id, g.name_key == fold(team.name))
            .limit(1)
        )
        if taken is not None:
            raise Conflict(
                f"Another team of this organization is named {team.name!r} now: restore this "
                "one under another name."
            )
        snapshot = record.group or {}
        row = unlinked_group_of(team)
        if snapshot.get("id") and self.session.get(g, snapshot["id"]) is None:
            row.update(
                id=snapshot["id"],
                managed=bool(snapshot.get("managed", True)),
                external_id=snapshot.get("external_id"),
            )
        group = g(**row)
        self.session.add(group)
        self.session.delete(record)
        self._flush()
        ident, m = self.models.identity, self.models.membership
        identity_ids: list[str] = []
        for batch in chunks(snapshot.get("identity_ids") or []):
            identity_ids += self.session.scalars(
                select(ident.id).where(
                    ident.id.in_(batch),
                    ident.organization_id == team.organization_id,
                    ident.deleted_at.is_(None),
                )
            )
        if identity_ids:
            self.session.execute(
                gm.__table__.insert(),
                [{"group_id": group.id, "identity_id": i} for i in identity_ids],
            )
        still: list[t.Any] = []  # those still members of the organization
        for batch in chunks(list(record.member_ids or [])):
            still += self.session.scalars(
                select(m.account_id).where(
                    m.organization_id == team.organization_id, m.account_id.in_(batch)
                )
            )
        added = self.add_team_members(
            team, [a for a in self._accounts(still) if not self.is_disabled(a)]
        )
        self._bump_identities(self._member_identity_ids(team))
        bump_version(group)
        self.audit(organization, "team.restore", "team", team.id, name=team.name)
        self._send(signals.team_restored, organization=organization, team=team)
        return added

    def next_team_to_purge(
        self, *, now: datetime | None = None, skip: Iterable[t.Any] = ()
    ) -> t.Any:
        """The quarantined team to purge next (its time is up), locked; ``None`` if none.

        Skips teams another purge holds (``FOR UPDATE SKIP LOCKED`` where the
        database has it), so that purges on several hosts at once each take
        other teams, and the ids in ``skip``. Does not commit.
        """
        q = self.models.team_quarantine
        skipped = list(skip)
        record = self.session.scalar(
            select(q)
            .where(
                q.purge_after <= (now or utcnow()),
                *([q.team_id.not_in(skipped)] if skipped else []),
            )
            .order_by(q.purge_after, q.team_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return None if record is None else self.session.get(self.models.team, record.team_id)

    def purge_team(self, team: t.Any) -> None:
        """Delete the quarantined ``team`` for good: :meth:`delete_team` sends ``team_deleted``.

        Raises :class:`NotFound` when the team is not quarantined (a purge
        that ran meanwhile took it). Does not commit.
        """
        q = self.models.team_quarantine
        record = self.session.scalar(select(q).where(q.team_id == team.id).with_for_update())
        if record is None:
            raise NotFound(f"The team {team.name!r} is not quarantined.")
        self.audit(self._organization_of(team), "team.purge", "team", team.id, name=team.name)
        self.session.delete(record)
        self.delete_team(team)

    # -- detach --------------------------------------------------------------------------------

    def detach_team(self, team: t.Any) -> None:
        """Cut ``team`` loose from Okta: its SCIM group and members go, the team stays.

        The team gets a new, unlinked SCIM group (a new id: Okta's is gone), so
        that Okta can link it again later; its pre-approved domains and the
        host's resources are untouched. Sends ``team_detached``. Does not commit.
        """
        organization = self._organization_of(team)
        g, gm = self.models.group, self.models.group_member
        self._bump_identities(self._member_identity_ids(team))
        self.remove_team_members(team, [a.id for a in self.team_members(team)])
        old = self.session.scalar(select(g.id).where(g.team_id == team.id).with_for_update())
        if old is not None:
            self.session.execute(delete(gm).where(gm.group_id == old))
            self.session.execute(delete(g).where(g.id == old))
        self.session.add(g(**unlinked_group_of(team)))
        self._flush()
        self.audit(organization, "team.detach", "team", team.id, name=team.name)
        self._send(signals.team_detached, organization=organization, team=team)
