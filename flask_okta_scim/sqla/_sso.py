"""Single sign-on: connection settings, sign-ins in progress, the replay cache, JIT, sign-in.

All of it lives in the database, so that a sign-in started on one process or
host finishes on any other, and a replayed assertion is caught everywhere.
"""

from __future__ import annotations

import secrets
import typing as t
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from .. import signals
from ..core.emails import email_domain
from ..core.emails import normalize_email
from ..core.errors import InvalidValue
from ..core.errors import JitRefused
from ..core.errors import NotReady
from ..core.redirects import safe_next_path
from ..saml.errors import SamlError
from ..saml.service import SamlIdentity
from ..saml.service import check_in_response_to
from ._base import DirectoryBase
from ._sql import insert_ignore
from .mixins import utcnow

CONFIGURED, CONNECTED = "configured", "connected"


def is_configured(connection: t.Any) -> bool:
    """Whether ``connection`` has what a sign-in needs: entity ID, SSO URL, a certificate."""
    return bool(connection.idp_entity_id and connection.idp_sso_url and connection.idp_certificates)


@dataclass(frozen=True)
class SignIn:
    """A sign-in the directory accepted: who, where to go next, and whether JIT admitted them."""

    account: t.Any
    next_path: str | None
    jit: bool


class SsoOperations(DirectoryBase):
    """What the SAML flow needs from the database."""

    # Provided by ConnectionOperations in the composed Directory.
    mark_connected: t.Callable[[t.Any], bool]

    def configure_connection(
        self,
        connection: t.Any,
        *,
        idp_entity_id: str,
        idp_sso_url: str,
        certificates: list[str],
        metadata_url: str | None = None,
    ) -> None:
        """Set the IdP's entity ID, SSO URL and signing certificates (all of them, for rollover).

        A *pending* connection becomes *configured*; a *connected* one stays
        connected. Does not check that the IdP answers. Does not commit.
        """
        if not idp_entity_id or not idp_sso_url.startswith(("https://", "http://")):
            raise InvalidValue("The IdP needs an entity ID and an http(s) sign-on URL.")
        if not certificates:
            raise InvalidValue("At least one IdP signing certificate is needed.")
        connection.idp_entity_id = idp_entity_id
        connection.idp_sso_url = idp_sso_url
        connection.idp_certificates = list(certificates)
        connection.metadata_url = metadata_url
        if connection.status != CONNECTED:
            connection.status = CONFIGURED
        self.audit(
            connection.organization_id,
            "sso.configure",
            "connection",
            connection.integration_id,
            idp_entity_id=idp_entity_id,
            certificates=len(certificates),
            metadata_url=metadata_url,
        )

    def set_allow_idp_initiated(self, connection: t.Any, allowed: bool) -> None:
        """Allow or refuse unsolicited (IdP-initiated) sign-ins. Does not commit."""
        connection.allow_idp_initiated = bool(allowed)
        self.audit(
            connection.organization_id,
            "sso.idp_initiated",
            "connection",
            connection.integration_id,
            allowed=bool(allowed),
        )

    def require_configured(self, connection: t.Any) -> None:
        """Raise :class:`NotReady` unless the IdP settings are complete."""
        if not is_configured(connection):
            raise NotReady("Single sign-on is not configured yet for this organization.")

    def complete_sign_in(
        self,
        connection: t.Any,
        organization: t.Any,
        identity: SamlIdentity,
        *,
        browser_key: str | None,
        relay_state: str | None,
    ) -> SignIn:
        """Everything a validated assertion still needs before the person is signed in.

        In order: the sign-ins this browser started (only when the response
        answers one), the InResponseTo policy, the replay cache, forgetting the
        answered request, JIT for non-members (rule 3), the audit record and
        ``sso_login``. Raises :class:`~flask_okta_scim.saml.errors.SamlError`
        or :class:`~flask_okta_scim.core.errors.JitRefused`; run it inside
        :meth:`atomic` so that a refusal leaves nothing behind. Does not check
        signatures (``process_response`` did) and does not touch the browser
        session.
        """
        outstanding = (
            self.outstanding_sign_ins(connection, browser_key) if identity.in_response_to else {}
        )
        answered = check_in_response_to(
            identity, set(outstanding), allow_idp_initiated=connection.allow_idp_initiated
        )
        if not self.remember_assertion(connection, identity.assertion_id, identity.remember_until):
            raise SamlError(f"replayed assertion {identity.assertion_id}")
        if answered is not None:
            self.finish_sign_in(answered)
            next_path = outstanding[answered]
        else:
            next_path = safe_next_path(relay_state)
        account, joined = self.sso_account(organization, identity.email, identity.display_name)
        self.record_sign_in(
            organization,
            connection,
            account,
            jit=joined,
            idp_initiated=answered is None,
            assertion_id=identity.assertion_id,
        )
        return SignIn(account=account, next_path=next_path, jit=joined)

    def start_sign_in(
        self,
        connection: t.Any,
        request_id: str,
        browser_key: str,
        next_path: str | None,
        lifetime: timedelta,
    ) -> None:
        """Remember an AuthnRequest sent for this browser. Does not commit."""
        now = utcnow()
        ar = self.models.authn_request
        self.session.execute(delete(ar).where(ar.expires_at < now))
        self.session.add(
            ar(
                id=request_id,
                connection_id=connection.id,
                browser_key=browser_key,
                next_path=next_path,
                expires_at=now + lifetime,
            )
        )

    def outstanding_sign_ins(self, connection: t.Any, browser_key: str | None) -> dict[str, t.Any]:
        """The unexpired AuthnRequests this browser started on ``connection``: ID -> next path."""
        if not browser_key:
            return {}
        ar = self.models.authn_request
        rows = self.session.execute(
            select(ar.id, ar.next_path).where(
                ar.connection_id == connection.id,
                ar.browser_key == browser_key,
                ar.expires_at > utcnow(),
            )
        )
        return {request_id: next_path for request_id, next_path in rows}

    def finish_sign_in(self, request_id: str) -> None:
        """Forget an answered AuthnRequest: an ID is answered once. Does not commit."""
        ar = self.models.authn_request
        self.session.execute(delete(ar).where(ar.id == request_id))

    def remember_assertion(self, connection: t.Any, assertion_id: str, until: datetime) -> bool:
        """Record a used assertion ID; return ``False`` if it was used before (a replay).

        An atomic insert-if-absent on a primary key, so two processes racing with
        the same assertion cannot both win. Does not commit.
        """
        seen = self.models.assertion_seen
        if secrets.randbelow(32) == 0:  # now and then, not on every sign-in
            self.session.execute(delete(seen).where(seen.expires_at < utcnow()))
        return bool(
            insert_ignore(
                self.session,
                seen,
                [
                    {
                        "connection_id": connection.id,
                        "assertion_id": assertion_id,
                        "expires_at": until,
                    }
                ],
                seen.assertion_id,
            )
        )

    def record_sign_in(
        self,
        organization: t.Any,
        connection: t.Any,
        account: t.Any,
        *,
        jit: bool,
        idp_initiated: bool,
        assertion_id: str,
    ) -> None:
        """A successful sign-in: connect the connection, audit it, send ``sso_login``."""
        self.mark_connected(connection)
        self.audit(
            organization,
            "sso.login",
            "account",
            account.id,
            jit=jit,
            idp_initiated=idp_initiated,
            assertion_id=assertion_id,
            integration_id=connection.integration_id,
        )
        self._send(signals.sso_login, organization=organization, account=account, jit=jit)

    def record_refusal(self, organization: t.Any, connection: t.Any, reason: str) -> None:
        """Audit a refused sign-in with its reason (never shown to the person). Does not commit."""
        self.audit(
            organization,
            "sso.login",
            "connection",
            connection.integration_id,
            outcome="failure",
            reason=reason,
        )

    def sso_account(
        self, organization: t.Any, email: str, display_name: str | None
    ) -> tuple[t.Any, bool]:
        """The account an assertion for ``email`` signs in: ``(account, joined_by_jit)``.

        A member of the organization is signed in as is; anybody else goes
        through JIT (rule 3), which raises :class:`JitRefused`. Does not commit.
        """
        a, m = self.models.account, self.models.membership
        found = self.session.execute(
            select(a, m.role)
            .outerjoin(m, (m.account_id == a.id) & (m.organization_id == organization.id))
            .where(func.lower(a.email) == func.lower(email))
        ).first()
        if found is not None and found[1] is not None:
            return found[0], False
        return self.jit(organization, email, display_name), True

    def connection_and_organization(self, integration_id: str) -> tuple[t.Any, t.Any]:
        """The connection with this Integration ID and its organization, in one query.

        ``(None, None)`` when there is no such connection.
        """
        c, o = self.models.connection, self.models.organization
        found = self.session.execute(
            select(c, o)
            .join(o, o.id == c.organization_id)
            .where(c.integration_id == integration_id)
        ).first()
        return (found[0], found[1]) if found is not None else (None, None)

    # -- rule 3: just-in-time provisioning at sign-in ---------------------------------

    def jit(self, organization: t.Any, email: str, display_name: str | None = None) -> t.Any:
        """Admit a person who signed in through ``organization``'s IdP; return the account.

        Admitted only if at least one team of the organization pre-approves the
        email's domain; the person then joins the organization and every such
        team. A person deactivated by SCIM in this organization is never
        re-admitted. Raises :class:`JitRefused`; creates nothing then. A
        person who is already a member is returned as is. Does not commit.
        """
        email = normalize_email(email)
        existing = self.find_account(email)
        if existing is not None and self.member_role(organization, existing) is not None:
            return existing
        key = email.lower()
        ident = self.models.identity
        deactivated = self.session.scalar(
            select(ident.id)
            .where(
                ident.organization_id == organization.id,
                ident.active.is_(False),
                or_(ident.email_key == key, ident.user_name_key == key),
            )
            .limit(1)
        )
        if deactivated is not None:
            self.audit(
                organization,
                "user.jit",
                "identity",
                deactivated,
                outcome="refused",
                reason=JitRefused.DEACTIVATED,
            )
            raise JitRefused(
                f"{email} was deprovisioned from this organization by its identity provider.",
                JitRefused.DEACTIVATED,
            )
        domain = email_domain(email)
        team_model, d = self.models.team, self.models.team_domain
        teams = list(
            self.session.scalars(
                select(team_model)
                .join(d, d.team_id == team_model.id)
                .where(team_model.organization_id == organization.id, d.domain == domain)
                .order_by(team_model.id)
            )
        )
        if not teams:
            self.audit(
                organization,
                "user.jit",
                "account",
                None,
                outcome="refused",
                reason=JitRefused.DOMAIN_NOT_APPROVED,
                domain=domain,
            )
            raise JitRefused(
                f"No team of this organization pre-approves the domain {domain}.",
                JitRefused.DOMAIN_NOT_APPROVED,
            )
        account, created = self.ensure_account(email, display_name)
        self.add_member(organization, account, via="jit")
        tm = self.models.team_member
        for team in teams:
            if insert_ignore(
                self.session, tm, [{"team_id": team.id, "account_id": account.id}], tm.account_id
            ):
                self._send(
                    signals.team_members_changed,
                    organization=organization,
                    team=team,
                    added=[account],
                    removed=[],
                )
        self.audit(
            organization,
            "user.jit",
            "account",
            account.id,
            created_account=created,
            teams=[team.id for team in teams],
        )
        self._send(
            signals.user_jit_provisioned,
            organization=organization,
            account=account,
            teams=teams,
            created_account=created,
        )
        return account
