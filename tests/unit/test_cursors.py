"""Opaque cursors round-trip, and anything crmsync did not make reads as None."""

from __future__ import annotations

import base64
import sys
import threading
from typing import Any

import pytest

from domain.cursors import (
    MAX_CURSOR_LENGTH,
    MAX_POSITION,
    decode_opaque,
    encode_opaque,
    position_number,
    position_text,
)


def raw(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


def test_a_cursor_names_the_position_it_was_made_from() -> None:
    cursor = encode_opaque({"t": 12, "s": 3})
    assert "=" not in cursor
    assert decode_opaque(cursor) == {"t": 12, "s": 3}


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "bm90LWpzb24", "WzEsMl0", ""],
    ids=[
        "not base64",
        "not JSON",
        "a JSON list",
        "empty",
    ],
)
def test_anything_else_is_not_a_cursor(cursor: str) -> None:
    assert decode_opaque(cursor) is None


def test_a_cursor_longer_than_any_crmsync_makes_is_not_read() -> None:
    padded = encode_opaque({"after": "x" * MAX_CURSOR_LENGTH})

    assert decode_opaque(padded) is None
    assert decode_opaque(encode_opaque({"after": "x" * 300})) == {"after": "x" * 300}


def test_a_cursor_nested_past_the_recursion_limit_is_not_a_cursor() -> None:
    found: list[object] = []

    def decode() -> None:  # a low recursion limit of its own, in its own thread
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(60)
        try:
            found.append(decode_opaque(raw("[" * 100 + "]" * 100)))
        finally:
            sys.setrecursionlimit(limit)

    thread = threading.Thread(target=decode)
    thread.start()
    thread.join()

    assert found == [None]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (12, 12),
        (MAX_POSITION, MAX_POSITION),
        (MAX_POSITION + 1, None),
        (10**23, None),
        (-1, None),
        (True, None),
        (False, None),
        (1e23, None),
        (1.0, None),
        ("12", None),
        ([12], None),
        (None, None),
    ],
)
def test_a_position_number_is_a_whole_number_a_database_key_holds(
    value: Any, expected: int | None
) -> None:
    assert position_number({"k": value}, "k") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("c-1", "c-1"), ("", ""), ("c\x001", None), (12, None), (["c-1"], None), (None, None)],
)
def test_a_position_text_is_text_without_a_nul(value: Any, expected: str | None) -> None:
    assert position_text({"k": value}, "k") == expected
