"""Encrypted assertions (Okta's *Assertion Encryption*): what is accepted, and with which key.

Okta encrypts the assertion with a fresh AES key (CBC or GCM, 128 or 256
bits), and that key with the SP certificate the customer uploaded (RSA-OAEP).
Before xmlsec decrypts anything, :func:`check_encrypted_assertion` allows only
that shape: one ``EncryptedData`` holding its ``EncryptedKey`` inline, the
listed algorithms, a cipher value carried in the document — no
``CipherReference`` or ``RetrievalMethod`` (which make xmlsec fetch or look
elsewhere), no RSA 1.5 key transport (a padding oracle on our private key).
It also says which of our certificates the IdP encrypted for, when it says.

Decryption happens only after the Response's own signature was verified
(:func:`verify_response_signature`): an anonymous POST never makes us run the
private key. This module does not validate the decrypted assertion: the
caller hands it to the signature guard and python3-saml like any other.
"""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Sequence

import xmlsec
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from .certificates import fingerprint
from .errors import SamlError
from .settings import certificate_body
from .verify import verify_enveloped

NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS_XENC11 = "http://www.w3.org/2009/xmlenc11#"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"

#: Block ciphers for the assertion: what Okta offers (AES-CBC and AES-GCM).
BLOCK_CIPHERS = frozenset(
    {
        f"{NS_XENC}aes128-cbc",
        f"{NS_XENC}aes192-cbc",
        f"{NS_XENC}aes256-cbc",
        f"{NS_XENC11}aes128-gcm",
        f"{NS_XENC11}aes192-gcm",
        f"{NS_XENC11}aes256-gcm",
    }
)
#: Key transport: RSA-OAEP only (RSA 1.5 is refused: Bleichenbacher's oracle).
KEY_TRANSPORTS = frozenset({f"{NS_XENC}rsa-oaep-mgf1p", f"{NS_XENC11}rsa-oaep"})
#: What an RSA-OAEP EncryptionMethod may carry.
_OAEP_DIGESTS = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)
_MGFS = frozenset({f"{NS_XENC11}mgf1sha1", f"{NS_XENC11}mgf1sha256", f"{NS_XENC11}mgf1sha512"})
_ELEMENT_TYPE = f"{NS_XENC}Element"


def encrypted_assertions(root: etree._Element) -> list[etree._Element]:
    """The ``EncryptedAssertion`` children of the Response ``root``."""
    return list(root.iterchildren(f"{{{NS_SAML}}}EncryptedAssertion"))


def check_encrypted_assertion(encrypted: etree._Element) -> str | None:
    """Refuse (:class:`SamlError`, 400) an EncryptedAssertion xmlsec should not decrypt.

    Returns the base64 body of the certificate the IdP says it encrypted for
    (``EncryptedKey/KeyInfo/X509Data/X509Certificate``), or ``None`` when it
    does not say. Does not decrypt.
    """
    children = _children(encrypted)
    if [_name(c) for c in children] != [(NS_XENC, "EncryptedData")]:
        _refuse("an EncryptedAssertion must hold exactly one EncryptedData")
    data = children[0]
    if data.get("Type") not in (None, _ELEMENT_TYPE):
        _refuse(f"EncryptedData of type {data.get('Type')!r}")
    parts = _children(data)
    names = [_name(c) for c in parts]
    if names != [(NS_XENC, "EncryptionMethod"), (NS_DS, "KeyInfo"), (NS_XENC, "CipherData")]:
        _refuse("EncryptedData must be EncryptionMethod, KeyInfo (with the key), CipherData")
    method, key_info, cipher = parts
    _algorithm(method, BLOCK_CIPHERS)
    for child in _children(method):
        if _name(child) != (NS_XENC, "KeySize"):
            _refuse(f"{child.tag} in the EncryptionMethod")
    _cipher_value(cipher)
    keys = _children(key_info)
    if [_name(c) for c in keys] != [(NS_XENC, "EncryptedKey")]:
        _refuse("the EncryptedData's KeyInfo must hold exactly one EncryptedKey, inline")
    return _check_encrypted_key(keys[0])


def _check_encrypted_key(key: etree._Element) -> str | None:
    named: str | None = None
    seen_cipher = False
    for child in _children(key):
        name = _name(child)
        if name == (NS_XENC, "EncryptionMethod"):
            _algorithm(child, KEY_TRANSPORTS)
            for parameter in _children(child):
                if _name(parameter) == (NS_DS, "DigestMethod"):
                    _algorithm(parameter, _OAEP_DIGESTS)
                elif _name(parameter) == (NS_XENC11, "MGF"):
                    _algorithm(parameter, _MGFS)
                elif _name(parameter) != (NS_XENC, "OAEPparams"):
                    _refuse(f"{parameter.tag} in the key's EncryptionMethod")
        elif name == (NS_DS, "KeyInfo"):
            named = _named_certificate(child)
        elif name == (NS_XENC, "CipherData"):
            _cipher_value(child)
            seen_cipher = True
        elif name not in ((NS_XENC, "ReferenceList"), (NS_XENC, "CarriedKeyName")):
            _refuse(f"{child.tag} in the EncryptedKey")
    if not seen_cipher:
        _refuse("an EncryptedKey without CipherData")
    return named


def _named_certificate(key_info: etree._Element) -> str | None:
    """The certificate a KeyInfo names, if any; only X509Data and KeyName are allowed."""
    found = None
    for child in _children(key_info):
        name = _name(child)
        if name == (NS_DS, "KeyName"):
            continue
        if name != (NS_DS, "X509Data"):
            _refuse(f"{child.tag} in the EncryptedKey's KeyInfo")
        for item in _children(child):
            if _name(item) == (NS_DS, "X509Certificate"):
                found = certificate_body(item.text or "")
            elif _name(item) not in ((NS_DS, "X509IssuerSerial"), (NS_DS, "X509SubjectName")):
                _refuse(f"{item.tag} in X509Data")
    return found


def _cipher_value(cipher: etree._Element) -> None:
    values = _children(cipher)
    if [_name(c) for c in values] != [(NS_XENC, "CipherValue")] or len(values[0]):
        _refuse("CipherData must hold one CipherValue (no CipherReference)")


def keys_to_try(named: str | None, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Which of our ``(certificate, private key)`` pairs to decrypt with, in order.

    The one whose certificate the IdP named, when it named one of ours; every
    key when it named none. :class:`SamlError` when it named a certificate
    that is not ours (encrypted for another service provider, or for a key we
    removed), or when we have no key at all.
    """
    if not keys:
        raise SamlError(
            "the assertion is encrypted, but this connection has no SP key pair to decrypt "
            "it: generate one ('flask okta-scim sso sp-key generate') and upload its "
            "certificate to Okta"
        )
    if named is None:
        return list(keys)
    wanted = _fingerprint(named)
    chosen = [pair for pair in keys if _fingerprint(pair[0]) == wanted]
    if not chosen:
        raise SamlError(
            f"the assertion is encrypted for a certificate that is not this connection's "
            f"SP key (SHA-256 {wanted}): upload the current SP certificate to Okta"
        )
    return chosen


def decrypt_assertion(document: etree._Element, private_key: str) -> etree._Element | None:
    """A copy of the Response ``document`` with its assertion decrypted, or ``None``.

    ``None`` when ``private_key`` does not open it. Runs xmlsec on the one
    EncryptedData :func:`check_encrypted_assertion` allowed; does not check
    any signature.
    """
    copy = etree.fromstring(etree.tostring(document))
    (encrypted,) = encrypted_assertions(copy)
    data = encrypted[0]
    try:
        decrypted = xmlsec.EncryptionContext(_keys_manager(private_key)).decrypt(data)
    except Exception:
        return None
    if not isinstance(decrypted.tag, str) or decrypted.tag != f"{{{NS_SAML}}}Assertion":
        raise SamlError("the encrypted element is not a SAML Assertion", status=400)
    parent = encrypted.getparent()
    assert parent is not None
    parent.replace(encrypted, decrypted)
    return copy


@functools.lru_cache(maxsize=32)
def _keys_manager(private_key: str) -> xmlsec.KeysManager:
    """An xmlsec key manager holding ``private_key``, kept for the process.

    Loading a key into a manager costs OpenSSL about ten milliseconds of key
    set-up; decrypting with a manager already loaded, about one. Keys are
    few (one per connection or application, a rollover's two), and the cache
    holds only keys this process already opened.
    """
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(private_key, xmlsec.constants.KeyDataFormatPem, None))
    return manager


def verify_response_signature(xml: bytes, certificates: Sequence[str]) -> None:
    """Check the Response's own signature with the IdP's certificates before decrypting.

    :class:`SamlError` unless one certificate verifies ``/samlp:Response/ds:Signature``
    (whose shape the guard checked). Does not look at the assertion.
    """
    if not verify_enveloped(xml, certificates, OneLogin_Saml2_Utils.RESPONSE_SIGNATURE_XPATH):
        raise SamlError(
            "the Response carrying an encrypted assertion is not signed by the IdP "
            "(nothing is decrypted before the IdP's signature is verified)"
        )


def _fingerprint(certificate: str) -> str:
    try:
        return fingerprint(certificate)
    except ValueError:
        return "unreadable"


def _children(element: etree._Element) -> list[etree._Element]:
    if element.text and element.text.strip():
        _refuse(f"text in {element.tag}")
    found = []
    for child in element:
        if not isinstance(child.tag, str):
            _refuse(f"a comment or processing instruction in {element.tag}")
        found.append(child)
    return found


def _name(element: etree._Element) -> tuple[str | None, str]:
    q = etree.QName(element)
    return q.namespace, q.localname


def _algorithm(element: etree._Element, allowed: frozenset[str]) -> None:
    algorithm = element.get("Algorithm")
    if algorithm not in allowed:
        _refuse(f"encryption algorithm {algorithm!r} is not allowed")


def _refuse(what: str) -> t.NoReturn:
    raise SamlError(f"unsafe encrypted assertion: {what}", status=400)
