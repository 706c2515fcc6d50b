"""The gateway's core: the SDK client, grant-scoped calls, and the grants known to be alive.

Lookups answer None on 404, because a message that is gone is a normal state of a mailbox
(E5); but a grant-scoped 404 may be the grant's own, so the grant is looked up first, and a
grant gone at Nylas raises ``NylasGrantGone`` from every grant-scoped call
(``domain.not_found``). A grant found alive is taken as alive for 30 s (:class:`AliveGrants`),
so a run of deleted messages costs one lookup.

Every call runs under :class:`~workers.nylas_client.retries.RetryLoop`; the facets of
:class:`~workers.nylas_client.gateway.NylasGateway` build on the helpers here.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import nylas
import requests

from domain.not_found import NOT_FOUND, GrantLookup, Missing, what_is_missing
from workers.grant_limits import GrantLimiter
from workers.nylas_client.retries import RetryLoop, logger
from workers.nylas_client.wire import Wire, _path_id
from workers.nylas_failures import (
    NylasError,
    NylasGrantGone,
    NylasNotFound,
    NylasUnavailable,
    NylasWriteUncertain,
    RetryPolicy,
    is_transient,
    never_sent,
)

T = TypeVar("T")

# How long a grant found to exist is taken to exist, and how many such grants are kept.
GRANT_ALIVE_SECONDS = 30.0
MAX_ALIVE_GRANTS = 10_000


class AliveGrants:
    """Grants found to exist a moment ago, so that a run of 404s on a live mailbox (messages
    deleted before their notifications were handled) costs one lookup of the grant, not one
    each. Bounded: a flood of grants forgets the oldest. A grant deleted within
    :data:`GRANT_ALIVE_SECONDS` of a lookup is found gone by the first 404 after it (and by
    Nylas's ``grant.deleted``)."""

    def __init__(
        self,
        *,
        seconds: float = GRANT_ALIVE_SECONDS,
        most: int = MAX_ALIVE_GRANTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._most = most
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def saw(self, grant_id: str) -> None:
        with self._lock:
            self._seen.pop(grant_id, None)
            self._seen[grant_id] = self._clock()
            while len(self._seen) > self._most:
                del self._seen[next(iter(self._seen))]

    def recently(self, grant_id: str) -> bool:
        with self._lock:
            seen = self._seen.get(grant_id)
            return seen is not None and self._clock() - seen < self._seconds


class GatewayCore(RetryLoop, ABC):
    """The SDK client and the ways a call is run: grant-scoped, write-once, raw JSON, paged."""

    def __init__(
        self,
        api_key: str,
        api_uri: str,
        *,
        timeout_seconds: float = 30,
        policy: RetryPolicy | None = None,
        limiter: GrantLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The SDK appends paths as-is: a trailing slash would give "//v3/..." (NYLAS.md 6.6).
        self._client = nylas.Client(api_key, api_uri=api_uri.rstrip("/"), timeout=timeout_seconds)
        super().__init__(policy=policy, limiter=limiter)
        self._alive = AliveGrants(clock=clock)

    @abstractmethod
    def find_grant(self, grant_id: str) -> Wire | None:
        """The grant, or None when Nylas does not know it (``accounts``)."""

    def _all_pages(
        self,
        operation: str,
        grant_id: str,
        fetch: Callable[[str, str | None], tuple[list[Wire], str | None]],
    ) -> list[Wire]:
        """Every page of one listing, each page its own retried call."""
        items: list[Wire] = []
        page_token: str | None = None
        while True:
            page, page_token = self._call(operation, grant_id, partial(fetch, grant_id, page_token))
            items += page
            if page_token is None:
                return items

    def _message_list(self, grant_id: str, query: dict[str, Any]) -> tuple[list[Wire], str | None]:
        """One ``GET /messages`` page as the wire dicts Nylas sent, and its ``next_cursor``.

        Not ``messages.list``: decoding 200 messages into ``Message`` objects and back with
        ``to_dict`` costs about half a second, which would make a 10,000-message backfill spend
        most of its time in ``dataclasses_json`` (the request itself takes milliseconds).
        """
        path = f"/v3/grants/{_path_id(grant_id)}/messages"
        document = self._raw("GET", path, query=query)
        messages: list[Wire] = list(document["data"])
        return messages, document.get("next_cursor") or None

    def _raw(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Wire:
        """One request through the SDK's HTTP client, answered as the JSON Nylas sent.

        The SDK's transport (auth header, timeout, ``NylasApiError`` decoding) without its
        model round trip. Used where volume matters (listings) and for sends, so that a sent
        message and its later listing are the same dict.
        """
        document, _ = self._client.http_client._execute(
            method, path, query_params=query, request_body=body
        )
        if not isinstance(document, dict):
            raise TypeError(f"Nylas answered {type(document).__name__}, not an object")
        return document

    def _write_once(
        self, operation: str, grant_id: str, call: Callable[[], T], *, grant_scoped: bool = True
    ) -> T:
        """Run a write that must not happen twice: another attempt only after a failure that
        proves the request never reached Nylas (:func:`never_sent`). ``grant_scoped`` writes
        (all but the code exchange) raise :class:`NylasGrantGone` when their grant is gone.

        Raises:
            NylasWriteUncertain: a failure after which the write may have happened.
        """

        def retryable(error: BaseException) -> bool:
            return is_transient(error) and never_sent(error)

        attempt = partial(self._attempt, operation, call)
        try:
            if not grant_scoped:
                return self._retry(operation, grant_id, attempt, retryable)
            return self._grant_scoped(operation, grant_id, attempt, retryable)
        except NylasUnavailable as exc:
            if never_sent(exc.cause):
                raise
            raise NylasWriteUncertain(
                f"Nylas {operation} for grant {grant_id} may have happened: {exc}",
                cause=exc.cause,
                retry_after_seconds=exc.retry_after_seconds,
            ) from exc.cause

    def _find(self, operation: str, grant_id: str, call: Callable[[], Wire]) -> Wire | None:
        try:
            return self._call(operation, grant_id, call)
        except NylasNotFound:
            return None

    def _call(self, operation: str, grant_id: str, call: Callable[[], T]) -> T:
        """Run grant-scoped ``call`` under the retry policy; every failure leaves as a
        :class:`NylasError`, a missing grant as :class:`NylasGrantGone`."""
        return self._grant_scoped(operation, grant_id, partial(self._attempt, operation, call))

    def _grant_scoped(
        self,
        operation: str,
        grant_id: str,
        attempt: Callable[[], T],
        retryable: Callable[[BaseException], bool] = is_transient,
    ) -> T:
        """:meth:`_retry` for a call under ``/v3/grants/{grant_id}/``, whose 404 may be the
        grant's: then the grant is looked up, and :class:`NylasGrantGone` raised when it is
        gone (``domain.not_found``). A failing lookup raises its own (transient) failure."""
        try:
            return self._retry(operation, grant_id, attempt, retryable)
        except NylasNotFound as error:
            self._raise_if_grant_gone(operation, grant_id, NOT_FOUND, error)
            raise
        except NylasUnavailable as error:
            if isinstance(error.cause, requests.exceptions.JSONDecodeError):
                self._raise_if_grant_gone(operation, grant_id, None, error)
            raise

    def _raise_if_grant_gone(
        self, operation: str, grant_id: str, status: int | None, error: NylasError
    ) -> None:
        """Raise :class:`NylasGrantGone` if the failed call's grant no longer exists."""
        if what_is_missing(status, GrantLookup.NOT_ASKED) is not Missing.ASK_GRANT:
            return
        if self._alive.recently(grant_id):
            return  # found a moment ago: a 404 now is its message's, not a second lookup
        lookup = GrantLookup.NOT_FOUND if self.find_grant(grant_id) is None else GrantLookup.FOUND
        if lookup is GrantLookup.FOUND:
            self._alive.saw(grant_id)
        if what_is_missing(status, lookup) is not Missing.GRANT:
            return
        logger.warning(
            "the grant no longer exists at Nylas",
            extra={"operation": operation, "grant_id": grant_id},
        )
        raise NylasGrantGone(
            f"Nylas {operation}: grant {grant_id} no longer exists at Nylas ({error})",
            grant_id=grant_id,
            error_type=getattr(error, "error_type", None),
        ) from error
