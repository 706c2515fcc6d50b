"""What a failed Nylas call means: the errors crmsync raises, and whether and how long to wait.

The SDK raises its own errors and leaks ``requests`` exceptions (NYLAS.md 6.4); the gateway
(``workers.nylas_client``) turns each into one of a small tree the actors handle:
:class:`NylasRejected` (do not retry), :class:`NylasUnavailable` (retry later),
:class:`NylasRateLimited` (retry after a known delay), and decides with the functions here
whether an attempt is transient, whether it provably wrote nothing, and how long to back off.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import requests
import urllib3
from nylas.models.errors import AbstractNylasApiError, NylasSdkTimeoutError

# Answers that refuse a request before doing it: a create may be sent again after them.
UNWRITTEN_STATUSES = frozenset({429, 503})

_CONNECTION_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# Where backoff jitter is drawn from (shared by every gateway of the process).
JITTER_SOURCE = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries before giving up.

    ``jitter`` is the share of each backoff drawn at random: 0 waits exactly
    ``initial * 2**(attempt-1)`` (capped at ``backoff_max_seconds``), 0.5 waits between half
    and all of it, 1 anywhere up to it. A 429's ``Retry-After`` is waited exactly, unless it
    is longer than ``max_retry_after_seconds``: then :class:`NylasRateLimited` is raised at
    once, because a worker thread should not sleep for minutes. ``sleep`` is injectable so
    tests record waits instead of sleeping.
    """

    max_attempts: int = 5
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 8.0
    jitter: float = 0.5
    max_retry_after_seconds: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")
        if self.backoff_initial_seconds < 0 or self.backoff_max_seconds < 0:
            raise ValueError("backoff seconds must not be negative")


# Errors ------------------------------------------------------------------------------------


class NylasError(Exception):
    """Base class for every error raised by :class:`NylasGateway`."""

    reason = "nylas_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NylasRejected(NylasError):
    """Raised when Nylas refuses a request with a 4xx other than 429: retrying cannot help."""

    reason = "rejected"

    def __init__(self, message: str, *, status_code: int | None, error_type: str | None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type


class NylasNotFound(NylasRejected):
    """Raised when the object of a call does not exist (404) on a grant that does; lookups
    return None instead. A missing grant raises :class:`NylasGrantGone`."""

    reason = "not_found"


class NylasGrantGone(NylasRejected):
    """Raised by any grant-scoped call once Nylas confirmed the grant does not exist (deleted
    at Nylas): its ``GET /v3/grants/{id}`` answered 404 too. Not a :class:`NylasNotFound`, so
    that nothing takes it for "the message is gone": nothing of the mailbox will sync until the
    rep reconnects (``domain.not_found``)."""

    reason = "grant_gone"

    def __init__(self, message: str, *, grant_id: str, error_type: str | None) -> None:
        super().__init__(message, status_code=404, error_type=error_type)
        self.grant_id = grant_id


class NylasMalformedResponse(NylasRejected):
    """Raised when a response decodes as JSON but lacks what the SDK requires (a KeyError)."""

    reason = "malformed_response"


class NylasUnavailable(NylasError):
    """Raised when 429s, 5xx, timeouts or broken connections outlast every attempt.

    ``cause`` is the last failure; ``retry_after_seconds`` is set when it was a 429 that said
    how long to wait.
    """

    reason = "unavailable"

    def __init__(
        self, message: str, *, cause: BaseException, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.retry_after_seconds = retry_after_seconds


class NylasWriteUncertain(NylasUnavailable):
    """Raised when a create failed in a way that may still have made the event.

    Without an idempotency key, do not create again before finding out (the echo
    ``event.created``, or a listing); with one, calling ``create_event`` again with the same
    key is safe.
    """

    reason = "write_uncertain"


class NylasCodeRejected(NylasRejected):
    """Raised when ``/connect/token`` refuses a code: unknown, already used, expired, or issued
    for another redirect URI or client. The user must go through hosted auth again."""

    reason = "code_rejected"


class NylasRateLimited(NylasError):
    """Raised when a 429's ``Retry-After`` is longer than the policy will sleep in-process.

    The actor should ask the queue to retry after ``retry_after_seconds``.
    """

    reason = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


# Pure retry decisions ----------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date).

    None when absent or unreadable; a date in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, moment.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def retry_after_of(error: BaseException, *, now: float) -> float | None:
    """The ``Retry-After`` of a 429 from the SDK, or None."""
    if not isinstance(error, AbstractNylasApiError) or error.status_code != 429:
        return None
    headers: Mapping[str, str] | None = error.headers
    return parse_retry_after(headers.get("Retry-After") if headers else None, now=now)


def backoff_seconds(attempt: int, policy: RetryPolicy, draw: float) -> float:
    """The wait after failed attempt number ``attempt`` (from 1); ``draw`` is in [0, 1)."""
    base = min(policy.backoff_max_seconds, policy.backoff_initial_seconds * 2.0 ** (attempt - 1))
    return base * (1.0 - policy.jitter * draw)


def wait_seconds(
    error: BaseException | None, attempt: int, policy: RetryPolicy, *, draw: float, now: float
) -> float:
    """How long to wait before retrying after ``error``: its Retry-After, else backoff."""
    delay = None if error is None else retry_after_of(error, now=now)
    return delay if delay is not None else backoff_seconds(attempt, policy, draw)


def is_transient(error: BaseException) -> bool:
    """Whether another attempt may succeed: 429, 5xx, timeouts, connections, non-JSON bodies."""
    if isinstance(error, AbstractNylasApiError):
        status: int = error.status_code
        return status == 429 or status >= 500
    return isinstance(
        error, (NylasSdkTimeoutError, requests.exceptions.JSONDecodeError, *_CONNECTION_ERRORS)
    )


def answered_without_writing(error: BaseException) -> bool:
    """Whether a failed attempt provably changed nothing, so a create may be sent again.

    True for a 429 or 503 answer and for a connection that was never made (refused, or a
    connect timeout). A read timeout, a dropped connection, another 5xx or a body that is not
    JSON may all come after the provider wrote the event.
    """
    if isinstance(error, AbstractNylasApiError):
        return error.status_code in UNWRITTEN_STATUSES
    if isinstance(error, NylasSdkTimeoutError):
        return isinstance(error.__cause__, requests.exceptions.ConnectTimeout)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError) and error.args:
        reason = getattr(error.args[0], "reason", None)
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def never_sent(error: BaseException) -> bool:
    """Whether a failed attempt provably never reached Nylas's handler, so that even a send
    may go again: a 429 (refused by the rate limiter) or a connection never made."""
    if isinstance(error, AbstractNylasApiError):
        status: int = error.status_code
        return status == 429
    return answered_without_writing(error)


def outcome_of(error: BaseException) -> str:
    """The metric outcome of one failed HTTP attempt."""
    if isinstance(error, AbstractNylasApiError):
        return str(error.status_code)
    if isinstance(error, NylasSdkTimeoutError | requests.exceptions.Timeout):
        return "timeout"
    if isinstance(error, requests.exceptions.JSONDecodeError):
        return "invalid_body"
    if isinstance(error, _CONNECTION_ERRORS):
        return "connection_error"
    if isinstance(error, requests.exceptions.RequestException):
        return "request_error"  # e.g. a malformed api_uri: nothing was sent
    return "malformed_response"
