"""Errors raised by the pure rules of crmsync.

Each carries a machine-readable ``reason`` (used for metrics and JSON error bodies) beside
the human message. The domain never knows about HTTP status codes; the edges map these.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class for every error raised by ``domain``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"


class MalformedNotification(DomainError):
    """Raised when a notification body is not a Nylas v3 envelope or v2 ``deltas`` body."""
