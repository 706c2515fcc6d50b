"""Opaque page cursors: what a page stopped at, encoded so clients cannot depend on it."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from api.errors import ApiError


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position a cursor names.

    Raises:
        ApiError: 400 when the cursor was not made by :func:`encode_cursor`.
    """
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise ApiError(400, "invalid_cursor", "the cursor is not one crmsync gave") from error
    if not isinstance(decoded, dict):
        raise ApiError(400, "invalid_cursor", "the cursor is not one crmsync gave")
    return decoded
