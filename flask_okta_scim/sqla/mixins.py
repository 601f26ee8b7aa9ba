"""Declarative mixins for the host's own models.

A host keeps its account, organization and team models and composes these
mixins into them; the extension then defines its own tables (memberships,
identities, connections, audit, ...) next to them, in the same database, with
:func:`flask_okta_scim.sqla.define_models` (called for you by
:class:`~flask_okta_scim.OktaSCIM`)::

    class Organization(db.Model, OrganizationMixin):
        pass

    class Account(db.Model, AccountMixin, flask_login.UserMixin):
        pass

    class Team(db.Model, TeamMixin):
        pass

Each mixin declares an integer ``id`` primary key; a host whose model already
has one keeps its own (a column defined on the class wins over the mixin's).
The extension's tables point at ``<table>.id``.

The columns shipped here are frozen: a change goes into a new ``...MixinV2``
so that existing databases keep working.
"""

from __future__ import annotations

import typing as t
from datetime import datetime
from datetime import timezone

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import mapped_column

from ..passwords import hash_password
from ..passwords import verify_password


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class OrganizationMixin:
    """A tenant: the host's customer organization."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccountMixin:
    """One person, identified by email (compared case-insensitively).

    The extension adds a unique index on ``lower(email)``. ``password_hash`` is
    only ever written through :meth:`set_password`; the hash is never returned
    by any API of the extension.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def set_password(self, password: str | None) -> None:
        """Store a strong hash of ``password``; ``None`` removes password sign-in."""
        self.password_hash = hash_password(password) if password is not None else None

    def check_password(self, password: str) -> bool:
        """Return whether ``password`` is this account's password, in constant time."""
        return verify_password(self.password_hash, password)


class TeamMixin:
    """A team of one organization.

    ``organization_id`` references ``organization.id``; a host whose
    organization table has another name sets ``__okta_organization_table__``.
    """

    __okta_organization_table__: t.ClassVar[str] = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @declared_attr
    def organization_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey(f"{cls.__okta_organization_table__}.id", ondelete="CASCADE"),
            index=True,
        )
