"""IdP signing certificates: what they hold, and whether to trust them now.

python3-saml (through xmlsec) verifies a signature with the public key of a
configured certificate and looks at nothing else in it: neither its key size
nor its validity dates. This module is where those are judged, with the
``cryptography`` package:

- a key too weak to trust is refused always: RSA under 2048 bits, EC on a
  curve smaller than P-256, and any other kind of key (DSA...);
- a certificate is trusted from its ``notBefore`` (less :data:`CLOCK_SKEW`)
  until its ``notAfter``; an expired one only under an operator's explicit
  override (``allow_expired``), for IdPs known to sign with expired
  self-signed certificates. The override never covers a weak key.

The certificate's own signature, issuer and chain are not checked: an IdP's
SAML certificate is trusted because it was configured (pinned), not because a
CA vouched for it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import typing as t
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa

from .settings import certificate_body

#: The smallest RSA key trusted, in bits (NIST SP 800-131A).
MIN_RSA_BITS = 2048
#: The smallest EC curve trusted, in bits (P-256).
MIN_EC_BITS = 256
#: How far ahead of this server's clock a brand-new certificate's ``notBefore`` may be.
CLOCK_SKEW = timedelta(minutes=5)

#: States of a certificate at a given time (:meth:`CertificateInfo.state`).
VALID, EXPIRED, NOT_YET_VALID, WEAK, UNREADABLE = (
    "valid",
    "expired",
    "not_yet_valid",
    "weak",
    "unreadable",
)


class CertificateRefused(ValueError):
    """A certificate that is not to be trusted. The message says which one and why.

    ``kind`` is one of ``"unreadable"``, ``"weak"``, ``"expired"`` and
    ``"not_yet_valid"``.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class CertificateInfo:
    """What an operator needs to know of a certificate, read once from its DER form."""

    #: The base64 body of the certificate, as stored.
    body: str
    #: The subject, RFC 4514 (``CN=Test Okta IdP,O=Okta``).
    subject: str
    #: The kind and size of its key: ``"RSA 2048"``, ``"EC secp256r1"``.
    key: str
    #: Why the key is too weak to trust, or ``None``.
    weakness: str | None
    not_before: datetime
    not_after: datetime
    #: SHA-256 of the DER form, as Okta shows it (``AB:CD:...``).
    fingerprint: str

    def state(self, now: datetime | None = None) -> str:
        """``"weak"``, ``"not_yet_valid"``, ``"expired"`` or ``"valid"`` at ``now``."""
        now = now or _now()
        if self.weakness:
            return WEAK
        if now + CLOCK_SKEW < self.not_before:
            return NOT_YET_VALID
        if now >= self.not_after:
            return EXPIRED
        return VALID

    def trusted(self, now: datetime | None = None, *, allow_expired: bool = False) -> bool:
        """Whether a signature made with this certificate's key is trusted at ``now``.

        ``allow_expired`` trusts an expired certificate (never a weak or a
        not-yet-valid one).
        """
        state = self.state(now)
        return state == VALID or (allow_expired and state == EXPIRED)

    def days_left(self, now: datetime | None = None) -> int:
        """Calendar days (UTC) from ``now`` to ``notAfter``: 0 on the last day, negative after."""
        return (self.not_after.date() - (now or _now()).astimezone(timezone.utc).date()).days

    def name(self) -> str:
        """Subject and fingerprint, to name the certificate in a message."""
        return f"{self.subject or 'no subject'} (SHA-256 {self.fingerprint})"

    def problem(self, now: datetime | None = None) -> str | None:
        """Why the certificate is not valid at ``now``, for an operator; ``None`` if it is."""
        state = self.state(now)
        if state == WEAK:
            return f"the certificate {self.name()} has a weak key: {self.weakness}"
        if state == NOT_YET_VALID:
            return f"the certificate {self.name()} is not valid before {_day(self.not_before)}"
        if state == EXPIRED:
            return f"the certificate {self.name()} expired on {_day(self.not_after)}"
        return None


def inspect_certificate(text: str) -> CertificateInfo:
    """Read a certificate (PEM, or its base64 body) into a :class:`CertificateInfo`.

    Raises :class:`CertificateRefused` (``kind="unreadable"``) for anything
    that is not an X.509 certificate. Does not judge it: see
    :func:`check_certificate` and :meth:`CertificateInfo.trusted`.
    """
    return _inspect_body(certificate_body(text))


def check_certificate(
    text: str, *, now: datetime | None = None, allow_expired: bool = False
) -> CertificateInfo:
    """The certificate's :class:`CertificateInfo` if it may be configured now.

    Raises :class:`CertificateRefused` for an unreadable certificate, a weak
    key, or a certificate not valid at ``now`` (an expired one is accepted
    with ``allow_expired``; a weak one never). Used when an IdP is configured;
    does not look at what is already configured.
    """
    info = inspect_certificate(text)
    problem = info.problem(now)
    state = info.state(now)
    if problem and not (allow_expired and state == EXPIRED):
        raise CertificateRefused(problem[0].upper() + problem[1:] + ".", state)
    return info


@dataclass(frozen=True)
class Trust:
    """Which of a connection's certificates are trusted now, and why the others are not."""

    trusted: list[CertificateInfo]
    #: One reason per certificate left out, for the log.
    refused: list[str]

    def reason(self) -> str:
        """Why no certificate is trusted, for the log and the audit record."""
        return "no trusted IdP signing certificate: " + "; ".join(self.refused or ["none"])


def trusted_certificates(
    certificates: Iterable[str], *, now: datetime | None = None, allow_expired: bool = False
) -> Trust:
    """Split ``certificates`` into those a sign-in may trust at ``now`` and the others.

    Unreadable, weak and not-yet-valid certificates are never trusted; expired
    ones only with ``allow_expired``. Does not raise for a bad certificate:
    the caller decides what an empty :attr:`Trust.trusted` means.
    """
    now = now or _now()
    trusted, refused = [], []
    for text in certificates:
        try:
            info = inspect_certificate(text)
        except CertificateRefused as e:
            refused.append(str(e))
            continue
        if info.trusted(now, allow_expired=allow_expired):
            trusted.append(info)
        else:
            refused.append(info.problem(now) or info.name())
    return Trust(trusted, refused)


def fingerprint(text: str) -> str:
    """The SHA-256 fingerprint of a certificate's DER form, as Okta shows it (``AB:CD:...``).

    Does not parse the certificate: works on anything base64.
    """
    digest = hashes.Hash(hashes.SHA256())
    digest.update(base64.b64decode(certificate_body(text)))
    return _colons(digest.finalize())


@functools.lru_cache(maxsize=256)
def _inspect_body(body: str) -> CertificateInfo:
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(body, validate=True))
        key = cert.public_key()
        subject = cert.subject.rfc4514_string()
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        raise CertificateRefused(
            "The IdP certificate cannot be read: it is not an X.509 certificate.", UNREADABLE
        ) from None
    return CertificateInfo(
        body=body,
        subject=subject,
        key=_describe_key(key),
        weakness=_weakness(key),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=_colons(cert.fingerprint(hashes.SHA256())),
    )


def _describe_key(key: t.Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__.removeprefix("_").removesuffix("PublicKey") or "unknown"


def _weakness(key: t.Any) -> str | None:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            return f"a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits are needed"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < MIN_EC_BITS:
            return f"an EC key on {key.curve.name}; P-256 or a larger curve is needed"
        return None
    return f"a {_describe_key(key)} key; only RSA and EC keys are accepted"


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def _day(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _now() -> datetime:
    return datetime.now(timezone.utc)
