"""Okta's metadata link, served on loopback: documents that change while a test runs.

:class:`MetadataServer` is a threaded ``http.server`` on 127.0.0.1 (the app must run
with ``OKTA_SCIM_METADATA_ALLOW_PRIVATE`` to fetch from it). Each path serves what
:attr:`MetadataServer.documents` holds at the moment of the request: bytes (200), or
an ``int`` (that HTTP status, empty body). With :meth:`MetadataServer.hold_until`,
the answers wait (3 seconds at most) until that many requests have arrived, so that
several clients get the document at the same moment (a race). :func:`idp_metadata`
writes an IdP metadata document with any number of signing certificates and a single
logout URL.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import typing as t
from types import TracebackType
from xml.sax.saxutils import escape

from flask_okta_scim.saml.settings import certificate_body
from flask_okta_scim.testing.idp import NAMEID_EMAIL
from flask_okta_scim.testing.idp import OKTA_ENTITY_ID
from flask_okta_scim.testing.idp import OKTA_SSO_URL

REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
#: Seconds a held answer waits for the other requests (the fetch itself gives up after 5).
HOLD_TIMEOUT = 3


def idp_metadata(
    *certificates: str,
    entity_id: str = OKTA_ENTITY_ID,
    sso_url: str = OKTA_SSO_URL,
    slo_url: str | None = None,
) -> bytes:
    """IdP metadata shaped like Okta's, listing ``certificates`` (PEM or bodies) for signing."""
    keys = "".join(
        '<md:KeyDescriptor use="signing">'
        '<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>'
        f"<ds:X509Certificate>{certificate_body(cert)}</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for cert in certificates
    )
    logout = (
        f'<md:SingleLogoutService Binding="{REDIRECT}" Location="{escape(slo_url)}"/>'
        if slo_url
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'entityID="{escape(entity_id)}">'
        '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{keys}{logout}<md:NameIDFormat>{NAMEID_EMAIL}</md:NameIDFormat>"
        f'<md:SingleSignOnService Binding="{REDIRECT}" Location="{escape(sso_url)}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    ).encode()


class MetadataServer:
    """Serves :attr:`documents` by path on 127.0.0.1; counts the requests it answered."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes | int] = {}
        self.requests = 0
        self._barrier: threading.Barrier | None = None
        self._lock = threading.Lock()
        self._closed = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests += 1
                    document = server.documents.get(self.path, 404)
                    barrier = server._barrier
                if barrier is not None:
                    # Never longer than the fetch's own deadline: past it, answer anyway.
                    with contextlib.suppress(threading.BrokenBarrierError):
                        barrier.wait(HOLD_TIMEOUT)
                body = document if isinstance(document, bytes) else b""
                self.send_response(200 if isinstance(document, bytes) else document)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: t.Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/metadata") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def hold_until(self, parties: int) -> None:
        """Answer nobody until ``parties`` requests wait; then everybody at once."""
        self._barrier = threading.Barrier(parties)

    def __enter__(self) -> MetadataServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving: the port refuses connections from now on. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._barrier is not None:
            self._barrier.abort()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
