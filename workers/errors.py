"""Errors raised by ``workers`` that callers outside it must handle."""

from __future__ import annotations


class WorkersError(Exception):
    """Base class for errors raised by ``workers``."""


class QueueUnavailable(WorkersError):
    """Raised when work cannot be safely handed to the queue (Redis unreachable or failing).

    Nothing was queued, or it is unknown whether it was: the caller must not acknowledge the
    work, so that its sender retries it.
    """

    reason = "queue_unavailable"
