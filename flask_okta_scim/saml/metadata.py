"""Okta IdP metadata: parsing, and fetching it without becoming an SSRF proxy."""

from __future__ import annotations

import ipaddress
import socket
import typing as t
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from .errors import MetadataError
from .settings import checked_certificate

MAX_METADATA_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    certificates: list[str]


def parse_metadata(xml: str | bytes) -> IdpMetadata:
    """Read the entity ID, the HTTP-Redirect SSO URL and the signing certificates.

    Documents with a DOCTYPE or entities are refused by python3-saml's parser.
    Does not check a metadata signature (Okta does not sign its metadata).
    """
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
    except Exception as e:
        raise MetadataError(f"The IdP metadata cannot be read: {type(e).__name__}: {e}") from None
    idp = parsed.get("idp") or {}
    certs = list((idp.get("x509certMulti") or {}).get("signing") or [])
    if not certs and idp.get("x509cert"):
        certs = [idp["x509cert"]]
    sso = (idp.get("singleSignOnService") or {}).get("url")
    try:
        certs = [checked_certificate(cert) for cert in certs]
    except ValueError:
        raise MetadataError(
            "The IdP metadata has a signing certificate that cannot be read."
        ) from None
    if not idp.get("entityId") or not sso or not certs:
        raise MetadataError(
            "The IdP metadata needs an entityID, an HTTP-Redirect SingleSignOnService "
            "and a signing certificate."
        )
    return IdpMetadata(entity_id=idp["entityId"], sso_url=sso, certificates=certs)


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that would let an admin make the server fetch internal resources.

    Only ``https`` (``http`` too with ``allow_private``), and the host must
    not resolve to a private, loopback, link-local or reserved address unless
    ``allow_private``. A host name could re-resolve between this check and the
    fetch; run the fetch behind an egress proxy where that matters.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise MetadataError("The metadata URL must be an https:// URL.")
    if not parts.hostname:
        raise MetadataError("The metadata URL has no host.")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as e:
        raise MetadataError(f"The metadata host cannot be resolved: {e}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise MetadataError(
                f"The metadata URL points to a non-public address ({address}); refused."
            )


def fetch_metadata(
    url: str, *, allow_private: bool = False, timeout: float = TIMEOUT_SECONDS
) -> IdpMetadata:
    """Fetch and parse IdP metadata: time limit, size limit, no redirects to elsewhere."""
    check_url(url, allow_private=allow_private)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as response:
            body = response.read(MAX_METADATA_BYTES + 1)
    except Exception as e:
        raise MetadataError(f"The metadata could not be fetched: {e}") from None
    if len(body) > MAX_METADATA_BYTES:
        raise MetadataError("The metadata document is larger than 1 MiB.")
    return parse_metadata(body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: t.Any, fp: t.Any, code: int, msg: str, headers: t.Any, newurl: str
    ) -> None:
        fp.close()
        raise MetadataError("The metadata URL redirects; give the final URL.")
