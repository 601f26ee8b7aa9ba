"""The extension's own tables, defined on the host's declarative base.

:func:`define_models` creates them once per (base, host models) and returns a
:class:`Models` bundle; :class:`~flask_okta_scim.OktaSCIM` calls it for you.
Their foreign keys point at the host's account, organization and team tables,
so they live in the host's database and are created by the host's
``db.create_all()`` (or its migrations).

Table names start with ``okta_scim_`` unless another ``table_prefix`` is given.
"""

from __future__ import annotations

import functools
import typing as t
from dataclasses import dataclass
from dataclasses import fields
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import true
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..core.ids import new_scim_id
from ..core.ids import take_forced_scim_id
from ..core.text import fold
from .mapping import host_columns
from .mixins import utcnow
from .models_sso import define_sso_models


def utcnow_ms() -> datetime:
    """The current UTC time to the millisecond: the precision ``meta`` timestamps are sent at.

    A ``meta.lastModified eq`` of the returned value then matches, and ``gt``
    excludes it.
    """
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


#: The predicate of the identity index in list order: the people a list shows.
_LISTED: dict[str, t.Any] = {
    w: text("deleted_at IS NULL") for w in ("sqlite_where", "postgresql_where")
}

#: An auto-incrementing 64-bit key that SQLite also numbers by itself.
_BigKey = BigInteger().with_variant(Integer, "sqlite")


@dataclass(frozen=True)
class Models:
    """The host's models and the extension's own, as one bundle.

    ``account``, ``organization`` and ``team`` are the host's classes;
    ``membership`` and ``team_member`` are the host's when it brings them
    (``host_roles`` names them), the extension's otherwise; the rest are
    defined by :func:`define_models`:

    - ``membership``: an account's membership of an organization, with a
      ``role`` (the host decides what roles mean) and ``joined_via``
      (``"scim"``, ``"jit"`` or ``"manual"``; optional in a host's model).
    - ``team_member``: an account's membership of a team.
    - ``team_domain``: a team's pre-approved email domains (for JIT).
    - ``identity``: a provisioned SCIM user of one organization.
    - ``identity_email``: each address of an identity's SCIM ``emails``, for filters.
    - ``group``: the SCIM group of a team: every team has one (rule 10);
      ``managed`` once Okta created or linked it.
    - ``group_member``: a SCIM group's members as the identity provider sees
      them, deactivated people included.
    - ``connection``: an organization's Okta SAML connection.
    - ``authn_request``: SP-initiated sign-ins in progress.
    - ``assertion_seen``: the replay cache of used assertion IDs.
    - ``scim_token``: hashed SCIM bearer tokens.
    - ``audit``: the append-only audit log.
    - ``domain``: an organization's email domains, claimed with a DNS challenge and
      verified by DNS or by an operator (at most one organization per verified domain).
    - ``account_control``: who created an account, which organization set its
      password, its credentials epoch (bumped to end every session of the account)
      and, unless the host's account model maps ``disabled_at``, when it was disabled.
    - ``team_quarantine``: teams set aside after Okta deleted their group, until a purge.
    - ``held_change``: SCIM writes the mass-deprovisioning guard held for an admin.
    - ``sp_key``: the service provider's own key pairs (signing requests, decrypting
      assertions), per connection or for the whole application; private keys encrypted.
    - ``logout``: single logouts an IdP asked for, which end the sessions it vouched for.
    """

    account: t.Any
    organization: t.Any
    team: t.Any
    membership: t.Any
    team_member: t.Any
    team_domain: t.Any
    identity: t.Any
    identity_email: t.Any
    group: t.Any
    group_member: t.Any
    connection: t.Any
    authn_request: t.Any
    assertion_seen: t.Any
    scim_token: t.Any
    audit: t.Any
    domain: t.Any
    account_control: t.Any
    team_quarantine: t.Any
    held_change: t.Any
    sp_key: t.Any
    logout: t.Any
    #: Which of the models above are the host's.
    host_roles: frozenset[str] = frozenset({"account", "organization", "team"})
    #: The host's optional attributes the extension uses, as ``(role, attribute)``
    #: pairs: ``("account", "disabled_at")``, ``("membership", "joined_via")``.
    host_attributes: frozenset[tuple[str, str]] = frozenset()

    @functools.cached_property
    def own_tables(self) -> frozenset[str]:
        """The names of the extension's own tables (not the host's)."""
        return frozenset(
            getattr(self, f.name).__table__.name
            for f in fields(self)
            if f.name not in ("host_roles", "host_attributes") and f.name not in self.host_roles
        )

    @functools.cached_property
    def written_tables(self) -> frozenset[str]:
        """The tables whose rows the extension inserts: its own, and the host's membership tables.

        A foreign key of one of these failing means a concurrent request
        deleted what the row points at.
        """
        return self.own_tables | {self.membership.__table__.name, self.team_member.__table__.name}

    def has(self, role: str, attribute: str) -> bool:
        """Whether the model of ``role`` has the optional ``attribute``: see ``host_attributes``."""
        return role not in self.host_roles or (role, attribute) in self.host_attributes


_defined: dict[tuple[t.Any, ...], Models] = {}


def define_models(
    base: t.Any,
    *,
    account: t.Any,
    organization: t.Any,
    team: t.Any,
    membership: t.Any = None,
    team_member: t.Any = None,
    table_prefix: str = "okta_scim_",
) -> Models:
    """Define the extension's tables on ``base`` (e.g. Flask-SQLAlchemy's ``db.Model``).

    Calling it again with the same arguments returns the same classes rather
    than defining the tables twice. It does not create any table in a
    database: ``db.create_all()`` or a migration does.

    The host's models are checked first (``flask_okta_scim.sqla.mapping.host_columns``):
    a missing or unusable attribute raises
    :class:`~flask_okta_scim.sqla.ModelMappingError` naming the model, the
    attribute and the fix. The extension refers to the host's columns by their
    mapped attribute names (``Account.email``), whatever the columns are called.

    With ``membership`` and ``team_member`` (the host's own models of who
    belongs to which organization and team) the extension reads and writes
    those and does not define its own membership tables: one source of truth.
    """
    key = (base, account, organization, team, membership, team_member, table_prefix)
    if key in _defined:
        return _defined[key]

    p = table_prefix
    # By mapped attribute, never by column name: the host may map ``email`` to "email_address".
    host = host_columns(
        account=account,
        organization=organization,
        team=team,
        membership=membership,
        team_member=team_member,
    )
    account_fk = host.account_id
    organization_fk = host.organization_id
    team_fk = host.team_id

    Index(
        f"uq_{account.__table__.name}_email_lower",
        func.lower(host.account_email),
        unique=True,
    )

    class OktaScimMembership(base):  # type: ignore[misc]
        __abstract__ = membership is not None  # the host brings its own
        __tablename__ = f"{p}membership"
        organization_id = mapped_column(
            ForeignKey(organization_fk, ondelete="CASCADE"), primary_key=True
        )
        account_id = mapped_column(
            ForeignKey(account_fk, ondelete="CASCADE"), primary_key=True, index=True
        )
        role: Mapped[str] = mapped_column(String(50), default="member")
        joined_via: Mapped[str] = mapped_column(String(20), default="manual")
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    class OktaScimTeamMember(base):  # type: ignore[misc]
        __abstract__ = team_member is not None  # the host brings its own
        __tablename__ = f"{p}team_member"
        team_id = mapped_column(ForeignKey(team_fk, ondelete="CASCADE"), primary_key=True)
        account_id = mapped_column(
            ForeignKey(account_fk, ondelete="CASCADE"), primary_key=True, index=True
        )
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    class OktaScimTeamDomain(base):  # type: ignore[misc]
        __tablename__ = f"{p}team_domain"
        team_id = mapped_column(ForeignKey(team_fk, ondelete="CASCADE"), primary_key=True)
        domain: Mapped[str] = mapped_column(String(253), primary_key=True, index=True)
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    class OktaScimIdentity(base):  # type: ignore[misc]
        __tablename__ = f"{p}identity"
        __table_args__ = (
            UniqueConstraint("organization_id", "user_name_key"),
            Index(f"ix_{p}identity_org_email", "organization_id", "email_key"),
            Index(f"ix_{p}identity_org_primary_email", "organization_id", "primary_email_key"),
            Index(f"ix_{p}identity_org_external_id", "organization_id", "external_id"),
            # The list's order (GET /Users): a deep page walks this index only.
            Index(f"ix_{p}identity_org_created", "organization_id", "created_at", "id", **_LISTED),
        )
        id: Mapped[str] = mapped_column(String(36), primary_key=True)
        organization_id = mapped_column(ForeignKey(organization_fk, ondelete="CASCADE"))
        user_name: Mapped[str] = mapped_column(String(512))
        user_name_key: Mapped[str] = mapped_column(String(512))
        email: Mapped[str | None] = mapped_column(String(320))
        email_key: Mapped[str | None] = mapped_column(String(320))
        # The primary address of the SCIM "emails" attribute, lower-cased. Kept for
        # hosts that read it; filters use the identity_email table.
        primary_email_key: Mapped[str | None] = mapped_column(String(320))
        external_id: Mapped[str | None] = mapped_column(String(512))
        display_name: Mapped[str | None] = mapped_column(String(512))
        attributes: Mapped[dict[str, t.Any]] = mapped_column(JSON, default=dict)
        # The case-insensitive attributes, folded (core.text.fold), for filters.
        folded: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
        active: Mapped[bool] = mapped_column(Boolean, default=True)
        account_id = mapped_column(
            ForeignKey(account_fk, ondelete="SET NULL"), nullable=True, index=True
        )
        version: Mapped[int] = mapped_column(Integer, default=1)
        # Set by a SCIM DELETE: the resource is gone for clients (404), the row
        # remains so that a new create with the same userName revives the same id.
        deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow_ms)
        updated_at: Mapped[datetime] = mapped_column(
            DateTime(timezone=True), default=utcnow_ms, onupdate=utcnow_ms, index=True
        )

    class OktaScimIdentityEmail(base):  # type: ignore[misc]
        # Every address of an identity's SCIM "emails", for filters such as Entra's
        # emails[type eq "work"].value eq "...". Rewritten whole when the emails change.
        __tablename__ = f"{p}identity_email"
        identity_id = mapped_column(
            ForeignKey(f"{p}identity.id", ondelete="CASCADE"), primary_key=True
        )
        position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
        value: Mapped[str] = mapped_column(String(320))
        value_key: Mapped[str] = mapped_column(String(1000), index=True)
        type_key: Mapped[str | None] = mapped_column(String(200))
        primary: Mapped[bool] = mapped_column(Boolean, default=False)

    class OktaScimGroup(base):  # type: ignore[misc]
        # Every team is a SCIM group (rule 10): the row is made with the team (see
        # _keep_groups_with_teams). ``managed`` once Okta created or linked it.
        __tablename__ = f"{p}group"
        __table_args__ = (Index(f"ix_{p}group_org_name", "organization_id", "name_key"),)
        id: Mapped[str] = mapped_column(String(36), primary_key=True)
        organization_id = mapped_column(ForeignKey(organization_fk, ondelete="CASCADE"), index=True)
        team_id = mapped_column(ForeignKey(team_fk, ondelete="CASCADE"), unique=True)
        # The team's name, folded (core.text.fold), for displayName filters.
        name_key: Mapped[str | None] = mapped_column(String(1000))
        managed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
        external_id: Mapped[str | None] = mapped_column(String(512))
        version: Mapped[int] = mapped_column(Integer, default=1)
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow_ms)
        updated_at: Mapped[datetime] = mapped_column(
            DateTime(timezone=True), default=utcnow_ms, onupdate=utcnow_ms
        )

    class OktaScimGroupMember(base):  # type: ignore[misc]
        # The members of a SCIM group as the identity provider sees them, active
        # or not. Team membership follows for the active ones, and is restored
        # from here when a person is reactivated.
        __tablename__ = f"{p}group_member"
        group_id = mapped_column(ForeignKey(f"{p}group.id", ondelete="CASCADE"), primary_key=True)
        identity_id = mapped_column(
            ForeignKey(f"{p}identity.id", ondelete="CASCADE"), primary_key=True, index=True
        )
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    sso = define_sso_models(base, p, organization_fk)

    class OktaScimToken(base):  # type: ignore[misc]
        __tablename__ = f"{p}token"
        id: Mapped[int] = mapped_column(primary_key=True)
        organization_id = mapped_column(ForeignKey(organization_fk, ondelete="CASCADE"), index=True)
        token_hash: Mapped[str] = mapped_column(String(64), unique=True)
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        first_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    class OktaScimAudit(base):  # type: ignore[misc]
        __tablename__ = f"{p}audit"
        __table_args__ = (Index(f"ix_{p}audit_org_time", "organization_id", "created_at"),)
        id: Mapped[int] = mapped_column(_BigKey, primary_key=True, autoincrement=True)
        # A plain column, not a foreign key: audit rows outlive what they describe.
        organization_id: Mapped[int | None] = mapped_column(Integer)
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        actor: Mapped[str] = mapped_column(String(100))
        action: Mapped[str] = mapped_column(String(50))
        target_type: Mapped[str | None] = mapped_column(String(20))
        target_id: Mapped[str | None] = mapped_column(String(64))
        outcome: Mapped[str] = mapped_column(String(20), default="success")
        detail: Mapped[dict[str, t.Any]] = mapped_column(JSON, default=dict)

    class OktaScimDomain(base):  # type: ignore[misc]
        # An email domain an organization claims. Several organizations may claim one
        # (each with its own challenge); at most one holds it verified at a time.
        __tablename__ = f"{p}domain"
        __table_args__ = (
            UniqueConstraint("organization_id", "domain"),
            Index(
                f"uq_{p}domain_verified",
                "domain",
                unique=True,
                sqlite_where=text("verified_at IS NOT NULL"),
                postgresql_where=text("verified_at IS NOT NULL"),
            ),
        )
        id: Mapped[int] = mapped_column(primary_key=True)
        organization_id = mapped_column(ForeignKey(organization_fk, ondelete="CASCADE"), index=True)
        domain: Mapped[str] = mapped_column(String(253), index=True)
        challenge: Mapped[str] = mapped_column(String(64))
        verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        #: "dns" or "operator".
        verified_by: Mapped[str | None] = mapped_column(String(20))
        checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        #: Why the last check failed (for the organization's admin), or None.
        check_error: Mapped[str | None] = mapped_column(String(1000))
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    class OktaScimAccountControl(base):  # type: ignore[misc]
        # What decides who manages an account and whether its sessions still hold.
        # A row exists once something was recorded; no row means: nobody created it
        # through SCIM or JIT, nobody's password, epoch 0.
        __tablename__ = f"{p}account_control"
        account_id = mapped_column(ForeignKey(account_fk, ondelete="CASCADE"), primary_key=True)
        created_by_organization_id = mapped_column(
            ForeignKey(organization_fk, ondelete="SET NULL"), nullable=True
        )
        password_set_by_organization_id = mapped_column(
            ForeignKey(organization_fk, ondelete="SET NULL"), nullable=True
        )
        epoch: Mapped[int] = mapped_column(BigInteger, default=0)
        # Set when the account was removed from its last organization and kept (rule 6);
        # unused when the host's account model maps its own ``disabled_at``.
        disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        updated_at: Mapped[datetime] = mapped_column(
            DateTime(timezone=True), default=utcnow, onupdate=utcnow
        )

    class OktaScimTeamQuarantine(base):  # type: ignore[misc]
        # A team Okta deleted under the "quarantine" policy: kept, hidden, until purge_after.
        # ``group``: its SCIM group as it was ({"id", "external_id", "identity_ids"});
        # ``member_ids``: its members' account ids. Restoring puts both back.
        __tablename__ = f"{p}team_quarantine"
        team_id = mapped_column(ForeignKey(team_fk, ondelete="CASCADE"), primary_key=True)
        organization_id = mapped_column(ForeignKey(organization_fk, ondelete="CASCADE"), index=True)
        quarantined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        purge_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
        group: Mapped[dict[str, t.Any]] = mapped_column(JSON)
        member_ids: Mapped[list[t.Any]] = mapped_column(JSON)

    class OktaScimHeldChange(base):  # type: ignore[misc]
        # A SCIM write the mass-deprovisioning guard held instead of applying: the request
        # as it came (a password in it dropped), applied in id order on release.
        __tablename__ = f"{p}held_change"
        __table_args__ = (
            Index(f"ix_{p}held_change_resource", "organization_id", "resource_id", "status"),
        )
        id: Mapped[int] = mapped_column(_BigKey, primary_key=True, autoincrement=True)
        organization_id = mapped_column(ForeignKey(organization_fk, ondelete="CASCADE"))
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        actor: Mapped[str] = mapped_column(String(100))
        method: Mapped[str] = mapped_column(String(10))
        resource: Mapped[str] = mapped_column(String(10))
        resource_id: Mapped[str] = mapped_column(String(64))
        body: Mapped[t.Any] = mapped_column(JSON, nullable=True)
        if_match: Mapped[str | None] = mapped_column(String(100))
        reason: Mapped[str] = mapped_column(String(200))
        password_dropped: Mapped[bool] = mapped_column(Boolean, default=False)
        status: Mapped[str] = mapped_column(String(20), default="pending")
        decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        decided_by: Mapped[str | None] = mapped_column(String(100))
        outcome: Mapped[str | None] = mapped_column(String(500))

    models = Models(
        account=account,
        organization=organization,
        team=team,
        membership=membership if membership is not None else OktaScimMembership,
        team_member=team_member if team_member is not None else OktaScimTeamMember,
        team_domain=OktaScimTeamDomain,
        identity=OktaScimIdentity,
        identity_email=OktaScimIdentityEmail,
        group=OktaScimGroup,
        group_member=OktaScimGroupMember,
        connection=sso.connection,
        authn_request=sso.authn_request,
        assertion_seen=sso.assertion_seen,
        sp_key=sso.sp_key,
        logout=sso.logout,
        scim_token=OktaScimToken,
        audit=OktaScimAudit,
        domain=OktaScimDomain,
        account_control=OktaScimAccountControl,
        team_quarantine=OktaScimTeamQuarantine,
        held_change=OktaScimHeldChange,
        host_roles=frozenset(
            ["account", "organization", "team"]
            + (["membership"] if membership is not None else [])
            + (["team_member"] if team_member is not None else [])
        ),
        host_attributes=host.optional,
    )
    _keep_groups_with_teams(models)
    _defined[key] = models
    return models


def unlinked_group_of(team: t.Any) -> dict[str, t.Any]:
    """The values of a new SCIM group row for ``team``, not (yet) managed by Okta."""
    now = utcnow_ms()
    return {
        "id": new_scim_id(),
        "organization_id": team.organization_id,
        "team_id": team.id,
        "name_key": fold(team.name),
        "managed": False,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _keep_groups_with_teams(models: Models) -> None:
    """Give every team its SCIM group row, and keep the row's folded name current.

    Mapper events on the host's team model, so that teams made by the host's
    own code (through the ORM) are groups too. A team inserted or renamed with
    plain SQL bypasses them: ``flask okta-scim scim reindex`` repairs that.
    """
    group = models.group.__table__

    @event.listens_for(models.team, "after_insert")
    def _team_inserted(mapper: t.Any, connection: t.Any, team: t.Any) -> None:
        values = unlinked_group_of(team)
        values["id"] = take_forced_scim_id("group") or values["id"]
        connection.execute(insert(group).values(**values))

    @event.listens_for(models.team, "after_update")
    def _team_updated(mapper: t.Any, connection: t.Any, team: t.Any) -> None:
        row = connection.execute(
            select(group.c.name_key, group.c.organization_id).where(group.c.team_id == team.id)
        ).first()
        if row is None:
            return
        key = fold(team.name)
        if row.organization_id != team.organization_id:
            # A team moved to another organization: its group follows, unlinked and
            # emptied (the member list held the old organization's people).
            members = models.group_member.__table__
            group_id = select(group.c.id).where(group.c.team_id == team.id).scalar_subquery()
            connection.execute(delete(members).where(members.c.group_id == group_id))
            connection.execute(
                update(group)
                .where(group.c.team_id == team.id)
                .values(
                    organization_id=team.organization_id,
                    name_key=key,
                    managed=False,
                    external_id=None,
                    version=group.c.version + 1,
                )
            )
        elif row.name_key != key:
            connection.execute(update(group).where(group.c.team_id == team.id).values(name_key=key))
