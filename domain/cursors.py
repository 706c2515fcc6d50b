"""Opaque cursors: a small position document, encoded so clients cannot depend on its shape.

One encoding for every cursor crmsync hands out (email and contact pages, the change feed,
delivery logs): URL-safe base64 of compact JSON, without padding. A cursor comes back from a
client, so decoding it is defensive: a bounded length (no cursor crmsync makes is long, and a
long one could nest deep enough to exhaust the parser's recursion), and values read by type,
never trusted (``true`` is an ``int`` to Python, ``10**23`` overflows a database integer).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from domain.text import contains_nul

# Every cursor crmsync makes is well under this (a feed cursor is about 20 characters).
MAX_CURSOR_LENGTH = 512
# Positions are database keys: BIGINT on PostgreSQL, INTEGER (64-bit) on SQLite.
MAX_POSITION = 2**63 - 1


def encode_opaque(position: dict[str, Any]) -> str:
    """The cursor for ``position``."""
    document = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(document).decode().rstrip("=")


def decode_opaque(cursor: str) -> dict[str, Any] | None:
    """The position a cursor names; None when crmsync did not make it."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def position_number(position: dict[str, Any], key: str) -> int | None:
    """``position[key]`` when it is a whole number a database key can hold (0 to 2**63 - 1);
    None when it is absent or anything else (a boolean, a float, a string, too large)."""
    value = position.get(key)
    if type(value) is not int or not 0 <= value <= MAX_POSITION:
        return None
    return value


def position_text(position: dict[str, Any], key: str) -> str | None:
    """``position[key]`` when it is text a database may compare with (no NUL); else None."""
    value = position.get(key)
    if not isinstance(value, str) or contains_nul(value):
        return None
    return value
