"""Per-token limits on what holds the service's resources open: live streams and long-polls.

Each open stream polls the database four times a second, and each long-poll as often while it
waits, so a client that opens hundreds slows every other reader (the security review measured
``/v1/changes/latest`` going from 5 to 114 ms with 300 streams). Each API token gets a few at
once; one more is answered 429 with ``Retry-After``, naming the limit.

The counts are kept per web process, in memory, not shared through Redis. What they protect
is per process too (its event loop, its database connection pool, its sockets), and a count
in memory cannot outlive what it counts: a process that dies takes its streams and its
counts with it, where a Redis counter would stay raised until some lease expired. With N web
processes a token may hold N times the limit in all, which is still bounded.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from starlette.requests import Request

from api.callers import caller_of
from api.errors import ApiError


def token_of(request: Request) -> str:
    """Which token authenticated ``request`` (its position or id, never its value)."""
    return caller_of(request).label


class Lease:
    """One slot held under a :class:`ConcurrencyLimit`; release it exactly once (a second
    release does nothing, so every path out may release without counting twice)."""

    def __init__(self, limit: ConcurrencyLimit, key: str) -> None:
        self._limit = limit
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limit._release(self._key)


class ConcurrencyLimit:
    """At most ``limit`` of one kind of request open at once per key, in this process."""

    def __init__(self, kind: str, limit: int, retry_after_seconds: int) -> None:
        self.kind = kind
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        self._open: Counter[str] = Counter()
        # Requests run on one event loop, but the app may be served by several (tests, an
        # embedding server): the check and the count are one step under a lock.
        self._lock = threading.Lock()

    def acquire(self, key: str) -> Lease:
        """A slot for ``key``.

        Raises:
            ApiError: 429 with ``Retry-After`` when ``key`` already holds ``limit``.
        """
        with self._lock:
            if self._open[key] >= self.limit:
                raise ApiError(
                    429,
                    f"too_many_{self.kind.replace(' ', '_')}",
                    f"this token already holds {self.limit} {self.kind} open, the most it may; "
                    f"close one or retry after {self.retry_after_seconds} seconds",
                    headers={"Retry-After": str(self.retry_after_seconds)},
                )
            self._open[key] += 1
        return Lease(self, key)

    def open_count(self, key: str) -> int:
        """How many ``key`` holds now."""
        with self._lock:
            return self._open[key]

    def _release(self, key: str) -> None:
        with self._lock:
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]


# A long-poll lasts at most 30 seconds (api.changes.MAX_WAIT_SECONDS): by then a slot is free.
LONG_POLL_RETRY_AFTER_SECONDS = 30
# A stream lasts as long as its client wants: a minute is a fair pause before trying again.
STREAM_RETRY_AFTER_SECONDS = 60
# Subscriptions free up only when one is deleted; retrying sooner than that gains nothing.
SUBSCRIPTION_RETRY_AFTER_SECONDS = 3600

DEFAULT_MAX_SUBSCRIPTIONS = 50
DEFAULT_MAX_STREAMS_PER_TOKEN = 10
DEFAULT_MAX_LONG_POLLS_PER_TOKEN = 10


@dataclass(frozen=True)
class RequestLimits:
    """The limits of one web process: concurrent streams and long-polls per token, and the
    number of subscriptions (a deployment's, counted in the database)."""

    max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS
    max_streams_per_token: int = DEFAULT_MAX_STREAMS_PER_TOKEN
    max_long_polls_per_token: int = DEFAULT_MAX_LONG_POLLS_PER_TOKEN
    streams: ConcurrencyLimit = field(init=False)
    long_polls: ConcurrencyLimit = field(init=False)

    def __post_init__(self) -> None:
        streams = ConcurrencyLimit(
            "streams", self.max_streams_per_token, STREAM_RETRY_AFTER_SECONDS
        )
        long_polls = ConcurrencyLimit(
            "long polls", self.max_long_polls_per_token, LONG_POLL_RETRY_AFTER_SECONDS
        )
        object.__setattr__(self, "streams", streams)
        object.__setattr__(self, "long_polls", long_polls)

    def too_many_subscriptions(self) -> ApiError:
        """The refusal of a subscription beyond :attr:`max_subscriptions`."""
        return ApiError(
            429,
            "too_many_subscriptions",
            f"this organization already has {self.max_subscriptions} subscriptions, the most "
            "it may (CRMSYNC_MAX_SUBSCRIPTIONS); delete one before creating another",
            headers={"Retry-After": str(SUBSCRIPTION_RETRY_AFTER_SECONDS)},
        )
