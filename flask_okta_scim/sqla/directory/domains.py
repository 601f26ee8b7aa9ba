"""Verified email domains: claimed with a DNS challenge, verified by DNS or an operator.

An organization claims a domain and gets a challenge to publish as a DNS TXT
record; a check through the resolver verifies it. Several organizations may
claim one domain, each with its own challenge, but at most one holds it
verified (a unique index guards this under concurrency). Verifying a domain
makes the organization the manager of every account of that domain; losing or
giving it up ends that (directory rule 9).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from sqlalchemy import select

from ... import signals
from ...core.domain_check import DomainCheckFailed
from ...core.domain_check import Resolver
from ...core.domain_check import TxtRecord
from ...core.domain_check import challenge_record
from ...core.domain_check import new_challenge
from ...core.emails import normalize_domain
from ...core.errors import Conflict
from ...core.errors import NotFound
from ..mixins import utcnow
from .removal import Removal

#: How a domain became verified.
BY_DNS, BY_OPERATOR = "dns", "operator"


@dataclass(frozen=True)
class DomainCheck:
    """The outcome of checking one domain: verified or not, and why not."""

    domain: str
    verified: bool
    reason: str | None = None
    #: For a failed DNS check: "absent", "mismatch", "timeout" or "error".
    kind: str | None = None


class Domains(Removal):
    """The email domains of organizations, and the management that follows from them."""

    def domains(self, organization: t.Any) -> list[t.Any]:
        """``organization``'s claimed domains (verified or not), by name."""
        d = self.models.domain
        return list(
            self.session.scalars(
                select(d).where(d.organization_id == organization.id).order_by(d.domain)
            )
        )

    def get_domain(self, organization: t.Any, domain: str) -> t.Any:
        """``organization``'s claim of ``domain``; :class:`NotFound` if it has none."""
        domain = normalize_domain(domain)
        d = self.models.domain
        row = self.session.scalars(
            select(d).where(d.organization_id == organization.id, d.domain == domain)
        ).first()
        if row is None:
            raise NotFound(f"Organization {organization.id} has not added the domain {domain}.")
        return row

    def add_domain(self, organization: t.Any, domain: str) -> t.Any:
        """Claim ``domain`` for ``organization`` and return the claim, with its challenge.

        Claiming again returns the same claim (and challenge). Claiming does not
        verify anything and gives no rights. Does not commit.
        """
        domain = normalize_domain(domain)
        d = self.models.domain
        row = self.session.scalars(
            select(d).where(d.organization_id == organization.id, d.domain == domain)
        ).first()
        if row is not None:
            return row
        row = d(organization_id=organization.id, domain=domain, challenge=new_challenge())
        self.session.add(row)
        self._flush(f"The domain {domain} was added at the same moment; retry.")
        self.audit(organization, "domain.add", "domain", domain, domain=domain)
        return row

    def domain_record(self, claim: t.Any) -> TxtRecord:
        """The TXT record that proves ``claim`` (name and value to publish)."""
        return challenge_record(claim.domain, claim.challenge)

    def verify_domain(
        self, organization: t.Any, domain: str, resolver: Resolver | None, *, by_operator: bool
    ) -> DomainCheck:
        """Verify ``organization``'s claim of ``domain``: by DNS, or by the operator's word.

        A DNS check that fails is recorded on the claim and returned (not
        raised), so that the reason can be kept and shown. A domain another
        organization holds verified is taken over only if that organization's
        own record is gone from DNS, and never when the operator verified it
        for the holder; the operator cannot take it over either (remove it from
        the other organization first). On success the organization
        manages every account of the domain from now on: passwords that the
        previous managers set are cleared and those accounts' sessions end.
        Raises :class:`Conflict` when the domain stays with another
        organization. Does not commit.
        """
        claim = (
            self.add_domain(organization, domain)
            if by_operator
            else self.get_domain(organization, domain)
        )
        if claim.verified_at is not None:
            return DomainCheck(claim.domain, True)
        claim.checked_at = utcnow()
        if not by_operator:
            if resolver is None:
                raise ValueError("A DNS check needs a resolver (or by_operator=True).")
            try:
                resolver.check(self.domain_record(claim))
            except DomainCheckFailed as e:
                claim.check_error = e.reason[:1000]
                self.audit(
                    organization,
                    "domain.verify",
                    "domain",
                    claim.domain,
                    outcome="failure",
                    kind=e.kind,
                    reason=e.reason[:500],
                )
                return DomainCheck(claim.domain, False, e.reason, e.kind)
        holder = self._verified_claim(claim.domain)
        if holder is not None and holder.organization_id != organization.id:
            if by_operator or resolver is None:
                raise Conflict(
                    f"The domain {claim.domain} is verified by another organization "
                    f"({holder.organization_id}); it must remove the domain first."
                )
            if holder.verified_by == BY_OPERATOR:
                raise Conflict(
                    f"The domain {claim.domain} was verified for another organization by the "
                    "operator; only the operator can move it."
                )
            if self._still_published(holder, resolver):
                raise Conflict(
                    f"The domain {claim.domain} is verified by another organization, whose "
                    "DNS record is still published."
                )
            self._unverify(holder, reason="domain_lost")
        accounts = sorted(self.accounts_in_domain(claim.domain), key=lambda a: a.id)
        previous = {}
        for account in accounts:
            self.lock_account(account)
            previous[account.id] = self.managing_organization_id(account)
        claim.verified_at = utcnow()
        claim.verified_by = BY_OPERATOR if by_operator else BY_DNS
        claim.check_error = None
        self._flush(f"The domain {claim.domain} was verified by another organization; retry.")
        for account in accounts:
            self.stopped_managing(account, previous[account.id], reason="domain_verified")
        self.audit(organization, "domain.verify", "domain", claim.domain, method=claim.verified_by)
        # How many accounts the domain has, across organizations, is for the operator only.
        self.audit(None, "domain.verify", "domain", claim.domain, accounts=len(accounts))
        self._send(
            signals.domain_verified,
            organization=organization,
            domain=claim.domain,
            method=claim.verified_by,
        )
        return DomainCheck(claim.domain, True)

    def recheck_domains(
        self, resolver: Resolver, organization: t.Any | None = None
    ) -> list[DomainCheck]:
        """Check every DNS-verified domain again (of ``organization``, or of all).

        A domain whose record is gone (absent, or no longer carrying the
        challenge) stops being verified, with the consequences of
        :meth:`remove_domain`'s; a check that times out or fails is
        inconclusive and changes nothing but the recorded reason.
        Operator-verified domains are not checked. Does not commit.
        """
        d = self.models.domain
        stmt = select(d).where(d.verified_at.is_not(None), d.verified_by == BY_DNS)
        if organization is not None:
            stmt = stmt.where(d.organization_id == organization.id)
        results = []
        for claim in list(self.session.scalars(stmt.order_by(d.id))):
            claim.checked_at = utcnow()
            try:
                resolver.check(self.domain_record(claim))
            except DomainCheckFailed as e:
                claim.check_error = e.reason[:1000]
                if e.kind in ("absent", "mismatch"):
                    self._unverify(claim, reason="domain_lost")
                    results.append(DomainCheck(claim.domain, False, e.reason, e.kind))
                else:
                    results.append(DomainCheck(claim.domain, True, e.reason, e.kind))
                continue
            claim.check_error = None
            results.append(DomainCheck(claim.domain, True))
        return results

    def remove_domain(self, organization: t.Any, domain: str) -> None:
        """Withdraw ``organization``'s claim of ``domain`` (verified or not). Does not commit.

        If it was verified, the organization stops managing the accounts of the
        domain that it did not create: the passwords it set are cleared and
        their sessions end.
        """
        claim = self.get_domain(organization, domain)
        if claim.verified_at is not None:
            self._unverify(claim, reason="domain_removed")
        self.session.delete(claim)
        self.audit(organization, "domain.remove", "domain", claim.domain)
        self.session.flush()

    def _verified_claim(self, domain: str) -> t.Any:
        d = self.models.domain
        return self.session.scalars(
            select(d).where(d.domain == domain, d.verified_at.is_not(None)).with_for_update()
        ).first()

    def _still_published(self, claim: t.Any, resolver: Resolver) -> bool:
        """Whether the holder's record is still in DNS; an inconclusive check counts as yes."""
        try:
            resolver.check(self.domain_record(claim))
        except DomainCheckFailed as e:
            return e.kind not in ("absent", "mismatch")
        return True

    def _unverify(self, claim: t.Any, *, reason: str) -> None:
        """``claim`` stops being verified; its organization stops managing the domain's accounts."""
        accounts = sorted(self.accounts_in_domain(claim.domain), key=lambda a: a.id)
        for account in accounts:
            self.lock_account(account)
        claim.verified_at = None
        claim.verified_by = None
        self.session.flush()
        for account in accounts:
            self.stopped_managing(account, claim.organization_id, reason=reason)
        self.audit(
            claim.organization_id, "domain.unverified", "domain", claim.domain, reason=reason
        )
        self.audit(None, "domain.unverified", "domain", claim.domain, accounts=len(accounts))
