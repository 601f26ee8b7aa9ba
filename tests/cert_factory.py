"""Self-signed IdP certificates made on the fly with ``cryptography``: weak, expired, future...

:func:`make_idp` writes a key and a certificate under a folder and returns a
:class:`~tests.saml_idp.TestIdP` that really signs with that key, so a test can
post a response signed by an IdP whose certificate is, say, expired.
"""

from __future__ import annotations

import functools
import typing as t
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.saml_idp import TestIdP

DAY = timedelta(days=1)


@functools.cache
def private_key(kind: str = "rsa", size: int = 2048, n: int = 0) -> t.Any:
    """A private key, made once per (kind, size, n): ``rsa``/``dsa`` bits, or an EC curve size."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    if kind == "dsa":
        return dsa.generate_private_key(key_size=size)
    curves: dict[int, ec.EllipticCurve] = {
        192: ec.SECP192R1(),
        256: ec.SECP256R1(),
        384: ec.SECP384R1(),
    }
    return ec.generate_private_key(curves[size])


def make_certificate(
    key: t.Any,
    *,
    not_before: timedelta = -DAY,
    not_after: timedelta = 365 * DAY,
    cn: str = "Test Okta IdP",
) -> str:
    """A self-signed certificate (PEM) for ``key``, valid from now + ``not_before``."""
    now = datetime.now(timezone.utc)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Okta"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key: t.Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def make_idp(
    folder: Path,
    name: str,
    *,
    bits: int = 2048,
    n: int = 0,
    not_before: timedelta = -DAY,
    not_after: timedelta = 365 * DAY,
) -> TestIdP:
    """A :class:`TestIdP` signing with an RSA key of ``bits`` and a certificate of those dates.

    ``n`` picks another key of the same size (two IdPs with different keys).
    """
    key = private_key("rsa", bits, n)
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.crt"
    key_path.write_text(key_pem(key))
    cert_path.write_text(
        make_certificate(key, not_before=not_before, not_after=not_after, cn=f"IdP {name}")
    )
    return TestIdP(key_path, cert_path)
