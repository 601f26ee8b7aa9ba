"""The service provider's own key pairs: made here, kept encrypted, used by python3-saml.

A connection needs a key pair of its own (or the application's) to sign
AuthnRequests and LogoutRequests (Okta's *Signed Requests*, and single
logout), and to decrypt assertions (Okta's *Assertion Encryption*). This
module makes them — RSA 2048, a self-signed certificate valid
:data:`KEY_LIFETIME_DAYS` days, SHA-256 — and seals the private key for
storage with :class:`KeyVault`, so that a copy of the database alone signs and
decrypts nothing. It does not store anything and knows nothing of connections.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

from .certificates import fingerprint

#: How long a generated certificate is valid. Okta does not check SP certificates'
#: dates; a rollover is a choice, not a deadline.
KEY_LIFETIME_DAYS = 10 * 365
#: RSA modulus size of generated keys: what Okta and xmlsec accept everywhere.
KEY_BITS = 2048
_HKDF_INFO = b"flask-okta-scim sp-key sealing v1"


class KeyUnavailable(Exception):
    """A sealed private key that none of the configured secrets opens."""


@dataclass(frozen=True)
class KeyPair:
    """A freshly made key pair: a PEM certificate and its PEM (PKCS#8, unencrypted) key."""

    certificate: str
    private_key: str
    fingerprint: str
    not_after: datetime


def generate_key_pair(common_name: str, *, now: datetime | None = None) -> KeyPair:
    """Make an RSA key pair and a self-signed certificate naming ``common_name``.

    Valid from a minute ago for :data:`KEY_LIFETIME_DAYS` days. Takes tens of
    milliseconds (prime generation). Does not seal the private key:
    :meth:`KeyVault.seal` does.
    """
    now = now or datetime.now(timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "SAML SP")])
    not_after = now + timedelta(days=KEY_LIFETIME_DAYS)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return KeyPair(
        certificate=pem,
        private_key=private,
        fingerprint=fingerprint(pem),
        not_after=certificate.not_valid_after_utc,
    )


class KeyVault:
    """Seals and opens private keys with the host's secrets (``OKTA_SCIM_SP_KEY_SECRETS``).

    Each secret, whatever its form, is stretched with HKDF-SHA256 into a
    Fernet key (AES-128-CBC with HMAC-SHA256). The first secret seals; every
    one opens, so a new secret is put first and the old one kept until
    ``flask okta-scim sso sp-key reseal`` has sealed every key again.
    """

    def __init__(self, secrets: Sequence[str | bytes]) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed to seal SP private keys")
        self._fernet = MultiFernet([Fernet(_fernet_key(secret)) for secret in secrets])

    def seal(self, private_key_pem: str) -> str:
        """The private key, encrypted and authenticated, as ASCII text for the database."""
        return self._fernet.encrypt(private_key_pem.encode("ascii")).decode("ascii")

    def open(self, sealed: str) -> str:
        """The PEM private key; :class:`KeyUnavailable` when no configured secret opens it."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, ValueError):
            raise KeyUnavailable(
                "An SP private key cannot be opened with the configured secrets: "
                "OKTA_SCIM_SP_KEY_SECRETS (or SECRET_KEY, when it is not set) changed "
                "since the key was made. Put the old secret back, after the new one."
            ) from None

    def reseal(self, sealed: str) -> str:
        """``sealed`` sealed again with the first secret (after a secret rotation)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise KeyUnavailable("An SP private key cannot be opened to reseal it.") from None


def _fernet_key(secret: str | bytes) -> bytes:
    material = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        material
    )
    return base64.urlsafe_b64encode(derived)
