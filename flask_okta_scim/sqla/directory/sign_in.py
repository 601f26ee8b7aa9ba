"""Completing a SAML sign-in: what is decided after the signature was verified."""

from __future__ import annotations

import functools
import typing as t
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select

from ... import signals
from ...core.emails import normalize_email
from ...core.redirects import safe_next_path
from ...core.text import loggable
from ...saml.errors import SamlError
from ...saml.service import SamlIdentity
from ...saml.service import check_in_response_to
from .connections import Connections
from .jit import Jit


@functools.cache
def _member_lookup(models: t.Any) -> t.Any:
    """An account by email (``email``), with its role in an organization (``organization``),
    credentials epoch and when it was disabled: built once, it runs on every sign-in."""
    a, m, c = models.account, models.membership, models.account_control
    disabled = a.disabled_at if models.has("account", "disabled_at") else c.disabled_at
    return (
        select(a, m.role, c.epoch, disabled)
        .outerjoin(m, (m.account_id == a.id) & (m.organization_id == bindparam("organization")))
        .outerjoin(c, c.account_id == a.id)
        .where(func.lower(a.email) == func.lower(bindparam("email")))
    )


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
        account, joined, epoch = self._signing_in(
            organization, identity.email, identity.display_name
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
        self, organization: t.Any, email: str, display_name: str | None
    ) -> tuple[t.Any, bool, int]:
        """:meth:`sso_account`, and the account's credentials epoch read with the member."""
        found = self.session.execute(
            _member_lookup(self.models), {"organization": organization.id, "email": email}
        ).first()
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
