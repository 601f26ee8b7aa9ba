"""python3-saml settings for one Okta connection, safe by default."""

from __future__ import annotations

import typing as t

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


def sp_settings(*, entity_id: str, acs_url: str) -> dict[str, t.Any]:
    """The service-provider half of the settings."""
    return {
        "entityId": entity_id,
        "assertionConsumerService": {"url": acs_url, "binding": C.BINDING_HTTP_POST},
        "NameIDFormat": NAMEID_UNSPECIFIED,
    }


def sp_metadata_settings(*, entity_id: str, acs_url: str) -> dict[str, t.Any]:
    """Settings for publishing the SP metadata: no IdP needed, signed assertions wanted."""
    return {
        "strict": True,
        "sp": sp_settings(entity_id=entity_id, acs_url=acs_url),
        "security": {"wantAssertionsSigned": True, "wantMessagesSigned": True},
    }


def saml_settings(
    *,
    sp_entity_id: str,
    acs_url: str,
    idp_entity_id: str,
    idp_sso_url: str,
    certificates: list[str],
) -> dict[str, t.Any]:
    """Settings for python3-saml in strict mode.

    Both the Response and the Assertion must be signed (Okta signs both by
    default), SHA-1 is refused, and no AttributeStatement is required (Okta
    sends none unless configured). Several certificates may be valid at once,
    for rollover. Does not read any file.
    """
    bodies = [certificate_body(c) for c in certificates]
    idp: dict[str, t.Any] = {
        "entityId": idp_entity_id,
        "singleSignOnService": {"url": idp_sso_url, "binding": C.BINDING_HTTP_REDIRECT},
    }
    if len(bodies) == 1:
        idp["x509cert"] = bodies[0]
    else:
        idp["x509certMulti"] = {"signing": bodies}
    return {
        "strict": True,
        "debug": False,
        "sp": sp_settings(entity_id=sp_entity_id, acs_url=acs_url),
        "idp": idp,
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": True,
            "rejectDeprecatedAlgorithm": True,
            "wantAttributeStatement": False,
            "wantNameId": True,
            "wantAssertionsEncrypted": False,
            "wantNameIdEncrypted": False,
            "authnRequestsSigned": False,
            "requestedAuthnContext": False,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
            "allowRepeatAttributeName": False,
        },
    }
