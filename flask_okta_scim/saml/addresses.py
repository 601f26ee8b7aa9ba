"""Which IP addresses the server may fetch IdP metadata from: public unicast ones only.

The rule is an allow-list, not a list of bad examples: an IPv4 address must be
globally routable and outside every special-purpose range; an IPv6 address must
be global unicast (``2000::/3``) and outside the special-purpose ranges there.
An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible,
IPv4-translated, NAT64, 6to4) is judged by the IPv4 address it carries, since
that is where the packets end up.
"""

from __future__ import annotations

import ipaddress
import typing as t

from .errors import MetadataError

Address: t.TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA's IPv4 special-purpose registry, minus the few ranges that are globally
# reachable services no IdP lives on anyway (AS112, AMT): refused as well.
_REFUSED_V4 = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, where cloud metadata services answer
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.31.196.0/24",  # AS112
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "192.175.48.0/24",  # AS112 direct delegation
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 (broadcast)
    )
)

# Only global unicast IPv6 is fetched from; everything outside it (loopback,
# unspecified, unique-local, link-local, site-local, multicast, discard-only,
# the local-use NAT64 prefix 64:ff9b:1::/48, reserved space) is refused by that.
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_REFUSED_V6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) among them
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
    )
)

# Prefixes whose last 32 bits are the IPv4 address the packets go to.
_CARRIES_V4_IN_LOW_BITS = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64, well-known prefix
        "::/96",  # IPv4-compatible (deprecated); :: and ::1 become 0.0.0.0 and 0.0.0.1
    )
)


def carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it is of a form that does.

    IPv4-mapped, IPv4-compatible, IPv4-translated and NAT64 (``64:ff9b::/96``)
    addresses carry it in their last 32 bits, 6to4 (``2002::/16``) in bits 16 to
    48. Does not decode Teredo (``2001::/32``), whose client address is
    obfuscated: :func:`check_address` refuses Teredo whole.
    """
    for network in _CARRIES_V4_IN_LOW_BITS:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def check_address(address: Address) -> None:
    """Raise :class:`MetadataError` unless ``address`` is a public unicast address.

    An IPv6 address carrying an IPv4 address is judged by the IPv4 address. The
    ``is_global`` of :mod:`ipaddress` is consulted as well, but not relied on: it
    lets multicast, site-local, 6to4, NAT64 and IPv4-compatible addresses pass,
    and its tables change between Python versions. Does not resolve names and
    does not look at ports.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = carried_ipv4(address)
        if embedded is not None:
            if _refused_v4(embedded):
                raise MetadataError(
                    f"The metadata URL points to a non-public address ({address}, "
                    f"which carries {embedded}); refused."
                )
            return
        refused = (
            address not in _GLOBAL_UNICAST_V6
            or any(address in network for network in _REFUSED_V6)
            or not address.is_global
        )
    else:
        refused = _refused_v4(address)
    if refused:
        raise MetadataError(
            f"The metadata URL points to a non-public address ({address}); refused."
        )


def _refused_v4(address: ipaddress.IPv4Address) -> bool:
    return any(address in network for network in _REFUSED_V4) or not address.is_global
