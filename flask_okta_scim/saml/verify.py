"""Verifying an enveloped XML signature with the IdP's certificates, for messages python3-saml
does not verify itself (a Response before decryption, HTTP-POST logout messages).

The signature's shape (one Reference to its parent, allowed algorithms) must
have been checked by :func:`~flask_okta_scim.saml.guard.check_signatures`
first: this runs xmlsec.
"""

from __future__ import annotations

from collections.abc import Sequence

from onelogin.saml2.utils import OneLogin_Saml2_Utils

from .settings import certificate_body


def verify_enveloped(xml: bytes, certificates: Sequence[str], xpath: str) -> bool:
    """Whether one of ``certificates`` verifies the one ``ds:Signature`` at ``xpath``.

    ``False`` for no signature there, several, or none verifying. Does not
    judge the certificates (the caller passes the trusted ones).
    """
    for certificate in certificates:
        try:
            if OneLogin_Saml2_Utils.validate_sign(
                xml,
                cert=OneLogin_Saml2_Utils.format_cert(certificate_body(certificate)),
                xpath=xpath,
            ):
                return True
        except Exception:  # python3-saml raises on a failed verification
            continue
    return False
