"""Which addresses an outbound webhook may connect to (X1, the review's H3).

A subscriber's URL is chosen by a token holder, and the delivery is made from inside
crmsync's network, next to Redis, PostgreSQL and the cloud's metadata service. So a delivery
connects only to a globally routable address, unless the operator allows a network by name
(``CRMSYNC_WEBHOOK_ALLOWED_NETWORKS``: an on-premises CRM, or loopback for trying), as Svix's
``whitelist_subnets`` and Convoy's allow list do.

``ipaddress``'s ``is_global`` is the base, with what it misses in Python 3.11 added: multicast,
deprecated and special-use ranges it calls global, and the IPv6 forms that reach an IPv4
address (v4-mapped, NAT64, 6to4), which are judged by the IPv4 address they reach.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)

# Ranges that ``is_global`` (Python 3.11) answers True for and that no subscriber serves from.
_NOT_GLOBAL_AFTER_ALL: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "224.0.0.0/4",  # IPv4 multicast
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated, RFC 7526)
        "::/8",  # IPv4-compatible (deprecated) and other reserved IPv6
        "ff00::/8",  # IPv6 multicast
        "fec0::/10",  # site-local (deprecated): private by another name
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): reaches whatever the site maps
        "5f00::/16",  # SRv6 segment identifiers (RFC 9602)
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix (RFC 6052)


def reached_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 ``address`` reaches (v4-mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable: what a delivery may reach with no network
    allowed, and the only kind whose answers the delivery log shows."""
    reached = reached_ipv4(address)
    if reached is not None:
        return is_public_address(reached)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return False  # fe80::1%eth0 names a link
    return address.is_global and not any(address in n for n in _NOT_GLOBAL_AFTER_ALL)


def address_allowed(address: IPAddress, allowed_networks: Sequence[IPNetwork] = ()) -> bool:
    """Whether a delivery may connect to ``address``: a public one, or one in a network the
    operator allowed (an IPv6 form of an allowed IPv4 address counts as that address)."""
    if is_public_address(address):
        return True
    reached = reached_ipv4(address)
    candidates = (address, reached) if reached is not None else (address,)
    return any(a in n for a in candidates for n in allowed_networks if a.version == n.version)


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks in CIDR form (``10.1.2.0/24``, ``::1/128``; a bare address is a /32 or /128).

    Raises:
        ValueError: a value is not a network (host bits set count as a mistake: ``10.1.2.3/24``).
    """
    networks: list[IPNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=True))
        except ValueError as error:
            raise ValueError(f"{value!r} is not a network in CIDR form ({error})") from error
    return tuple(networks)


def allows_loopback(allowed_networks: Sequence[IPNetwork]) -> bool:
    """Whether ``localhost`` may be delivered to: a loopback address is allowed."""
    return any(
        address_allowed(ipaddress.ip_address(a), allowed_networks) for a in ("127.0.0.1", "::1")
    )
