"""Opaque cursors round-trip, and anything crmsync did not make reads as None."""

from __future__ import annotations

import pytest

from domain.cursors import decode_opaque, encode_opaque


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
