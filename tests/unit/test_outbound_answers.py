"""What is kept of a subscriber's answer (X1): a capped wait and a clean, short excerpt."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.outbound_answers import MAX_EXCERPT_CHARACTERS, excerpt, parse_retry_after
from domain.outbound_webhooks import MAX_RETRY_AFTER


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
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),  # the date form: the schedule applies
    ],
)
def test_retry_after_is_a_capped_number_of_seconds(raw: str | None, wait: timedelta | None) -> None:
    assert parse_retry_after(raw) == wait


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
        (b"a" * 4096, "a" * MAX_EXCERPT_CHARACTERS),
    ],
)
def test_an_excerpt_is_one_short_line_of_plain_text(raw: bytes, kept: str | None) -> None:
    assert excerpt(raw) == kept
