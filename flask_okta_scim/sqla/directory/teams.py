"""Teams (directory rule 10): create, rename, members as set operations, delete, domains."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from ... import signals
from ...core.emails import normalize_domain
from ...core.errors import Conflict
from ...core.errors import NotFound
from .._sql import among
from .._sql import chunks
from .._sql import delete_returning
from .._sql import insert_each_ignore
from .._sql import insert_ignore
from .._sql import unindexed
from .base import _clean_name
from .base import bump_version
from .domains import Domains


class Teams(Domains):
    """Teams of an organization, their members and their pre-approved email domains."""

    def get_team(self, organization: t.Any, ref: t.Any) -> t.Any:
        """Return the team of ``organization`` whose id (or exact name) is ``ref``.

        Never returns another organization's team; a quarantined team only by
        its id. Raises :class:`NotFound` or :class:`Conflict` (several teams
        share the name).
        """
        team_model = self.models.team
        found = self._by_id(team_model, ref)
        if found is not None and found.organization_id == organization.id:
            return found
        matches = self.session.scalars(
            select(team_model)
            .where(
                team_model.organization_id == organization.id,
                team_model.name == str(ref),
                self._not_quarantined(team_model),
            )
            .limit(2)
        ).all()
        if len(matches) > 1:
            raise Conflict(f"Several teams of this organization are named {ref!r}: use the id.")
        if not matches:
            raise NotFound(f"No team {ref!r} in organization {organization.id}.")
        return matches[0]

    def teams(self, organization: t.Any) -> list[t.Any]:
        """Return the teams of ``organization``, by id; not the quarantined ones."""
        team_model = self.models.team
        return list(
            self.session.scalars(
                select(team_model)
                .where(
                    team_model.organization_id == organization.id,
                    self._not_quarantined(team_model),
                )
                .order_by(team_model.id)
            )
        )

    def _not_quarantined(self, team_model: t.Any) -> t.Any:
        """A WHERE clause: the team is not in quarantine (:mod:`.team_removal`)."""
        q = self.models.team_quarantine
        return ~select(q.team_id).where(q.team_id == team_model.id).exists()

    def teams_of(self, account: t.Any, organization: t.Any | None = None) -> list[t.Any]:
        """Return the teams ``account`` is a member of (of ``organization`` only, if given)."""
        team_model, tm = self.models.team, self.models.team_member
        stmt = (
            select(team_model)
            .join(tm, tm.team_id == team_model.id)
            .where(tm.account_id == account.id)
        )
        if organization is not None:
            stmt = stmt.where(team_model.organization_id == organization.id)
        return list(self.session.scalars(stmt.order_by(team_model.id)))

    def team_members(self, team: t.Any) -> list[t.Any]:
        """Return the accounts in ``team``, by email."""
        a, tm = self.models.account, self.models.team_member
        return list(
            self.session.scalars(
                select(a)
                .join(tm, tm.account_id == a.id)
                .where(tm.team_id == team.id)
                .order_by(func.lower(a.email))
            )
        )

    def team_domains(self, team: t.Any) -> list[str]:
        """Return ``team``'s pre-approved email domains, sorted."""
        d = self.models.team_domain
        return list(
            self.session.scalars(select(d.domain).where(d.team_id == team.id).order_by(d.domain))
        )

    def create_team(
        self,
        organization: t.Any,
        name: str,
        *,
        managed_by_okta: bool = False,
        external_id: str | None = None,
        members: Iterable[t.Any] = (),
    ) -> t.Any:
        """Create a team of ``organization``, optionally with ``members`` (accounts or ids).

        Every team is a SCIM group (``okta.models.group``, rule 10); one
        ``managed_by_okta`` is marked so from the start (Okta created it).
        Members must already belong to the organization (:class:`NotAMember`
        otherwise; nothing is created then). Does not commit.
        """
        name = _clean_name(name, "A team name")
        member_ids = self._account_ids(members)
        self._require_members(organization, member_ids)
        team = self.models.team(name=name, organization_id=organization.id)
        self.session.add(team)
        self.session.flush()  # the team's SCIM group row is made with it (models.py)
        if managed_by_okta:
            group = self.group_of(team)
            group.managed = True
            group.external_id = external_id
        self.audit(
            organization,
            "team.create",
            "team",
            team.id,
            name=name,
            managed_by_okta=managed_by_okta,
        )
        self._send(
            signals.team_created,
            organization=organization,
            team=team,
            managed_by_okta=managed_by_okta,
        )
        if member_ids:
            self.add_team_members(team, member_ids)
        return team

    def group_of(self, team: t.Any) -> t.Any:
        """Return ``team``'s SCIM group row (``None`` only for a team made with plain SQL).

        Its ``managed`` says whether Okta created or linked the team.
        """
        g = self.models.group
        return self.session.scalars(select(g).where(g.team_id == team.id)).first()

    def managed_by_okta(self, team: t.Any) -> bool:
        """Whether Okta created ``team`` or linked a pushed group to it."""
        group = self.group_of(team)
        return group is not None and bool(group.managed)

    def rename_team(self, team: t.Any, name: str) -> bool:
        """Rename ``team``; return whether the name changed. Does not commit."""
        name = _clean_name(name, "A team name")
        if name == team.name:
            return False
        previous, team.name = team.name, name
        self._touch_group(team)
        self._bump_identities(self._member_identity_ids(team))  # their groups[].display
        organization = self._organization_of(team)
        self.audit(organization, "team.rename", "team", team.id, name=name, previous=previous)
        self._send(
            signals.team_updated, organization=organization, team=team, previous_name=previous
        )
        return True

    def add_team_members(self, team: t.Any, accounts: Iterable[t.Any]) -> list[t.Any]:
        """Add accounts (or ids) to ``team``; return the accounts actually added.

        A set operation: members already present are skipped, and concurrent
        additions of other members are never lost. Every account must be a
        member of the team's organization (:class:`NotAMember` otherwise,
        nothing added). Does not commit.
        """
        ids = self._account_ids(accounts)
        organization = self._organization_of(team)
        self._require_members(organization, ids)
        tm = self.models.team_member
        added = insert_each_ignore(
            self.session, tm, {"team_id": team.id}, tm.account_id, ids, tm.account_id
        )
        return self._membership_changed(organization, team, added, [])[0]

    def remove_team_members(self, team: t.Any, accounts: Iterable[t.Any]) -> list[t.Any]:
        """Remove accounts (or ids) from ``team``; return the accounts actually removed.

        Accounts that are not in the team are ignored. Does not commit.
        """
        ids = self._account_ids(accounts)
        tm = self.models.team_member
        removed: list[t.Any] = []
        for batch in chunks(ids):
            removed.extend(
                delete_returning(
                    self.session,
                    tm,
                    [tm.team_id == team.id, among(tm.account_id, batch, self._dialect)],
                    tm.account_id,
                )
            )
        return self._membership_changed(self._organization_of(team), team, [], removed)[1]

    def replace_team_members(
        self, team: t.Any, accounts: Iterable[t.Any]
    ) -> tuple[list[t.Any], list[t.Any]]:
        """Make ``team``'s members exactly ``accounts``; return ``(added, removed)``.

        Computed as a difference, so members who stay are not touched; the
        team row is locked (``SELECT ... FOR UPDATE`` where the database has
        it) while the difference is applied. Does not commit.
        """
        ids = self._account_ids(accounts)
        organization = self._organization_of(team)
        self._require_members(organization, ids)
        team_model, tm = self.models.team, self.models.team_member
        self.session.execute(
            select(team_model.id).where(team_model.id == team.id).with_for_update()
        )
        current = set(self.session.scalars(select(tm.account_id).where(tm.team_id == team.id)))
        wanted = set(ids)
        added = insert_each_ignore(
            self.session,
            tm,
            {"team_id": team.id},
            tm.account_id,
            [i for i in ids if i not in current],
            tm.account_id,
        )
        removed: list[t.Any] = []
        for batch in chunks(sorted(current - wanted)):
            removed.extend(
                delete_returning(
                    self.session,
                    tm,
                    [tm.team_id == team.id, among(tm.account_id, batch, self._dialect)],
                    tm.account_id,
                )
            )
        return self._membership_changed(organization, team, added, removed)

    def delete_team(self, team: t.Any) -> None:
        """Delete ``team`` with its memberships, domains and SCIM group link.

        ``team_deleted`` is sent first, inside the transaction, so that the
        host deletes the team's resources in the same unit of work (rule 10).
        Does not commit.
        """
        organization = self._organization_of(team)
        self._send(signals.team_deleted, organization=organization, team=team)
        self._bump_identities(self._member_identity_ids(team))
        tm, d, g = self.models.team_member, self.models.team_domain, self.models.group
        gm = self.models.group_member
        self.session.execute(
            delete(gm).where(gm.group_id.in_(select(g.id).where(g.team_id == team.id)))
        )
        for model in (tm, d, g):
            self.session.execute(delete(model).where(model.team_id == team.id))
        self.audit(organization, "team.delete", "team", team.id, name=team.name)
        self.session.delete(team)
        self.session.flush()

    def add_team_domain(self, team: t.Any, domain: str) -> bool:
        """Pre-approve ``domain`` for JIT into ``team``; return whether it was new.

        The domain is normalised (lower case, IDNA) and must be a specific DNS
        name. This records the team admin's choice; it does not prove that the
        organization owns the domain. A domain another organization verified
        cannot be pre-approved (:class:`Conflict`). Does not commit.
        """
        domain = normalize_domain(domain)
        owner = self.verified_domain_owner(domain)
        if owner is not None and owner != team.organization_id:
            raise Conflict(
                f"The domain {domain} is verified by another organization: it cannot be "
                "pre-approved here."
            )
        d = self.models.team_domain
        added = insert_ignore(self.session, d, [{"team_id": team.id, "domain": domain}], d.domain)
        if added:
            self.audit(
                self._organization_of(team), "team.domain.add", "team", team.id, domain=domain
            )
        return bool(added)

    def remove_team_domain(self, team: t.Any, domain: str) -> bool:
        """Stop pre-approving ``domain`` for ``team``; return whether it was there.

        Does not commit.
        """
        domain = normalize_domain(domain)
        d = self.models.team_domain
        removed = delete_returning(
            self.session, d, [d.team_id == team.id, d.domain == domain], d.domain
        )
        if removed:
            self.audit(
                self._organization_of(team), "team.domain.remove", "team", team.id, domain=domain
            )
        return bool(removed)

    def _organization_of(self, team: t.Any) -> t.Any:
        return self.session.get(self.models.organization, team.organization_id)

    def _member_identity_ids(self, team: t.Any) -> set[str]:
        """The identities listed in ``team``'s SCIM group, and those of its members' accounts."""
        gm, g, tm, ident = (
            self.models.group_member,
            self.models.group,
            self.models.team_member,
            self.models.identity,
        )
        listed = select(gm.identity_id).join(g, g.id == gm.group_id).where(g.team_id == team.id)
        in_team = (
            select(ident.id)
            .join(tm, tm.account_id == ident.account_id)
            .where(tm.team_id == team.id, ident.organization_id == team.organization_id)
        )
        return set(self.session.scalars(listed.union(in_team)))

    def _bump_identities(self, ids: Iterable[str]) -> None:
        """New versions (and lastModified) for identities whose groups changed.

        Once per transaction (a group change that also changes the team bumps
        each person once). Locked in id order first: every writer takes group rows before
        identity rows, and identity rows in id order, so that two requests
        touching the same people wait for each other instead of deadlocking. Rows this
        transaction locked already (the members a group change names) are not locked
        again. Identities loaded in the session see the new version on their next read.
        """
        ident = self.models.identity
        bumped: set[str] = self.transaction_state().setdefault("bumped_identities", set())
        fresh = set(ids) - bumped
        bumped |= fresh
        locked = self.locked_identities()
        for batch in chunks(sorted(fresh)):
            if not locked.issuperset(batch):
                batch = list(
                    self.session.scalars(
                        select(ident.id)
                        .where(among(ident.id, batch, self._dialect))
                        .order_by(ident.id)
                        .with_for_update()
                    )
                )
                locked.update(batch)
            if batch:
                self.session.execute(
                    update(ident)
                    .where(among(ident.id, batch, self._dialect))
                    .values(version=ident.version + 1),
                    execution_options={"synchronize_session": False},
                )
                self._expire_loaded(ident, batch, ["version", "updated_at"])

    def _touch_group(self, team: t.Any) -> None:
        group = self.group_of(team)
        if group is not None:
            bump_version(group)

    def _membership_changed(
        self, organization: t.Any, team: t.Any, added: list[t.Any], removed: list[t.Any]
    ) -> tuple[list[t.Any], list[t.Any]]:
        """Record a change of ``team``'s members (account ids); return the accounts
        ``(added, removed)``, each loaded once for the audit, the signal and the caller."""
        if not added and not removed:
            return [], []
        self._touch_group(team)
        ident = self.models.identity
        self._bump_identities(
            self.session.scalars(
                select(ident.id).where(
                    unindexed(ident.organization_id) == organization.id,
                    among(ident.account_id, [*added, *removed], self._dialect),
                )
            )
        )
        added_accounts, removed_accounts = self._accounts(added), self._accounts(removed)
        # People by email, never by account id: an id's age would tell the organization
        # whether a person's account existed before it provisioned them.
        self.audit(
            organization,
            "team.members",
            "team",
            team.id,
            added=[a.email for a in added_accounts],
            removed=[a.email for a in removed_accounts],
        )
        self._send(
            signals.team_members_changed,
            organization=organization,
            team=team,
            added=added_accounts,
            removed=removed_accounts,
        )
        return added_accounts, removed_accounts
