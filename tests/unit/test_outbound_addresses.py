"""Which addresses outbound webhooks may reach (X1): one row per range, as a table."""

from __future__ import annotations

import ipaddress

import pytest

from domain.outbound_addresses import (
    LOOPBACK_NETWORKS,
    address_allowed,
    allows_loopback,
    is_public_address,
    parse_networks,
    reached_ipv4,
)

BLOCKED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network, 0/8"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback, end of 127/8"),
    ("10.0.0.1", "RFC 1918 10/8"),
    ("172.16.0.1", "RFC 1918 172.16/12"),
    ("172.31.255.254", "RFC 1918 172.16/12, end"),
    ("192.168.1.1", "RFC 1918 192.168/16"),
    ("100.64.0.1", "CGNAT 100.64/10"),
    ("100.127.255.254", "CGNAT, end"),
    ("169.254.169.254", "link-local: cloud metadata"),
    ("192.0.0.1", "IETF protocol assignments"),
    ("192.0.2.1", "documentation TEST-NET-1"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.1", "documentation TEST-NET-2"),
    ("203.0.113.1", "documentation TEST-NET-3"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast SSDP"),
    ("240.0.0.1", "reserved 240/4"),
    ("255.255.255.255", "broadcast"),
    ("::", "IPv6 unspecified"),
    ("::1", "IPv6 loopback"),
    ("::7f00:1", "IPv4-compatible (deprecated)"),
    ("::808:808", "IPv4-compatible of a public address: still deprecated"),
    ("::ffff:127.0.0.1", "v4-mapped loopback"),
    ("::ffff:10.0.0.1", "v4-mapped private"),
    ("::ffff:169.254.169.254", "v4-mapped metadata"),
    ("64:ff9b::7f00:1", "NAT64 of loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 of metadata"),
    ("64:ff9b:1::808:808", "local-use NAT64"),
    ("2002:7f00:1::", "6to4 of loopback"),
    ("2002:a00:1::", "6to4 of 10.0.0.1"),
    ("2001::1", "Teredo"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation (RFC 9637)"),
    ("100::1", "discard-only"),
    ("fc00::1", "unique local fc00::/7"),
    ("fd00:ec2::254", "unique local: AWS metadata over IPv6"),
    ("fe80::1", "link-local"),
    ("fe80::1%2", "link-local with a zone"),
    ("fec0::1", "site-local (deprecated)"),
    ("ff02::1", "multicast"),
    ("5f00::1", "SRv6 SIDs"),
]

PUBLIC = [
    ("8.8.8.8", "a public IPv4 address"),
    ("1.1.1.1", "another"),
    ("100.63.255.255", "just below CGNAT"),
    ("172.32.0.1", "just above 172.16/12"),
    ("2606:4700:4700::1111", "a public IPv6 address"),
    ("::ffff:8.8.8.8", "v4-mapped public"),
    ("64:ff9b::808:808", "NAT64 of a public address (DNS64 networks)"),
    ("2002:808:808::", "6to4 of a public address"),
]


@pytest.mark.parametrize(("text", "why"), BLOCKED, ids=[w for _, w in BLOCKED])
def test_a_non_public_address_is_refused_with_no_network_allowed(text: str, why: str) -> None:
    address = ipaddress.ip_address(text)
    assert not is_public_address(address)
    assert not address_allowed(address, ())


@pytest.mark.parametrize(("text", "why"), PUBLIC, ids=[w for _, w in PUBLIC])
def test_a_public_address_is_allowed(text: str, why: str) -> None:
    address = ipaddress.ip_address(text)
    assert is_public_address(address)
    assert address_allowed(address, ())


@pytest.mark.parametrize(
    ("text", "networks", "allowed"),
    [
        ("127.0.0.1", "127.0.0.0/8,::1/128", True),
        ("::1", "127.0.0.0/8,::1/128", True),
        ("::ffff:127.0.0.1", "127.0.0.0/8", True),  # the same host in another spelling
        ("10.1.2.3", "10.1.2.0/24", True),
        ("10.1.3.1", "10.1.2.0/24", False),
        ("169.254.169.254", "10.0.0.0/8", False),
        ("10.1.2.3", "10.1.2.3", True),  # a bare address is a /32
        ("fd00::5", "fd00::/64", True),
        ("127.0.0.1", "::1/128", False),  # allowing IPv6 loopback is not allowing IPv4's
    ],
)
def test_allowed_networks_open_exactly_themselves(text: str, networks: str, allowed: bool) -> None:
    assert address_allowed(ipaddress.ip_address(text), parse_networks(networks.split(","))) is (
        allowed
    )


@pytest.mark.parametrize("value", ["10.1.2.3/24", "10.0.0.0/33", "localhost", "", "10.0.0.0/8x"])
def test_a_network_that_is_not_cidr_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="CIDR"):
        parse_networks([value])


@pytest.mark.parametrize(
    ("text", "reached"),
    [
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("64:ff9b::a00:1", "10.0.0.1"),
        ("2002:a00:1::", "10.0.0.1"),
        ("2606:4700::1", None),
        ("10.0.0.1", None),
    ],
)
def test_ipv6_forms_of_ipv4_addresses_are_read_as_them(text: str, reached: str | None) -> None:
    found = reached_ipv4(ipaddress.ip_address(text))
    assert (str(found) if found else None) == reached


def test_localhost_is_allowed_only_with_a_loopback_network() -> None:
    assert allows_loopback(LOOPBACK_NETWORKS)
    assert allows_loopback(parse_networks(["::1/128"]))
    assert not allows_loopback(())
    assert not allows_loopback(parse_networks(["10.0.0.0/8"]))
