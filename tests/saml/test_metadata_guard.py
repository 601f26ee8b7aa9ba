"""The guard around fetching IdP metadata: URL, addresses, one resolution, one deadline.

Every server here is a loopback server the test starts; the private override is on
whenever one is fetched from (loopback is refused otherwise).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import socketserver
import threading
import time
import typing as t
from collections.abc import Callable
from collections.abc import Iterator

import pytest

from flask_okta_scim.saml import metadata
from flask_okta_scim.saml.addresses import carried_ipv4
from flask_okta_scim.saml.addresses import check_address
from flask_okta_scim.saml.errors import MetadataError
from tests.cli.test_sso import METADATA

# Addresses an attacker would aim at, and the IPv4 ones again in every IPv6 form that
# carries an IPv4 address.
INTERNAL_V4 = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "192.168.1.1", "172.16.0.1", "0.0.0.0"]
EMBEDDINGS = {
    "mapped": "::ffff:{v4}",
    "compatible": "::{v4}",
    "translated": "::ffff:0:{v4}",
    "nat64": "64:ff9b::{v4}",
}


def _six_to_four(v4: str) -> str:
    packed = int(ipaddress.IPv4Address(v4))
    return f"2002:{packed >> 16:x}:{packed & 0xFFFF:x}::1"


REFUSED_ADDRESSES = [
    *INTERNAL_V4,
    *(form.format(v4=v4) for form in EMBEDDINGS.values() for v4 in INTERNAL_V4),
    *(_six_to_four(v4) for v4 in INTERNAL_V4),
    # IPv4 special purpose
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "198.18.0.1",  # benchmarking
    "198.19.255.255",
    "192.0.2.10",  # documentation
    "198.51.100.7",
    "203.0.113.200",
    "192.0.0.8",  # IETF protocol assignments
    "192.88.99.1",  # 6to4 relay anycast
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "233.252.0.1",
    "240.0.0.1",  # reserved
    "255.255.255.255",  # broadcast
    "0.1.2.3",
    "127.255.255.254",
    "169.254.0.1",
    # IPv6 special purpose
    "::",
    "::1",
    "fe80::1",  # link-local
    "fe80::1%1",
    "fec0::1",  # site-local (deprecated; is_global says yes)
    "fc00::1",  # unique local
    "fd00:ec2::254",  # AWS's IPv6 metadata service
    "ff02::1",  # multicast
    "ff0e::1",  # global-scope multicast (is_global says yes)
    "ff05::2",
    "100::1",  # discard-only
    "2001:db8::1",  # documentation
    "3fff::1",
    "2001::1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:10::1",  # ORCHID
    "2001:2::1",  # benchmarking
    "64:ff9b:1::a00:1",  # local-use NAT64
    "64:ff9b:1::808:808",
    "::ffff:100.64.0.1",
    "64:ff9b::224.0.0.1",  # multicast, carried
    "::ffff:0:198.18.0.1",
    "4000::1",  # reserved, outside global unicast
    "5f00::1",  # SRv6 SIDs
    "e000::1",
]

PUBLIC_ADDRESSES = [
    "8.8.8.8",
    "1.1.1.1",
    "52.84.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4007:80e::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    _six_to_four("8.8.8.8"),
]


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(MetadataError, match="non-public address"):
        check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_pass(address: str) -> None:
    check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("form", [*EMBEDDINGS.values(), "6to4"])
@pytest.mark.parametrize("v4", ["127.0.0.1", "169.254.169.254", "8.8.8.8"])
def test_carried_ipv4_addresses_are_unwrapped(form: str, v4: str) -> None:
    text = _six_to_four(v4) if form == "6to4" else form.format(v4=v4)
    assert carried_ipv4(ipaddress.IPv6Address(text)) == ipaddress.IPv4Address(v4)


@pytest.mark.parametrize("address", ["2606:4700:4700::1111", "2001::1", "fe80::1"])
def test_other_ipv6_addresses_carry_nothing(address: str) -> None:
    assert carried_ipv4(ipaddress.IPv6Address(address)) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://idp.example:0/metadata", "port must be a number from 1 to 65535"),
        ("https://idp.example:65536/metadata", "port must be a number from 1 to 65535"),
        ("https://idp.example:99999999999/metadata", "port must be a number from 1 to 65535"),
        ("https://idp.example:abc/metadata", "port must be a number from 1 to 65535"),
        ("https://idp.example:-1/metadata", "port must be a number from 1 to 65535"),
        ("https://idp.example:+443/metadata", "port must be a number from 1 to 65535"),
        ("https://idp.example:4\u0664\u0663/metadata", "port must be a number from 1 to 65535"),
        ("https://idp.example:443:443/metadata", "host and port cannot be read"),
        ("https://admin:secret@idp.example/metadata", "user name or password"),
        ("https://idp.example@127.0.0.1/metadata", "user name or password"),
        ("https:///metadata", "no host"),
        ("https://:443/metadata", "no host"),
        ("https:metadata", "no host"),
        ("https://idp.example/" + "a" * 2100, "longer than 2048"),
        ("https://idp.example/metadata#x", "fragment"),
        ("https://idp.example/metadata#", "fragment"),
        ("http://idp.example/metadata", "must be an https:// URL"),
        ("file:///etc/passwd", "must be an https:// URL"),
        ("gopher://idp.example/", "must be an https:// URL"),
        ("https://idp.example/meta data", "spaces, control characters"),
        ("https://idp.example/meta\tdata", "spaces, control characters"),
        ("https://idp.example\n.evil/", "spaces, control characters"),
        ("https://idp.example\\@evil.example/", "backslashes"),
        ("https://[::1/", "cannot be read"),
        ("https://[::1%25eth0]/", "IPv6 address cannot be read"),
        ("https://[v1.x]/", "IPv6 address cannot be read"),
        ("https://[127.0.0.1]/", "cannot be read"),
        ("https://0x7f.1/", "IPv4 address cannot be read"),
        ("https://2130706433/", "IPv4 address cannot be read"),
        ("https://127.1/", "IPv4 address cannot be read"),
        ("https://idp..example/", "not a valid host name"),
        ("https://idp_%2e.example/", "not a valid host name"),
        ("https://" + "a" * 64 + ".example/", "not a valid host name"),
        ("https://idp.example/m\u00e9tadata", "must be ASCII"),
    ],
)
def test_invalid_urls_are_refused_cleanly(url: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        metadata.parse_url(url, allow_private=False)
    with pytest.raises(MetadataError, match=message):
        metadata.fetch_metadata(url)


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("https://IdP.Example/m", ("https", "idp.example", 443, "/m")),
        ("HTTPS://idp.example:8443/m?a=1&b", ("https", "idp.example", 8443, "/m?a=1&b")),
        ("https://idp.example:/", ("https", "idp.example", 443, "/")),
        ("https://idp.example", ("https", "idp.example", 443, "/")),
        ("https://b\u00fccher.example/m", ("https", "xn--bcher-kva.example", 443, "/m")),
        ("https://[2606:4700::1111]:444/m", ("https", "2606:4700::1111", 444, "/m")),
        ("https://8.8.8.8/m", ("https", "8.8.8.8", 443, "/m")),
        ("http://idp.example/m", ("http", "idp.example", 80, "/m")),
    ],
)
def test_valid_urls_are_taken_apart(url: str, parsed: tuple[str, str, int, str]) -> None:
    assert metadata.parse_url(url, allow_private=True) == metadata.MetadataURL(*parsed)


class _Resolver:
    """A stand-in for getaddrinfo: the answers it gives, one list per call."""

    def __init__(self, *answers: list[str], port: int | None = None) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []
        self.port = port

    def __call__(self, host: str, port: int, *args: t.Any, **kwargs: t.Any) -> list[t.Any]:
        self.calls.append(host)
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        out = []
        for address in answer:
            if ":" in address:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return out


@pytest.mark.parametrize(
    "answer",
    [["10.0.0.7"], ["8.8.8.8", "127.0.0.1"], ["::ffff:169.254.169.254"], ["2002:a00:1::1"]],
)
def test_a_public_name_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, answer: list[str]
) -> None:
    resolver = _Resolver(answer)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(MetadataError, match="non-public address"):
        metadata.fetch_metadata("https://idp.example.com/metadata")
    with pytest.raises(MetadataError, match="non-public address"):
        metadata.check_url("https://idp.example.com/metadata", allow_private=False)


def test_the_fetch_connects_to_the_checked_address_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # A rebinding DNS server: public on the first lookup, loopback on any later one.
    resolver = _Resolver(["8.8.8.8"], ["127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    connected: list[t.Any] = []

    def connect(sock: socket.socket, address: t.Any) -> None:
        connected.append(address)
        raise ConnectionRefusedError("not in tests")

    monkeypatch.setattr(metadata._DeadlineSocket, "connect", connect)
    with pytest.raises(MetadataError, match="could not be fetched: not in tests"):
        metadata.fetch_metadata("https://idp.example.com:8443/metadata")
    assert resolver.calls == ["idp.example.com"]
    assert connected == [("8.8.8.8", 8443)]


# --- loopback servers ----------------------------------------------------------------

Script = Callable[[socket.socket, bytes], None]


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = t.cast(_Server, self.server)
        request = b""
        while b"\r\n\r\n" not in request:
            data = self.request.recv(4096)
            if not data:
                return
            request += data
        server.requests.append(request)
        with contextlib.suppress(OSError):  # the client gave up, as it should
            server.script(self.request, request)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.requests: list[bytes] = []


@pytest.fixture
def serve() -> Iterator[Callable[[Script], tuple[_Server, int]]]:
    servers: list[_Server] = []

    def start(script: Script) -> tuple[_Server, int]:
        server = _Server(script)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server, server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _respond(body: bytes, status: str = "200 OK", extra: str = "") -> Script:
    def script(sock: socket.socket, request: bytes) -> None:
        head = (
            f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)

    return script


def _trickle(prefix: bytes) -> Script:
    """Send ``prefix``, then one byte every 0.2 s: each read gets data well within 1 s."""

    def script(sock: socket.socket, request: bytes) -> None:
        sock.sendall(prefix)
        for _ in range(100):
            time.sleep(0.2)
            sock.sendall(b"x" if b"\r\n\r\n" in prefix else b"X-Slow: y\r\n"[:1])

    return script


def _silent(sock: socket.socket, request: bytes) -> None:
    sock.settimeout(10)
    sock.recv(1)  # until the client closes


def test_good_metadata_is_fetched_and_parsed(serve: t.Any) -> None:
    _, port = serve(_respond(METADATA.encode()))
    found = metadata.fetch_metadata(f"http://127.0.0.1:{port}/metadata", allow_private=True)
    assert found.entity_id == "http://www.okta.com/exkMETADATA1"
    assert found.sso_url == "https://acme.okta.example/app/acme_app/exkMETADATA1/sso/saml"


def test_the_host_header_names_the_host_and_the_name_is_resolved_once(
    serve: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = serve(_respond(METADATA.encode()))
    resolver = _Resolver(["127.0.0.1"], ["192.0.2.1"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    url = f"http://idp.example.test:{port}/app/metadata?x=1"
    assert metadata.fetch_metadata(url, allow_private=True).entity_id
    assert resolver.calls == ["idp.example.test"]
    request_line, *headers = server.requests[0].decode().split("\r\n")
    assert request_line == "GET /app/metadata?x=1 HTTP/1.1"
    assert f"Host: idp.example.test:{port}" in headers


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(_trickle(b"HTTP/1.1 200 OK\r\n"), id="headers"),
        pytest.param(_trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"), id="body"),
        pytest.param(_trickle(b"HTTP/1.0 200 OK\r\n\r\n<"), id="body-until-close"),
        pytest.param(_silent, id="silent"),
    ],
)
def test_a_slow_server_is_cut_off_at_the_deadline(serve: t.Any, script: Script) -> None:
    _, port = serve(script)
    started = time.monotonic()
    with pytest.raises(MetadataError, match="within 1 seconds"):
        metadata.fetch_metadata(f"http://127.0.0.1:{port}/m", allow_private=True, timeout=1)
    assert 0.9 <= time.monotonic() - started < 2.5


def test_a_stalled_tls_handshake_is_cut_off_at_the_deadline() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, never answers
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MetadataError, match="within 1 seconds"):
            metadata.fetch_metadata(f"https://127.0.0.1:{port}/m", allow_private=True, timeout=1)
        assert time.monotonic() - started < 2.5


def test_the_documented_deadline_is_five_seconds() -> None:
    assert metadata.TIMEOUT_SECONDS == 5.0
    assert metadata.fetch_metadata.__kwdefaults__["timeout"] == 5.0


def _endless(sock: socket.socket, request: bytes) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(64):  # 4 MiB at most
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(_respond(b"x" * (1024 * 1024 + 1)), id="content-length"),
        pytest.param(_endless, id="chunked-endless"),
    ],
)
def test_an_oversized_document_is_refused(serve: t.Any, script: Script) -> None:
    _, port = serve(script)
    with pytest.raises(MetadataError, match="larger than 1 MiB"):
        metadata.fetch_metadata(f"http://127.0.0.1:{port}/m", allow_private=True)


def test_a_document_of_exactly_the_limit_is_read(serve: t.Any) -> None:
    _, port = serve(_respond(b"x" * (1024 * 1024)))
    with pytest.raises(MetadataError, match="metadata cannot be read"):  # read, then not XML
        metadata.fetch_metadata(f"http://127.0.0.1:{port}/m", allow_private=True)


@pytest.mark.parametrize("status", ["301 Moved", "302 Found", "303 See Other", "307 X", "308 X"])
def test_redirects_are_refused(serve: t.Any, status: str) -> None:
    server, port = serve(_respond(b"", status, "Location: http://127.0.0.1:1/elsewhere\r\n"))
    with pytest.raises(MetadataError, match="redirects; give the final URL"):
        metadata.fetch_metadata(f"http://127.0.0.1:{port}/m", allow_private=True)
    assert len(server.requests) == 1


def test_an_error_status_is_reported(serve: t.Any) -> None:
    _, port = serve(_respond(b"nope", "404 Not Found"))
    with pytest.raises(MetadataError, match="HTTP 404 Not Found"):
        metadata.fetch_metadata(f"http://127.0.0.1:{port}/m", allow_private=True)


def test_loopback_is_refused_without_the_override(serve: t.Any) -> None:
    server, port = serve(_respond(METADATA.encode()))
    with pytest.raises(MetadataError, match="must be an https:// URL"):
        metadata.fetch_metadata(f"http://127.0.0.1:{port}/m")
    with pytest.raises(MetadataError, match="non-public address"):
        metadata.fetch_metadata(f"https://127.0.0.1:{port}/m")
    with pytest.raises(MetadataError, match="non-public address"):
        metadata.fetch_metadata(f"https://[::ffff:127.0.0.1]:{port}/m")
    assert server.requests == []
