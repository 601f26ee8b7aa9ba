"""The service provider's key pairs, per connection or for the whole application.

A connection uses its own keys when it has any, else the application's
(``connection_id`` NULL): the host chooses by where it generates them. Each
scope has at most one *active* key (signs, decrypts, published in the SP
metadata), at most one *next* key (published next to it during a rollover,
decrypts), and any number of *retired* ones (still decrypt, until removed).
A rollover: generate (the new key is *next*, published), let the customer
upload the new certificate to Okta, activate (the new key signs, the old one
retires), remove the retired key once Okta no longer uses it.

Private keys are stored sealed (:class:`~flask_okta_scim.saml.keys.KeyVault`);
this module seals and opens them with the vault the caller passes, and never
logs or audits a private key.
"""

from __future__ import annotations

import typing as t
import zlib
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from ...core.errors import InvalidValue
from ...core.errors import NotReady
from ...saml.keys import KeyVault
from ...saml.keys import generate_key_pair
from ..mixins import utcnow
from .base import DirectoryBase

ACTIVE, NEXT, RETIRED = "active", "next", "retired"
_ORDER = {ACTIVE: 0, NEXT: 1, RETIRED: 2}


@dataclass(frozen=True)
class SpCredentials:
    """What python3-saml needs of a connection's keys, private keys opened."""

    #: The active key: ``(PEM certificate, PEM private key)``, or ``None``.
    active: tuple[str, str] | None
    #: The next key's certificate, published for a rollover, or ``None``.
    next_certificate: str | None = None
    #: Every key that may decrypt an assertion (active, next, retired), in that order.
    decryption: list[tuple[str, str]] = field(default_factory=list)


class SpKeys(DirectoryBase):
    """Generating, rolling over and reading the SP's key pairs."""

    def sp_keys(self, connection: t.Any | None) -> list[t.Any]:
        """The keys ``connection`` uses (its own, else the application's), active first.

        With ``connection`` ``None``: the application's keys. Retired keys are
        included, after the others, newest first.
        """
        k = self.models.sp_key
        rows = []
        if connection is not None:
            rows = list(self.session.scalars(select(k).where(k.connection_id == connection.id)))
        if not rows:
            rows = list(self.session.scalars(select(k).where(k.connection_id.is_(None))))
        return sorted(rows, key=lambda row: (_ORDER.get(row.state, 3), -row.id))

    def has_own_sp_keys(self, connection: t.Any) -> bool:
        """Whether ``connection`` has keys of its own (else it uses the application's)."""
        k = self.models.sp_key
        return bool(
            self.session.scalar(select(func.count()).where(k.connection_id == connection.id))
        )

    def sp_credentials(self, connection: t.Any, vault: KeyVault) -> SpCredentials:
        """The opened keys of ``connection`` (:class:`SpCredentials`); one query.

        Raises :class:`~flask_okta_scim.saml.keys.KeyUnavailable` when a key
        cannot be opened with the vault's secrets. Does not check that a
        feature needing a key has one: the caller does.
        """
        rows = self.sp_keys(connection)
        active = next((row for row in rows if row.state == ACTIVE), None)
        upcoming = next((row for row in rows if row.state == NEXT), None)
        return SpCredentials(
            active=(active.certificate, vault.open(active.private_key)) if active else None,
            next_certificate=upcoming.certificate if upcoming else None,
            decryption=[(row.certificate, vault.open(row.private_key)) for row in rows],
        )

    def generate_sp_key(
        self, connection: t.Any | None, vault: KeyVault, *, common_name: str
    ) -> t.Any:
        """Make a key pair for ``connection`` (``None``: the application); return its row.

        The first key of a scope is *active* at once; with an active key the
        new one is *next* (published, not used to sign) until
        :meth:`activate_sp_key`. Refused (:class:`NotReady`) when the scope
        already has a next key. Audited with the fingerprint. Does not commit.
        """
        self._lock_scope(connection)
        rows = self._scope_rows(connection)
        if any(row.state == NEXT for row in rows):
            raise NotReady(
                "A next SP key is already waiting: activate it ('sso sp-key activate') "
                "or remove it first."
            )
        state = NEXT if any(row.state == ACTIVE for row in rows) else ACTIVE
        pair = generate_key_pair(common_name)
        now = utcnow()
        row = self.models.sp_key(
            connection_id=connection.id if connection is not None else None,
            state=state,
            certificate=pair.certificate,
            private_key=vault.seal(pair.private_key),
            fingerprint=pair.fingerprint,
            not_after=pair.not_after,
            created_at=now,
            activated_at=now if state == ACTIVE else None,
        )
        self.session.add(row)
        self.session.flush()
        self._audit_key(connection, "sso.sp_key_generate", row, state=state)
        return row

    def activate_sp_key(self, connection: t.Any | None) -> t.Any:
        """Make the scope's *next* key active; the active one retires. Return the new active row.

        :class:`NotReady` when there is no next key. Audited. Does not commit.
        """
        self._lock_scope(connection)
        rows = self._scope_rows(connection)
        upcoming = next((row for row in rows if row.state == NEXT), None)
        if upcoming is None:
            raise NotReady("There is no next SP key to activate: generate one first.")
        now = utcnow()
        for row in rows:
            if row.state == ACTIVE:
                row.state, row.retired_at = RETIRED, now
        self.session.flush()  # one active key at a time, for the unique index
        upcoming.state, upcoming.activated_at = ACTIVE, now
        self.session.flush()
        self._audit_key(connection, "sso.sp_key_activate", upcoming)
        return upcoming

    def remove_sp_key(self, connection: t.Any | None, key_id: int) -> None:
        """Delete a *next* or *retired* key of the scope; the active key cannot be removed.

        :class:`InvalidValue` for a key of another scope or an active key. Audited.
        Does not commit.
        """
        self._lock_scope(connection)
        row = next((r for r in self._scope_rows(connection) if r.id == key_id), None)
        if row is None:
            raise InvalidValue(f"No SP key {key_id} here.")
        if row.state == ACTIVE:
            raise InvalidValue(
                "The active SP key signs requests and decrypts assertions: generate and "
                "activate a new one before removing it."
            )
        self._audit_key(connection, "sso.sp_key_remove", row, state=row.state)
        self.session.delete(row)
        self.session.flush()

    def reseal_sp_keys(self, vault: KeyVault) -> int:
        """Seal every stored private key again with the vault's first secret; return how many.

        Run after putting a new secret first in ``OKTA_SCIM_SP_KEY_SECRETS``;
        then the old secret can go. Does not commit.
        """
        k = self.models.sp_key
        count = 0
        for row in self.session.scalars(select(k).with_for_update()):
            row.private_key = vault.reseal(row.private_key)
            count += 1
        return count

    def _scope_rows(self, connection: t.Any | None) -> list[t.Any]:
        k = self.models.sp_key
        where = (
            k.connection_id == connection.id
            if connection is not None
            else k.connection_id.is_(None)
        )
        return list(self.session.scalars(select(k).where(where).order_by(k.id)))

    def _lock_scope(self, connection: t.Any | None) -> None:
        """Serialize key changes of one scope (two operators at once make one active key)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return  # SQLite runs one writer at a time
        scope = f"okta_scim_sp_key:{connection.id if connection is not None else 'app'}"
        self.session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(scope.encode())}
        )

    def _audit_key(
        self, connection: t.Any | None, action: str, row: t.Any, **detail: t.Any
    ) -> None:
        self.audit(
            connection.organization_id if connection is not None else None,
            action,
            "connection" if connection is not None else "application",
            connection.integration_id if connection is not None else None,
            key_id=row.id,
            fingerprint=row.fingerprint,
            **detail,
        )


class SamlOptions(SpKeys):
    """The connection's SAML options that use the SP's keys."""

    def set_signed_requests(self, connection: t.Any, on: bool) -> None:
        """Sign AuthnRequests and LogoutRequests (Okta's *Signed Requests*), or stop.

        Turning it on needs an active SP key (:class:`NotReady` otherwise).
        Audited. Does not commit.
        """
        if on:
            self._require_active_key(connection, "Signed requests")
        connection.sign_requests = bool(on)
        self.audit(
            connection.organization_id,
            "sso.signed_requests",
            "connection",
            connection.integration_id,
            on=bool(on),
        )

    def set_encrypted_assertions(self, connection: t.Any, required: bool) -> None:
        """Accept only encrypted assertions (Okta's *Assertion Encryption*), or stop requiring it.

        Turning it on needs an active SP key, whose certificate the customer
        uploads to Okta (:class:`NotReady` otherwise). An encrypted assertion
        is decrypted whatever this says, when a key opens it. Audited. Does
        not commit.
        """
        if required:
            self._require_active_key(connection, "Assertion encryption")
        connection.encrypt_assertions = bool(required)
        self.audit(
            connection.organization_id,
            "sso.encrypted_assertions",
            "connection",
            connection.integration_id,
            required=bool(required),
        )

    def set_idp_slo_url(self, connection: t.Any, url: str | None) -> None:
        """Set Okta's Single Logout URL by hand (``None``: no single logout). Audited.

        A metadata link brings its own (``configure_connection``). Does not
        check that the IdP answers there. Does not commit.
        """
        if url is not None and (
            not url.startswith(("https://", "http://")) or len(url) > 2048 or " " in url
        ):
            raise InvalidValue("Okta's Single Logout URL must be an http(s) URL.")
        connection.idp_slo_url = url
        self.audit(
            connection.organization_id,
            "sso.slo_url",
            "connection",
            connection.integration_id,
            url=url,
        )

    def _require_active_key(self, connection: t.Any, what: str) -> None:
        if not any(row.state == ACTIVE for row in self.sp_keys(connection)):
            raise NotReady(
                f"{what} needs an SP key pair: generate one first "
                "('flask okta-scim sso sp-key generate ORG', or on the console's SSO screen)."
            )
