"""Opaque page cursors: what a page stopped at, encoded so clients cannot depend on it."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from domain.cursors import decode_opaque, encode_opaque


def encode_cursor(position: dict[str, Any]) -> str:
    return encode_opaque(position)


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position a cursor names.

    Raises:
        ApiError: 400 when the cursor was not made by :func:`encode_cursor`.
    """
    decoded = decode_opaque(cursor)
    if decoded is None:
        raise ApiError(400, "invalid_cursor", "the cursor is not one crmsync gave")
    return decoded
