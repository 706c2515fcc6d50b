"""Verification of ``X-Nylas-Signature``: hex HMAC-SHA256 of the exact raw body.

Nylas signs the bytes it sends, so the check runs on the raw body before any parsing:
parsing and serialising again would change the bytes. Several secrets may be configured so
that a secret can be rotated without refusing notifications signed with the previous one.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from domain.signatures import nylas_signature
from webhooks.errors import InvalidSignature


def verify(body: bytes, header: str | None, secrets: Sequence[bytes]) -> None:
    """Accept ``body`` if ``header`` is its signature under any of ``secrets``.

    Hex is compared case-insensitively (the same digest either way), in constant time.

    Raises:
        InvalidSignature: the header is missing, or matches no secret.
    """
    if not header or not header.strip():
        raise InvalidSignature("missing_signature", "the X-Nylas-Signature header is missing")
    presented = header.strip().lower().encode()
    if not any(hmac.compare_digest(presented, nylas_signature(body, s).encode()) for s in secrets):
        raise InvalidSignature("bad_signature", "X-Nylas-Signature does not match the body")
