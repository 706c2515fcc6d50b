"""Subscriber URLs read strictly, one way (X1): what a delivery would connect to, and the
spellings that used to slip past or crash the check (the review's H3 and L3)."""

from __future__ import annotations

import ipaddress

import pytest

from domain.outbound_addresses import LOOPBACK_NETWORKS, IPNetwork, parse_networks
from domain.outbound_urls import InvalidUrl, legacy_ipv4, parse_target, refuse_unreachable


@pytest.mark.parametrize(
    ("url", "host", "port", "address", "target", "host_header"),
    [
        ("https://crm.example/hook", "crm.example", 443, None, "/hook", "crm.example"),
        ("HTTPS://CRM.Example:8443", "crm.example", 8443, None, "/", "crm.example:8443"),
        ("http://crm.example./h?a=1&b=%20", "crm.example", 80, None, "/h?a=1&b=%20", "crm.example"),
        ("http://crm.example/a%20b/~x", "crm.example", 80, None, "/a%20b/~x", None),
        ("http://bücher.example/ü", "xn--bcher-kva.example", 80, None, "/%C3%BC", None),
        ("http://crm.example/h#frag", "crm.example", 80, None, "/h", None),
        ("http://10.0.0.1:8080/x", "10.0.0.1", 8080, "10.0.0.1", "/x", "10.0.0.1:8080"),
        ("http://[::1]:6379/", "::1", 6379, "::1", "/", "[::1]:6379"),
        ("http://[::FFFF:127.0.0.1]/", "::ffff:7f00:1", 80, "::ffff:7f00:1", "/", None),
        ("http://2130706433:6379/", "127.0.0.1", 6379, "127.0.0.1", "/", None),
        ("http://0x7f000001/", "127.0.0.1", 80, "127.0.0.1", "/", None),
        ("http://127.1/", "127.0.0.1", 80, "127.0.0.1", "/", None),
        ("http://0177.0.0.1/", "127.0.0.1", 80, "127.0.0.1", "/", None),
        ("http://0/", "0.0.0.0", 80, "0.0.0.0", "/", None),
        (
            "http://169.254.169.254./latest",
            "169.254.169.254",
            80,
            "169.254.169.254",
            "/latest",
            None,
        ),
        ("http://localhost./", "localhost", 80, None, "/", None),
        ("http://a_b.example/", "a_b.example", 80, None, "/", None),
    ],
)
def test_a_url_is_read_into_where_a_delivery_goes(
    url: str, host: str, port: int, address: str | None, target: str, host_header: str | None
) -> None:
    parsed = parse_target(url)
    assert (parsed.host, parsed.port, parsed.request_target) == (host, port, target)
    assert parsed.address == (ipaddress.ip_address(address) if address else None)
    if host_header is not None:
        assert parsed.host_header == host_header


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(None, id="not text"),
        pytest.param("", id="empty"),
        pytest.param("https://crm.example/" + "a" * 2100, id="too long"),
        pytest.param("crm.example/hook", id="no scheme"),
        pytest.param("ftp://crm.example/", id="ftp"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("gopher://crm.example/", id="gopher"),
        pytest.param("http:///nohost", id="no host"),
        pytest.param("http://user:pw@crm.example/", id="userinfo"),
        pytest.param("http://@127.0.0.1/", id="empty userinfo"),
        pytest.param("http://127.0.0.1\\@evil.example/", id="backslash userinfo"),
        pytest.param("http://127.0.0.1:18555@evil.example/", id="port-like userinfo"),
        pytest.param("http://[127.0.0.1]/", id="bracketed IPv4"),
        pytest.param("http://[::1/", id="unclosed bracket"),
        pytest.param("http://[zz]/", id="bracketed junk"),
        pytest.param("http://a]b/", id="stray bracket"),
        pytest.param("http://[::1]x/", id="text after brackets"),
        pytest.param("http://[fe80::1%25eth0]/", id="IPv6 zone"),
        pytest.param("http://127.0.0.1:0/", id="port 0"),
        pytest.param("http://127.0.0.1:99999/", id="port 99999"),
        pytest.param("http://127.0.0.1:65536/", id="port 65536"),
        pytest.param("http://crm.example:+80/", id="signed port"),
        pytest.param("http://crm.example:\uff18\uff10/", id="non-ASCII digits in the port"),
        pytest.param("http://crm.example:80:80/", id="two ports"),
        pytest.param("http://exa mple.com/", id="space in the host"),
        pytest.param("http://crm.example/ok\r\nX-Injected: 1", id="CRLF"),
        pytest.param("http://crm.example/\x00", id="NUL"),
        pytest.param("http://crm..example/", id="empty label"),
        pytest.param("http://" + "a" * 64 + ".example/", id="label too long"),
        pytest.param("http://%31%32%37.0.0.1/", id="percent-encoded host"),
        pytest.param("http://1.2.3.4.5/", id="five numeric parts"),
        pytest.param("http://256.0.0.1/", id="IPv4 part out of range"),
        pytest.param("http://4294967296/", id="IPv4 number out of range"),
        pytest.param("http://crm.example.123/", id="numeric last label under a name"),
    ],
)
def test_a_url_that_is_not_a_plain_http_url_is_refused(url: object) -> None:
    with pytest.raises(InvalidUrl) as refused:
        parse_target(url)
    assert refused.value.reason == "invalid_url"


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("example.com", None),
        ("crm.example", None),
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.4.", "1.2.3.4"),
        ("16909060", "1.2.3.4"),
        ("1.131844", "1.2.3.4"),
        ("1.2.772", "1.2.3.4"),
        ("0x1.0x2.0x3.0x4", "1.2.3.4"),
        ("01.02.03.04", "1.2.3.4"),
        ("0x", "0.0.0.0"),
    ],
)
def test_numeric_hosts_are_read_as_browsers_read_them(host: str, address: str | None) -> None:
    found = legacy_ipv4(host)
    assert (str(found) if found else None) == address


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://2130706433:6379/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://0/",
        "http://0.0.0.0:5432/",
        "http://[::1]:6379/",
        "http://[::ffff:127.0.0.1]:6379/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/admin",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost:8080/",
    ],
)
def test_a_url_deliveries_could_never_reach_is_refused_when_set(url: str) -> None:
    with pytest.raises(InvalidUrl) as refused:
        refuse_unreachable(parse_target(url), ())
    assert refused.value.reason == "url_not_allowed"


@pytest.mark.parametrize(
    ("url", "networks"),
    [
        ("https://crm.example/hook", ()),
        ("https://8.8.8.8/hook", ()),
        ("http://metadata.google.internal/", ()),  # a name: checked at connect time
        ("http://127.0.0.1:8000/hook", LOOPBACK_NETWORKS),
        ("http://localhost:8000/hook", LOOPBACK_NETWORKS),
        ("http://[::1]:8000/hook", LOOPBACK_NETWORKS),
        ("http://10.1.2.3/crm", parse_networks(["10.1.2.0/24"])),
    ],
)
def test_public_urls_names_and_allowed_networks_are_accepted(
    url: str, networks: tuple[IPNetwork, ...]
) -> None:
    refuse_unreachable(parse_target(url), networks)
