"""Values a subscriber's answer puts into the delivery log, read as hostile input (S3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.outbound_answers import MAX_EXCERPT_CHARS, parse_retry_after, printable_excerpt
from domain.outbound_webhooks import MAX_RETRY_AFTER

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        (None, None),
        ("", ""),
        ("Service Unavailable", "Service Unavailable"),
        ("\x00nul-in-body", "nul-in-body"),
        ("line one\r\nline two", "line one line two"),
        ("\x1b[2J\x1b[31mred", "[2J [31mred"),
        ("a\x7f\x85\x9fb", "a b"),
        ("sep\u2028arator", "sep arator"),
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("\x00" * 500, ""),
        ("é" * 600, "é" * MAX_EXCERPT_CHARS),
    ],
    ids=[
        "nothing",
        "empty",
        "plain",
        "a NUL",
        "CR LF",
        "terminal escapes",
        "DEL and C1",
        "line separator",
        "a lone surrogate",
        "only NULs",
        "too long",
    ],
)
def test_what_an_answer_says_is_stored_printable_and_short(
    text: str | None, stored: str | None
) -> None:
    assert printable_excerpt(text) == stored


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        (None, None),
        ("", None),
        ("120", timedelta(seconds=120)),
        (" 7 ", timedelta(seconds=7)),
        ("0", timedelta(0)),
        ("99999999999999999999", MAX_RETRY_AFTER),
        ("9" * 5000, MAX_RETRY_AFTER),
        ("200000", MAX_RETRY_AFTER),
        ("1e20", None),
        ("-5", None),
        ("²", None),
        ("١٢", None),
        ("Wed, 02 Dec 2026 12:05:00 GMT", timedelta(minutes=5)),
        ("Wed, 02 Dec 2026 11:00:00 GMT", timedelta(0)),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("Wed, 99 Foo 2026 12:05:00 GMT", None),
        ("soon", None),
    ],
    ids=[
        "absent",
        "empty",
        "seconds",
        "padded",
        "zero",
        "twenty digits",
        "five thousand digits",
        "over a day",
        "a float",
        "negative",
        "a superscript digit",
        "Arabic-Indic digits",
        "an HTTP date",
        "a date past",
        "the year 9999",
        "a broken date",
        "words",
    ],
)
def test_a_retry_after_is_read_within_a_day_or_not_at_all(
    header: str | None, wait: timedelta | None
) -> None:
    assert parse_retry_after(header, NOW) == wait
