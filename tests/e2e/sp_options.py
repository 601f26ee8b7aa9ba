"""The app as SimpleSAMLphp knows it when signed requests, encryption or single logout are on.

:func:`register_sp` reads the SP metadata the app publishes, as an admin would upload it
to Okta, and registers the service provider in SimpleSAMLphp's ``saml20-sp-remote.php``
(:meth:`tests.e2e.simplesamlphp.SimpleSAMLphp.add_sp`) with:

- its certificates (``keys``: each ``KeyDescriptor``, for signing, encryption or both);
- its SingleLogoutService (HTTP-Redirect binding);
- the option flags of SimpleSAMLphp 1.19 given with it: :data:`REQUIRE_SIGNED_REQUESTS`
  (``validate.authnrequest``), :data:`ENCRYPT_ASSERTIONS` (``assertion.encryption``) and
  :data:`SIGNED_LOGOUT` (``sign.logout`` and ``validate.logout``).

With a certificate, SimpleSAMLphp 1.19 always encrypts with AES-128-CBC and RSA-OAEP
(MGF1, SHA-1) key transport (``SAML2\\EncryptedAssertion::setAssertion``): its
``sharedkey_algorithm`` applies only to a pre-shared symmetric key, which Okta never
uses. :class:`IdpLog` reads what SimpleSAMLphp logged from a point on, and
:func:`idp_logout_url` starts a logout at the IdP (as signing out of Okta does).
"""

from __future__ import annotations

import typing as t
import urllib.parse
import xml.etree.ElementTree as ET

from tests.e2e.simplesamlphp import MD
from tests.e2e.simplesamlphp import ServiceProvider
from tests.e2e.simplesamlphp import SimpleSAMLphp
from tests.e2e.simplesamlphp import sp_from_metadata

HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
DS = "{http://www.w3.org/2000/09/xmldsig#}"

#: SimpleSAMLphp refuses an AuthnRequest from this SP without a valid signature.
REQUIRE_SIGNED_REQUESTS: dict[str, t.Any] = {"validate.authnrequest": True}
#: SimpleSAMLphp encrypts the assertion for the SP's encryption certificate.
ENCRYPT_ASSERTIONS: dict[str, t.Any] = {"assertion.encryption": True}
#: SimpleSAMLphp signs its logout messages to this SP and requires the SP's signed.
SIGNED_LOGOUT: dict[str, t.Any] = {"sign.logout": True, "validate.logout": True}


def sp_remote_settings(xml: bytes | str) -> dict[str, t.Any]:
    """``keys`` and ``SingleLogoutService`` of SP metadata, as ``saml20-sp-remote`` wants them.

    Only for metadata the test itself fetched from the app under test.
    """
    root = ET.fromstring(xml)  # our own app's metadata: trusted
    descriptor = root.find(f".//{MD}SPSSODescriptor")
    if descriptor is None:
        raise ValueError("no SPSSODescriptor in the SP metadata")
    keys = []
    for key in descriptor.iter(f"{MD}KeyDescriptor"):
        body = key.findtext(f".//{DS}X509Certificate") or ""
        use = key.get("use")
        keys.append(
            {
                "type": "X509Certificate",
                "signing": use in (None, "signing"),
                "encryption": use in (None, "encryption"),
                "X509Certificate": "".join(body.split()),
            }
        )
    logout = [
        {"Binding": HTTP_REDIRECT, "Location": slo.attrib["Location"]}
        for slo in descriptor.iter(f"{MD}SingleLogoutService")
        if slo.get("Binding") == HTTP_REDIRECT
    ]
    settings: dict[str, t.Any] = {"keys": keys}
    if logout:
        settings["SingleLogoutService"] = logout
    return settings


def register_sp(
    idp: SimpleSAMLphp, metadata_xml: bytes | str, *options: dict[str, t.Any]
) -> ServiceProvider:
    """Register the SP of ``metadata_xml`` (replacing its entry) with each of ``options``."""
    sp = sp_from_metadata(metadata_xml)
    settings = sp_remote_settings(metadata_xml)
    for flags in options:
        settings.update(flags)
    return idp.add_sp(sp.entity_id, sp.acs_url, settings)


def idp_logout_url(idp: SimpleSAMLphp, return_to: str) -> str:
    """Start a logout at SimpleSAMLphp 1.19: each SP of the browser's session, then ``return_to``.

    ``return_to`` must be on the IdP's host or in its ``trusted.url.domains``.
    """
    query = urllib.parse.urlencode({"ReturnTo": return_to})
    return f"{idp.base_url}saml2/idp/SingleLogoutService.php?{query}"


class IdpLog:
    """What SimpleSAMLphp logs from the moment this is made (``logging.level`` DEBUG)."""

    def __init__(self, idp: SimpleSAMLphp) -> None:
        self.path = idp.log_dir / "simplesamlphp.log"
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def text(self) -> str:
        if not self.path.exists():
            return ""
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read().decode(errors="replace")
