"""Where the OAuth callback may redirect (L2): listed origins only, capped, status before '#'."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from domain.return_urls import (
    MAX_RETURN_URL_LENGTH,
    InvalidReturnUrl,
    check_return_url,
    origin_of,
    parse_origin,
    with_status,
)

ALLOWED = frozenset({"https://crm.example", "http://localhost:3000"})


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://crm.example/reps/ann?tab=mail", "https://crm.example"),
        ("HTTPS://CRM.Example/x", "https://crm.example"),
        ("https://crm.example:443/x", "https://crm.example"),
        ("http://crm.example:80", "http://crm.example"),
        ("https://crm.example:8443/", "https://crm.example:8443"),
        ("http://[::1]:3000/x", "http://[::1]:3000"),
        ("https://crm.example@evil.example/", None),
        ("https://user:pw@crm.example/", None),
        ("http:/\\evil.example", None),
        ("https://crm.example\\@evil.example/", None),
        ("https://crm.example/\tx", None),
        ("https://crm.example/ x", None),
        ("https://crm.example/\r\nSet-Cookie:x", None),
        ("https://crm.exämple/", None),
        ("https://crm.example:99999/", None),
        ("https://crm.example:port/", None),
        ("//evil.example/", None),
        ("javascript:alert(1)", None),
        ("http:javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("ftp://crm.example/", None),
        ("https:///path", None),
        ("", None),
    ],
)
def test_the_origin_is_read_as_a_browser_would_or_not_at_all(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://crm.example/reps/ann", None),
        ("HTTPS://CRM.EXAMPLE:443/reps/ann#tab", None),
        ("http://localhost:3000/cb", None),
        ("https://evil.example/landing", "return_url_not_allowed"),
        ("https://crm.example.evil.example/", "return_url_not_allowed"),
        ("http://crm.example/", "return_url_not_allowed"),  # another scheme, another origin
        ("https://crm.example:8443/", "return_url_not_allowed"),
        ("http://localhost/cb", "return_url_not_allowed"),
        ("https://crm.example@evil.example/", "invalid_return_url"),
        ("http:/\\evil.example", "invalid_return_url"),
        ("javascript:alert(1)", "invalid_return_url"),
        ("http://[::1/", "invalid_return_url"),
        ("http://a]b/", "invalid_return_url"),
        ("https://[zz]/", "invalid_return_url"),
        ("https://crm.example/" + "a" * MAX_RETURN_URL_LENGTH, "return_url_too_long"),
    ],
)
def test_a_return_url_is_accepted_only_from_a_listed_origin(url: str, reason: str | None) -> None:
    if reason is None:
        assert check_return_url(url, ALLOWED) == url
        return
    with pytest.raises(InvalidReturnUrl) as raised:
        check_return_url(url, ALLOWED)
    assert raised.value.reason == reason


def test_a_url_of_exactly_the_cap_is_accepted() -> None:
    url = "https://crm.example/"
    url += "a" * (MAX_RETURN_URL_LENGTH - len(url))

    assert check_return_url(url, ALLOWED) == url


def test_with_no_origin_listed_every_return_url_is_refused_saying_which_setting() -> None:
    with pytest.raises(InvalidReturnUrl) as raised:
        check_return_url("https://crm.example/", frozenset())

    assert raised.value.reason == "return_url_not_allowed"
    assert "CRMSYNC_RETURN_URL_ORIGINS" in raised.value.message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://crm.example/p", "https://crm.example/p?rep_id=r1&status=connected"),
        ("https://crm.example/p?x=1", "https://crm.example/p?x=1&rep_id=r1&status=connected"),
        (
            "https://crm.example/p?x=1#frag",
            "https://crm.example/p?x=1&rep_id=r1&status=connected#frag",
        ),
        ("https://crm.example/p#a?b", "https://crm.example/p?rep_id=r1&status=connected#a?b"),
        (
            "https://crm.example/p?status=connected&error=planted&keep=",
            "https://crm.example/p?keep=&rep_id=r1&status=connected",
        ),
    ],
)
def test_the_status_goes_into_the_query_before_any_fragment(url: str, expected: str) -> None:
    assert with_status(url, {"rep_id": "r1", "status": "connected"}) == expected


def test_a_failure_status_reads_back_as_query_parameters() -> None:
    target = with_status(
        "https://crm.example/p?tab=mail#x", {"rep_id": "r&1", "status": "failed", "error": "e"}
    )

    parts = urlsplit(target)
    assert parse_qs(parts.query) == {
        "tab": ["mail"],
        "rep_id": ["r&1"],
        "status": ["failed"],
        "error": ["e"],
    }
    assert parts.fragment == "x"


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://crm.example", "https://crm.example"),
        (" https://CRM.example/ ", "https://crm.example"),
        ("http://localhost:3000", "http://localhost:3000"),
    ],
)
def test_a_configured_origin_is_normalised(text: str, origin: str) -> None:
    assert parse_origin(text) == origin


@pytest.mark.parametrize(
    "text", ["crm.example", "https://crm.example/path", "https://crm.example?x", "ftp://crm"]
)
def test_a_configured_value_that_is_no_origin_is_refused(text: str) -> None:
    with pytest.raises(InvalidReturnUrl) as raised:
        parse_origin(text)

    assert raised.value.reason == "invalid_origin"
