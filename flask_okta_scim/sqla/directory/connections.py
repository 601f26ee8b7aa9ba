"""Okta connections and SCIM provisioning tokens of an organization.

Tokens are random (256 bits), shown once, and stored only as SHA-256 hashes;
a presented token is hashed and looked up by its hash, and the hashes are
compared with :func:`hmac.compare_digest`. Rotation keeps the old token working
until the new one is first used, or until the grace time runs out.

Also the state of sign-ins, in the database so that a sign-in started on one
process or host finishes on any other and a replayed assertion is caught
everywhere: AuthnRequests in progress and the replay cache.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from ...config import TEAM_DELETION_POLICIES
from ...core.errors import ConcurrentUpdate
from ...core.errors import InvalidValue
from ...core.errors import NotReady
from ...core.ids import new_integration_id
from .._sql import insert_ignore_one
from ..mixins import utcnow
from .base import database_refusals
from .certificates import Certificates

#: Connection states (docs/directory.rst).
PENDING, CONFIGURED, CONNECTED = "pending", "configured", "connected"


#: SP-initiated sign-ins one browser may have in progress on a connection; older ones go.
MAX_SIGN_INS_PER_BROWSER = 5

#: Don't write ``last_used_at`` more often than this.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def is_configured(connection: t.Any) -> bool:
    """Whether ``connection`` has what a sign-in needs: entity ID, SSO URL, a certificate."""
    return bool(connection.idp_entity_id and connection.idp_sso_url and connection.idp_certificates)


@functools.cache
def _token_lookup(models: t.Any) -> t.Any:
    """The token, its organization and its provisioning flags by token hash (``hash``).

    Built once per set of models, so that SQLAlchemy reuses its compiled form
    and cache key: this runs before every SCIM request.
    """
    tok, c, org = models.scim_token, models.connection, models.organization
    return (
        select(tok, org, c.provisioning_enabled, c.provisioning_dry_run)
        .join(c, c.organization_id == tok.organization_id)
        .join(org, org.id == tok.organization_id)
        .where(tok.token_hash == bindparam("hash"))
    )


@functools.cache
def _connection_lookup(models: t.Any) -> t.Any:
    """A connection and its organization by Integration ID (``integration_id``), built once:
    every sign-in and sign-out message starts with it."""
    c, o = models.connection, models.organization
    return (
        select(c, o)
        .join(o, o.id == c.organization_id)
        .where(c.integration_id == bindparam("integration_id"))
    )


class Connections(Certificates):
    """The Okta connection of an organization, its provisioning tokens, and sign-ins in progress."""

    def get_connection(self, organization: t.Any) -> t.Any:
        """Return ``organization``'s Okta connection, or ``None``."""
        c = self.models.connection
        return self.session.scalars(select(c).where(c.organization_id == organization.id)).first()

    def connection_by_integration_id(self, integration_id: str) -> t.Any:
        """Return the connection with this public Integration ID, or ``None``."""
        c = self.models.connection
        return self.session.scalars(select(c).where(c.integration_id == integration_id)).first()

    def connection_and_organization(self, integration_id: str) -> tuple[t.Any, t.Any]:
        """The connection with this Integration ID and its organization, in one query.

        ``(None, None)`` when there is no such connection.
        """
        found = self.session.execute(
            _connection_lookup(self.models), {"integration_id": integration_id}
        ).first()
        return (found[0], found[1]) if found is not None else (None, None)

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

    def configure_connection(
        self,
        connection: t.Any,
        *,
        idp_entity_id: str,
        idp_sso_url: str,
        certificates: list[str],
        metadata_url: str | None = None,
        allow_expired_certificate: bool = False,
        idp_slo_url: str | None = None,
    ) -> None:
        """Set the IdP's entity ID, SSO URL, signing certificates (all, for rollover), SLO URL.

        Every certificate must be readable, have a strong key (RSA of 2048
        bits or more, EC on P-256 or larger) and be valid now:
        :class:`InvalidValue` names the first one refused and why. An expired
        one is accepted only with ``allow_expired_certificate``, the
        operator's override, stored on the connection (and audited), that
        lets sign-ins trust expired certificates; configuring again without
        it turns it off. No override admits a weak key.

        ``idp_slo_url`` is the IdP's Single Logout URL (``None``: no single
        logout); the certificates kept for a rollover by a metadata refresh are
        forgotten. A *pending* connection becomes *configured*; a *connected*
        one stays connected. Does not check that the IdP answers. Does not commit.
        """
        if not idp_entity_id or not idp_sso_url.startswith(("https://", "http://")):
            raise InvalidValue("The IdP needs an entity ID and an http(s) sign-on URL.")
        if idp_slo_url is not None and not idp_slo_url.startswith(("https://", "http://")):
            raise InvalidValue("The IdP's single logout URL must be an http(s) URL.")
        if not certificates:
            raise InvalidValue("At least one IdP signing certificate is needed.")
        allow_expired = bool(allow_expired_certificate)
        checked = self._checked_certificates(certificates, allow_expired=allow_expired)
        connection.idp_entity_id = idp_entity_id
        connection.idp_sso_url = idp_sso_url
        connection.idp_certificates = list(certificates)
        connection.metadata_url = metadata_url
        connection.idp_slo_url = idp_slo_url or None
        connection.retiring_certificates = None
        connection.allow_expired_certificate = allow_expired
        if connection.status != CONNECTED:
            connection.status = CONFIGURED
        self.audit(
            connection.organization_id,
            "sso.configure",
            "connection",
            connection.integration_id,
            idp_entity_id=idp_entity_id,
            certificates=len(certificates),
            fingerprints=[info.fingerprint for info in checked],
            metadata_url=metadata_url,
            slo_url=idp_slo_url,
            allow_expired_certificate=allow_expired,
        )

    def set_allow_idp_initiated(self, connection: t.Any, allowed: bool) -> None:
        """Allow or refuse unsolicited (IdP-initiated) sign-ins. Does not commit."""
        connection.allow_idp_initiated = bool(allowed)
        self.audit(
            connection.organization_id,
            "sso.idp_initiated",
            "connection",
            connection.integration_id,
            allowed=bool(allowed),
        )

    def require_configured(self, connection: t.Any) -> None:
        """Raise :class:`NotReady` unless the IdP settings are complete."""
        if not is_configured(connection):
            raise NotReady("Single sign-on is not configured yet for this organization.")

    def set_require_sso(self, organization: t.Any, required: bool) -> None:
        """Let only sessions vouched for by the organization's own IdP act in it (or stop).

        Turning it on needs a configured connection (:class:`NotReady`
        otherwise), so that people have a way in. Does not end sessions: the
        check happens where a session is used. Does not commit.
        """
        connection = self.get_connection(organization)
        if required and (connection is None or not is_configured(connection)):
            raise NotReady("Requiring single sign-on needs a configured Okta connection first.")
        if connection is None:
            return
        connection.require_sso = bool(required)
        self.audit(
            organization,
            "sso.require",
            "connection",
            connection.integration_id,
            required=bool(required),
        )

    def set_team_deletion_policy(self, organization: t.Any, policy: str | None) -> None:
        """Choose what Okta deleting a pushed group does to ``organization``'s teams.

        ``policy`` is ``"quarantine"``, ``"delete"``, ``"detach"``, or ``None``
        for the application's default (``OKTA_SCIM_TEAM_DELETION``). Applies to
        later deletions only. Creates the organization's connection record
        when it has none yet. Does not commit.
        """
        if policy is not None and policy not in TEAM_DELETION_POLICIES:
            raise InvalidValue(
                f"The team-deletion policy must be one of {', '.join(TEAM_DELETION_POLICIES)}."
            )
        connection = self.get_connection(organization) or self.connect(organization)
        if connection.team_deletion == policy:
            return
        previous, connection.team_deletion = connection.team_deletion, policy
        self.audit(
            organization,
            "team.deletion_policy",
            "connection",
            connection.integration_id,
            policy=policy or "default",
            previous=previous or "default",
        )

    def requires_sso(self, organization: t.Any) -> bool:
        """Whether only sessions vouched for by the organization's own IdP may act in it."""
        c = self.models.connection
        return bool(
            self.session.scalar(select(c.require_sso).where(c.organization_id == organization.id))
        )

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

    def enable_provisioning(self, organization: t.Any, *, dry_run: bool = False) -> str:
        """Turn SCIM provisioning on and return a new bearer token, the only time it is shown.

        Requires a *connected* Okta connection (docs/directory.rst): raises
        :class:`NotReady` otherwise, or if provisioning is already on (rotate
        the token instead). With ``dry_run``, SCIM writes are answered and
        planned, not applied, until :meth:`arm` (:mod:`.guard`). Does not commit.
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
        connection.provisioning_dry_run = dry_run
        token = self._issue_token(organization)
        self.audit(
            organization, "scim.enable", "connection", connection.integration_id, dry_run=dry_run
        )
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

    def last_scim_request(self, organization: t.Any) -> datetime | None:
        """When a token of ``organization`` last authenticated a SCIM request, or ``None``."""
        tok = self.models.scim_token
        last: datetime | None = self.session.scalar(
            select(func.max(tok.last_used_at)).where(tok.organization_id == organization.id)
        )
        return last

    def authenticate_token(self, token: str) -> tuple[t.Any, t.Any] | None:
        """Return ``(organization, token_row)`` for a valid bearer token, else ``None``.

        Valid means: known, not revoked, not expired, and the organization's
        provisioning is on. The first use of a rotated-in token retires the
        older ones. Sets :attr:`dry_run_seen` to whether the organization's
        provisioning was in dry run (read in the same query). Does not commit.
        """
        if not token or len(token) > 512:
            return None
        presented = hash_token(token)
        tok = self.models.scim_token
        found = self.session.execute(_token_lookup(self.models), {"hash": presented}).first()
        if found is None:
            return None
        row, organization, enabled, dry_run = found
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
        self.dry_run_seen = bool(dry_run)
        return organization, row

    def use_token(self, token: str) -> tuple[t.Any, t.Any] | None:
        """:meth:`authenticate_token`, its first and last use committed at once (kept even if
        the request then fails); ``None``, rolled back, for a token that is not valid.

        A database that was busy or deadlocked meanwhile raises
        :class:`~flask_okta_scim.core.errors.ConcurrentUpdate` (rolled back: try
        again). Commits nothing when nothing changed.
        """
        try:
            with database_refusals():
                found = self.authenticate_token(token)
                if found is not None and self.session.dirty:
                    self.session.commit()
        except ConcurrentUpdate:
            self.session.rollback()
            raise
        if found is None:
            self.session.rollback()
        return found

    def _issue_token(self, organization: t.Any) -> str:
        token = secrets.token_urlsafe(32)
        self.session.add(
            self.models.scim_token(organization_id=organization.id, token_hash=hash_token(token))
        )
        self.session.flush()
        return token

    def start_sign_in(
        self,
        connection: t.Any,
        request_id: str,
        browser_key: str,
        next_path: str | None,
        lifetime: timedelta,
        *,
        purpose: str = "sign_in",
    ) -> None:
        """Remember an AuthnRequest (or, ``purpose="sign_out"``, a LogoutRequest) sent for
        this browser. Does not commit.

        Keeps the newest :data:`MAX_SIGN_INS_PER_BROWSER` requests of this
        browser on this connection (a sign-in abandoned at the IdP for a newer
        one cannot finish anyway once evicted), and deletes expired requests of
        every browser. Does not limit how many browsers start sign-ins: the web
        layer's per-address budget does.
        """
        now = utcnow()
        ar = self.models.authn_request
        self.session.execute(delete(ar).where(ar.expires_at < now))
        self.session.add(
            ar(
                id=request_id,
                connection_id=connection.id,
                browser_key=browser_key,
                next_path=next_path,
                purpose=purpose,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        self.session.flush()
        older = (
            select(ar.id)
            .where(ar.connection_id == connection.id, ar.browser_key == browser_key)
            .order_by(ar.created_at.desc(), ar.expires_at.desc())
            .offset(MAX_SIGN_INS_PER_BROWSER)
        )
        stale = list(self.session.scalars(older))
        if stale:
            self.session.execute(delete(ar).where(ar.id.in_(stale)))

    def outstanding_sign_ins(
        self, connection: t.Any, browser_key: str | None, *, purpose: str = "sign_in"
    ) -> dict[str, t.Any]:
        """The unexpired AuthnRequests this browser started on ``connection``: ID -> next path.

        With ``purpose="sign_out"``: its LogoutRequests awaiting a response.
        """
        if not browser_key:
            return {}
        ar = self.models.authn_request
        rows = self.session.execute(
            select(ar.id, ar.next_path).where(
                ar.connection_id == connection.id,
                ar.browser_key == browser_key,
                ar.purpose == purpose,
                ar.expires_at > utcnow(),
            )
        )
        return {request_id: next_path for request_id, next_path in rows}

    def finish_sign_in(self, request_id: str) -> None:
        """Forget an answered AuthnRequest: an ID is answered once. Does not commit."""
        ar = self.models.authn_request
        self.session.execute(delete(ar).where(ar.id == request_id))

    def remember_assertion(self, connection: t.Any, assertion_id: str, until: datetime) -> bool:
        """Record a used assertion ID; return ``False`` if it was used before (a replay).

        An atomic insert-if-absent on a primary key, so two processes racing with
        the same assertion cannot both win. Does not commit.
        """
        seen = self.models.assertion_seen
        self.purge_seen_now_and_then()
        row = {"connection_id": connection.id, "assertion_id": assertion_id, "expires_at": until}
        return insert_ignore_one(self.session, seen, row, seen.assertion_id)

    def purge_seen_now_and_then(self) -> None:
        """Delete the expired replay-cache rows, on one call in 32 (sign-ins call it)."""
        if secrets.randbelow(32) == 0:
            seen = self.models.assertion_seen
            self.session.execute(delete(seen).where(seen.expires_at < utcnow()))
