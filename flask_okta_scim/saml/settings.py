"""python3-saml settings for one Okta connection, safe by default."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import xmlsec
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

#: Okta's default Name ID format; we send no NameIDPolicy, so any format works.
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


def certificate_body(pem: str) -> str:
    """The base64 body of a PEM certificate, without armour or blanks."""
    lines = [
        line.strip()
        for line in pem.strip().splitlines()
        if line.strip() and not line.startswith("-----")
    ]
    return "".join(lines)


def checked_certificate(text: str) -> str:
    """The base64 body of ``text`` if it is an X.509 certificate; else :class:`ValueError`.

    Checked by loading it with xmlsec, the library that will verify signatures
    with it: a private key or garbage pasted by mistake is refused here.
    """
    body = certificate_body(text)
    if not body:
        raise ValueError("empty certificate")
    try:
        xmlsec.Key.from_memory(
            OneLogin_Saml2_Utils.format_cert(body), xmlsec.constants.KeyDataFormatCertPem
        )
    except Exception:
        raise ValueError("not an X.509 certificate in PEM form") from None
    return body


@dataclass(frozen=True)
class ServiceProvider:
    """Our side of a connection: its URLs and, when it has one, its key pair."""

    entity_id: str
    acs_url: str
    #: Our Single Logout URL (HTTP-Redirect and HTTP-POST), published in the metadata.
    slo_url: str | None = None
    #: The active key pair, PEM: signs requests and decrypts assertions.
    certificate: str | None = None
    private_key: str | None = None
    #: A rollover's next certificate, published in the metadata next to the active one.
    next_certificate: str | None = None
    #: Sign AuthnRequests (Okta's *Signed Requests*); LogoutRequests are signed whenever
    #: there is a key.
    sign_requests: bool = False
    #: Accept only encrypted assertions (Okta's *Assertion Encryption*).
    want_encrypted: bool = False


def sp_settings(sp: ServiceProvider) -> dict[str, t.Any]:
    """The service-provider half of the settings."""
    found: dict[str, t.Any] = {
        "entityId": sp.entity_id,
        "assertionConsumerService": {"url": sp.acs_url, "binding": C.BINDING_HTTP_POST},
        "NameIDFormat": NAMEID_UNSPECIFIED,
    }
    if sp.slo_url:
        found["singleLogoutService"] = {"url": sp.slo_url, "binding": C.BINDING_HTTP_REDIRECT}
    if sp.certificate:
        found["x509cert"] = certificate_body(sp.certificate)
    if sp.private_key:
        found["privateKey"] = sp.private_key
    if sp.next_certificate:
        found["x509certNew"] = certificate_body(sp.next_certificate)
    return found


def sp_metadata_settings(sp: ServiceProvider) -> dict[str, t.Any]:
    """Settings for publishing the SP metadata: no IdP and no key needed, signed assertions wanted.

    The certificates are added to the document by
    :func:`~flask_okta_scim.saml.service.sp_metadata`, which reads them from
    ``sp`` itself (python3-saml would want the private key to publish them).
    """
    public = ServiceProvider(entity_id=sp.entity_id, acs_url=sp.acs_url, slo_url=sp.slo_url)
    return {
        "strict": True,
        "sp": sp_settings(public),
        "security": {"wantAssertionsSigned": True, "wantMessagesSigned": True},
    }


def saml_settings(
    *,
    sp_entity_id: str,
    acs_url: str,
    idp_entity_id: str,
    idp_sso_url: str,
    certificates: list[str],
    idp_slo_url: str | None = None,
    sp: ServiceProvider | None = None,
) -> dict[str, t.Any]:
    """Settings for python3-saml in strict mode.

    Both the Response and the Assertion must be signed (Okta signs both by
    default), SHA-1 is refused, and no AttributeStatement is required (Okta
    sends none unless configured). Several certificates may be valid at once,
    for rollover. ``sp`` brings our key pair and options (signed requests,
    encrypted assertions); without a key nothing is signed or decrypted.
    Does not read any file.
    """
    sp = sp or ServiceProvider(entity_id=sp_entity_id, acs_url=acs_url)
    keyed = bool(sp.certificate and sp.private_key)
    bodies = [certificate_body(c) for c in certificates]
    idp: dict[str, t.Any] = {
        "entityId": idp_entity_id,
        "singleSignOnService": {"url": idp_sso_url, "binding": C.BINDING_HTTP_REDIRECT},
    }
    if idp_slo_url:
        idp["singleLogoutService"] = {"url": idp_slo_url, "binding": C.BINDING_HTTP_REDIRECT}
    if len(bodies) == 1:
        idp["x509cert"] = bodies[0]
    else:
        idp["x509certMulti"] = {"signing": bodies}
    return {
        "strict": True,
        "debug": False,
        "sp": sp_settings(sp),
        "idp": idp,
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": True,
            "rejectDeprecatedAlgorithm": True,
            "wantAttributeStatement": False,
            "wantNameId": True,
            "wantAssertionsEncrypted": keyed and sp.want_encrypted,
            "wantNameIdEncrypted": False,
            "authnRequestsSigned": keyed and sp.sign_requests,
            "logoutRequestSigned": keyed,
            "logoutResponseSigned": keyed,
            "requestedAuthnContext": False,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
            "allowRepeatAttributeName": False,
        },
    }
