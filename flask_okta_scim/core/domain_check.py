"""Proving that an organization controls an email domain, with a DNS TXT record.

The server gives each organization a random challenge (:func:`new_challenge`);
the organization's DNS administrator publishes it as a TXT record
(:func:`challenge_record`); the server then asks a DNS resolver for that record
(:meth:`Resolver.check`), which returns quietly when the record is there and
raises :class:`DomainCheckFailed` otherwise, with a reason a customer admin can
act on.

What this module does not do: it stores nothing (the caller keeps the challenge
and the outcome), it does not normalise or validate domains (pass the form
:func:`~flask_okta_scim.core.emails.normalize_domain` returns), it caches no
answer (a domain can be lost later, so every check asks DNS again), and it does
not validate DNSSEC: it trusts the resolver it is pointed at.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import typing as t
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rdtypes.txtbase
import dns.resolver

#: The label put in front of the domain to name the challenge record.
DEFAULT_RECORD_PREFIX = "_okta-scim-challenge"

#: What the value of the challenge record starts with; the challenge follows.
VALUE_PREFIX = "okta-scim-domain-verification="

#: How many of the TXT values found are quoted in a "mismatch" reason, and how long each may be.
_QUOTED_VALUES = 3
_QUOTED_LENGTH = 100

FailureKind = t.Literal["absent", "mismatch", "timeout", "error"]


def new_challenge() -> str:
    """Return a new random challenge: 32 URL-safe characters (192 bits, from :mod:`secrets`).

    It does not store the challenge nor tie it to anything: the caller keeps it
    with the organization and the domain.
    """
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class TxtRecord:
    """A DNS TXT record: the ``name`` it lives at and the ``value`` it carries."""

    name: str
    value: str


def challenge_record(
    domain: str, challenge: str, *, prefix: str = DEFAULT_RECORD_PREFIX
) -> TxtRecord:
    """Return the TXT record an organization publishes to prove it controls ``domain``.

    ``_okta-scim-challenge.acme.example  TXT  "okta-scim-domain-verification=<challenge>"``.
    ``domain`` must already be normalised (lower case, IDNA ASCII, no trailing
    dot): this function does not normalise or validate it, and does not look
    anything up.
    """
    return TxtRecord(name=f"{prefix}.{domain}", value=f"{VALUE_PREFIX}{challenge}")


class DomainCheckFailed(Exception):
    """The challenge record was not found, or could not be looked up.

    ``kind`` says which, for code to switch on:

    - ``"absent"``: the name does not exist, or has no TXT record;
    - ``"mismatch"``: TXT records exist at the name, but none has the expected value;
    - ``"timeout"``: no DNS answer came within the resolver's timeout;
    - ``"error"``: the lookup failed otherwise (SERVFAIL, REFUSED, a malformed
      answer, a network error, a name too long for DNS).

    Only ``"absent"`` and ``"mismatch"`` are evidence that the domain is not
    (or no longer) proven; ``"timeout"`` and ``"error"`` say nothing either way
    and are worth retrying later. ``reason`` is a sentence for a customer admin
    that names the record; it quotes at most a short, sanitised excerpt of
    what DNS returned. ``record`` is the record that was looked for.
    """

    def __init__(self, kind: FailureKind, reason: str, record: TxtRecord) -> None:
        super().__init__(reason)
        self.kind: FailureKind = kind
        self.reason = reason
        self.record = record

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Resolver:
    """Where and how long to look for challenge records.

    ``nameservers`` are IP addresses of recursive resolvers (or of the
    authoritative server, in tests), asked on ``port``; empty means the
    system's resolvers from ``/etc/resolv.conf``, read anew at each check and
    asked on port 53 (``port`` then does not apply). ``timeout`` is the total time one
    :meth:`check` may take, in seconds, shared among the nameservers.

    It holds configuration only: no connection, no cache, no state between
    checks.
    """

    nameservers: tuple[str, ...] = ()
    port: int = 53
    timeout: float = 5.0

    def __post_init__(self) -> None:
        nameservers = tuple(self.nameservers)
        for address in nameservers:
            ipaddress.ip_address(address)  # raises ValueError for a host name
        object.__setattr__(self, "nameservers", nameservers)
        if isinstance(self.port, bool) or not 0 < self.port < 65536:
            raise ValueError(f"{self.port!r} is not a port number.")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError(
                f"The timeout must be a positive number of seconds, not {self.timeout!r}."
            )

    def check(self, record: TxtRecord) -> None:
        """Return if a TXT record at ``record.name`` has the value ``record.value``.

        Each TXT record's strings are joined and decoded as UTF-8 (undecodable
        bytes replaced), then compared exactly, after stripping surrounding
        blanks, with ``record.value``. Otherwise raises
        :class:`DomainCheckFailed`, and nothing else for anything DNS answers
        (or fails to answer).

        It asks DNS every time (no cache, nothing stored), does not follow a
        search list (the name is absolute), does not validate DNSSEC, and does
        not normalise ``record.name``. It gives up after ``timeout`` seconds;
        dnspython's short back-off between rounds of retries may add a fraction
        of a second to that.
        """
        name = record.name
        try:
            qname = dns.name.from_text(name)
            answer = self._resolver().resolve(qname, dns.rdatatype.TXT, search=False)
        except dns.resolver.NXDOMAIN:
            raise DomainCheckFailed(
                "absent", f"No TXT record was found at {name}: the name does not exist.", record
            ) from None
        except dns.resolver.NoAnswer as e:
            response = e.kwargs.get("response")
            if isinstance(response, dns.message.Message) and response.flags & dns.flags.TC:
                # Over TCP too, the server said its answer did not fit: that is no absence.
                raise DomainCheckFailed(
                    "error",
                    f"The DNS lookup of the TXT record at {name} failed: the answer is too "
                    "big for DNS to carry. Remove unneeded TXT records at that name.",
                    record,
                ) from None
            raise DomainCheckFailed(
                "absent",
                f"No TXT record was found at {name}: the name exists but has no TXT record.",
                record,
            ) from None
        except dns.exception.Timeout:
            raise DomainCheckFailed(
                "timeout",
                f"The DNS lookup of the TXT record at {name} got no answer within "
                f"{self.timeout:g} seconds. Please try again later.",
                record,
            ) from None
        except dns.resolver.NoNameservers as e:
            raise DomainCheckFailed(
                "error",
                f"The DNS lookup of the TXT record at {name} failed ({_failures(e)}). "
                "This is usually a temporary problem with the domain's DNS servers; "
                "please try again later.",
                record,
            ) from None
        except (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel):
            raise DomainCheckFailed(
                "error", f"{name} is not a valid DNS name: no record can exist there.", record
            ) from None
        except (dns.exception.DNSException, OSError) as e:
            raise DomainCheckFailed(
                "error",
                f"The DNS lookup of the TXT record at {name} failed ({type(e).__name__}).",
                record,
            ) from None

        found = [
            b"".join(rdata.strings).decode("utf-8", errors="replace").strip()
            for rdata in answer
            if isinstance(rdata, dns.rdtypes.txtbase.TXTBase)
        ]
        if record.value in found:
            return
        raise DomainCheckFailed(
            "mismatch",
            f"Found {_count(len(found))} at {name}, but none has the expected value. "
            f"Found: {_quote(found)}.",
            record,
        )

    def _resolver(self) -> dns.resolver.Resolver:
        """Return a new, cache-less dnspython resolver configured for one check."""
        resolver = dns.resolver.Resolver(configure=not self.nameservers)
        if self.nameservers:
            resolver.port = self.port  # applies to the nameservers set next
            resolver.nameservers = list(self.nameservers)
        resolver.cache = None
        resolver.lifetime = self.timeout
        # Each nameserver gets its share of the lifetime, so that one round over
        # them all (silent ones included) fills it. dnspython sleeps before each
        # further round (0.1 s, then doubling up to 2 s) without looking at the
        # lifetime: with a single round, the overrun stays at about 0.1 s.
        resolver.timeout = self.timeout / max(1, len(resolver.nameservers))
        return resolver


def _count(n: int) -> str:
    return "1 TXT record" if n == 1 else f"{n} TXT records"


def _quote(values: list[str]) -> str:
    """Quote the first few ``values``, each cut short, with control characters replaced."""
    quoted = []
    for value in values[:_QUOTED_VALUES]:
        clean = "".join(c if c.isprintable() else "?" for c in value[: _QUOTED_LENGTH + 1])
        if len(clean) > _QUOTED_LENGTH:
            clean = clean[:_QUOTED_LENGTH] + "…"
        quoted.append(f'"{clean}"')
    if len(values) > _QUOTED_VALUES:
        quoted.append(f"and {len(values) - _QUOTED_VALUES} more")
    return ", ".join(quoted)


def _failures(error: dns.resolver.NoNameservers) -> str:
    """Summarise why each nameserver failed: its response code, or the kind of failure."""
    seen: list[str] = []
    for failure in error.kwargs.get("errors", []):
        cause = failure[3]
        if isinstance(cause, dns.message.Truncated):
            continue  # over UDP; the retry over TCP has its own entry
        if isinstance(cause, str):
            text = f"the DNS server answered {cause}"
        elif isinstance(cause, dns.exception.FormError):
            text = "the DNS server sent a malformed answer"
        elif isinstance(cause, (OSError, EOFError)):
            text = "the DNS server could not be reached"
        else:
            text = f"the DNS server failed ({type(cause).__name__})"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) or "no DNS server could answer"
