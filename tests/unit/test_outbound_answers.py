"""What is kept of a subscriber's answer (S3), read as hostile input: a capped wait and a
clean, short excerpt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.outbound_answers import (
    MAX_EXCERPT_CHARACTERS,
    excerpt,
    parse_retry_after,
    printable_excerpt,
)
from domain.outbound_webhooks import MAX_RETRY_AFTER

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "wait"),
    [
        (None, None),
        ("", None),
        ("0", timedelta(0)),
        ("120", timedelta(seconds=120)),
        (" 120 ", timedelta(seconds=120)),
        ("86400", MAX_RETRY_AFTER),
        ("86401", MAX_RETRY_AFTER),
        ("99999999999999999999", MAX_RETRY_AFTER),  # timedelta would overflow
        ("9" * 5000, MAX_RETRY_AFTER),  # int() would refuse more than 4,300 digits
        ("000000000000000000000000030", timedelta(seconds=30)),
        ("-5", None),
        ("1e20", None),
        ("²", None),  # isdigit() is true, int() is not
        ("٣", None),  # an Arabic-Indic digit
        ("Wed, 02 Dec 2026 12:05:00 GMT", timedelta(minutes=5)),
        ("Wed, 02 Dec 2026 11:00:00 GMT", timedelta(0)),  # a date past: no wait
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("Wed, 99 Foo 2026 12:05:00 GMT", None),
        ("Wed, 02 Dec 2026 12:05:00 GMT" + " " * 100 + "x", None),
        ("soon", None),
    ],
)
def test_retry_after_is_a_capped_wait_in_seconds_or_until_a_date(
    raw: str | None, wait: timedelta | None
) -> None:
    assert parse_retry_after(raw, NOW) == wait


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (b"", None),
        (b"\x00" * 500, None),
        (b"\x00nul-in-body", "nul-in-body"),
        (b"line one\r\nline\ttwo\n\n", "line one line two"),
        (
            b"\x1b[2J\x1b[1;31mNYLAS API KEY EXPIRED\x1b]0;pwned\x07",
            "[2J[1;31mNYLAS API KEY EXPIRED]0;pwned",
        ),
        ("abc\u202edef\u2066".encode(), "abcdef"),  # bidi overrides
        (b"caf\xc3\xa9 \xff\xfe", "café \ufffd\ufffd"),
        ("x\u0085y".encode(), "xy"),  # a C1 control
        ("sep\u2028arator".encode(), "sep arator"),
        (b"a" * 4096, "a" * MAX_EXCERPT_CHARACTERS),
    ],
)
def test_an_excerpt_is_one_short_line_of_plain_text(raw: bytes, kept: str | None) -> None:
    assert excerpt(raw) == kept


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (None, None),
        ("connect_refused", "connect_refused"),
        ("unexpected_error: Error\x00\r\nForged: line", "unexpected_error: Error Forged: line"),
        ("lone \ud800 surrogate", "lone surrogate"),
        ("é" * 600, "é" * MAX_EXCERPT_CHARACTERS),
    ],
)
def test_an_error_text_is_kept_printable_and_short(text: str | None, kept: str | None) -> None:
    assert printable_excerpt(text) == kept
