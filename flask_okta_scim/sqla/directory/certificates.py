"""The IdP signing certificates of Okta connections: refused when configured, watched for expiry.

What makes a certificate trustworthy (key size, validity dates) is decided in
:mod:`flask_okta_scim.saml.certificates`; this module applies it to the
connections in the database: a weak or out-of-date certificate is refused when
a connection is configured, and :meth:`Certificates.certificate_check` (which
``flask okta-scim sso check-certificates`` runs from cron) tells which
connections' certificates are about to expire.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from ... import signals
from ...core.errors import InvalidValue
from ...logs import log
from ...saml.certificates import EXPIRED
from ...saml.certificates import VALID
from ...saml.certificates import CertificateInfo
from ...saml.certificates import CertificateRefused
from ...saml.certificates import check_certificate
from ...saml.certificates import inspect_certificate
from ...saml.certificates import trusted_certificates
from ..mixins import utcnow
from .base import DirectoryBase

#: What to do about a refused certificate, said after the reason.
_HINTS = {
    "weak": "Have the IdP sign with a new, stronger key (in Okta: generate a new 2048-bit "
    "certificate), then configure that certificate.",
    "expired": "Configure the IdP's current certificate (Okta shows it on the application's "
    "Sign On tab). For an IdP known to sign with an expired self-signed certificate, the "
    "operator override allow_expired_certificate (CLI: --allow-expired-certificate) trusts "
    "it anyway.",
    "not_yet_valid": "Check this server's clock, or configure the certificate once it is valid.",
}


@dataclass(frozen=True)
class CertificateCheck:
    """One connection's certificates, judged by :meth:`Certificates.certificate_check`."""

    organization: t.Any
    connection: t.Any
    #: The strong certificate that expires last (expired or not), or ``None``.
    last: CertificateInfo | None
    #: Calendar days (UTC) until ``last`` expires, negative once it has; ``None`` without one.
    days_left: int | None
    #: Whether ``last`` expires within the window (never under the override).
    expiring: bool
    #: Whether a sign-in would trust at least one of the certificates now.
    trusted: bool

    @property
    def at_risk(self) -> bool:
        """Whether sign-ins stop working soon, or have stopped: expiring, or nothing trusted."""
        return self.expiring or not self.trusted


class Certificates(DirectoryBase):
    """The checks on Okta connections' signing certificates."""

    def _checked_certificates(
        self, certificates: Iterable[str], *, allow_expired: bool
    ) -> list[CertificateInfo]:
        """Each certificate's details, or :class:`InvalidValue` naming the first refused one.

        Refused: unreadable, a weak key (whatever ``allow_expired`` says), not
        valid now (expired ones are accepted with ``allow_expired``).
        """
        found = []
        for certificate in certificates:
            try:
                found.append(check_certificate(certificate, allow_expired=allow_expired))
            except CertificateRefused as e:
                raise InvalidValue(f"{e} {_HINTS.get(e.kind, '')}".strip()) from None
        return found

    def certificate_check(
        self, within: timedelta, organization: t.Any | None = None
    ) -> list[CertificateCheck]:
        """Judge the certificates of every configured connection (of ``organization``, or all).

        A connection is *expiring* when the last strong certificate it has
        expires within ``within``, or already has, and it has no
        ``allow_expired_certificate`` override; the signal
        ``idp_certificate_expiring`` is sent and the event ``certificate.expiring``
        logged (a warning) for each such connection. A
        rollover's old certificate expiring next to a newer one is therefore
        no warning. Changes nothing in the database; does not commit.
        """
        c, o = self.models.connection, self.models.organization
        stmt = select(c, o).join(o, o.id == c.organization_id)
        if organization is not None:
            stmt = stmt.where(c.organization_id == organization.id)
        now = utcnow()
        results = []
        for connection, owner in self.session.execute(stmt.order_by(c.id)).all():
            if not connection.idp_certificates:
                continue
            allow_expired = bool(connection.allow_expired_certificate)
            # Weak, unreadable and not-yet-valid ones are never trusted; judge the others
            # by their end date.
            strong = [
                info
                for info in _readable(connection.idp_certificates)
                if info.state(now) in (VALID, EXPIRED)
            ]
            last = max(strong, key=lambda info: info.not_after, default=None)
            trust = trusted_certificates(
                connection.idp_certificates, now=now, allow_expired=allow_expired
            )
            check = CertificateCheck(
                organization=owner,
                connection=connection,
                last=last,
                days_left=last.days_left(now) if last is not None else None,
                expiring=(
                    last is not None and not allow_expired and last.not_after <= now + within
                ),
                trusted=bool(trust.trusted),
            )
            results.append(check)
            if check.expiring and last is not None:
                log(
                    "certificate.expiring",
                    logging.WARNING,
                    "The IdP certificate of connection %s expires in %d day(s) (%s)",
                    connection.integration_id,
                    check.days_left,
                    last.not_after.isoformat(),
                    organization=owner.id,
                    connection=connection.integration_id,
                    days_left=check.days_left,
                    not_after=last.not_after.isoformat(),
                    fingerprint=last.fingerprint,
                )
                self._send(
                    signals.idp_certificate_expiring,
                    organization=owner,
                    connection=connection,
                    certificate=last,
                    not_after=last.not_after,
                    days_left=check.days_left,
                )
        return results


def _readable(certificates: Iterable[str]) -> list[CertificateInfo]:
    found = []
    for text in certificates:
        try:
            found.append(inspect_certificate(text))
        except CertificateRefused:
            continue
    return found
