"""The tables of Okta SAML connections: the connection, requests in flight, keys, logouts.

Defined by :func:`define_sso_models`, called from
:func:`~flask_okta_scim.sqla.models.define_models` (which documents the bundle).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import false
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .mixins import utcnow

_BigKey = BigInteger().with_variant(Integer, "sqlite")


@dataclass(frozen=True)
class SsoModels:
    connection: t.Any
    authn_request: t.Any
    assertion_seen: t.Any
    sp_key: t.Any
    logout: t.Any


def define_sso_models(base: t.Any, p: str, organization_fk: t.Any) -> SsoModels:
    """Define the SAML tables on ``base`` with the table prefix ``p``. Creates nothing."""

    class OktaScimConnection(base):  # type: ignore[misc]
        __tablename__ = f"{p}connection"
        id: Mapped[int] = mapped_column(primary_key=True)
        organization_id = mapped_column(
            ForeignKey(organization_fk, ondelete="CASCADE"), unique=True
        )
        integration_id: Mapped[str] = mapped_column(String(64), unique=True)
        status: Mapped[str] = mapped_column(String(20), default="pending")
        idp_entity_id: Mapped[str | None] = mapped_column(String(1024))
        idp_sso_url: Mapped[str | None] = mapped_column(String(2048))
        idp_certificates: Mapped[list[str]] = mapped_column(JSON, default=list)
        metadata_url: Mapped[str | None] = mapped_column(String(2048))
        allow_idp_initiated: Mapped[bool] = mapped_column(Boolean, default=True)
        # Okta's Single Logout URL (HTTP-Redirect); NULL: no single logout.
        idp_slo_url: Mapped[str | None] = mapped_column(String(2048))
        # Sign AuthnRequests (Okta's "Signed Requests") and LogoutRequests with the SP key.
        sign_requests: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
        # Accept only encrypted assertions (Okta's "Assertion Encryption").
        encrypt_assertions: Mapped[bool] = mapped_column(
            Boolean, default=False, server_default=false()
        )
        # Metadata refresh: when the metadata URL was last read, why it last failed, and the
        # certificates a refresh found gone, kept trusted until a date ({body: ISO time}).
        metadata_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        metadata_error: Mapped[str | None] = mapped_column(String(1000))
        retiring_certificates: Mapped[dict[str, str] | None] = mapped_column(JSON)
        # Operator override: trust expired (never weak) IdP certificates (docs/security.rst).
        allow_expired_certificate: Mapped[bool] = mapped_column(Boolean, default=False)
        # Only sessions vouched for by this connection's IdP may act in the organization.
        require_sso: Mapped[bool] = mapped_column(Boolean, default=False)
        # What Okta deleting a pushed group does to its team; NULL: the host's default.
        team_deletion: Mapped[str | None] = mapped_column(String(20))
        # The mass-deprovisioning guard: thresholds chosen for this organization (NULL:
        # the host's), since when destructive changes are held, when they were last released.
        guard: Mapped[dict[str, t.Any] | None] = mapped_column(JSON)
        guard_held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        guard_released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        provisioning_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
        # Provisioning in dry run: SCIM writes answered and planned, not applied, until armed.
        provisioning_dry_run: Mapped[bool] = mapped_column(
            Boolean, default=False, server_default=false()
        )
        connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        updated_at: Mapped[datetime] = mapped_column(
            DateTime(timezone=True), default=utcnow, onupdate=utcnow
        )

    class OktaScimAuthnRequest(base):  # type: ignore[misc]
        # An SP-initiated sign-in in progress: the AuthnRequest ID, the browser
        # that started it (hash of a cookie), where to go afterwards. In the
        # database so that any process can finish the sign-in.
        __tablename__ = f"{p}authn_request"
        id: Mapped[str] = mapped_column(String(128), primary_key=True)
        connection_id = mapped_column(
            ForeignKey(f"{p}connection.id", ondelete="CASCADE"), index=True
        )
        browser_key: Mapped[str] = mapped_column(String(64), index=True)
        # "sign_in" (an AuthnRequest) or "sign_out" (a LogoutRequest awaiting its response).
        purpose: Mapped[str] = mapped_column(
            String(10), default="sign_in", server_default="sign_in"
        )
        next_path: Mapped[str | None] = mapped_column(String(2048))
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    class OktaScimAssertionSeen(base):  # type: ignore[misc]
        # The replay cache: assertion IDs already used, kept until they expire.
        __tablename__ = f"{p}assertion_seen"
        connection_id = mapped_column(
            ForeignKey(f"{p}connection.id", ondelete="CASCADE"), primary_key=True
        )
        assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
        expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    class OktaScimSpKey(base):  # type: ignore[misc]
        # A key pair of this service provider: for one connection, or (connection_id NULL)
        # for every connection without its own. "next" is published in the SP metadata
        # next to "active" during a rollover; "retired" still decrypts, never signs.
        __tablename__ = f"{p}sp_key"
        # One active and one next key per connection (app-wide keys, connection_id NULL,
        # are kept to one of each by the code that writes them, under a lock).
        __table_args__ = (
            Index(
                f"uq_{p}sp_key_state",
                "connection_id",
                "state",
                unique=True,
                sqlite_where=text("state <> 'retired'"),
                postgresql_where=text("state <> 'retired'"),
            ),
        )
        id: Mapped[int] = mapped_column(primary_key=True)
        connection_id = mapped_column(
            ForeignKey(f"{p}connection.id", ondelete="CASCADE"), index=True, nullable=True
        )
        state: Mapped[str] = mapped_column(String(10))
        # PEM certificate (public) and the private key, encrypted (Fernet) with the
        # host's OKTA_SCIM_SP_KEY_SECRETS.
        certificate: Mapped[str] = mapped_column(Text)
        private_key: Mapped[str] = mapped_column(Text)
        fingerprint: Mapped[str] = mapped_column(String(100))
        not_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
        retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    class OktaScimLogout(base):  # type: ignore[misc]
        # A single logout the IdP asked for: sessions this connection vouched for, of the
        # person with this NameID (SHA-256), opened before created_at (and with this
        # SessionIndex, when given), end at their next request, on every process.
        __tablename__ = f"{p}logout"
        __table_args__ = (Index(f"ix_{p}logout_person", "connection_id", "name_key"),)
        id: Mapped[int] = mapped_column(_BigKey, primary_key=True, autoincrement=True)
        connection_id = mapped_column(
            ForeignKey(f"{p}connection.id", ondelete="CASCADE"), nullable=False
        )
        name_key: Mapped[str] = mapped_column(String(64))
        session_index: Mapped[str | None] = mapped_column(String(256))
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    return SsoModels(
        connection=OktaScimConnection,
        authn_request=OktaScimAuthnRequest,
        assertion_seen=OktaScimAssertionSeen,
        sp_key=OktaScimSpKey,
        logout=OktaScimLogout,
    )
