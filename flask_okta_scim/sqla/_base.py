"""The directory service's shared machinery: session, lookups, audit, signals."""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager

from blinker import NamedSignal
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..core.emails import normalize_email
from ..core.errors import Conflict
from ..core.errors import InvalidValue
from ..core.errors import NotAMember
from ..core.errors import NotFound
from ..passwords import hash_password as default_hash_password
from ._sql import chunks
from ._sql import insert_ignore
from .models import Models

#: How a person came to be a member of an organization.
JOINED_VIA = ("scim", "jit", "manual")

_D = t.TypeVar("_D", bound="DirectoryBase")


class DirectoryBase:
    """State and helpers shared by the user and team operations of :class:`Directory`."""

    def __init__(
        self,
        session: Session,
        models: Models,
        *,
        sender: t.Any,
        actor: str = "system",
        hash_password: Callable[[str], str] = default_hash_password,
        default_role: str = "member",
    ) -> None:
        self.session = session
        self.models = models
        self.sender = sender
        self.actor = actor
        self.hash_password = hash_password
        self.default_role = default_role

    # -- units of work -------------------------------------------------------

    @contextmanager
    def atomic(self: _D) -> Iterator[_D]:
        """Run one unit of work: commit the session on success, roll back on any exception.

        Every change made inside, including the writes of signal receivers,
        is kept or discarded as a whole (SPEC §2 rule 11). It commits the
        whole session, so start it with nothing else pending.
        """
        try:
            yield self
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise

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

    # -- lookups -------------------------------------------------------------

    def get_organization(self, ref: t.Any) -> t.Any:
        """Return the organization whose id (or, failing that, exact name) is ``ref``.

        Raises :class:`NotFound`, or :class:`Conflict` when a name is shared by
        several organizations.
        """
        org_model = self.models.organization
        found = self._by_id(org_model, ref)
        if found is not None:
            return found
        matches = self.session.scalars(
            select(org_model).where(org_model.name == str(ref)).limit(2)
        ).all()
        if len(matches) > 1:
            raise Conflict(f"Several organizations are named {ref!r}: use the id.")
        if not matches:
            raise NotFound(f"No organization {ref!r}.")
        return matches[0]

    def organizations(self) -> list[t.Any]:
        """Return every organization, by id."""
        org_model = self.models.organization
        return list(self.session.scalars(select(org_model).order_by(org_model.id)))

    def get_team(self, organization: t.Any, ref: t.Any) -> t.Any:
        """Return the team of ``organization`` whose id (or exact name) is ``ref``.

        Never returns another organization's team. Raises :class:`NotFound` or
        :class:`Conflict` (several teams share the name).
        """
        team_model = self.models.team
        found = self._by_id(team_model, ref)
        if found is not None and found.organization_id == organization.id:
            return found
        matches = self.session.scalars(
            select(team_model)
            .where(team_model.organization_id == organization.id, team_model.name == str(ref))
            .limit(2)
        ).all()
        if len(matches) > 1:
            raise Conflict(f"Several teams of this organization are named {ref!r}: use the id.")
        if not matches:
            raise NotFound(f"No team {ref!r} in organization {organization.id}.")
        return matches[0]

    def _by_id(self, model: t.Any, ref: t.Any) -> t.Any:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.session.get(model, int(ref))
        return None

    def find_account(self, email: str) -> t.Any:
        """Return the account whose email is ``email`` (case-insensitive), or ``None``."""
        account_model = self.models.account
        return self.session.scalars(
            select(account_model).where(func.lower(account_model.email) == func.lower(email))
        ).first()

    def member_role(self, organization: t.Any, account: t.Any) -> str | None:
        """Return ``account``'s role in ``organization``, or ``None`` if not a member."""
        m = self.models.membership
        role: str | None = self.session.scalar(
            select(m.role).where(m.organization_id == organization.id, m.account_id == account.id)
        )
        return role

    def members(self, organization: t.Any) -> list[tuple[t.Any, str]]:
        """Return ``(account, role)`` for every member of ``organization``, by email."""
        a, m = self.models.account, self.models.membership
        rows = self.session.execute(
            select(a, m.role)
            .join(m, m.account_id == a.id)
            .where(m.organization_id == organization.id)
            .order_by(func.lower(a.email))
        ).all()
        return [(row[0], row[1]) for row in rows]

    def organizations_of(self, account: t.Any) -> list[t.Any]:
        """Return the organizations ``account`` belongs to, by id."""
        o, m = self.models.organization, self.models.membership
        return list(
            self.session.scalars(
                select(o)
                .join(m, m.organization_id == o.id)
                .where(m.account_id == account.id)
                .order_by(o.id)
            )
        )

    def teams(self, organization: t.Any) -> list[t.Any]:
        """Return the teams of ``organization``, by id."""
        team_model = self.models.team
        return list(
            self.session.scalars(
                select(team_model)
                .where(team_model.organization_id == organization.id)
                .order_by(team_model.id)
            )
        )

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

    def audit_log(self, organization: t.Any, *, limit: int = 100) -> list[t.Any]:
        """Return the newest ``limit`` audit rows of ``organization``, newest first."""
        audit = self.models.audit
        return list(
            self.session.scalars(
                select(audit)
                .where(audit.organization_id == organization.id)
                .order_by(audit.id.desc())
                .limit(limit)
            )
        )

    # -- organizations and accounts ----------------------------------------

    def create_organization(self, name: str) -> t.Any:
        """Create an organization named ``name``. Does not commit."""
        name = _clean_name(name, "An organization name")
        organization = self.models.organization(name=name)
        self.session.add(organization)
        self.session.flush()
        self.audit(organization, "organization.create", "organization", organization.id, name=name)
        return organization

    def ensure_account(self, email: str, display_name: str | None = None) -> tuple[t.Any, bool]:
        """Return ``(account, created)`` for ``email``, creating the account if there is none.

        An existing account is returned unchanged (``display_name`` is only
        used for a new one). Does not commit.
        """
        email = normalize_email(email)
        account = self.find_account(email)
        if account is not None:
            return account, False
        account = self.models.account(email=email, display_name=_short(display_name))
        self.session.add(account)
        try:
            self.session.flush()
        except IntegrityError:
            raise Conflict(
                f"An account for {email} was created at the same moment; retry."
            ) from None
        return account, True

    def add_member(
        self, organization: t.Any, account: t.Any, *, role: str | None = None, via: str = "manual"
    ) -> bool:
        """Make ``account`` a member of ``organization``; return whether it was new.

        An existing membership keeps its role. Does not commit.
        """
        if via not in JOINED_VIA:
            raise InvalidValue(f"joined via must be one of {', '.join(JOINED_VIA)}.")
        role = _clean_name(role, "A role", 50) if role is not None else None
        m = self.models.membership
        added = insert_ignore(
            self.session,
            m,
            [
                {
                    "organization_id": organization.id,
                    "account_id": account.id,
                    "role": role or self.default_role,
                    "joined_via": via,
                }
            ],
            m.account_id,
        )
        if added:
            self.audit(
                organization,
                "member.add",
                "account",
                account.id,
                via=via,
                role=role or self.default_role,
            )
        return bool(added)

    def set_role(self, organization: t.Any, account: t.Any, role: str) -> None:
        """Change ``account``'s role in ``organization``.

        Raises :class:`NotFound` for a non-member. Does not commit.
        """
        m = self.models.membership
        membership = self.session.get(m, (organization.id, account.id))
        if membership is None:
            raise NotFound(f"{account.email} is not a member of organization {organization.id}.")
        membership.role = _clean_name(role, "A role", 50)
        self.audit(organization, "member.role", "account", account.id, role=membership.role)

    def _is_shared(self, account: t.Any, organization: t.Any) -> bool:
        """Whether ``account`` belongs to an organization other than ``organization`` (rule 9)."""
        m = self.models.membership
        return bool(
            self.session.scalar(
                select(
                    exists().where(m.account_id == account.id, m.organization_id != organization.id)
                )
            )
        )

    def _require_members(self, organization: t.Any, account_ids: Iterable[t.Any]) -> None:
        """Raise :class:`NotAMember` unless every id is a member of ``organization``."""
        m = self.models.membership
        wanted = list(dict.fromkeys(account_ids))
        found: set[t.Any] = set()
        for batch in chunks(wanted):
            found.update(
                self.session.scalars(
                    select(m.account_id).where(
                        m.organization_id == organization.id, m.account_id.in_(batch)
                    )
                )
            )
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotAMember(
                f"{len(missing)} of the accounts are not members of organization "
                f"{organization.id}.",
                missing,
            )

    def _accounts(self, ids: Iterable[t.Any]) -> list[t.Any]:
        a = self.models.account
        out: list[t.Any] = []
        for batch in chunks(ids):
            out.extend(self.session.scalars(select(a).where(a.id.in_(batch)).order_by(a.id)))
        return out

    def _account_ids(self, accounts: Iterable[t.Any]) -> list[t.Any]:
        account_model = self.models.account
        return list(dict.fromkeys(a.id if isinstance(a, account_model) else a for a in accounts))

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
