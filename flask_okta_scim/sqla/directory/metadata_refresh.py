"""Keeping a connection in step with its IdP metadata URL: new certificates, and retiring old ones.

A connection configured from Okta's metadata link keeps the link
(``metadata_url``). A refresh fetches it again and applies what changed, so
that a certificate Okta rotated in is trusted without anybody pasting it:

- the metadata's certificates are trusted, plus those it no longer lists,
  each kept for an overlap (``OKTA_SCIM_CERTIFICATE_OVERLAP_DAYS``) and
  recorded in ``retiring_certificates`` (``{base64 body: ISO-8601 UTC time}``);
  the first refresh after that time drops them;
- new certificates are judged as when a connection is configured (weak,
  unreadable, not valid now: refused);
- a changed sign-on or single logout URL is applied.

A refresh that cannot be fetched or read, whose certificate is refused, or
that names another IdP (another entity ID, a sign-on or logout URL on another
host) changes nothing but ``metadata_checked_at`` and ``metadata_error``, and
alerts: the signal ``idp_metadata_refresh_failed``, the audit entry
``sso.metadata_refresh`` (outcome ``failure``) and the log event
``metadata.refresh_failed``. The metadata URL itself changes only through
``configure_connection``.

The fetch happens outside any transaction (:func:`refresh_from_source`); the
connection row is then locked (``FOR UPDATE``; SQLite serialises writers) and
read again, and the document compared with what the row holds *now*: several
hosts refreshing at once from cron end with one result and one audit entry
for the change, and a refresh of unchanged metadata changes only
``metadata_checked_at``.
"""

from __future__ import annotations

import logging
import re
import typing as t
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from urllib.parse import urlsplit

from sqlalchemy import or_
from sqlalchemy import select

from ... import signals
from ...core.errors import InvalidValue
from ...core.text import loggable
from ...logs import log
from ...saml.certificates import fingerprint
from ...saml.errors import MetadataError
from ...saml.metadata import IdpMetadata
from ...saml.metadata import fetch_metadata
from ...saml.rotation import UNKNOWN_SIGNER
from ...saml.settings import certificate_body
from ..mixins import utcnow
from .base import changed_values
from .connections import Connections

#: What a refresh did (:attr:`RefreshOutcome.result`).
REFRESHED, UNCHANGED, FAILED, SKIPPED = "refreshed", "unchanged", "failed", "skipped"

#: How long a rotated-certificate refusal is shown in the admin console.
UNKNOWN_SIGNER_SHOWN = timedelta(days=7)

_FINGERPRINT = re.compile(r"SHA-256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})")


@dataclass(frozen=True)
class MetadataSource:
    """A connection to refresh, as read before the fetch (no row kept across it)."""

    organization_id: t.Any
    organization_name: str
    integration_id: str
    metadata_url: str


@dataclass(frozen=True)
class RefreshOutcome:
    """What :meth:`MetadataRefresh.refresh_metadata` did to one connection."""

    #: ``"refreshed"``, ``"unchanged"``, ``"failed"`` or ``"skipped"``.
    result: str
    #: Why it failed or was skipped; ``None`` otherwise.
    reason: str | None = None
    #: SHA-256 fingerprints of the certificates now trusted that were not before.
    added: tuple[str, ...] = ()
    #: Fingerprints of the certificates the metadata dropped, kept until :attr:`until`.
    retiring: tuple[str, ...] = ()
    #: Fingerprints of retiring certificates whose overlap ended: no longer trusted.
    dropped: tuple[str, ...] = ()
    #: What changed besides certificates: ``"sso_url"``, ``"slo_url"``.
    changed: tuple[str, ...] = ()
    #: The end of the overlap of the certificates in :attr:`retiring`.
    until: datetime | None = None

    def describe(self) -> str:
        """One line for an operator: ``refreshed: ...``, ``unchanged``, ``failed: reason``."""
        if self.result != REFRESHED:
            return f"{self.result}: {self.reason}" if self.reason else self.result
        parts = [f"new certificate {fp}" for fp in self.added]
        parts += [f"retiring {fp} until {_iso(self.until)}" for fp in self.retiring if self.until]
        parts += [f"dropped {fp}" for fp in self.dropped]
        parts += [f"new {name.replace('_', ' ').upper()}" for name in self.changed]
        return "refreshed: " + ("; ".join(parts) or "certificates kept")


class _Refused(Exception):
    """Why fetched metadata is not applied, and how loud the alert is."""

    def __init__(self, reason: str, level: int = logging.ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.level = level


@dataclass(frozen=True)
class _Plan:
    certificates: list[str]
    retiring: dict[str, str]
    added: list[str]
    newly_retiring: list[str]
    dropped: list[str]
    restored: list[str]
    certificates_changed: bool


class MetadataRefresh(Connections):
    """Refreshing connections from their metadata URL."""

    def metadata_sources(
        self,
        *,
        every: timedelta | None = None,
        organization: t.Any | None = None,
        now: datetime | None = None,
    ) -> list[MetadataSource]:
        """The connections with a metadata URL (of ``organization``, or all), by id.

        With ``every``, only those due: never checked, or last checked (refreshed
        or failed) at least ``every`` ago. Reads; does not lock; does not commit.
        """
        c, o = self.models.connection, self.models.organization
        stmt = (
            select(o.id, o.name, c.integration_id, c.metadata_url)
            .join(o, o.id == c.organization_id)
            .where(c.metadata_url.is_not(None), c.metadata_url != "")
        )
        if organization is not None:
            stmt = stmt.where(c.organization_id == organization.id)
        if every is not None:
            due = (now or utcnow()) - every
            stmt = stmt.where(or_(c.metadata_checked_at.is_(None), c.metadata_checked_at <= due))
        rows = self.session.execute(stmt.order_by(c.id)).all()
        return [MetadataSource(*row) for row in rows]

    def refresh_metadata(
        self,
        connection: t.Any,
        fetched: IdpMetadata | MetadataError,
        *,
        overlap: timedelta,
        url: str | None = None,
        now: datetime | None = None,
    ) -> RefreshOutcome:
        """Apply metadata fetched from ``connection``'s metadata URL (or why the fetch failed).

        Locks the connection row and reads it again first, and compares
        ``fetched`` with that current state. ``url`` is the URL the document
        came from: when the connection's URL is another one by now (configured
        again meanwhile), or it has none, nothing is done (``"skipped"``).
        ``overlap`` is how long a certificate the metadata dropped stays
        trusted. What is applied, what is refused and how it is reported:
        :doc:`/idp-metadata`. Does not fetch anything (fetch first, outside any
        transaction) and does not commit.
        """
        now = now or utcnow()
        c = self.models.connection
        row = self.session.scalar(
            select(c)
            .where(c.id == connection.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            return RefreshOutcome(SKIPPED, "the connection was deleted meanwhile")
        if not row.metadata_url:
            return RefreshOutcome(SKIPPED, "the connection has no metadata URL any more")
        if not row.idp_entity_id:
            return RefreshOutcome(SKIPPED, "the connection is not configured")
        if url is not None and row.metadata_url != url:
            return RefreshOutcome(SKIPPED, "the metadata URL was changed meanwhile")
        organization = self.session.get(self.models.organization, row.organization_id)
        try:
            if isinstance(fetched, MetadataError):
                raise _Refused(str(fetched), logging.WARNING)
            plan = self._plan(row, fetched, now, overlap)
        except _Refused as e:
            return self._refresh_failed(organization, row, e, now)
        row.metadata_checked_at = now
        row.metadata_error = None
        before = {"sso_url": row.idp_sso_url, "slo_url": row.idp_slo_url}
        after = {"sso_url": fetched.sso_url, "slo_url": fetched.slo_url or None}
        changed = tuple(name for name in before if before[name] != after[name])
        if not plan.certificates_changed and not changed:
            return RefreshOutcome(UNCHANGED)
        if plan.certificates_changed:
            row.idp_certificates = plan.certificates
            row.retiring_certificates = plan.retiring or None
        row.idp_sso_url, row.idp_slo_url = after["sso_url"], after["slo_url"]
        until = now + overlap
        outcome = RefreshOutcome(
            REFRESHED,
            added=tuple(_fingerprint(body) for body in plan.added),
            retiring=tuple(_fingerprint(body) for body in plan.newly_retiring),
            dropped=tuple(_fingerprint(body) for body in plan.dropped),
            changed=changed,
            until=until if plan.newly_retiring else None,
        )
        self.audit(
            organization,
            "sso.metadata_refresh",
            "connection",
            row.integration_id,
            metadata_url=row.metadata_url,
            added=list(outcome.added),
            retiring={fp: _iso(until) for fp in outcome.retiring},
            dropped=list(outcome.dropped),
            restored=[_fingerprint(body) for body in plan.restored],
            changed=changed_values(before, after),
        )
        log(
            "metadata.refreshed",
            logging.INFO,
            "Connection %s: %s",
            row.integration_id,
            outcome.describe(),
            organization=row.organization_id,
            connection=row.integration_id,
        )
        self._send(
            signals.idp_metadata_refreshed,
            organization=organization,
            connection=row,
            added=list(outcome.added),
            retiring=list(outcome.retiring),
            dropped=list(outcome.dropped),
        )
        return outcome

    def _plan(self, row: t.Any, found: IdpMetadata, now: datetime, overlap: timedelta) -> _Plan:
        """What the connection becomes with ``found``; :class:`_Refused` for a suspicious change."""
        if found.entity_id != row.idp_entity_id:
            raise _Refused(
                f"the metadata names another identity provider: entity ID {found.entity_id!r}, "
                f"not {row.idp_entity_id!r}. If the organization moved to another Okta app, "
                "configure the connection again with its metadata link"
            )
        old_host, new_host = _host(row.idp_sso_url), _host(found.sso_url)
        if row.idp_sso_url and new_host != old_host:
            raise _Refused(
                f"the metadata's sign-on URL is on another host ({new_host!r}, not "
                f"{old_host!r}). If that is right, configure the connection again"
            )
        if found.slo_url and _host(found.slo_url) not in (new_host, _host(row.idp_slo_url)):
            raise _Refused(
                f"the metadata's single logout URL is on another host ({_host(found.slo_url)!r}, "
                f"not {new_host!r}). If that is right, configure the connection again"
            )
        listed = _unique(certificate_body(text) for text in found.certificates)
        current = _unique(certificate_body(text) for text in row.idp_certificates or [])
        stored = row.retiring_certificates or {}
        retiring_before = {certificate_body(body): until for body, until in stored.items()}
        added = [body for body in listed if body not in current]
        try:
            self._checked_certificates(added, allow_expired=bool(row.allow_expired_certificate))
        except InvalidValue as e:
            raise _Refused(f"a certificate in the metadata is refused: {e}") from None
        kept, retiring, newly, dropped = [], {}, [], []
        for body in current:
            if body in listed:
                continue
            # Dropped from the metadata: trusted until the end of its overlap, which starts
            # at the first refresh that finds it gone.
            stored = retiring_before.get(body)
            until = _instant(stored) if stored is not None else now + overlap
            if until is None or until <= now:
                dropped.append(body)
                continue
            kept.append(body)
            retiring[body] = stored if stored is not None else _iso(until)
            if stored is None:
                newly.append(body)
        certificates = listed + kept
        return _Plan(
            certificates=certificates,
            retiring=retiring,
            added=added,
            newly_retiring=newly,
            dropped=dropped,
            restored=[body for body in retiring_before if body in listed],
            certificates_changed=(set(certificates) != set(current) or retiring != retiring_before),
        )

    def _refresh_failed(
        self, organization: t.Any, row: t.Any, refused: _Refused, now: datetime
    ) -> RefreshOutcome:
        """Record and announce a refresh that changed nothing. Does not commit."""
        reason = loggable(refused.reason, 900)
        row.metadata_checked_at = now
        row.metadata_error = reason
        self.audit(
            organization,
            "sso.metadata_refresh",
            "connection",
            row.integration_id,
            outcome="failure",
            metadata_url=row.metadata_url,
            reason=reason,
        )
        log(
            "metadata.refresh_failed",
            refused.level,
            "The IdP metadata of connection %s was not applied: %s",
            row.integration_id,
            reason,
            organization=row.organization_id,
            connection=row.integration_id,
            reason=reason,
        )
        self._send(
            signals.idp_metadata_refresh_failed,
            organization=organization,
            connection=row,
            reason=reason,
        )
        return RefreshOutcome(FAILED, reason)

    def unknown_signer_refusal(
        self, organization: t.Any, connection: t.Any, *, now: datetime | None = None
    ) -> t.Any:
        """The newest refused sign-in of the last 7 days that named an unknown signing certificate.

        That is, whose reason starts with
        :data:`~flask_okta_scim.saml.rotation.UNKNOWN_SIGNER` (Okta probably
        rotated its certificate). ``None`` when there is none, or when the
        certificate it names is one of the connection's by now. The audit row;
        its ``detail["reason"]`` is the message. Reads only.
        """
        audit = self.models.audit
        since = (now or utcnow()) - UNKNOWN_SIGNER_SHOWN
        found = self.session.scalars(
            select(audit)
            .where(
                audit.organization_id == organization.id,
                audit.action == "sso.login",
                audit.outcome == "failure",
                audit.target_id == connection.integration_id,
                audit.created_at >= since,
                audit.detail["reason"].as_string().startswith(UNKNOWN_SIGNER, autoescape=True),
            )
            .order_by(audit.id.desc())
            .limit(1)
        ).first()
        if found is None:
            return None
        named = _FINGERPRINT.search(str(found.detail.get("reason", "")))
        configured = {_fingerprint(text) for text in connection.idp_certificates or []}
        return None if named is not None and named.group(1) in configured else found


def refresh_from_source(
    directory: Callable[[], t.Any],
    source: MetadataSource,
    *,
    allow_private: bool,
    overlap: timedelta,
) -> RefreshOutcome:
    """Fetch ``source``'s metadata, then apply it in a unit of work of its own.

    ``directory`` makes the :class:`~flask_okta_scim.sqla.Directory` to apply
    it with (its session must have no transaction open: the fetch, up to 5
    seconds, happens before any is). A fetch that fails is recorded as a
    failed refresh. Commits the unit of work; does not retry.
    """
    fetched: IdpMetadata | MetadataError
    try:
        fetched = fetch_metadata(source.metadata_url, allow_private=allow_private)
    except MetadataError as e:
        fetched = e
    with directory().atomic() as unit:
        connection = unit.connection_by_integration_id(source.integration_id)
        if connection is None:
            return RefreshOutcome(SKIPPED, "the connection was deleted meanwhile")
        outcome: RefreshOutcome = unit.refresh_metadata(
            connection, fetched, overlap=overlap, url=source.metadata_url
        )
        return outcome


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def _host(url: str | None) -> str | None:
    """The host name of ``url``, lower case; ``None`` without one."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def _fingerprint(text: str) -> str:
    try:
        return fingerprint(text)
    except ValueError:
        return "unreadable"


def _iso(when: datetime | None) -> str:
    return "" if when is None else when.astimezone(timezone.utc).isoformat(timespec="seconds")


def _instant(text: str) -> datetime | None:
    """An ISO-8601 time as an aware UTC datetime; ``None`` if it is not one."""
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
