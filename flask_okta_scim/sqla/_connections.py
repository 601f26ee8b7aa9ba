"""Okta connections and SCIM provisioning tokens of an organization.

Tokens are random (256 bits), shown once, and stored only as SHA-256 hashes;
a presented token is hashed and looked up by its hash, and the hashes are
compared with :func:`hmac.compare_digest`. Rotation keeps the old token working
until the new one is first used, or until the grace time runs out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from ..core.errors import NotReady
from ..core.ids import new_integration_id
from ._base import DirectoryBase
from .mixins import utcnow

#: Connection states (SPEC §2).
PENDING, CONFIGURED, CONNECTED = "pending", "configured", "connected"

#: Don't write ``last_used_at`` more often than this.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class ConnectionOperations(DirectoryBase):
    """The Okta connection of an organization and its provisioning tokens."""

    def get_connection(self, organization: t.Any) -> t.Any:
        """Return ``organization``'s Okta connection, or ``None``."""
        c = self.models.connection
        return self.session.scalars(select(c).where(c.organization_id == organization.id)).first()

    def connection_by_integration_id(self, integration_id: str) -> t.Any:
        """Return the connection with this public Integration ID, or ``None``."""
        c = self.models.connection
        return self.session.scalars(select(c).where(c.integration_id == integration_id)).first()

    def connect(self, organization: t.Any) -> t.Any:
        """Start ``organization``'s Okta connection (state *pending*); return it.

        An organization has at most one connection: an existing one is
        returned unchanged. Does not commit.
        """
        connection = self.get_connection(organization)
        if connection is not None:
            return connection
        connection = self.models.connection(
            organization_id=organization.id,
            integration_id=new_integration_id(),
            status=PENDING,
            idp_certificates=[],
            allow_idp_initiated=True,
            provisioning_enabled=False,
        )
        self.session.add(connection)
        self.session.flush()
        self.audit(organization, "sso.connect", "connection", connection.integration_id)
        return connection

    def mark_connected(self, connection: t.Any) -> bool:
        """Record a successful sign-in through ``connection``; return whether it was the first."""
        if connection.status == CONNECTED:
            return False
        connection.status = CONNECTED
        connection.connected_at = utcnow()
        self.audit(
            connection.organization_id, "sso.connected", "connection", connection.integration_id
        )
        return True

    def enable_provisioning(self, organization: t.Any) -> str:
        """Turn SCIM provisioning on and return a new bearer token, the only time it is shown.

        Requires a *connected* Okta connection (SPEC §2): raises
        :class:`NotReady` otherwise, or if provisioning is already on (rotate
        the token instead). Does not commit.
        """
        connection = self.get_connection(organization)
        if connection is None or connection.status != CONNECTED:
            raise NotReady(
                "Provisioning needs a working Okta single sign-on first: connect the "
                "organization and complete one sign-in through Okta."
            )
        if connection.provisioning_enabled:
            raise NotReady("Provisioning is already on; use rotate-token for a new token.")
        connection.provisioning_enabled = True
        token = self._issue_token(organization)
        self.audit(organization, "scim.enable", "connection", connection.integration_id)
        return token

    def rotate_token(self, organization: t.Any, grace: timedelta) -> str:
        """Issue a new token; older ones stop working when it is first used, or after ``grace``."""
        connection = self.get_connection(organization)
        if connection is None or not connection.provisioning_enabled:
            raise NotReady("Provisioning is off for this organization: enable it first.")
        tok = self.models.scim_token
        deadline = utcnow() + grace
        self.session.execute(
            update(tok)
            .where(
                tok.organization_id == organization.id,
                tok.revoked_at.is_(None),
                or_(tok.expires_at.is_(None), tok.expires_at > deadline),
            )
            .values(expires_at=deadline)
        )
        token = self._issue_token(organization)
        self.audit(
            organization,
            "scim.rotate_token",
            "connection",
            connection.integration_id,
            grace_seconds=int(grace.total_seconds()),
        )
        return token

    def disable_provisioning(self, organization: t.Any) -> None:
        """Turn provisioning off: every token of the organization stops working at once."""
        connection = self.get_connection(organization)
        if connection is None or not connection.provisioning_enabled:
            raise NotReady("Provisioning is already off for this organization.")
        connection.provisioning_enabled = False
        tok = self.models.scim_token
        self.session.execute(
            update(tok)
            .where(tok.organization_id == organization.id, tok.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        self.audit(organization, "scim.disable", "connection", connection.integration_id)

    def authenticate_token(self, token: str) -> tuple[t.Any, t.Any] | None:
        """Return ``(organization, token_row)`` for a valid bearer token, else ``None``.

        Valid means: known, not revoked, not expired, and the organization's
        provisioning is on. The first use of a rotated-in token retires the
        older ones. Does not commit.
        """
        if not token or len(token) > 512:
            return None
        presented = hash_token(token)
        tok, c, org = self.models.scim_token, self.models.connection, self.models.organization
        found = self.session.execute(
            select(tok, org, c.provisioning_enabled)
            .join(c, c.organization_id == tok.organization_id)
            .join(org, org.id == tok.organization_id)
            .where(tok.token_hash == presented)
        ).first()
        if found is None:
            return None
        row, organization, enabled = found
        if not hmac.compare_digest(row.token_hash, presented) or not enabled:
            return None
        now = utcnow()
        expires = _aware(row.expires_at)
        if row.revoked_at is not None or (expires is not None and expires <= now):
            return None
        if row.first_used_at is None:
            row.first_used_at = now
            self.session.execute(
                update(tok)
                .where(
                    tok.organization_id == row.organization_id,
                    tok.id < row.id,
                    tok.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        last = _aware(row.last_used_at)
        if last is None or now - last > _LAST_USED_RESOLUTION:
            row.last_used_at = now
        return organization, row

    def _issue_token(self, organization: t.Any) -> str:
        token = secrets.token_urlsafe(32)
        self.session.add(
            self.models.scim_token(organization_id=organization.id, token_hash=hash_token(token))
        )
        self.session.flush()
        return token
