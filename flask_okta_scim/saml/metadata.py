"""Okta IdP metadata: parsing, and fetching it without becoming an SSRF proxy."""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import time
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from .addresses import check_address
from .errors import MetadataError
from .settings import checked_certificate

MAX_METADATA_BYTES = 1024 * 1024
#: The whole fetch (connection, TLS handshake, headers, body) ends within this.
TIMEOUT_SECONDS = 5.0
MAX_URL_LENGTH = 2048
_CHUNK_BYTES = 64 * 1024
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
#: Okta's sign-on URLs end in .../<app id exk...>/sso/saml; its entity ID is http://www.okta.com/<id>.
_OKTA_SSO_URL = re.compile(r"^https://[^/]+/app/[^/]+/(?P<app>[A-Za-z0-9]+)/sso/saml/?$")
_NETLOC = re.compile(r"(?P<host>\[[^\[\]]*\]|[^\[\]:]*)(?::(?P<port>[^:]*))?")


@dataclass(frozen=True)
class IdpMetadata:
    """What a connection needs of an IdP's metadata, as :func:`parse_metadata` read it."""

    #: The IdP's entity ID (Okta: ``http://www.okta.com/exk...``).
    entity_id: str
    #: The HTTP-Redirect ``SingleSignOnService`` URL.
    sso_url: str
    #: The signing certificates, base64 bodies; readable, but not judged (see
    #: :func:`~flask_okta_scim.saml.certificates.check_certificate`).
    certificates: list[str]
    #: The HTTP-Redirect ``SingleLogoutService`` URL, or ``None`` when the IdP lists none.
    slo_url: str | None = None


def parse_metadata(xml: str | bytes) -> IdpMetadata:
    """Read the entity ID, the HTTP-Redirect SSO and SLO URLs and the signing certificates.

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
    slo = (idp.get("singleLogoutService") or {}).get("url") or None
    return IdpMetadata(entity_id=idp["entityId"], sso_url=sso, certificates=certs, slo_url=slo)


@dataclass(frozen=True)
class MetadataURL:
    """A metadata URL taken apart: what to connect to, and what to ask for."""

    scheme: str
    #: An ASCII host name (IDNA) or an IP address, without brackets.
    host: str
    port: int
    #: The path and query, as sent in the request line.
    target: str


def parse_url(url: str, *, allow_private: bool) -> MetadataURL:
    """Validate a metadata URL and take it apart, or raise :class:`MetadataError`.

    Only ``https`` (``http`` too with ``allow_private``); a host (a name, an IPv4
    address, or an IPv6 address in brackets) and nothing else in the authority,
    so no user name or password; a port from 1 to 65535; no fragment; no spaces,
    control characters or backslashes; at most :data:`MAX_URL_LENGTH` characters.
    Non-ASCII host names are converted with IDNA. Does not resolve the host.
    """
    if len(url) > MAX_URL_LENGTH:
        raise MetadataError(f"The metadata URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(c) <= 0x20 or c in "\x7f\\" for c in url):
        raise MetadataError("The metadata URL has spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ in the host
        raise MetadataError("The metadata URL cannot be read.") from None
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise MetadataError("The metadata URL must be an https:// URL.")
    if "#" in url:
        raise MetadataError("The metadata URL must not have a fragment (#...).")
    if "@" in parts.netloc:
        raise MetadataError("The metadata URL must not have a user name or password.")
    netloc = _NETLOC.fullmatch(parts.netloc)
    if netloc is None:
        raise MetadataError("The metadata URL's host and port cannot be read.")
    host = _checked_host(netloc["host"])
    port = netloc["port"] or ""
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise MetadataError("The metadata URL's port must be a number from 1 to 65535.")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if not target.isascii():
        raise MetadataError("The metadata URL's path must be ASCII: percent-encode it.")
    default = 443 if parts.scheme == "https" else 80
    return MetadataURL(parts.scheme, host, int(port) if port else default, target)


def _checked_host(host: str) -> str:
    if host.startswith("["):
        try:
            if "%" in host:
                raise ValueError("an IPv6 zone")
            return str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            raise MetadataError("The metadata URL's IPv6 address cannot be read.") from None
    if not host:
        raise MetadataError("The metadata URL has no host.")
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise MetadataError("The metadata URL's host is not a valid host name.") from None
    labels = name.removesuffix(".").split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise MetadataError("The metadata URL's host is not a valid host name.")
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", labels[-1]):
        # Numeric: an IPv4 address, written the one usual way (not 0x7f.1 or 2130706433).
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise MetadataError("The metadata URL's IPv4 address cannot be read.") from None
    return name


def resolve(url: MetadataURL, *, allow_private: bool) -> list[tuple[int, t.Any]]:
    """Resolve the host once and check every address it resolves to.

    Returns ``(family, socket address)`` pairs to connect to. Unless
    ``allow_private``, one non-public address among them refuses the URL (see
    :func:`~flask_okta_scim.saml.addresses.check_address`). Uses the system
    resolver, with its own timeouts: :data:`TIMEOUT_SECONDS` does not cover it.
    """
    try:
        infos = socket.getaddrinfo(
            url.host, url.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError) as e:
        raise MetadataError(f"The metadata host cannot be resolved: {e}") from None
    if not infos:
        raise MetadataError("The metadata host resolves to no address.")
    if not allow_private:
        for info in infos:
            check_address(ipaddress.ip_address(info[4][0]))
    return [(info[0], info[4]) for info in infos]


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that would let an admin make the server fetch internal resources.

    :func:`parse_url`, then :func:`resolve`. :func:`fetch_metadata` does the same
    and then connects to the addresses it checked; a check made here is not
    carried over to a later fetch, which resolves the host again.
    """
    resolve(parse_url(url, allow_private=allow_private), allow_private=allow_private)


def fetch_metadata(
    url: str, *, allow_private: bool = False, timeout: float = TIMEOUT_SECONDS
) -> IdpMetadata:
    """Fetch and parse IdP metadata without letting the URL reach internal services.

    The host is resolved once, every address is checked, and the connection
    goes to one of those addresses, with the URL's host in the ``Host`` header
    and as the TLS server name (the certificate is verified against it). The
    connection, TLS handshake, headers and body all end within ``timeout``
    seconds in total, and at most :data:`MAX_METADATA_BYTES` are read. Does not
    follow redirects, does not use proxies (nor the ``*_proxy`` environment
    variables), does not retry.
    """
    deadline = time.monotonic() + timeout
    parsed = parse_url(url, allow_private=allow_private)
    addresses = resolve(parsed, allow_private=allow_private)
    connection = _PinnedConnection(parsed, addresses, deadline)
    try:
        body = _get(connection, parsed)
    except TimeoutError:
        raise MetadataError(
            f"The metadata could not be fetched within {timeout:g} seconds."
        ) from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise MetadataError(f"The metadata could not be fetched: {e}") from None
    finally:
        connection.close()
    return parse_metadata(body)


def _get(connection: http.client.HTTPConnection, url: MetadataURL) -> bytes:
    connection.request(
        "GET",
        url.target,
        headers={"Accept": "application/samlmetadata+xml, application/xml, text/xml"},
    )
    with connection.getresponse() as response:
        if 300 <= response.status < 400:
            raise MetadataError("The metadata URL redirects; give the final URL.")
        if response.status != 200:
            raise MetadataError(
                f"The metadata could not be fetched: HTTP {response.status} {response.reason}."
            )
        body = bytearray()
        while chunk := response.read(_CHUNK_BYTES):
            body += chunk
            if len(body) > MAX_METADATA_BYTES:
                raise MetadataError("The metadata document is larger than 1 MiB.")
    return bytes(body)


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to addresses chosen beforehand, the whole exchange within one deadline.

    Does not resolve the host name: the socket goes to the given addresses (the
    first that accepts), while the ``Host`` header and the TLS server name are
    the URL's host.
    """

    def __init__(
        self, url: MetadataURL, addresses: list[tuple[int, t.Any]], deadline: float
    ) -> None:
        super().__init__(url.host, url.port)
        self.default_port = 443 if url.scheme == "https" else 80  # no :443 in Host
        self._tls = url.scheme == "https"
        self._addresses = addresses
        self._deadline = deadline

    def connect(self) -> None:
        sock = _open(self._addresses, self._deadline)
        if self._tls:
            context = ssl.create_default_context()
            context.sslsocket_class = _DeadlineSSLSocket
            try:
                _arm(sock, self._deadline)  # the handshake as a whole gets what is left
                tls = t.cast(
                    _DeadlineSSLSocket, context.wrap_socket(sock, server_hostname=self.host)
                )
            except BaseException:
                sock.close()
                raise
            tls.deadline = self._deadline
            self.sock = tls
        else:
            self.sock = sock


def _open(addresses: list[tuple[int, t.Any]], deadline: float) -> _DeadlineSocket:
    error: OSError = OSError("no address to connect to")
    for family, sockaddr in addresses:
        sock = _DeadlineSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.deadline = deadline
        try:
            _arm(sock, deadline)
            sock.connect(sockaddr)
        except OSError as e:  # TimeoutError among them
            sock.close()
            error = e
        else:
            return sock
    raise error


def _arm(sock: socket.socket, deadline: float) -> None:
    """Let the next socket operation take only the time left before ``deadline``."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline reached")
    sock.settimeout(left)


class _DeadlineSocket(socket.socket):
    """A socket whose reads and writes together end by ``deadline``, not each within a timeout."""

    deadline = float("inf")

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        _arm(self, self.deadline)
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: t.Any, nbytes: int = 0, flags: int = 0, /) -> int:
        _arm(self, self.deadline)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: t.Any, flags: int = 0, /) -> None:
        _arm(self, self.deadline)
        super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The TLS counterpart of :class:`_DeadlineSocket` (``SSLContext.sslsocket_class``)."""

    deadline = float("inf")

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        _arm(self, self.deadline)
        return super().recv(buflen, flags)

    def recv_into(self, buffer: t.Any, nbytes: int | None = None, flags: int = 0) -> int:
        _arm(self, self.deadline)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: t.Any, flags: int = 0) -> None:
        _arm(self, self.deadline)
        super().sendall(data, flags)


def okta_entity_id(sso_url: str) -> str | None:
    """The entity ID of the Okta app whose sign-on URL is ``sso_url``, or ``None`` if not Okta's."""
    match = _OKTA_SSO_URL.match(sso_url.strip())
    return f"http://www.okta.com/{match['app']}" if match else None


def idp_by_hand(
    sso_url: str,
    certificates: list[str],
    entity_id: str | None = None,
    slo_url: str | None = None,
) -> IdpMetadata:
    """What an admin typed instead of a metadata link: the sign-on URL and PEM certificates.

    The entity ID may be left out for an Okta sign-on URL
    (``https://ORG.okta.com/app/NAME/exk.../sso/saml``): it is
    ``http://www.okta.com/exk...``. Raises :class:`MetadataError` naming what
    is wrong (an URL that is not http(s), no certificate, text that is not a
    PEM certificate, an entity ID that cannot be guessed). Does not judge the
    certificates' keys and dates (``Directory.configure_connection`` does) and
    does not contact the IdP.
    """
    sso_url = (sso_url or "").strip()
    if not sso_url.startswith(("https://", "http://")) or len(sso_url) > MAX_URL_LENGTH:
        raise MetadataError("The sign-on URL must be an http(s) URL.")
    if not certificates:
        raise MetadataError("At least one X.509 signing certificate is needed.")
    bodies = []
    for number, text in enumerate(certificates, start=1):
        try:
            bodies.append(checked_certificate(text))
        except ValueError:
            which = f"Certificate {number}" if len(certificates) > 1 else "The certificate"
            raise MetadataError(f"{which} is not an X.509 certificate in PEM form.") from None
    entity = (entity_id or "").strip() or okta_entity_id(sso_url) or ""
    if not entity:
        raise MetadataError("The IdP's entity ID is needed for a sign-on URL that is not Okta's.")
    slo_url = (slo_url or "").strip() or None
    if slo_url is not None and (
        not slo_url.startswith(("https://", "http://")) or len(slo_url) > MAX_URL_LENGTH
    ):
        raise MetadataError("The single logout URL must be an http(s) URL.")
    return IdpMetadata(entity_id=entity, sso_url=sso_url, certificates=bodies, slo_url=slo_url)
