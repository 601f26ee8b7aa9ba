"""Completing a SAML sign-in: what is decided after the signature was verified."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ... import signals
from ...core.emails import normalize_email
from ...core.redirects import safe_next_path
from ...core.text import loggable
from ...saml.errors import SamlError
from ...saml.service import SamlIdentity
from ...saml.service import check_in_response_to
from ..mixins import utcnow
from . import sign_in_sql as sql
from .connections import CONNECTED
from .connections import Connections
from .jit import Jit

#: The member row read with the connection, for the sign-in that follows in the same
#: transaction: ``(organization id, email, row or None)`` (:meth:`SignIns.connection_for_sign_in`).
_HINTED = "sign_in_member"


@dataclass(frozen=True)
class SignIn:
    """A sign-in the directory accepted: who, where to go next, and whether JIT admitted them."""

    account: t.Any
    next_path: str | None
    jit: bool
    #: The account's credentials epoch, for the session to record.
    epoch: int = 0


class SignIns(Jit, Connections):
    """The directory's side of the Assertion Consumer Service."""

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

        In order: the InResponseTo policy (a response answering a request takes
        that request, if this browser started it, in one ``DELETE ...
        RETURNING``: an ID is answered once), the member the assertion names
        (read with the connection by :meth:`connection_for_sign_in` when the
        hint matched), the replay cache, JIT for non-members (rule 3), the
        audit record and ``sso_login``. A returning member of a connected
        connection gets the replay-cache row and the audit entry in one
        statement on PostgreSQL. Raises
        :class:`~flask_okta_scim.saml.errors.SamlError` or
        :class:`~flask_okta_scim.core.errors.JitRefused`; run it inside
        :meth:`atomic` so that a refusal leaves nothing behind (the request
        taken included). Does not check signatures (``process_response`` did)
        and does not touch the browser session.
        """
        if identity.in_response_to:
            answered, next_path = self._answered_request(connection, identity, browser_key)
        else:
            check_in_response_to(
                identity, set(), allow_idp_initiated=connection.allow_idp_initiated
            )
            answered, next_path = None, safe_next_path(relay_state)
        row = self._member_row(organization, identity.email)
        returning = row is not None and row[1] is not None and row[3] is None
        if returning and connection.status == CONNECTED:
            # A returning member: the replay check and the audit entry, one statement.
            account, epoch = row[0], int(row[2] or 0)
            self._remember_and_audit(connection, organization, identity, account, answered)
            self._send(signals.sso_login, organization=organization, account=account, jit=False)
            return SignIn(account=account, next_path=next_path, jit=False, epoch=epoch)
        if not self.remember_assertion(connection, identity.assertion_id, identity.remember_until):
            raise SamlError(f"replayed assertion {identity.assertion_id}")
        account, joined, epoch = self._signing_in(
            organization, identity.email, identity.display_name, row
        )
        self.record_sign_in(
            organization,
            connection,
            account,
            jit=joined,
            idp_initiated=answered is None,
            assertion_id=identity.assertion_id,
        )
        return SignIn(account=account, next_path=next_path, jit=joined, epoch=epoch)

    def connection_for_sign_in(
        self, integration_id: str, email_hint: str | None
    ) -> tuple[t.Any, t.Any]:
        """:meth:`connection_and_organization`, reading in the same query the member
        ``email_hint`` names (:attr:`~flask_okta_scim.saml.service.ReadResponse.email_hint`).

        The hint is unverified: the row read is used by :meth:`complete_sign_in`
        in this transaction only for a validated identity whose email is exactly
        ``email_hint``; otherwise it reads the member itself. Decides nothing.
        """
        if email_hint is None:
            return self.connection_and_organization(integration_id)
        found = self.session.execute(
            sql.connection_with_member(self.models),
            {"integration_id": integration_id, "email": email_hint},
        ).first()
        if found is None:
            return None, None
        connection, organization, account, *rest = found
        member = None if account is None else (account, *rest)
        self.transaction_state()[_HINTED] = (organization.id, email_hint, member)
        return connection, organization

    def _member_row(self, organization: t.Any, email: str) -> t.Any:
        """``(account, role, epoch, disabled_at)`` for ``email`` (``None``: no account)."""
        hinted = self.transaction_state().get(_HINTED)
        if hinted is not None and hinted[0] == organization.id and hinted[1] == email:
            return hinted[2]
        return self.session.execute(
            sql.member_lookup(self.models), {"organization": organization.id, "email": email}
        ).first()

    def _answered_request(
        self, connection: t.Any, identity: SamlIdentity, browser_key: str | None
    ) -> tuple[str, t.Any]:
        """Take the one request the response answers, if this browser started it and it is
        unexpired: ``(its ID, its next path)``; :class:`SamlError` otherwise."""
        if len(identity.in_response_to) > 1:
            raise SamlError("the Response and the assertion answer different requests")
        (request_id,) = identity.in_response_to
        taken = self._take_request(connection, request_id, browser_key) if browser_key else None
        if taken is None:
            # Says why: no request at all from this browser, or another one.
            outstanding = self.outstanding_sign_ins(connection, browser_key)
            check_in_response_to(identity, set(outstanding), allow_idp_initiated=False)
            raise SamlError("InResponseTo does not match a sign-in started in this browser")
        return request_id, taken[0]

    def _take_request(self, connection: t.Any, request_id: str, browser_key: str) -> t.Any:
        """Delete and return ``(next_path,)`` of an unexpired request of this browser, or
        ``None``: an ID is answered once (two responses racing for it: one wins)."""
        if self._dialect not in ("postgresql", "sqlite"):
            outstanding = self.outstanding_sign_ins(connection, browser_key)
            if request_id not in outstanding:
                return None
            self.finish_sign_in(request_id)
            return (outstanding[request_id],)
        return self.session.execute(
            sql.take_request(self.models),
            {
                "id": request_id,
                "connection": connection.id,
                "browser": browser_key,
                "purpose": "sign_in",
                "now": utcnow(),
            },
        ).first()

    def _remember_and_audit(
        self,
        connection: t.Any,
        organization: t.Any,
        identity: SamlIdentity,
        account: t.Any,
        answered: str | None,
    ) -> None:
        """Record the assertion in the replay cache and audit the sign-in (:class:`SamlError`
        for a replay): on PostgreSQL in one statement, elsewhere in two."""
        detail = {
            "email": account.email,
            "jit": False,
            "idp_initiated": answered is None,
            "assertion_id": loggable(identity.assertion_id, 256),
            "integration_id": connection.integration_id,
        }
        if self._dialect != "postgresql":
            if not self.remember_assertion(
                connection, identity.assertion_id, identity.remember_until
            ):
                raise SamlError(f"replayed assertion {identity.assertion_id}")
            self._audit_at_once(organization, "sso.login", "person", **detail)
            return
        self.purge_seen_now_and_then()
        self.actions.append("sso.login")
        result = self.session.connection().execute(
            sql.remember_and_audit(self.models),
            {
                "connection_id": connection.id,
                "assertion_id": identity.assertion_id,
                "expires_at": identity.remember_until,
                "organization_id": organization.id,
                "created_at": utcnow(),
                "actor": self.actor,
                "detail": detail,
            },
        )
        if result.first() is None:
            raise SamlError(f"replayed assertion {identity.assertion_id}")

    def sso_account(
        self, organization: t.Any, email: str, display_name: str | None
    ) -> tuple[t.Any, bool]:
        """The account an assertion for ``email`` signs in: ``(account, joined_by_jit)``.

        A member of the organization is signed in as is; anybody else goes
        through JIT (rule 3), which raises :class:`JitRefused`. Does not commit.
        """
        account, joined, _ = self._signing_in(organization, email, display_name)
        return account, joined

    def _signing_in(
        self, organization: t.Any, email: str, display_name: str | None, found: t.Any = False
    ) -> tuple[t.Any, bool, int]:
        """:meth:`sso_account`, and the account's credentials epoch read with the member
        (``found``: that row, if the caller read it already)."""
        if found is False:
            found = self._member_row(organization, email)
        if found is not None and found[1] is not None:
            if found[3] is not None:
                # A member whose account is disabled: added back by the host's own code,
                # not through add_member (which enables it). Never signed in silently.
                raise SamlError(f"account {found[0].id} is disabled")
            return found[0], False, int(found[2] or 0)
        existing = found[0] if found is not None else None
        account = self._admit(organization, normalize_email(email), display_name, existing)
        # A new account's control row was just made with epoch 0.
        epoch = 0 if self.created_here(account) else self.credentials_epoch(account.id)
        return account, True, epoch

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
        self._audit_at_once(
            organization,
            "sso.login",
            "person",
            email=account.email,
            jit=jit,
            idp_initiated=idp_initiated,
            assertion_id=loggable(assertion_id, 256),
            integration_id=connection.integration_id,
        )
        self._send(signals.sso_login, organization=organization, account=account, jit=jit)

    def record_refusal(self, organization: t.Any, connection: t.Any, reason: str) -> None:
        """Audit a refused sign-in with its reason (never shown to the person). Does not commit.

        The reason is stored as :func:`~flask_okta_scim.core.text.loggable` makes it
        (one line, bounded): it may quote what the sender chose. Does not rate-limit
        refusals: the web layer does, before calling this.
        """
        self.audit(
            organization,
            "sso.login",
            "connection",
            connection.integration_id,
            outcome="failure",
            reason=loggable(reason),
        )
