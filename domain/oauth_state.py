"""The ``state`` of a hosted OAuth connection: which rep a callback is for, unforgeable.

Nylas hands ``state`` back unchanged on the callback. It names the rep and a one-time nonce
and is signed with crmsync's secret, so a callback cannot be forged for another rep, nor an
old one replayed after it expired; the nonce is spent in storage on first use, so the same
callback cannot be replayed within its lifetime either. Signing and reading are pure
functions of their inputs (``now`` included).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import DomainError

STATE_LIFETIME = timedelta(minutes=15)
# How long a connection attempt is kept after it started, spent or not: past its lifetime it
# can no longer be completed, and a day leaves operators time to read how it ended.
ATTEMPT_RETENTION = timedelta(days=1)
_VERSION = "s1"


class InvalidState(DomainError):
    """Raised when a callback's ``state`` is not one crmsync issued, or no longer valid."""


@dataclass(frozen=True, slots=True)
class ConnectState:
    """What a signed state says: the rep, the one-time nonce, and when it was issued."""

    rep_id: str
    nonce: str
    issued_at: datetime


def sign_state(state: ConnectState, secret: bytes) -> str:
    """``s1.<payload>.<signature>``, URL-safe, for the ``state`` parameter."""
    fields = {"r": state.rep_id, "n": state.nonce, "t": int(state.issued_at.timestamp())}
    payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{_VERSION}.{payload}.{_signature(payload, secret)}"


def read_state(
    token: str, secrets: tuple[bytes, ...], now: datetime, lifetime: timedelta = STATE_LIFETIME
) -> ConnectState:
    """The state a callback carries, checked against every secret (rotation) and its age.

    Raises:
        InvalidState: malformed, signed with no secret of ours, expired, or from the future.
    """
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _VERSION or not token.isascii():
        raise InvalidState("invalid_state", "the state parameter is not one crmsync issued")
    _, payload, signature = parts
    if not any(hmac.compare_digest(signature, _signature(payload, s)) for s in secrets):
        raise InvalidState("invalid_state", "the state parameter's signature does not match")
    try:
        fields = json.loads(_unb64(payload))
        state = ConnectState(
            rep_id=str(fields["r"]),
            nonce=str(fields["n"]),
            issued_at=datetime.fromtimestamp(int(fields["t"]), UTC),
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        # OverflowError and OSError: a time out of the platform's range (t=1e20).
        raise InvalidState("invalid_state", "the state parameter is malformed") from None
    age = now - state.issued_at
    if age > lifetime:
        raise InvalidState("expired_state", "the connection took too long; start it again")
    if age < -timedelta(minutes=1):
        raise InvalidState("invalid_state", "the state parameter was issued in the future")
    return state


def _signature(payload: str, secret: bytes) -> str:
    digest = hmac.new(secret, f"{_VERSION}.{payload}".encode(), hashlib.sha256).digest()
    return _b64(digest)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
