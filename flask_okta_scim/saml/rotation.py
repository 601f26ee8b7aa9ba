"""Telling an operator that the IdP signs with a certificate the connection does not have.

When Okta's signing certificate is rotated (a new one activated on the app's
Sign On tab) and the connection still holds the old one, every sign-in fails
signature validation, and python3-saml only says "Signature validation
failed". A signed response usually carries the signer's certificate in its
``ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate``; when that
certificate is not among the connection's, the refusal can say so, name it
(subject and SHA-256 fingerprint) and say what to do.

That embedded certificate is **never trusted**: it is read only to be named
in the refusal. Whoever posts to the ACS chooses it, so the message asks the
operator to get the new certificate from Okta (or its metadata) and compare
the fingerprint, never to copy it from a response.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping

from lxml import etree

from .certificates import CertificateInfo
from .certificates import CertificateRefused
from .certificates import fingerprint
from .certificates import inspect_certificate
from .errors import NoTrustedCertificate
from .errors import SamlError
from .guard import decode_response
from .guard import parse

#: How every refusal built here starts: the admin console finds them by it.
UNKNOWN_SIGNER = "the IdP signs with a certificate this connection does not have"
#: The words of a refusal for a signature that does not verify with the configured keys:
#: python3-saml's, and the check of a Response carrying an encrypted assertion.
SIGNATURE_FAILURES = ("Signature validation failed", "is not signed by the IdP")
#: A certificate is a few kilobytes of base64; anything longer is not read.
MAX_CERTIFICATE_CHARS = 16 * 1024
#: How much of the embedded certificate's subject (sender-chosen) a reason quotes.
MAX_SUBJECT_CHARS = 64

_NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
_CERTIFICATE = "ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate"
#: The Response's signature, then the Assertion's: exact paths, never ``//``.
_EMBEDDED = etree.XPath(
    f"/samlp:Response/{_CERTIFICATE} | /samlp:Response/saml:Assertion/{_CERTIFICATE}",
    namespaces=_NS,
)


class UnknownSigningCertificate(NoTrustedCertificate):
    """A response's signature failed, and it names a signing certificate the connection lacks.

    A :class:`~flask_okta_scim.saml.errors.NoTrustedCertificate`, so that the
    person gets the same page ("ask your admin to update the Okta signing
    certificate"). ``certificate`` is the embedded certificate, read, not
    trusted.
    """

    def __init__(self, reason: str, certificate: CertificateInfo) -> None:
        super().__init__(reason)
        self.certificate = certificate


def unknown_signer(xml: bytes, certificates: Iterable[str]) -> CertificateInfo | None:
    """The first signing certificate embedded in ``xml`` that is not among ``certificates``.

    Looks only at ``ds:X509Certificate`` under the ``KeyInfo`` of the
    Response's own signature and of its Assertion's signature (exact paths).
    Parses without a DTD, entities or the network. Returns ``None`` when the
    document cannot be read, carries no certificate, or carries only
    certificates the connection has (compared by SHA-256 fingerprint of the DER
    form, whatever the PEM or blank spacing), or ones that are not X.509
    certificates. Does not verify any signature and does not trust what it
    returns.
    """
    root = _parse(xml)
    if root is None:
        return None
    known = set()
    for text in certificates:
        try:
            known.add(fingerprint(text))
        except ValueError:
            continue
    for element in _EMBEDDED(root):
        text = (element.text or "").strip()
        if not text or len(text) > MAX_CERTIFICATE_CHARS:
            continue
        try:
            info = inspect_certificate(text)
        except CertificateRefused:
            continue
        if info.fingerprint not in known:
            return info
    return None


def explain_refusal(
    error: SamlError, form: Mapping[str, str], certificates: Iterable[str]
) -> SamlError:
    """``error``, or an :class:`UnknownSigningCertificate` when Okta probably rotated its key.

    Only for a signature that failed validation (:data:`SIGNATURE_FAILURES`)
    of a response that embeds a signing certificate the connection does not
    have: the new reason names it and says what to do.
    Any other refusal (no signature, no ``KeyInfo``, a configured certificate
    with a bad signature, something malformed) is returned as it is. Does
    not raise.
    """
    if not any(words in error.reason for words in SIGNATURE_FAILURES):
        return error
    try:
        xml = decode_response(form.get("SAMLResponse") or "")
    except SamlError:
        return error
    found = unknown_signer(xml, certificates)
    if found is None:
        return error
    return UnknownSigningCertificate(rotated_reason(found), found)


def rotated_reason(info: CertificateInfo) -> str:
    """What the log and the audit record say about a response signed by ``info``'s key."""
    # Sender-chosen: one line, no backslash to be escaped later, bounded.
    subject = "".join(
        c if c.isprintable() and c != "\\" else "?" for c in info.subject or "no subject"
    )
    if len(subject) > MAX_SUBJECT_CHARS:
        subject = subject[:MAX_SUBJECT_CHARS] + "…"
    return (
        f"{UNKNOWN_SIGNER}: SHA-256 {info.fingerprint}, subject {subject}. Okta's certificate "
        "was probably rotated: refresh the metadata (Refresh metadata in the "
        "console, or 'flask okta-scim sso refresh-metadata ORG'), or configure Okta's new "
        "certificate after checking its fingerprint. Not trusted until then"
    )


def _parse(xml: bytes) -> etree._Element | None:
    """The document as the signature guard parses it (no DTD, entities or network), or ``None``."""
    try:
        return parse(xml)
    except SamlError:
        return None


__all__ = [
    "UNKNOWN_SIGNER",
    "UnknownSigningCertificate",
    "explain_refusal",
    "rotated_reason",
    "unknown_signer",
]
