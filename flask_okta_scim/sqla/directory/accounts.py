"""Organizations, accounts and memberships: who belongs where, with which role."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from sqlalchemy import func
from sqlalchemy import select

from ...core.emails import normalize_email
from ...core.errors import Conflict
from ...core.errors import InvalidValue
from ...core.errors import NotAMember
from ...core.errors import NotFound
from .._sql import among
from .._sql import chunks
from .._sql import insert_ignore_one
from .base import DirectoryBase
from .base import _clean_name
from .base import _short

#: How a person came to be a member of an organization.
JOINED_VIA = ("scim", "jit", "manual")


#: The ids of the accounts created in the current transaction (:meth:`Accounts.created_here`).
_CREATED_ACCOUNTS = "created_accounts"


class Accounts(DirectoryBase):
    """Organizations, the accounts of people, and their memberships."""

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

    def create_organization(self, name: str) -> t.Any:
        """Create an organization named ``name``. Does not commit."""
        name = _clean_name(name, "An organization name")
        organization = self.models.organization(name=name)
        self.session.add(organization)
        self.session.flush()
        self.audit(organization, "organization.create", "organization", organization.id, name=name)
        return organization

    def find_account(self, email: str) -> t.Any:
        """Return the account whose email is ``email`` (case-insensitive), or ``None``."""
        account_model = self.models.account
        return self.session.scalars(
            select(account_model).where(func.lower(account_model.email) == func.lower(email))
        ).first()

    def ensure_account(self, email: str, display_name: str | None = None) -> tuple[t.Any, bool]:
        """Return ``(account, created)`` for ``email``, creating the account if there is none.

        An existing account is returned unchanged (``display_name`` is only
        used for a new one). Does not commit.
        """
        email = normalize_email(email)
        account = self.find_account(email)
        if account is not None:
            return account, False
        return self._create_account(email, display_name), True

    def _create_account(
        self, email: str, display_name: str | None, *, password_hash: str | None = None
    ) -> t.Any:
        """Insert a new account now (:class:`Conflict` if one with this email appeared).

        Does not look for an existing one first (:meth:`ensure_account` does).
        Does not commit.
        """
        email = normalize_email(email)
        account = self.models.account(email=email, display_name=_short(display_name))
        if password_hash is not None:
            account.password_hash = password_hash
        self.session.add(account)
        self._flush(f"An account for {email} was created at the same moment; retry.")
        self.transaction_state().setdefault(_CREATED_ACCOUNTS, set()).add(account.id)
        return account

    def created_here(self, account: t.Any) -> bool:
        """Whether this directory created ``account`` in the current transaction.

        No other transaction can see such an account yet: its row is locked by
        its own insert, and it cannot be disabled or managed by anyone else.
        The hot paths (a SCIM create, a first sign-in) skip the locks and reads
        that only matter for an account others could change. Not for an
        account the host created itself.
        """
        created: set[t.Any] = self.transaction_state().get(_CREATED_ACCOUNTS) or set()
        return account.id in created

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
        row = {
            "organization_id": organization.id,
            "account_id": account.id,
            "role": role or self.default_role,
        }
        if self.models.has("membership", "joined_via"):
            row["joined_via"] = via
        added = insert_ignore_one(self.session, m, row, m.account_id)
        if added:
            self._joined(organization, account)
            self.audit(
                organization,
                "member.add",
                "person",
                None,
                email=account.email,
                via=via,
                role=role or self.default_role,
            )
        return bool(added)

    def set_role(self, organization: t.Any, account: t.Any, role: str) -> None:
        """Change ``account``'s role in ``organization``.

        Raises :class:`NotFound` for a non-member. Does not commit.
        """
        m = self.models.membership
        membership = self.session.scalars(
            select(m).where(m.organization_id == organization.id, m.account_id == account.id)
        ).first()
        if membership is None:
            raise NotFound(f"{account.email} is not a member of organization {organization.id}.")
        membership.role = _clean_name(role, "A role", 50)
        self.audit(
            organization, "member.role", "person", None, email=account.email, role=membership.role
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
                        m.organization_id == organization.id,
                        among(m.account_id, batch, self._dialect),
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
            out.extend(
                self.session.scalars(
                    select(a).where(among(a.id, batch, self._dialect)).order_by(a.id)
                )
            )
        return out

    def _account_ids(self, accounts: Iterable[t.Any]) -> list[t.Any]:
        account_model = self.models.account
        return list(dict.fromkeys(a.id if isinstance(a, account_model) else a for a in accounts))

    def _joined(self, organization: t.Any, account: t.Any) -> None:
        """``account`` just became a member of ``organization``; :mod:`.removal` re-enables it."""
