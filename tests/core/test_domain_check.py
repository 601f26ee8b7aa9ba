"""Domain ownership checks through DNS TXT records, against a real DNS server on 127.0.0.1."""

from __future__ import annotations

import base64
import re
import socket
import time

import pytest

from flask_okta_scim.core.domain_check import DEFAULT_RECORD_PREFIX
from flask_okta_scim.core.domain_check import DomainCheckFailed
from flask_okta_scim.core.domain_check import Resolver
from flask_okta_scim.core.domain_check import TxtRecord
from flask_okta_scim.core.domain_check import challenge_record
from flask_okta_scim.core.domain_check import new_challenge
from tests.dns_server import LoopbackDNS
from tests.dns_server import dns_server  # noqa: F401  (the fixture)

TIMEOUT = 0.5
DOMAIN = "acme.example"


@pytest.fixture
def resolver(dns_server: LoopbackDNS) -> Resolver:  # noqa: F811
    return Resolver(nameservers=(dns_server.address,), port=dns_server.port, timeout=TIMEOUT)


@pytest.fixture
def record() -> TxtRecord:
    return challenge_record(DOMAIN, new_challenge())


def failure(resolver: Resolver, record: TxtRecord) -> DomainCheckFailed:
    with pytest.raises(DomainCheckFailed) as info:
        resolver.check(record)
    return info.value


# -- challenges and records ---------------------------------------------------


def test_new_challenge_is_random_url_safe_and_long_enough():
    challenges = {new_challenge() for _ in range(50)}
    assert len(challenges) == 50
    for challenge in challenges:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", challenge)
        raw = base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4))
        assert len(raw) * 8 >= 128


def test_challenge_record_format():
    assert challenge_record("acme.example", "abc") == TxtRecord(
        name="_okta-scim-challenge.acme.example",
        value="okta-scim-domain-verification=abc",
    )
    assert DEFAULT_RECORD_PREFIX == "_okta-scim-challenge"
    custom = challenge_record("acme.example", "abc", prefix="_verify")
    assert custom.name == "_verify.acme.example"


def test_challenge_record_does_not_renormalise_the_domain():
    # The caller passes normalize_domain()'s form; it is used exactly as given.
    assert challenge_record("xn--bcher-kva.example", "c").name == (
        "_okta-scim-challenge.xn--bcher-kva.example"
    )
    assert challenge_record("Acme.Example", "c").name == "_okta-scim-challenge.Acme.Example"


# -- passing checks -----------------------------------------------------------


def test_a_published_record_passes(dns_server, resolver, record):  # noqa: F811
    dns_server.set_txt(record.name, record.value)
    assert resolver.check(record) is None
    assert dns_server.queries == [(record.name, "TXT", "udp")]


def test_the_value_among_several_records_passes(dns_server, resolver, record):  # noqa: F811
    dns_server.set_txt(
        record.name,
        "v=spf1 include:_spf.example -all",
        "okta-scim-domain-verification=an-old-challenge",
        record.value,
        "google-site-verification=abc",
    )
    resolver.check(record)


@pytest.mark.parametrize(
    "split",
    [
        pytest.param(
            lambda v: tuple(v[i : i + 7] for i in range(0, len(v), 7)), id="7-byte-strings"
        ),
        pytest.param(lambda v: (v[:30], v[30:]), id="prefix-and-challenge"),
    ],
)
def test_a_value_split_across_strings_passes(dns_server, resolver, record, split):  # noqa: F811
    strings = split(record.value)
    assert len(strings) > 1
    dns_server.set_txt(record.name, strings)
    resolver.check(record)


def test_a_value_longer_than_one_string_passes(dns_server, resolver):  # noqa: F811
    # A value over 255 bytes must be published as several strings of one record.
    record = challenge_record(DOMAIN, "c" * 400)
    dns_server.set_txt(record.name, record.value)  # the server cuts it every 255 bytes
    resolver.check(record)


def test_surrounding_blanks_are_ignored_but_the_value_is_compared_exactly(
    dns_server,  # noqa: F811
    resolver,
    record,
):
    dns_server.set_txt(record.name, f"  {record.value}\t")
    resolver.check(record)
    for near_miss in (record.value.upper(), record.value + "x", record.value[:-1]):
        dns_server.set_txt(record.name, near_miss)
        assert failure(resolver, record).kind == "mismatch"


def test_an_answer_too_big_for_udp_is_fetched_over_tcp(dns_server, resolver, record):  # noqa: F811
    fillers = [f"filler-{i}-" + "x" * 200 for i in range(10)]
    dns_server.set_txt(record.name, *fillers, record.value)
    resolver.check(record)
    assert [protocol for *_, protocol in dns_server.queries] == ["udp", "tcp"]


# -- failing checks -----------------------------------------------------------


def test_an_unknown_name_is_absent(resolver, record):
    error = failure(resolver, record)
    assert error.kind == "absent"
    assert record.name in error.reason
    assert "does not exist" in error.reason
    assert str(error) == error.reason
    assert error.record == record


def test_a_name_without_txt_records_is_absent(dns_server, resolver, record):  # noqa: F811
    dns_server.set_txt(record.name)  # the name exists, with no TXT record
    error = failure(resolver, record)
    assert error.kind == "absent"
    assert record.name in error.reason
    assert "no TXT record" in error.reason


def test_the_record_of_another_name_does_not_count(dns_server, resolver, record):  # noqa: F811
    dns_server.set_txt(DOMAIN, record.value)  # at the apex, not at the challenge name
    assert failure(resolver, record).kind == "absent"


def test_other_values_are_a_mismatch(dns_server, resolver, record):  # noqa: F811
    dns_server.set_txt(
        record.name, "v=spf1 -all", "okta-scim-domain-verification=someone-elses-challenge"
    )
    error = failure(resolver, record)
    assert error.kind == "mismatch"
    assert record.name in error.reason
    assert "2 TXT records" in error.reason
    assert '"v=spf1 -all"' in error.reason


def test_a_mismatch_does_not_dump_hostile_values(dns_server, resolver, record):  # noqa: F811
    huge = "A" * 5000
    escape = "\x1b[2J\u202eevil\r\nSet-Cookie: x=1"
    dns_server.set_txt(record.name, huge, escape, b"\xff\xfe\x00bytes", "four", "five")
    error = failure(resolver, record)
    assert error.kind == "mismatch"
    assert record.name in error.reason
    assert "5 TXT records" in error.reason
    assert "A" * 101 not in error.reason
    assert len(error.reason) < 600
    assert not any(c in error.reason for c in "\x1b\u202e\r\n\x00")
    assert "and 2 more" in error.reason


@pytest.mark.parametrize(("mode", "rcode"), [("servfail", "SERVFAIL"), ("refused", "REFUSED")])
def test_a_failing_server_is_an_error(dns_server, resolver, record, mode, rcode):  # noqa: F811
    dns_server.set_txt(record.name, record.value)
    dns_server.mode = mode
    error = failure(resolver, record)
    assert error.kind == "error"
    assert record.name in error.reason
    assert rcode in error.reason


def test_a_silent_server_times_out_without_hanging(dns_server, resolver, record):  # noqa: F811
    dns_server.set_txt(record.name, record.value)
    dns_server.mode = "silent"
    start = time.monotonic()
    error = failure(resolver, record)
    elapsed = time.monotonic() - start
    assert error.kind == "timeout"
    assert record.name in error.reason
    assert elapsed < TIMEOUT * 4  # a hang guard, not a performance claim
    assert dns_server.queries  # it did ask


def test_a_nameserver_nobody_listens_on_times_out(record):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there now. dnspython's UDP sockets are not connected, so the
    # kernel's "port unreachable" never reaches it: it waits for the timeout.
    start = time.monotonic()
    error = failure(Resolver(nameservers=("127.0.0.1",), port=port, timeout=TIMEOUT), record)
    assert error.kind == "timeout"
    assert time.monotonic() - start < TIMEOUT * 4


def test_a_name_too_long_for_dns_is_an_error(resolver):
    domain = ".".join(["a" * 60] * 4) + ".example"  # valid alone, too long with the prefix
    error = failure(resolver, challenge_record(domain, "c"))
    assert error.kind == "error"
    assert "not a valid DNS name" in error.reason


def test_a_lost_record_fails_the_next_check(dns_server, resolver, record):  # noqa: F811
    dns_server.set_txt(record.name, record.value)
    resolver.check(record)
    dns_server.set_txt(record.name, "okta-scim-domain-verification=replaced")
    assert failure(resolver, record).kind == "mismatch"
    dns_server.remove(record.name)
    assert failure(resolver, record).kind == "absent"
    dns_server.set_txt(record.name, record.value)
    resolver.check(record)
    assert len(dns_server.queries) == 4  # no answer came from a cache


# -- hostile servers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        # dnspython drops UDP answers it cannot parse (they may be spoofed) and waits on.
        ("garbage", "timeout"),
        # Over TCP a malformed answer is the server's, and it is no good.
        ("tcp_garbage", "error"),
        ("tcp_hangup", "error"),
    ],
)
def test_a_server_answering_garbage_fails_the_check(dns_server, resolver, record, mode, kind):  # noqa: F811
    dns_server.set_txt(record.name, record.value)
    dns_server.mode = mode
    start = time.monotonic()
    error = failure(resolver, record)
    assert error.kind == kind
    assert record.name in error.reason
    assert time.monotonic() - start < TIMEOUT * 4
    if mode == "tcp_hangup":
        assert "could not be reached" in error.reason


def test_huge_txt_values_are_a_mismatch(dns_server, resolver, record):  # noqa: F811
    # About 60 kB over TCP: the most a DNS message can carry.
    values = [f"{i:02}".encode() + b"\xff" * 1000 for i in range(58)]
    dns_server.set_txt(record.name, *values)
    error = failure(resolver, record)
    assert error.kind == "mismatch"
    assert "58 TXT records" in error.reason
    assert len(error.reason) < 600


def test_an_answer_too_big_even_for_tcp_is_an_error_not_an_absence(
    dns_server,  # noqa: F811
    resolver,
    record,
):
    values = [f"{i:02}".encode() + b"x" * 1020 for i in range(70)]
    dns_server.set_txt(record.name, *values, record.value)
    error = failure(resolver, record)
    assert error.kind == "error"
    assert "too big" in error.reason


# -- configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"nameservers": ("dns.example",)},
        {"port": 0},
        {"port": 65536},
        {"timeout": 0},
        {"timeout": -1.0},
        {"timeout": float("inf")},
        {"timeout": float("nan")},
    ],
)
def test_bad_resolver_configuration_is_refused(kwargs):
    with pytest.raises(ValueError):
        Resolver(**kwargs)


def test_resolver_defaults():
    resolver = Resolver(nameservers=["127.0.0.1", "::1"])  # type: ignore[arg-type]
    assert resolver.nameservers == ("127.0.0.1", "::1")
    assert Resolver() == Resolver(nameservers=(), port=53, timeout=5.0)
