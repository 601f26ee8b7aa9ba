"""The directory's machinery: the unit of work, signals inside it, the audit log."""

from __future__ import annotations

import json
import typing as t
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import timedelta

from blinker import NamedSignal
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ...core.errors import ConcurrentUpdate
from ...core.errors import Conflict
from ...core.errors import InvalidValue
from ...passwords import hash_password as default_hash_password
from ...scim.resources import timestamp
from ..mixins import utcnow
from ..models import Models

_D = t.TypeVar("_D", bound="DirectoryBase")

#: ``session.info`` key of what the current transaction remembers (see ``transaction_state``).
_TRANSACTION_STATE = "okta_scim_transaction_state"

#: What a client is told when a concurrent request took a unique key first.
CONCURRENT_CHANGE = "The change conflicted with a concurrent one and was not made; retry."


#: SQLSTATEs that mean "another transaction got there first": unique violation,
#: serialization failure, deadlock.
_RETRYABLE_STATES = {"23505", "40001", "40P01"}
#: Of those, the ones where the very same transaction may succeed if run again at once.
_RERUN_STATES = {"40001", "40P01"}


@contextmanager
def database_refusals(
    conflict: str = CONCURRENT_CHANGE, own_tables: frozenset[str] = frozenset()
) -> Iterator[None]:
    """Turn the database's refusals into directory errors; the one place that does.

    What a concurrent request caused (a unique key it took first, a
    serialization failure, a deadlock, a row of ``own_tables`` pointing at
    something a concurrent request deleted) is a
    :class:`~flask_okta_scim.core.errors.Conflict` with the ``conflict``
    message: the client retries. Any other refusal (a foreign key of one of
    the host's tables that forbids deleting an account, a check constraint)
    is not the client's to fix and propagates as it is, to be logged and
    answered as a server error. Does not roll back: the caller's unit of work
    does.

    A deadlock or serialization failure (and a row a concurrent request
    deleted under an ORM update, and SQLite's "database is locked": its one
    writer was busy past the driver's timeout) is a :class:`ConcurrentUpdate`,
    which the SCIM layer runs again.
    """
    try:
        yield
    except StaleDataError:
        raise ConcurrentUpdate(conflict) from None
    except (IntegrityError, OperationalError) as e:
        if _sqlite_busy(e):
            raise ConcurrentUpdate(conflict) from None
        if not _caused_by_a_concurrent_change(e, own_tables):
            raise
        if _sqlstate(e) in _RERUN_STATES:
            raise ConcurrentUpdate(conflict) from None
        raise Conflict(conflict) from None


def _sqlite_busy(error: DBAPIError) -> bool:
    """SQLite's ``SQLITE_BUSY``: another connection held the write lock past the timeout."""
    name = getattr(error.orig, "sqlite_errorname", None)
    if name is not None:
        return str(name).startswith("SQLITE_BUSY")
    return "database is locked" in str(error.orig)


def _sqlstate(error: DBAPIError) -> str | None:
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return None if state is None else str(state)


def _caused_by_a_concurrent_change(error: DBAPIError, own_tables: frozenset[str]) -> bool:
    """Whether the database refused because of another transaction.

    PostgreSQL says so with a SQLSTATE (and, for a foreign key, the table
    whose row points nowhere); SQLite only in the message, and with its
    single writer a foreign key never fails there because of a concurrent
    delete.
    """
    state = _sqlstate(error)
    if state is not None:
        if state == "23503":  # foreign key: ours pointing at a row just deleted?
            diag = getattr(error.orig, "diag", None)
            return getattr(diag, "table_name", None) in own_tables
        return state in _RETRYABLE_STATES
    return "UNIQUE constraint failed" in str(error.orig)


#: The mass-deprovisioning guard's thresholds when the host gives none (:mod:`.guard`).
GUARD_DEFAULTS = {
    "window_minutes": 60,
    "deactivations": 50,
    "deactivation_percent": 20,
    "team_deletions": 10,
}


class DirectoryBase:
    """Session, models, actor and the helpers every part of :class:`Directory` uses."""

    def __init__(
        self,
        session: Session,
        models: Models,
        *,
        sender: t.Any,
        actor: str = "system",
        hash_password: Callable[[str], str] = default_hash_password,
        default_role: str = "member",
        account_removal: str = "disable",
        team_deletion: str = "quarantine",
        team_quarantine: timedelta = timedelta(days=30),
        guard: dict[str, int] | None = None,
    ) -> None:
        self.session = session
        self.models = models
        self.sender = sender
        self.actor = actor
        self.hash_password = hash_password
        self.default_role = default_role
        self.account_removal = account_removal
        self.team_deletion = team_deletion
        self.team_quarantine = team_quarantine
        self.guard_defaults = dict(guard or GUARD_DEFAULTS)
        #: The audit actions recorded through this directory, in order (what a unit did).
        self.actions: list[str] = []
        #: Whether the organization of the last authenticated SCIM token was in dry run.
        self.dry_run_seen = False

    @contextmanager
    def atomic(self: _D, *, expire: bool = True) -> Iterator[_D]:
        """Run one unit of work: commit the session on success, roll back on any exception.

        Every change made inside, including the writes of signal receivers,
        is kept or discarded as a whole (directory rule 11, docs/directory.rst). It commits the
        whole session, so start it with nothing else pending.

        With ``expire=False`` the objects loaded inside keep their values after
        the commit (what this transaction read and wrote) instead of being
        reloaded on their next use: for a request that only reads them
        afterwards, it saves a query per object. It does not refresh them.
        """
        try:
            with database_refusals(own_tables=self.models.written_tables):
                yield self
                if expire:
                    self.session.commit()
                else:
                    _commit_keeping_values(self.session)
        except BaseException:
            self.session.rollback()
            raise

    def _flush(self, conflict: str = CONCURRENT_CHANGE) -> None:
        """Flush now, so that a concurrent duplicate is a :class:`Conflict` here, not later."""
        with database_refusals(conflict, self.models.written_tables):
            self.session.flush()

    def transaction_state(self) -> dict[str, t.Any]:
        """A dict that lives as long as the session's current transaction, for memos.

        A new transaction (after a commit or a rollback) gets an empty one.
        """
        session = self.session
        if not isinstance(session, Session):  # a scoped_session: its current Session
            session = session()
        transaction = session.get_transaction()
        state = self.session.info.get(_TRANSACTION_STATE)
        if state is None or state["transaction"] is not transaction:
            state = {"transaction": transaction}
            self.session.info[_TRANSACTION_STATE] = state
        return t.cast(dict[str, t.Any], state)

    def _send(self, signal: NamedSignal, **kwargs: t.Any) -> None:
        """Flush, then send ``signal`` inside the open transaction."""
        self.session.flush()
        signal.send(self.sender, **kwargs)

    def audit(
        self,
        organization: t.Any,
        action: str,
        target_type: str | None = None,
        target_id: t.Any = None,
        *,
        outcome: str = "success",
        **detail: t.Any,
    ) -> None:
        """Add an audit row. Callers pass field *names*, never passwords or tokens.

        Also for decisions taken outside the directory (a refused request). Does
        not commit.
        """
        self.actions.append(action)
        self.session.add(
            self.models.audit(
                organization_id=getattr(organization, "id", organization),
                actor=self.actor,
                action=action,
                target_type=target_type,
                target_id=None if target_id is None else str(target_id),
                outcome=outcome,
                detail=detail,
            )
        )

    def _audit_at_once(
        self, organization: t.Any, action: str, target_type: str | None, **detail: t.Any
    ) -> None:
        """:meth:`audit` written at once by a plain insert, for the one entry of a hot path.

        The sign-in's entry: no ORM object, no unit of work, no id read back.
        Not for a unit that writes several entries (:meth:`audit` batches
        them into one statement at the next flush). Does not commit.
        """
        self.actions.append(action)
        self.session.flush()  # entries added before stay before (nothing to do when clean)
        audit = self.models.audit
        self.session.connection().execute(
            insert(audit.__table__),
            {
                "organization_id": getattr(organization, "id", organization),
                "created_at": utcnow(),
                "actor": self.actor,
                "action": action,
                "target_type": target_type,
                "target_id": None,
                "outcome": "success",
                "detail": detail,
            },
        )

    def purge_audit(self, before: datetime, *, batch: int = 5000) -> int:
        """Delete up to ``batch`` audit entries older than ``before``, oldest first; how many.

        The retention purge, and the only way entries leave the log. Call it in
        a loop, one unit of work per batch, until it returns 0: each batch
        locks only its own rows. Does not commit.
        """
        audit = self.models.audit
        ids = list(
            self.session.scalars(
                select(audit.id).where(audit.created_at < before).order_by(audit.id).limit(batch)
            )
        )
        if ids:
            self.session.execute(delete(audit).where(audit.id.in_(ids)))
        return len(ids)

    def audit_log(
        self,
        organization: t.Any,
        *,
        limit: int = 100,
        since: datetime | None = None,
        kind: str | None = None,
        before: int | None = None,
    ) -> list[t.Any]:
        """Return the newest ``limit`` audit rows of ``organization``, newest first.

        ``since`` keeps rows at or after that time; ``kind`` keeps one action
        (``"user.update"``) or a family of them (``"user"``, ``"sso"``...);
        ``before`` keeps rows older than the row of that id (the next page).
        """
        audit = self.models.audit
        stmt = select(audit).where(audit.organization_id == organization.id)
        if before is not None:
            stmt = stmt.where(audit.id < before)
        if since is not None:
            stmt = stmt.where(audit.created_at >= since)
        if kind:
            stmt = stmt.where(
                or_(audit.action == kind, audit.action.startswith(kind + ".", autoescape=True))
            )
        return list(self.session.scalars(stmt.order_by(audit.id.desc()).limit(limit)))

    def locked_identities(self) -> set[str]:
        """The SCIM ids of the identities this transaction locked (``FOR UPDATE``) so far.

        Whoever locks identity rows adds them, so that a later step of the same unit
        of work does not lock them again. Forgotten with the transaction.
        """
        return t.cast(set[str], self.transaction_state().setdefault("locked_identities", set()))

    def _expire_loaded(self, model: t.Any, ids: Iterable[t.Any], attributes: list[str]) -> None:
        """Expire ``attributes`` of the objects of ``model`` with these ids that the session
        holds (after an UPDATE in SQL): their next read loads them afresh."""
        wanted = set(ids)
        for row in list(self.session.identity_map.values()):
            if isinstance(row, model) and row.id in wanted:
                self.session.expire(row, attributes)

    @property
    def _dialect(self) -> str:
        """The database's kind: ``"postgresql"``, ``"sqlite"``, ..."""
        return str(self.session.get_bind().dialect.name)

    def _by_id(self, model: t.Any, ref: t.Any) -> t.Any:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.session.get(model, int(ref))
        return None


def bump_version(row: t.Any) -> None:
    """Increment ``row.version`` in SQL (``version = version + 1``), not in Python.

    Concurrent changes of one resource then each get their own version (and
    ETag): the database serialises the updates instead of both writing n + 1.
    """
    row.version = type(row).version + 1


def _clean_name(value: t.Any, what: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"{what} must be a non-empty string.")
    cleaned = str(value).strip()
    if len(cleaned) > limit:
        raise InvalidValue(f"{what} must be at most {limit} characters.")
    return cleaned


def _short(display_name: str | None) -> str | None:
    """A display name cut to the account column's 200 characters (identities keep it whole)."""
    return display_name[:200] if display_name else display_name


def audit_entry(row: t.Any) -> dict[str, t.Any]:
    """An audit row as the command line and the admin console export it (JSON).

    When (RFC 3339, UTC), who, what, on what, the outcome and the detail.
    """
    return {
        "at": timestamp(row.created_at),
        "actor": row.actor,
        "action": row.action,
        "target": (
            None
            if not row.target_type
            else row.target_type
            if row.target_id is None
            else f"{row.target_type}:{row.target_id}"
        ),
        "outcome": row.outcome,
        "detail": row.detail,
    }


#: An audited value longer than this (as JSON) is recorded by its length only.
AUDIT_VALUE_LIMIT = 200


def changed_values(before: dict[str, t.Any], after: dict[str, t.Any]) -> dict[str, t.Any]:
    """``{field: {"before": ..., "after": ...}}`` for the fields that differ, bounded.

    A value whose JSON is longer than :data:`AUDIT_VALUE_LIMIT` characters is
    replaced by ``"(N characters)"``, so that one request cannot make one
    audit entry large. At most 50 fields, by name.
    """

    def bounded(value: t.Any) -> t.Any:
        text = json.dumps(value, sort_keys=True, default=str)
        return value if len(text) <= AUDIT_VALUE_LIMIT else f"({len(text)} characters)"

    names = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {
        name: {"before": bounded(before.get(name)), "after": bounded(after.get(name))}
        for name in names[:50]
    }


def _commit_keeping_values(session: t.Any) -> None:
    """Commit ``session`` without expiring the objects it holds (see :meth:`Directory.atomic`)."""
    current = session() if not isinstance(session, Session) else session
    before = current.expire_on_commit
    current.expire_on_commit = False
    try:
        current.commit()
    finally:
        current.expire_on_commit = before
