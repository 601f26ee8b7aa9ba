"""What removing a person means (directory rule 6): a disabled account, or a deleted one.

When SCIM deactivation leaves an account in no organization, the host's
choice (``OKTA_SCIM_ACCOUNT_REMOVAL``) applies:

- ``"disable"`` (the default): the account's row stays, marked disabled, and
  its sessions end. The host's rows that point at it (documents it wrote,
  schedules it is on, audit trails) survive whatever their foreign keys say,
  and reactivation finds the same account, with the same id.
- ``"delete"``: ``user_deleted`` is sent, then the row is deleted. If the
  host's own foreign key forbids it (a table that points at the account
  without ``ON DELETE``), the deletion is undone, the account is disabled
  instead and a warning is logged: deprovisioning must never fail, or the
  person would keep the access Okta just took away.

A disabled account is enabled again when any organization adds it (SCIM,
JIT, the CLI, :meth:`~Accounts.add_member`). Where "disabled" is recorded:
the host's own ``disabled_at`` column when its account model maps one, else
the extension's ``account_control`` table.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ... import signals
from ...logs import log
from ..mixins import utcnow
from .accounts import _CREATED_ACCOUNTS
from .ownership import Ownership


class Removal(Ownership):
    """Disabled accounts, and the removal of accounts that belong nowhere any more."""

    def disabled_at(self, account: t.Any) -> datetime | None:
        """When ``account`` was disabled, or ``None`` if it is not.

        Read from the database, not from the loaded object (a concurrent
        removal may have committed since). Does not lock.
        """
        a, c = self.models.account, self.models.account_control
        if self.models.has("account", "disabled_at"):
            value: datetime | None = self.session.scalar(
                select(a.disabled_at).where(a.id == account.id)
            )
            return value
        return self.session.scalar(select(c.disabled_at).where(c.account_id == account.id))

    def is_disabled(self, account: t.Any) -> bool:
        """Whether ``account`` is disabled: it may not sign in, by password or SSO.

        Hosts call it in their own password sign-in (the extension's session
        check signs a disabled account's sessions out at their next request
        anyway). Does not say whether the account belongs to an organization.
        """
        return self.disabled_at(account) is not None

    def disable_account(
        self, account: t.Any, organization: t.Any = None, *, reason: str = "removed"
    ) -> bool:
        """Disable ``account`` and end its sessions; return whether it was enabled.

        Sends ``user_disabled`` (``organization`` is the one whose removal led
        here, or ``None``). Recorded in the operator's audit log, not the
        organization's. Does not take the account out of any organization and
        does not commit.
        """
        if self.is_disabled(account):
            return False
        now = utcnow()
        if self.models.has("account", "disabled_at"):
            account.disabled_at = now
        else:
            self._control(account).disabled_at = now
        self.end_sessions(account, reason="disabled")
        self.audit(None, "account.disable", "account", account.id, reason=reason)
        self._send(signals.user_disabled, account=account, organization=organization)
        return True

    def enable_account(self, account: t.Any, organization: t.Any = None) -> bool:
        """Enable a disabled ``account``; return whether it was disabled.

        Sends ``user_enabled``. Called by :meth:`add_member`, so a host rarely
        needs it. Does not commit.
        """
        if not self.is_disabled(account):
            return False
        if self.models.has("account", "disabled_at"):
            account.disabled_at = None
        else:
            self._control(account).disabled_at = None
        by = organization.id if organization is not None else None
        self.audit(None, "account.enable", "account", account.id, by=by)
        self._send(signals.user_enabled, account=account, organization=organization)
        return True

    def _joined(self, organization: t.Any, account: t.Any) -> None:
        if self.created_here(account):
            return  # nobody else could have disabled it yet
        # Under the account's lock, taken after the membership row was written: a removal
        # that did not see the new row commits first, and its "disabled" is undone here.
        self.lock_account(account)
        self.enable_account(account, organization)

    def remove_account(self, account: t.Any, organization: t.Any, *, policy: str) -> str:
        """Remove an account that belongs to no organization any more; return what was done.

        ``policy`` is ``"disable"`` or ``"delete"``; the answer is
        ``"disabled"`` or ``"deleted"`` (a deletion the host's foreign keys
        refused is ``"disabled"``). ``organization`` is the one whose removal
        led here. Call it under the account's lock. Does not check that the
        account belongs nowhere, and does not commit.
        """
        if policy == "delete":
            try:
                with self.session.begin_nested():
                    self._send(signals.user_deleted, account=account, organization=organization)
                    self._delete_account(account)
                    self._check_deferred_constraints()
            except IntegrityError as error:
                log(
                    "account.delete_refused",
                    logging.WARNING,
                    "Account %s was disabled, not deleted: the database refused to delete it "
                    "(a table of the application points at it without ON DELETE): %s",
                    account.id,
                    _first_line(error),
                    organization=organization.id,
                    reference=str(account.id),
                    reason="foreign_key",
                )
                self.session.expire(account)
            else:
                self.audit(None, "account.delete", "account", account.id, by=organization.id)
                return "deleted"
        self.disable_account(account, organization, reason="removed")
        return "disabled"

    def _check_deferred_constraints(self) -> None:
        """Check now the foreign keys a host declared ``DEFERRABLE INITIALLY DEFERRED``.

        They would be checked at commit, after the savepoint that can still undo
        the deletion. On PostgreSQL ``SET CONSTRAINTS ALL IMMEDIATE`` checks
        them at once (and they stay immediate for the rest of this transaction).
        SQLite has no such statement: ``PRAGMA foreign_key_check`` is run on each
        table that has a foreign key to the account table (a scan of each).
        Raises :class:`IntegrityError` for a row left pointing at the account.
        """
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            self.session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
            return
        if dialect != "sqlite":
            return
        referencing = self.session.scalars(
            text(
                "SELECT DISTINCT m.name FROM sqlite_master AS m, pragma_foreign_key_list(m.name) "
                "AS k WHERE m.type = 'table' AND k.\"table\" = :table"
            ),
            {"table": self.models.account.__table__.name},
        ).all()
        for table in referencing:
            quoted = table.replace('"', '""')
            broken = self.session.execute(text(f'PRAGMA foreign_key_check("{quoted}")')).first()
            if broken is not None:
                raise IntegrityError(
                    "PRAGMA foreign_key_check",
                    None,
                    Exception(f"FOREIGN KEY constraint failed: {table} row {broken[1]}"),
                )

    def _delete_account(self, account: t.Any) -> None:
        """Delete ``account`` and every extension row that points at it."""
        ident, tm, m = self.models.identity, self.models.team_member, self.models.membership
        self.session.execute(
            ident.__table__.update().where(ident.account_id == account.id).values(account_id=None)
        )
        self.session.execute(delete(tm).where(tm.account_id == account.id))
        self.session.execute(delete(m).where(m.account_id == account.id))
        self.session.delete(account)
        self.session.flush()
        self.transaction_state().get(_CREATED_ACCOUNTS, set()).discard(account.id)


def _first_line(error: IntegrityError) -> str:
    return str(error.orig).strip().splitlines()[0][:300] if error.orig else "integrity error"
