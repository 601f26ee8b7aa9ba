"""What the simulated Okta does for the SAML app options: assertion encryption, single logout.

- :func:`encrypt_assertion` encrypts a signed Assertion for the SP's
  certificate as Okta's *Assertion Encryption* does (AES-256-CBC by default,
  the key by RSA-OAEP, the certificate named in the EncryptedKey);
- :func:`logout_request` and :func:`logout_response` build Okta's logout
  messages, signed for the HTTP-POST binding or as an HTTP-Redirect query;
- :func:`read_sp_request` reads (and checks the signature of) what the SP
  sends to the IdP: an AuthnRequest or a LogoutRequest on the Redirect binding.

For tests only, like :class:`~flask_okta_scim.testing.idp.SimulatedIdP`.
"""

from __future__ import annotations

import base64
import typing as t
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from urllib.parse import parse_qsl
from urllib.parse import quote_plus
from urllib.parse import urlsplit

import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from .idp import NS_SAML
from .idp import NS_SAMLP
from .idp import When
from .idp import new_id
from .idp import parse
from .idp import qname
from .idp import saml_time
from .idp import serialize

if t.TYPE_CHECKING:
    from .idp import SimulatedIdP

BLOCK_CIPHERS = {
    "aes128-cbc": xmlsec.constants.TransformAes128Cbc,
    "aes256-cbc": xmlsec.constants.TransformAes256Cbc,
    "aes128-gcm": xmlsec.constants.TransformAes128Gcm,
    "aes256-gcm": xmlsec.constants.TransformAes256Gcm,
}
KEY_TRANSPORTS = {
    "rsa-oaep-mgf1p": xmlsec.constants.TransformRsaOaep,
    "rsa-1_5": xmlsec.constants.TransformRsaPkcs1,
}
_SIGNING = {
    C.RSA_SHA1: xmlsec.constants.TransformRsaSha1,
    C.RSA_SHA256: xmlsec.constants.TransformRsaSha256,
    C.RSA_SHA384: xmlsec.constants.TransformRsaSha384,
    C.RSA_SHA512: xmlsec.constants.TransformRsaSha512,
}
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def encrypt_assertion(
    assertion: etree._Element,
    sp_certificate: str,
    *,
    cipher: str = "aes256-cbc",
    transport: str = "rsa-oaep-mgf1p",
    name_certificate: bool = True,
) -> etree._Element:
    """Replace ``assertion`` (in its Response) by an EncryptedAssertion for ``sp_certificate``.

    Returns the EncryptedAssertion. ``name_certificate`` puts the SP
    certificate in the EncryptedKey's KeyInfo, as Okta does.
    """
    parent = assertion.getparent()
    assert parent is not None
    manager = xmlsec.KeysManager()
    manager.add_key(
        xmlsec.Key.from_memory(sp_certificate, xmlsec.constants.KeyDataFormatCertPem, None)
    )
    wrapper = etree.Element(qname(NS_SAML, "EncryptedAssertion"), nsmap={"saml2": NS_SAML})
    parent.replace(assertion, wrapper)
    wrapper.append(assertion)
    data = xmlsec.template.encrypted_data_create(
        wrapper, BLOCK_CIPHERS[cipher], type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(data)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, KEY_TRANSPORTS[transport])
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    if name_certificate:
        inner = xmlsec.template.encrypted_data_ensure_key_info(encrypted_key, ns="ds")
        x509 = etree.SubElement(inner, f"{{{C.NS_DS}}}X509Data")
        body = "".join(
            line for line in sp_certificate.strip().splitlines() if not line.startswith("-----")
        )
        etree.SubElement(x509, f"{{{C.NS_DS}}}X509Certificate").text = body
    context = xmlsec.EncryptionContext(manager)
    bits = 256 if "256" in cipher else 128
    context.key = xmlsec.Key.generate(
        xmlsec.constants.KeyDataAes, bits, xmlsec.constants.KeyDataTypeSession
    )
    encrypted = context.encrypt_xml(data, assertion)
    assert encrypted.getparent() is wrapper
    return wrapper


@dataclass(frozen=True)
class SentRequest:
    """What the SP sent to the IdP on the Redirect binding, as the IdP reads it."""

    xml: etree._Element
    relay_state: str | None
    sig_alg: str | None
    #: Whether ``Signature`` verified with the certificate given to :func:`read_sp_request`.
    signature_valid: bool | None

    @property
    def id(self) -> str:
        return str(self.xml.get("ID"))


def read_sp_request(url: str, sp_certificate: str | None = None) -> SentRequest:
    """Read the SAMLRequest of a Redirect-binding URL the SP sent the browser to.

    With ``sp_certificate``, verify ``Signature`` over the query as sent
    (``None`` when the request carries no signature).
    """
    query = urlsplit(url).query
    params = dict(parse_qsl(query, keep_blank_values=True))
    xml = parse(OneLogin_Saml2_Utils.decode_base64_and_inflate(params["SAMLRequest"]))
    valid = None
    if sp_certificate is not None and "Signature" in params:
        parts = query.split("&")
        signed = "&".join(
            p
            for prefix in ("SAMLRequest=", "RelayState=", "SigAlg=")
            for p in parts
            if p.startswith(prefix)
        )
        valid = bool(
            OneLogin_Saml2_Utils.validate_binary_sign(
                signed.encode("ascii"),
                base64.b64decode(params["Signature"]),
                sp_certificate,
                params["SigAlg"],
            )
        )
    return SentRequest(xml, params.get("RelayState"), params.get("SigAlg"), valid)


def logout_request(
    idp: SimulatedIdP,
    *,
    destination: str,
    name_id: str,
    session_indexes: t.Sequence[str] = (),
    issuer: str | None = None,
    issue_instant: When = 0,
    not_on_or_after: When | None = 300,
    request_id: str | None = None,
) -> str:
    """An unsigned LogoutRequest from the IdP, XML text (sign it with :func:`post_form` or
    :func:`redirect_query`)."""
    now = datetime.now(timezone.utc)
    root = etree.Element(qname(NS_SAMLP, "LogoutRequest"), nsmap={"saml2p": NS_SAMLP})
    root.set("Destination", destination)
    root.set("ID", request_id or new_id())
    root.set("IssueInstant", saml_time(issue_instant, now))
    if not_on_or_after is not None:
        root.set("NotOnOrAfter", saml_time(not_on_or_after, now))
    root.set("Version", "2.0")
    etree.SubElement(root, qname(NS_SAML, "Issuer"), nsmap={"saml2": NS_SAML}).text = (
        issuer or idp.entity_id
    )
    name = etree.SubElement(
        root, qname(NS_SAML, "NameID"), nsmap={"saml2": NS_SAML}, Format=NAMEID_EMAIL
    )
    name.text = name_id
    for index in session_indexes:
        etree.SubElement(root, qname(NS_SAMLP, "SessionIndex")).text = index
    return serialize(root)


def logout_response(
    idp: SimulatedIdP,
    *,
    destination: str,
    in_response_to: str | None,
    status: str = C.STATUS_SUCCESS,
    issuer: str | None = None,
    issue_instant: When = 0,
) -> str:
    """An unsigned LogoutResponse from the IdP, XML text."""
    root = etree.Element(qname(NS_SAMLP, "LogoutResponse"), nsmap={"saml2p": NS_SAMLP})
    root.set("Destination", destination)
    root.set("ID", new_id())
    if in_response_to is not None:
        root.set("InResponseTo", in_response_to)
    root.set("IssueInstant", saml_time(issue_instant, datetime.now(timezone.utc)))
    root.set("Version", "2.0")
    etree.SubElement(root, qname(NS_SAML, "Issuer"), nsmap={"saml2": NS_SAML}).text = (
        issuer or idp.entity_id
    )
    status_el = etree.SubElement(root, qname(NS_SAMLP, "Status"))
    etree.SubElement(status_el, qname(NS_SAMLP, "StatusCode"), Value=status)
    return serialize(root)


def post_form(idp: SimulatedIdP, xml: str, *, sign: bool = True) -> str:
    """The base64 form value of ``xml`` for the HTTP-POST binding, enveloped-signed by ``idp``."""
    text = idp.sign_element(xml) if sign else xml
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def redirect_query(
    idp: SimulatedIdP,
    xml: str,
    *,
    param: str,
    relay_state: str | None = None,
    sign: bool = True,
    algorithm: str = C.RSA_SHA256,
) -> str:
    """The query string of ``xml`` on the HTTP-Redirect binding (deflated), signed by ``idp``."""
    encoded = OneLogin_Saml2_Utils.deflate_and_base64_encode(xml)
    parts = [f"{param}={quote_plus(encoded)}"]
    if relay_state is not None:
        parts.append(f"RelayState={quote_plus(relay_state)}")
    if sign:
        parts.append(f"SigAlg={quote_plus(algorithm)}")
        signature = OneLogin_Saml2_Utils.sign_binary(
            "&".join(parts).encode("ascii"), idp.key_pem, _SIGNING[algorithm]
        )
        parts.append(f"Signature={quote_plus(base64.b64encode(signature).decode('ascii'))}")
    return "&".join(parts)
