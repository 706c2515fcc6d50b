"""Opaque cursors: a small position document, encoded so clients cannot depend on its shape.

One encoding for every cursor crmsync hands out (email and contact pages, the change feed,
delivery logs): URL-safe base64 of compact JSON, without padding.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def encode_opaque(position: dict[str, Any]) -> str:
    """The cursor for ``position``."""
    document = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(document).decode().rstrip("=")


def decode_opaque(cursor: str) -> dict[str, Any] | None:
    """The position a cursor names; None when crmsync did not make it."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None
