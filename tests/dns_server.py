"""A small authoritative DNS server on 127.0.0.1, run in-process by the tests.

It answers TXT queries from records the test sets at run time, over UDP and
TCP on the same free port (answers too big for UDP are sent truncated, so the
client retries over TCP, as with a real server). Its ``mode`` makes it answer
SERVFAIL or REFUSED, drop every query (to test timeouts), or send malformed
answers, between two checks.

Built on dnslib rather than on dnspython's message API: dnslib brings the UDP
and TCP server loop (socketserver threads, TCP length framing), and it encodes
messages with its own code, independent of the dnspython under test, so a
mistake shared by client and server cannot hide itself. dnslib does not
truncate big UDP answers by default; the handler here does, to 512 bytes or
the EDNS payload the client announced.

    from tests.dns_server import dns_server  # noqa: F401  (registers the fixture)

    def test_x(dns_server):
        dns_server.set_txt("_okta-scim-challenge.acme.example", "value")
"""

from __future__ import annotations

import random
import struct
import threading
import typing as t
from collections.abc import Iterator

import pytest
from dnslib import QTYPE
from dnslib import RCODE
from dnslib import RR
from dnslib import TXT
from dnslib import DNSError
from dnslib import DNSRecord
from dnslib.server import DNSHandler
from dnslib.server import DNSLogger
from dnslib.server import DNSServer

Mode = t.Literal["answer", "servfail", "refused", "silent", "garbage", "tcp_garbage", "tcp_hangup"]
MODES: tuple[Mode, ...] = t.get_args(Mode)
TxtValue = str | bytes | tuple[str | bytes, ...] | list[str | bytes]

_MAX_UDP = 512  # without EDNS (RFC 1035 §4.2.1)
_MAX_TCP = 65535


def _key(name: str) -> str:
    return name.lower().rstrip(".")


def _strings(value: TxtValue) -> list[bytes]:
    """The character-strings of one TXT record: a long value is cut every 255 bytes."""
    if isinstance(value, (tuple, list)):
        return [part.encode() if isinstance(part, str) else bytes(part) for part in value]
    data = value.encode() if isinstance(value, str) else bytes(value)
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


class _Zone:
    """What the server answers; shared by the handler threads, changed by the test."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[str, list[list[bytes]]] = {}
        self.mode: Mode = "answer"
        self.queries: list[tuple[str, str, str]] = []

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        """The answer to ``request`` from the records, or SERVFAIL/REFUSED by mode."""
        qname = str(request.q.qname)
        with self.lock:
            mode = self.mode
            records = self.records.get(_key(qname))
        reply = request.reply()
        if mode == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
        elif mode == "refused":
            reply.header.rcode = RCODE.REFUSED
        elif records is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for strings in records:
                reply.add_answer(RR(qname, QTYPE.TXT, rdata=TXT(strings), ttl=60))
        return reply  # a name without TXT records: NOERROR, no answer


class _Dropped(DNSError):  # type: ignore[misc]
    """Raised to send no answer: dnslib's handler logs it (quietly) and replies nothing."""


class _Handler(DNSHandler):  # type: ignore[misc]
    """dnslib's handler, plus: drop queries, send garbage, truncate big answers."""

    def get_reply(self, data: bytes) -> bytes:
        zone: _Zone = self.server.resolver
        request = DNSRecord.parse(data)
        with zone.lock:
            zone.queries.append(
                (_key(str(request.q.qname)), QTYPE.get(request.q.qtype), self.protocol)
            )
            mode = zone.mode
        if mode == "silent":
            if self.protocol == "tcp":
                self._wait_for_close()
            raise _Dropped("silent mode")
        if mode == "garbage" or (mode == "tcp_garbage" and self.protocol == "tcp"):
            # The query's id and a response header claiming one question and five
            # answers, followed by bytes that are no DNS message.
            header = struct.pack("!HHHHHH", request.header.id, 0x8580, 1, 5, 0, 0)
            return header + random.Random(request.header.id).randbytes(200)
        if mode in ("tcp_garbage", "tcp_hangup"):
            if self.protocol == "tcp":
                raise _Dropped("hang up")  # the connection closes with no answer
            truncated: bytes = self._truncated(request).pack()
            return truncated
        reply = zone.resolve(request, self)
        rdata: bytes = reply.pack()
        limit = _MAX_TCP if self.protocol == "tcp" else self._udp_limit(request)
        if len(rdata) > limit:
            rdata = self._truncated(request).pack()
        return rdata

    @staticmethod
    def _truncated(request: DNSRecord) -> DNSRecord:
        """An empty answer with the TC flag: the question only, as real servers send it."""
        reply = request.reply()
        reply.header.tc = 1
        return reply

    def _wait_for_close(self) -> None:
        """Keep a TCP connection open, unanswered, until the client gives up (or 5 s)."""
        self.request.settimeout(5)
        try:
            while self.request.recv(4096):
                pass
        except OSError:
            pass

    @staticmethod
    def _udp_limit(request: DNSRecord) -> int:
        """512 bytes, or the larger payload a client announced with EDNS."""
        for rr in request.ar:
            if rr.rtype == QTYPE.OPT:
                return max(_MAX_UDP, min(int(rr.rclass), _MAX_TCP))
        return _MAX_UDP


class _QuietLogger(DNSLogger):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(logf=lambda _message: None)


class LoopbackDNS:
    """An authoritative DNS server on ``address``:``port`` (UDP and TCP), for tests.

    Use it as a context manager, or through the :func:`dns_server` fixture.
    Every setter takes effect for the next query.
    """

    address = "127.0.0.1"

    def __init__(self) -> None:
        self._zone = _Zone()
        self._servers: list[DNSServer] = []
        self.port = 0

    # -- the zone -------------------------------------------------------------

    def set_txt(self, name: str, *values: TxtValue) -> None:
        """Publish TXT records at ``name``, replacing any there, one per value.

        A ``str`` or ``bytes`` value longer than 255 bytes is split into several
        character-strings; a tuple or list gives the strings explicitly. No
        value at all makes ``name`` exist without a TXT record (NOERROR, no
        answer), where an unknown name gets NXDOMAIN.
        """
        strings = [_strings(value) for value in values]
        with self._zone.lock:
            self._zone.records[_key(name)] = strings

    def remove(self, name: str) -> None:
        """Forget ``name``: queries for it get NXDOMAIN again."""
        with self._zone.lock:
            self._zone.records.pop(_key(name), None)

    @property
    def mode(self) -> Mode:
        return self._zone.mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        """``answer`` (from the records, NXDOMAIN for unknown names; the default),
        ``servfail``, ``refused``, ``silent`` (drop every query), ``garbage``
        (answer with the query's id and a malformed message), ``tcp_garbage``
        (a truncated answer over UDP, so the client asks again over TCP, and a
        malformed message over TCP), ``tcp_hangup`` (the same, but the TCP
        connection is closed unanswered)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        with self._zone.lock:
            self._zone.mode = mode

    @property
    def queries(self) -> list[tuple[str, str, str]]:
        """The queries received so far: (name, type, ``"udp"`` or ``"tcp"``)."""
        with self._zone.lock:
            return list(self._zone.queries)

    # -- running --------------------------------------------------------------

    def start(self) -> None:
        """Listen on a port that is free for both UDP and TCP, in daemon threads."""
        for _attempt in range(20):
            udp = DNSServer(
                self._zone, address=self.address, port=0, handler=_Handler, logger=_QuietLogger()
            )
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    self._zone,
                    address=self.address,
                    port=port,
                    tcp=True,
                    handler=_Handler,
                    logger=_QuietLogger(),
                )
            except OSError:  # that port is taken for TCP: try another one
                udp.server.server_close()
                continue
            self.port = port
            self._servers = [udp, tcp]
            for server in self._servers:
                # dnslib's start_thread() polls for shutdown every 0.5 s: too slow for a fixture.
                server.thread = threading.Thread(
                    target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
                )
                server.thread.start()
            return
        raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")

    def stop(self) -> None:
        """Stop answering and close the sockets."""
        for server in self._servers:
            server.stop()
            server.server.server_close()
            server.thread.join(timeout=5)
        self._servers = []

    def __enter__(self) -> LoopbackDNS:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def dns_server() -> Iterator[LoopbackDNS]:
    """A running :class:`LoopbackDNS` with no records, answering NXDOMAIN; stopped afterwards."""
    with LoopbackDNS() as server:
        yield server
