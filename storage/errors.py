"""Errors raised by storage when a write conflicts with what is stored."""

from __future__ import annotations


class StorageConflict(Exception):
    """Raised when a write would break a uniqueness rule of the stored facts."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class NotFound(Exception):
    """Raised when a write names an entity that is not stored (a rep, a contact, an email)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
