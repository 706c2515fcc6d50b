"""Opaque page cursors: what a page stopped at, encoded so clients cannot depend on it."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from domain.cursors import decode_opaque, encode_opaque, position_number, position_text


def encode_cursor(position: dict[str, Any]) -> str:
    return encode_opaque(position)


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position a cursor names.

    Raises:
        ApiError: 400 when the cursor was not made by :func:`encode_cursor`.
    """
    decoded = decode_opaque(cursor)
    if decoded is None:
        raise _not_ours()
    return decoded


def cursor_number(cursor: str, key: str) -> int:
    """The whole number a cursor holds at ``key``.

    Raises:
        ApiError: 400 when the cursor was not made by crmsync, or holds no such number.
    """
    value = position_number(decode_cursor(cursor), key)
    if value is None:
        raise _not_ours()
    return value


def cursor_text(cursor: str, key: str) -> str:
    """The text a cursor holds at ``key``.

    Raises:
        ApiError: 400 when the cursor was not made by crmsync, or holds no such text.
    """
    value = position_text(decode_cursor(cursor), key)
    if value is None:
        raise _not_ours()
    return value


def _not_ours() -> ApiError:
    return ApiError(400, "invalid_cursor", "the cursor is not one crmsync gave")
