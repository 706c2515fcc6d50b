"""Verification of ``X-Nylas-Signature``: hex HMAC-SHA256 of the exact raw body.

Nylas signs the bytes it sends, so the check runs on the raw body before any parsing:
parsing and serialising again would change the bytes. Several secrets may be configured so
that a secret can be rotated without refusing notifications signed with the previous one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from webhooks.errors import InvalidSignature

_HEX_DIGEST_LENGTH = 64  # hex of SHA-256


def well_formed(header: str | None) -> bool:
    """True when ``header`` could be a signature at all: 64 hex digits (any case, padded).

    Anything else matches no body, so it is refused without hashing or decompressing.
    """
    if header is None:
        return False
    presented = header.strip()
    return len(presented) == _HEX_DIGEST_LENGTH and all(
        c in "0123456789abcdefABCDEF" for c in presented
    )


def verify(body: bytes, header: str | None, secrets: Sequence[bytes]) -> None:
    """Accept ``body`` if ``header`` is its signature under any of ``secrets``.

    Hex is compared case-insensitively (the same digest either way), in constant time.

    Raises:
        InvalidSignature: the header is missing, or matches no secret.
    """
    verify_pieces((body,), header, secrets)


def verify_pieces(pieces: Iterable[bytes], header: str | None, secrets: Sequence[bytes]) -> None:
    """:func:`verify` over a body given in pieces, without ever holding it whole: how a body
    is checked in the chunks it arrived in, or decompressed, before it has authenticated."""
    if not header or not header.strip():
        raise InvalidSignature("missing_signature", "the X-Nylas-Signature header is missing")
    if not well_formed(header):
        raise InvalidSignature("bad_signature", "X-Nylas-Signature does not match the body")
    macs = [hmac.new(secret, digestmod=hashlib.sha256) for secret in secrets]
    for piece in pieces:
        for mac in macs:
            mac.update(piece)
    presented = header.strip().lower().encode()
    if not any(hmac.compare_digest(presented, mac.hexdigest().encode()) for mac in macs):
        raise InvalidSignature("bad_signature", "X-Nylas-Signature does not match the body")
