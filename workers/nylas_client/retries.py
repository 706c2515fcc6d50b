"""One attempt at the Nylas API, counted and classified, and the one loop that retries it.

The SDK never retries and leaks ``requests`` exceptions (NYLAS.md 6.4), so every call goes
through one tenacity loop here (A3): a 429 waits for its ``Retry-After``; 5xx, timeouts,
refused connections and non-JSON bodies (a proxy's HTML 502) back off exponentially with
jitter. What is left is one small error tree for the actors (``workers.nylas_failures``):
``NylasRejected`` (do not retry), ``NylasUnavailable`` (retry later), ``NylasRateLimited``
(retry after a known delay, through the queue rather than by blocking a worker thread).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import requests
from nylas.models.errors import AbstractNylasApiError, NylasOAuthError
from prometheus_client import Counter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from workers.grant_limits import GrantLimiter
from workers.nylas_failures import (
    JITTER_SOURCE,
    NylasCodeRejected,
    NylasError,
    NylasMalformedResponse,
    NylasNotFound,
    NylasRateLimited,
    NylasRejected,
    NylasUnavailable,
    RetryPolicy,
    is_transient,
    outcome_of,
    retry_after_of,
    wait_seconds,
)

T = TypeVar("T")

# The package's logger, so that records keep the name they had before the package was split.
logger = logging.getLogger("workers.nylas_client")

NYLAS_API_CALLS = Counter(
    "crmsync_nylas_api_calls_total",
    "HTTP attempts against the Nylas API, by operation and outcome (status code or failure).",
    ["operation", "outcome"],
)


class RetryLoop:
    """The retry policy and per-grant limits every call of the gateway runs under."""

    def __init__(self, *, policy: RetryPolicy | None, limiter: GrantLimiter | None) -> None:
        self._policy = policy or RetryPolicy()
        self._limiter = limiter

    def _retry(
        self,
        operation: str,
        grant_id: str,
        attempt: Callable[[], T],
        retryable: Callable[[BaseException], bool] = is_transient,
    ) -> T:
        """Run ``attempt`` until it succeeds, fails for good, or ``retryable`` says stop."""
        policy = self._policy
        retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(retryable),
            sleep=policy.sleep,
            reraise=True,
            before_sleep=lambda state: _log_retry(operation, grant_id, state),
        )
        try:
            result: T = retrying(partial(self._within_limits, grant_id, attempt))
            return result
        except NylasError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise NylasUnavailable(
                f"Nylas {operation} for grant {grant_id} failed after "
                f"{retrying.statistics.get('attempt_number', 1)} attempt(s): "
                f"{outcome_of(exc)} ({exc})",
                cause=exc,
                retry_after_seconds=retry_after_of(exc, now=time.time()),
            ) from exc

    def _within_limits(self, grant_id: str, attempt: Callable[[], T]) -> T:
        """One attempt inside the grant's call limits (A3), when a limiter is set.

        Raises:
            GrantThrottled: no slot came free soon; never retried here (the queue waits).
        """
        if self._limiter is None:
            return attempt()
        with self._limiter.slot(grant_id):
            return attempt()

    def _attempt(self, operation: str, call: Callable[[], T]) -> T:
        """One HTTP attempt, counted; permanent failures become errors that are never retried."""
        try:
            result = call()
        except NylasError:
            raise  # already decided and counted by a nested attempt
        except AbstractNylasApiError as exc:
            NYLAS_API_CALLS.labels(operation, str(exc.status_code)).inc()
            permanent = self._permanent(operation, exc)
            if permanent is None:
                raise
            raise permanent from exc
        except Exception as exc:
            NYLAS_API_CALLS.labels(operation, outcome_of(exc)).inc()
            # JSONDecodeError is a ValueError too: transient is decided first.
            if is_transient(exc):
                raise
            if isinstance(exc, requests.exceptions.RequestException):
                raise NylasRejected(
                    f"Nylas {operation} could not be sent: {exc}", status_code=None, error_type=None
                ) from exc
            # AttributeError: an error body that is JSON but not an object (the SDK calls .get).
            if isinstance(exc, KeyError | ValueError | TypeError | AttributeError):
                raise NylasMalformedResponse(
                    f"Nylas {operation} answered without a field the SDK requires: {exc!r}",
                    status_code=None,
                    error_type=None,
                ) from exc
            raise
        NYLAS_API_CALLS.labels(operation, "200").inc()
        return result

    def _permanent(self, operation: str, exc: AbstractNylasApiError) -> NylasError | None:
        """The error to raise at once for ``exc``, or None when it is worth retrying.

        ``/connect/token`` refuses in the OAuth shape (``NylasOAuthError``, whose type is its
        ``error``); a 400 there is a refused code.
        """
        status = exc.status_code
        if status == 429:
            delay = retry_after_of(exc, now=time.time())
            if delay is not None and delay > self._policy.max_retry_after_seconds:
                return NylasRateLimited(
                    f"Nylas {operation} rate-limited; retry after {delay:g}s",
                    retry_after_seconds=delay,
                )
            return None
        if status >= 500:
            return None
        oauth = isinstance(exc, NylasOAuthError)
        error_type: str | None = exc.error if oauth else getattr(exc, "type", None)
        error_cls: type[NylasRejected] = NylasRejected
        if status == 404:
            error_cls = NylasNotFound
        elif oauth and status == 400:
            error_cls = NylasCodeRejected
        return error_cls(
            f"Nylas {operation} rejected with {status} {error_type}: {exc}",
            status_code=status,
            error_type=error_type,
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return wait_seconds(
            error,
            state.attempt_number,
            self._policy,
            draw=JITTER_SOURCE.random(),
            now=time.time(),
        )


def _log_retry(operation: str, grant_id: str, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    logger.warning(
        "Nylas call failed; retrying",
        extra={
            "operation": operation,
            "grant_id": grant_id,
            "attempt": state.attempt_number,
            "outcome": outcome_of(error) if error is not None else "unknown",
            "wait_seconds": state.upcoming_sleep,
        },
    )
