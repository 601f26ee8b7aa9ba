"""Just-in-time admission at sign-in (directory rule 3)."""

from __future__ import annotations

import typing as t

from sqlalchemy import or_
from sqlalchemy import select

from ... import signals
from ...core.emails import email_domain
from ...core.emails import normalize_email
from ...core.errors import JitRefused
from ...core.text import fold
from .._sql import insert_ignore_one
from .teams import Teams


class Jit(Teams):
    """Admission of people whom an organization's IdP vouches for and who are not members yet."""

    def jit(self, organization: t.Any, email: str, display_name: str | None = None) -> t.Any:
        """Admit a person who signed in through ``organization``'s IdP; return the account.

        Admitted only if at least one team of the organization pre-approves the
        email's domain, no other organization has verified that domain, and
        either no account exists for the email or the organization manages it
        (directory rules 3 and 9); the person then joins the organization and
        every such team. A person deactivated by SCIM in this organization is
        never re-admitted. Raises :class:`JitRefused`; creates nothing then. A
        person who is already a member is returned as is. Does not commit.
        """
        email = normalize_email(email)
        existing = self.find_account(email)
        if existing is not None and self.member_role(organization, existing) is not None:
            return existing
        return self._admit(organization, email, display_name, existing)

    def link_account(
        self, organization: t.Any, account: t.Any, display_name: str | None = None
    ) -> t.Any:
        """Admit an existing account whose owner proved it, after the IdP vouched for them.

        The rules of :meth:`jit` hold, except that the organization need not
        manage the account: the person signed in to it themselves and
        confirmed. The caller makes sure of that; this method does not check
        it. Does not commit.
        """
        if self.member_role(organization, account) is not None:
            return account
        return self._admit(
            organization, normalize_email(account.email), display_name, account, proven=True
        )

    def _admit(
        self,
        organization: t.Any,
        email: str,
        display_name: str | None,
        existing: t.Any,
        *,
        proven: bool = False,
    ) -> t.Any:
        """JIT for a non-member whose account (``existing`` or ``None``) was looked up already.

        ``proven``: the person proved they own ``existing`` (see :meth:`link_account`).
        """
        try:
            teams = self._approving_teams(organization, email)
            account, created = self._account_to_admit(
                organization, email, display_name, existing, proven=proven
            )
        except JitRefused as refused:
            # Kept only if the caller commits after catching (the ACS rolls back and
            # records a failed sign-in instead).
            self.audit(
                organization,
                "user.jit",
                "person",
                None,
                outcome="refused",
                reason=refused.reason,
                domain=email_domain(email),
            )
            raise
        self.add_member(organization, account, via="jit")
        # Before the teams' signals, whose flush then writes it with add_member's entry.
        self.audit(
            organization,
            "user.jit",
            "person",
            None,
            email=account.email,
            teams=[team.id for team in teams],
        )
        tm = self.models.team_member
        for team in teams:
            if insert_ignore_one(
                self.session, tm, {"team_id": team.id, "account_id": account.id}, tm.account_id
            ):
                self._send(
                    signals.team_members_changed,
                    organization=organization,
                    team=team,
                    added=[account],
                    removed=[],
                )
        self._send(
            signals.user_jit_provisioned,
            organization=organization,
            account=account,
            teams=teams,
            created_account=created,
        )
        return account

    def _approving_teams(self, organization: t.Any, email: str) -> list[t.Any]:
        """The teams that admit ``email``; :class:`JitRefused` when it may not join at all.

        Refused: a person SCIM deactivated in the organization, an address of a
        domain another organization verified, a domain no team pre-approves.
        Does not look at the account.
        """
        key = email.lower()  # the account email key; userName keys are folded
        ident = self.models.identity
        deactivated = self.session.scalar(
            select(ident.id)
            .where(
                ident.organization_id == organization.id,
                ident.active.is_(False),
                or_(ident.email_key == key, ident.user_name_key == fold(email)),
            )
            .limit(1)
        )
        if deactivated is not None:
            raise JitRefused(
                f"{email} was deprovisioned from this organization by its identity provider.",
                JitRefused.DEACTIVATED,
            )
        domain = email_domain(email)
        owner = self.verified_domain_owner(domain)
        if owner is not None and owner != organization.id:
            raise JitRefused(
                f"The domain {domain} is verified by another organization.",
                JitRefused.DOMAIN_VERIFIED_ELSEWHERE,
            )
        team_model, d = self.models.team, self.models.team_domain
        teams = list(
            self.session.scalars(
                select(team_model)
                .join(d, d.team_id == team_model.id)
                .where(
                    team_model.organization_id == organization.id,
                    d.domain == domain,
                    self._not_quarantined(team_model),
                )
                .order_by(team_model.id)
            )
        )
        if not teams:
            raise JitRefused(
                f"No team of this organization pre-approves the domain {domain}.",
                JitRefused.DOMAIN_NOT_APPROVED,
            )
        return teams

    def _account_to_admit(
        self,
        organization: t.Any,
        email: str,
        display_name: str | None,
        existing: t.Any,
        *,
        proven: bool,
    ) -> tuple[t.Any, bool]:
        """The account JIT admits, under its lock: a new one, or one the organization manages.

        The IdP's word alone never admits an account another organization (or
        nobody) manages, even one a concurrent request created since it was
        looked up: :class:`JitRefused` (``NOT_MANAGED``), unless ``proven``.
        """
        if existing is None:
            # The caller looked and found none: create it (a concurrent first sign-in of
            # the same person makes this a Conflict, to retry).
            account, created = self._create_account(email, display_name), True
        else:
            account, created = existing, False
        self.lock_account(account)
        if created:
            self.record_creator(account, organization)
        elif not proven and not self.manages(organization, account):
            raise JitRefused(
                "The person's account is not managed by this organization.",
                JitRefused.NOT_MANAGED,
            )
        return account, created
