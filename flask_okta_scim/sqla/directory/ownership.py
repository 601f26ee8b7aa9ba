"""Who manages an account (directory rule 9), and the credentials and sessions that follow.

The managing organization of an account is the one that verified the domain of
its email; failing that, the one whose SCIM or JIT created it, for as long as
the account is its member; failing that, none. Only the managing organization
changes an account's sign-in email or password. When an organization stops
managing an account, the password it set is cleared and the account's sessions
end: the account's *credentials epoch* goes up, and a session that recorded an
older epoch is refused at its next request.

Decisions that depend on other organizations are taken under a lock on the
account's row (``SELECT ... FOR UPDATE`` where the database has it), taken
before anything else of the account is changed, so that two organizations'
concurrent requests serialise instead of orphaning or handing over an account.
"""

from __future__ import annotations

import typing as t
from datetime import datetime
from datetime import timezone

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import null
from sqlalchemy import select
from sqlalchemy import update

from ... import signals
from ...core.emails import email_domain
from ...core.emails import normalize_email
from ...core.errors import Conflict
from ...core.errors import NotManaged
from .accounts import Accounts
from .logouts import Logouts

#: The control rows :meth:`Ownership._control` made in the current transaction, by account id.
_MADE_CONTROLS = "made_controls"

#: Why an organization may not change an account's credentials (audit reasons).
NOT_MANAGED = "not_managed"
EMAIL_DOMAIN_NOT_VERIFIED = "email_domain_not_verified"


class Ownership(Accounts, Logouts):
    """Managing organizations, credentials set on their behalf, and credentials epochs."""

    # -- locks -------------------------------------------------------------------

    def lock_account(self, account: t.Any) -> None:
        """Lock ``account``'s row until the unit of work ends.

        Raises :class:`Conflict` when the account was deleted by a concurrent
        request in the meantime (the client retries and finds the new state).
        On SQLite, whose writers are serialised anyway, it only checks that the
        row is still there. An account created in this transaction is locked
        by its own insert already: no query then. Does not commit.
        """
        if self.created_here(account):
            return
        a = self.models.account
        found = self.session.scalar(select(a.id).where(a.id == account.id).with_for_update())
        if found is None:
            raise Conflict("The account changed at the same moment; retry.")

    # -- who manages -------------------------------------------------------------

    def verified_domain_owner(self, domain: str) -> t.Any:
        """The id of the organization that holds ``domain`` verified, or ``None``."""
        d = self.models.domain
        return self.session.scalar(
            select(d.organization_id).where(d.domain == domain, d.verified_at.is_not(None))
        )

    def managing_organization_id(self, account: t.Any) -> t.Any:
        """The id of the organization that manages ``account`` (directory rule 9), or ``None``.

        One query: the verifier of the email's domain, else the creating
        organization while the account is its member. Does not lock.
        """
        d, c, m = self.models.domain, self.models.account_control, self.models.membership
        row = self.session.execute(
            select(d.organization_id, m.organization_id)
            .select_from(self.models.account)
            .outerjoin(
                d,
                and_(d.domain == email_domain(account.email), d.verified_at.is_not(None)),
            )
            .outerjoin(c, c.account_id == self.models.account.id)
            .outerjoin(
                m,
                and_(
                    m.account_id == self.models.account.id,
                    m.organization_id == c.created_by_organization_id,
                ),
            )
            .where(self.models.account.id == account.id)
        ).first()
        if row is None:
            return None
        verifier, creator = row
        return verifier if verifier is not None else creator

    def manages(self, organization: t.Any, account: t.Any) -> bool:
        """Whether ``organization`` manages ``account`` and so may change its credentials."""
        return bool(self.managing_organization_id(account) == organization.id)

    # -- what the control row records --------------------------------------------

    def _control(self, account: t.Any, **values: t.Any) -> t.Any:
        """The account's control row with ``values`` set, created if there is none.

        A new row is inserted with ``values`` at once (no insert then update).
        For an account created in this transaction on PostgreSQL the table is
        not read: the only row there can be is one made here, kept in the
        transaction's memo (the foreign key's ``ON DELETE CASCADE`` removed
        any row of a deleted account with the same id; SQLite enforces
        foreign keys only when the host turns them on, so there the table is
        read). Does not commit.
        """
        c = self.models.account_control
        made: dict[t.Any, t.Any] = self.transaction_state().setdefault(_MADE_CONTROLS, {})
        if account.id in made:
            row = made[account.id]
        elif self.created_here(account) and self._dialect == "postgresql":
            row = None
        else:
            row = self.session.get(c, account.id)
        if row is None:
            # The epoch an account without a row has: creating the row ends no session.
            # (A reused id is told apart by the account's creation time, see session_stamp.)
            row = c(account_id=account.id, epoch=0, **values)
            self.session.add(row)
            self.session.flush()
            made[account.id] = row  # a strong reference: the session's map is weak
            return row
        for name, value in values.items():
            setattr(row, name, value)
        return row

    def record_creator(
        self, account: t.Any, organization: t.Any, *, password_set: bool = False
    ) -> None:
        """``organization``'s SCIM or JIT created ``account`` (and set its password, if
        ``password_set``). Does not commit."""
        values = {"created_by_organization_id": organization.id}
        if password_set:
            values["password_set_by_organization_id"] = organization.id
        self._control(account, **values)

    def set_password_for(self, organization: t.Any, account: t.Any, password_hash: str) -> None:
        """Store a password hash that ``organization`` (its manager) set. Does not commit.

        Does not check that ``organization`` manages the account: the caller
        decided that under the account's lock.
        """
        account.password_hash = password_hash
        self._control(account, password_set_by_organization_id=organization.id)

    def credentials_epoch(self, account_id: t.Any) -> int:
        """The account's credentials epoch; a session recorded with another one is over."""
        c = self.models.account_control
        epoch = self.session.scalar(select(c.epoch).where(c.account_id == account_id))
        return int(epoch or 0)

    def session_stamp(self, account: t.Any, epoch: int | None = None) -> dict[str, t.Any]:
        """What a session records to recognise this account's credentials later.

        The credentials epoch, and when the account was created: a database
        may give a deleted account's id to a new one (SQLite does), and a
        session of the old account must not become the new one's.
        """
        return {
            "epoch": self.credentials_epoch(account.id) if epoch is None else epoch,
            "created": _instant(getattr(account, "created_at", None)),
        }

    def session_still_valid(
        self, account_id: t.Any, stamp: dict[str, t.Any], vouched_by: t.Any | None
    ) -> bool:
        """Whether a session recorded with ``stamp`` still holds, in one query.

        It holds while the account is the one the session was opened for
        (:meth:`session_stamp`), its credentials epoch is unchanged, it is not
        disabled and, for a session an organization vouched for
        (``vouched_by``), while the account is still its member; and, for an
        SSO session whose stamp names its IdP session (``integration_id``,
        ``name_key``, ``session_index``, ``at``), while that IdP has asked for
        no single logout of it since (:mod:`.logouts`). Does not look at
        anything else.
        """
        a, c, m = self.models.account, self.models.account_control, self.models.membership
        ended = self.logged_out_clause(stamp)
        member = (
            select(m.account_id)
            .where(m.account_id == a.id, m.organization_id == vouched_by)
            .exists()
        )
        created = getattr(a, "created_at", None)
        disabled = a.disabled_at if self.models.has("account", "disabled_at") else c.disabled_at
        row = self.session.execute(
            select(
                func.coalesce(c.epoch, 0),
                member,
                created if created is not None else null(),
                disabled,
                ended if ended is not None else null(),
            )
            .select_from(a)
            .outerjoin(c, c.account_id == a.id)
            .where(a.id == account_id)
        ).first()
        if row is None:
            return False
        current, is_member, created_at, disabled_at, logged_out = row
        return (
            not logged_out
            and int(current) == int(stamp.get("epoch") or 0)
            and _instant(created_at) == stamp.get("created")
            and disabled_at is None
            and (vouched_by is None or bool(is_member))
        )

    def password_organization_id(self, account: t.Any) -> t.Any:
        """The organization whose SCIM set ``account``'s password, or ``None``."""
        c = self.models.account_control
        return self.session.scalar(
            select(c.password_set_by_organization_id).where(c.account_id == account.id)
        )

    def end_sessions(self, account: t.Any, *, reason: str) -> None:
        """End every session of ``account`` at its next request ("sign out everywhere").

        Raises the credentials epoch in SQL (concurrent calls each count) and
        records it, with ``reason``, in the operator's log (an organization's
        log could tell whether the person has an account elsewhere). Does not
        commit.
        """
        c = self.models.account_control
        row = self._control(account)
        self.session.execute(update(c).where(c.account_id == account.id).values(epoch=c.epoch + 1))
        self.session.expire(row, ["epoch"])
        self.audit(None, "account.sessions_ended", "account", account.id, reason=reason)

    def stopped_managing(self, account: t.Any, previous: t.Any, *, reason: str) -> None:
        """``previous`` (an organization id) no longer manages ``account``: clear what it set.

        The password it set is removed and every session of the account ends;
        the host hears of it through ``account_management_changed``. Call it
        under the account's lock, once the change that ended the management is
        made. Does nothing when ``previous`` still manages the account. Does
        not commit.
        """
        current = self.managing_organization_id(account)
        if previous is None or current == previous:
            return
        control = self._control(account)
        cleared = control.password_set_by_organization_id == previous
        if cleared:
            account.password_hash = None
            control.password_set_by_organization_id = None
        self.end_sessions(account, reason=reason)
        # The operator's log: in an organization's, it could tell whether the person
        # has an account elsewhere.
        self.audit(
            None,
            "account.management_ended",
            "account",
            account.id,
            reason=reason,
            previous_organization_id=previous,
            password_cleared=cleared,
        )
        self._send(
            signals.account_management_changed,
            account=account,
            previous_organization_id=previous,
            organization_id=current,
            reason=reason,
        )

    def change_password(
        self,
        account: t.Any,
        password: str | None,
        *,
        organization: t.Any = None,
        end_sessions: bool = True,
    ) -> None:
        """Your application's own password change or reset, under directory rule 9.

        With ``organization``, on its behalf: allowed when it manages the
        account. Without (the person, or your application for them): allowed
        only when nobody manages the account; a managed account's password is
        its organization's to set, through its Okta. Raises :class:`NotManaged`
        otherwise, changing nothing. ``None`` removes the password. Ends the
        account's other sessions unless ``end_sessions=False``. Does not check
        the old password or any policy. Does not commit.
        """
        self.lock_account(account)
        self._require_manager(account, organization)
        if password is None:
            account.password_hash = None
            self._control(account).password_set_by_organization_id = None
        elif organization is not None:
            self.set_password_for(organization, account, self.hash_password(password))
        else:
            account.password_hash = self.hash_password(password)
            self._control(account).password_set_by_organization_id = None
        self.audit(organization, "account.password", "person", None, email=account.email)
        if end_sessions:
            self.end_sessions(account, reason="password_changed")

    def change_email(self, account: t.Any, email: str, *, organization: t.Any = None) -> None:
        """Your application's own change of an account's sign-in email, under directory rule 9.

        The same rule as :meth:`change_password`; in addition an organization
        moves emails only into a domain it verified (as SCIM updates do), and
        the person or your application never into a domain an organization
        verified. Raises :class:`NotManaged` or
        :class:`Conflict` (the address is taken). Does not verify that the
        person owns the address: your application does, before calling this.
        Does not commit.
        """
        email = normalize_email(email)
        self.lock_account(account)
        self._require_manager(account, organization)
        owner = self.verified_domain_owner(email_domain(email))
        if organization is not None and owner != organization.id:
            raise NotManaged("An organization moves sign-in emails only into a domain it verified.")
        if organization is None and owner is not None:
            raise NotManaged(f"{email_domain(email)} belongs to an organization: ask its admin.")
        other = self.find_account(email)
        if other is not None and other.id != account.id:
            raise Conflict("Another account already signs in with this email.")
        previous = self.managing_organization_id(account)
        account.email = email
        self._flush("Another account took this email at the same moment; retry.")
        self.audit(organization, "account.email", "person", None, email=email)
        self.stopped_managing(account, previous, reason="email_changed")

    def _require_manager(self, account: t.Any, organization: t.Any) -> None:
        manager = self.managing_organization_id(account)
        if organization is not None and manager != organization.id:
            raise NotManaged("This organization does not manage the account.")
        if organization is None and manager is not None:
            raise NotManaged(
                "The account is managed by an organization's identity provider: its "
                "password and sign-in email are changed there."
            )

    def accounts_in_domain(self, domain: str) -> list[t.Any]:
        """Every account whose email is in ``domain`` (a scan: for rare, bulk decisions)."""
        a = self.models.account
        suffix = "@" + domain
        return list(
            self.session.scalars(
                select(a).where(func.lower(a.email).endswith(suffix, autoescape=True))
            )
        )


def _instant(value: datetime | None) -> float | None:
    """A timestamp as seconds, naive values (SQLite) taken as UTC; for comparing, not showing."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()
