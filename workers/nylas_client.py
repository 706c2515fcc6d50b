"""The one place crmsync calls the Nylas API: the ``nylas`` SDK behind retries and plain dicts.

The SDK never retries and leaks ``requests`` exceptions (NYLAS.md 6.4), so every call goes
through one tenacity loop here (A3): a 429 waits for its ``Retry-After``; 5xx, timeouts,
refused connections and non-JSON bodies (a proxy's HTML 502) back off exponentially with
jitter. What is left is one small error tree for the actors (``workers.nylas_failures``):
``NylasRejected`` (do not retry), ``NylasUnavailable`` (retry later), ``NylasRateLimited``
(retry after a known delay, through the queue rather than by blocking a worker thread).
Lookups answer None on 404, because a message that is gone is a normal state of a mailbox
(E5); but a grant-scoped 404 may be the grant's own, so the grant is looked up first, and a
grant gone at Nylas raises ``NylasGrantGone`` from every grant-scoped call
(``domain.not_found``). A grant found alive is taken as alive for 30 s (:class:`AliveGrants`),
so a run of deleted messages costs one lookup.

Results are wire-shaped dicts (``"from"``, not ``from_``), so the rest of crmsync never
imports the SDK's models. Message listings and sends skip the models altogether and return
the JSON Nylas sent (through the SDK's own HTTP client): decoding a page of 200 messages into
dataclasses and back costs the SDK about half a second, the request a few milliseconds.

Calendar writes: updates (PUT) and deletes are idempotent, so they are retried like reads. A
create is not: a read timeout, a dropped connection or a 500/502/504 can come after the
provider made the event, and sending it again would make a second one. So a create is sent
again only after an answer that proves nothing was written (429, 503, or a connection that was
never made); otherwise it raises :class:`NylasWriteUncertain`. Given an ``idempotency_key``,
the create becomes safe to repeat, within the call and across calls: the key is stored in the
event's metadata (indexed key ``key4``), and before each POST the calendar is searched for it
(``metadata_pair``), so an event made by an earlier attempt is found, brought to the body by a
PUT, and returned instead of being made twice.

Sends and the hosted-auth code exchange are not idempotent at Nylas at all: a message sent twice
reaches the customer twice, and a code works once. So they are sent again only after a 429 or a
connection that was never made (unlike an event create, a 503 is not trusted here: nothing
finds a duplicate send afterwards); any other failure that may have reached Nylas raises
:class:`NylasWriteUncertain`. A send given an ``idempotency_key`` stores it in the message's
metadata (``key4``, as for events), so the caller can look for the sent message with
:meth:`NylasGateway.find_sent_by_key` before deciding to send again.

Hosted auth: :meth:`NylasGateway.auth_url` builds the URL the user's browser opens (no request),
:meth:`NylasGateway.exchange_code` turns the code Nylas redirected back with into a
:class:`GrantToken`; a code refused (unknown, used, expired, another redirect URI) raises
:class:`NylasCodeRejected`.
"""

from __future__ import annotations

import ast
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import nylas
import requests
from nylas.models.errors import (
    AbstractNylasApiError,
    NylasOAuthError,
)
from prometheus_client import Counter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from domain.not_found import NOT_FOUND, GrantLookup, Missing, what_is_missing
from workers.grant_limits import GrantLimiter
from workers.nylas_failures import (
    JITTER_SOURCE,
    NylasCodeRejected,
    NylasError,
    NylasGrantGone,
    NylasMalformedResponse,
    NylasNotFound,
    NylasRateLimited,
    NylasRejected,
    NylasUnavailable,
    NylasWriteUncertain,
    RetryPolicy,
    answered_without_writing,
    is_transient,
    never_sent,
    outcome_of,
    retry_after_of,
    wait_seconds,
)

T = TypeVar("T")
Wire = dict[str, Any]

MAX_ANY_EMAIL = 25  # the Messages API refuses more (NYLAS.md 3.1)
MAX_PAGE_SIZE = 200
# Where a create's idempotency key is kept: one of the five metadata keys Nylas indexes for
# ``metadata_pair`` queries (key5 is Nylas's own, for round-robin scheduling).
IDEMPOTENCY_METADATA_KEY = "key4"
MAX_METADATA_VALUE = 500
# How long a grant found to exist is taken to exist, and how many such grants are kept.
GRANT_ALIVE_SECONDS = 30.0
MAX_ALIVE_GRANTS = 10_000

logger = logging.getLogger(__name__)

NYLAS_API_CALLS = Counter(
    "crmsync_nylas_api_calls_total",
    "HTTP attempts against the Nylas API, by operation and outcome (status code or failure).",
    ["operation", "outcome"],
)


def normalise_attributes(value: object) -> list[str]:
    """Folder ``attributes`` as a list of strings.

    SDK 6.18 types them ``Optional[str]`` and hands back ``"['\\\\Sent']"`` (NYLAS.md 6.7).
    ``ast.literal_eval`` reads that back without evaluating code; a lone flag stays one flag.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return [text]
        if isinstance(value, str):
            return [value]
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value]
    return [str(value)]


# The gateway -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrantToken:
    """What a hosted-auth code exchange tells crmsync: the grant connected, and for whom."""

    grant_id: str
    email: str | None
    provider: str | None
    scope: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of ``GET /messages``; ``next_cursor`` is None on the last page."""

    messages: list[Wire]
    next_cursor: str | None


class NylasGateway:
    """Grants, folders, messages, calendars and events, retried by one policy, as wire dicts."""

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
        self._policy = policy or RetryPolicy()
        self._limiter = limiter
        self._alive = AliveGrants(clock=clock)

    def find_grant(self, grant_id: str) -> Wire | None:
        """The grant, or None when Nylas does not know it."""

        def call() -> Wire:
            wire: Wire = self._client.grants.find(_path_id(grant_id)).data.to_dict()
            return wire

        try:
            return self._retry("find_grant", grant_id, partial(self._attempt, "find_grant", call))
        except NylasNotFound:
            return None  # the grant's own path: a 404 can only mean the grant

    def find_message(self, grant_id: str, message_id: str) -> Wire | None:
        """The message, or None when it is gone (404): nothing to store, nothing failed."""

        def call() -> Wire:
            wire: Wire = self._client.messages.find(
                _path_id(grant_id), _path_id(message_id)
            ).data.to_dict()
            return wire

        return self._find("find_message", grant_id, call)

    def list_folders(self, grant_id: str) -> list[Wire]:
        """Every folder of the grant, however deep, each with ``attributes`` as a list.

        Microsoft lists only two levels (NYLAS.md 3.2), so any folder whose ``child_count``
        says it has children not yet seen is listed again with ``parent_id``, level by level.
        Other providers have no ``child_count`` and cost one listing.
        """
        found: dict[str, Wire] = {}
        walked: set[str] = set()
        pending: list[str | None] = [None]
        while pending:
            parent_id = pending.pop()
            query: dict[str, Any] = {"limit": MAX_PAGE_SIZE}
            if parent_id is not None:
                query["parent_id"] = parent_id
                walked.add(parent_id)
            for folder in self._all_folder_pages(grant_id, query):
                found.setdefault(folder["id"], folder)
            pending = [fid for fid in _incomplete_parents(found.values()) if fid not in walked]
        return list(found.values())

    def list_messages(
        self,
        grant_id: str,
        *,
        any_email: Sequence[str] | None = None,
        in_folder: str | None = None,
        received_after: int | None = None,
        received_before: int | None = None,
        limit: int = MAX_PAGE_SIZE,
        page_token: str | None = None,
    ) -> MessagePage:
        """One page of the grant's messages, newest first, filtered as asked.

        ``any_email`` matches From, To, CC or BCC; it is joined with commas here because the
        SDK would send repeated keys, which the API does not document (NYLAS.md 6.6).

        Raises:
            ValueError: more than 25 addresses, an empty list, or ``limit`` outside 1..200.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
        query: dict[str, Any] = {"limit": limit}
        if any_email is not None:
            query["any_email"] = _joined_addresses(any_email)
        optional = {
            "in": in_folder,
            "received_after": received_after,
            "received_before": received_before,
            "page_token": page_token,
        }
        query.update({key: value for key, value in optional.items() if value is not None})

        def call() -> MessagePage:
            messages, next_cursor = self._message_list(grant_id, query)
            return MessagePage(messages, next_cursor)

        return self._call("list_messages", grant_id, call)

    # Hosted auth and the grant lifecycle ----------------------------------------------------

    def auth_url(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        state: str,
        provider: str | None = None,
        login_hint: str | None = None,
    ) -> str:
        """The hosted-auth URL to send the user's browser to (``GET /v3/connect/auth``).

        Built locally by the SDK, no request made; Nylas redirects back to ``redirect_uri``
        with ``code`` and ``state``. Without ``provider``, Nylas lets the user choose.
        """
        # A fresh dict each time: the SDK writes response_type and access_type into it.
        config: dict[str, Any] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if provider is not None:
            config["provider"] = provider
        if login_hint is not None:
            config["login_hint"] = login_hint
        url: str = self._client.auth.url_for_oauth2(config)
        return url

    def exchange_code(self, *, client_id: str, redirect_uri: str, code: str) -> GrantToken:
        """The grant a hosted-auth ``code`` stands for (``POST /v3/connect/token``).

        The SDK sends the API key as the client secret. A code works once, so the exchange is
        repeated only when the first attempt surely never reached Nylas (see the module doc).

        Raises:
            NylasCodeRejected: the code is unknown, used, expired, or for another redirect URI.
            NylasWriteUncertain: the code may have been used up by an attempt whose answer was
                lost; only the user going through hosted auth again settles it.
        """

        def call() -> GrantToken:
            request = {"client_id": client_id, "redirect_uri": redirect_uri, "code": code}
            answer = self._client.auth.exchange_code_for_token(request)
            scope = answer.scope or ""
            return GrantToken(
                grant_id=str(answer.grant_id),
                email=answer.email,
                provider=answer.provider,
                scope=tuple(scope.split()) if isinstance(scope, str) else tuple(scope),
            )

        return self._write_once("exchange_code", "-", call, grant_scoped=False)

    def destroy_grant(self, grant_id: str) -> bool:
        """Delete the grant at Nylas (Nylas then sends ``grant.deleted``); False when it was
        already gone (404). Retried like a read: deleting twice leaves the same state."""

        def call() -> bool:
            self._client.grants.destroy(_path_id(grant_id))
            return True

        try:
            return self._retry(
                "destroy_grant", grant_id, partial(self._attempt, "destroy_grant", call)
            )
        except NylasNotFound:
            return False

    # Sending -----------------------------------------------------------------------------------

    def send_message(
        self,
        grant_id: str,
        *,
        to: Sequence[Mapping[str, str]],
        cc: Sequence[Mapping[str, str]] = (),
        bcc: Sequence[Mapping[str, str]] = (),
        subject: str,
        body: str,
        reply_to_message_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Wire:
        """Send a message from the grant's mailbox; the sent message, as a wire dict.

        Participants are ``{"email": ..., "name": ...}`` (name optional). A reply joins the
        thread of ``reply_to_message_id``. ``idempotency_key`` goes into the metadata (key
        ``key4``), for :meth:`find_sent_by_key`.

        Raises:
            NylasRejected: Nylas refused the message (no recipient, a bad address...).
            NylasWriteUncertain: the message may have gone out; do not send again before
                checking (with the key, :meth:`find_sent_by_key`).
            ValueError: a bad key, or ``metadata`` holding another value at the key's metadata
                key.
        """
        request: dict[str, Any] = {
            "to": [dict(p) for p in to],
            "subject": subject,
            "body": body,
        }
        for name, participants in (("cc", cc), ("bcc", bcc)):
            if participants:
                request[name] = [dict(p) for p in participants]
        if reply_to_message_id is not None:
            request["reply_to_message_id"] = reply_to_message_id
        if idempotency_key is not None:
            request["metadata"] = _with_key(metadata, idempotency_key)
        elif metadata:
            request["metadata"] = dict(metadata)

        def call() -> Wire:
            path = f"/v3/grants/{_path_id(grant_id)}/messages/send"
            document = self._raw("POST", path, body=request)
            wire: Wire = dict(document["data"])
            return wire

        return self._write_once("send_message", grant_id, call)

    def find_sent_by_key(self, grant_id: str, key: str) -> Wire | None:
        """The message :meth:`send_message` sent with idempotency key ``key``, or None.

        One request (``metadata_pair``, which Nylas allows with no other filter). At the real
        API the sent copy appears once the provider has filed it, so a None right after an
        uncertain send is not yet proof that nothing went out.
        """
        _check_key(key)

        def call() -> Wire | None:
            query = {"metadata_pair": f"{IDEMPOTENCY_METADATA_KEY}:{key}", "limit": MAX_PAGE_SIZE}
            found, _ = self._message_list(grant_id, query)
            return found[0] if found else None

        return self._call("find_sent_by_key", grant_id, call)

    # Calendars and events --------------------------------------------------------------------

    def list_calendars(self, grant_id: str) -> list[Wire]:
        """Every calendar of the grant (all pages)."""
        return self._all_pages("list_calendars", grant_id, self._calendar_page)

    def find_event(self, grant_id: str, event_id: str, calendar_id: str) -> Wire | None:
        """The event, or None when it is gone (404) or not in that calendar."""

        def call() -> Wire:
            query = {"calendar_id": calendar_id}
            wire: Wire = self._client.events.find(
                _path_id(grant_id), _path_id(event_id), query
            ).data.to_dict()
            return wire

        return self._find("find_event", grant_id, call)

    def find_event_by_key(
        self, grant_id: str, calendar_id: str, idempotency_key: str
    ) -> Wire | None:
        """The event that :meth:`create_event` made with ``idempotency_key``, or None."""
        _check_key(idempotency_key)
        call = partial(self._event_with_key, grant_id, calendar_id, idempotency_key)
        return self._call("find_event_by_key", grant_id, call)

    def create_event(
        self,
        grant_id: str,
        calendar_id: str,
        event: Mapping[str, Any],
        *,
        notify_participants: bool,
        idempotency_key: str | None = None,
    ) -> Wire:
        """Create ``event`` (a request body) in the calendar; the created event.

        Sent again only after answers that prove nothing was written, unless an
        ``idempotency_key`` makes repeating safe (see the module doc).

        Raises:
            NylasWriteUncertain: the event may or may not exist.
            ValueError: a bad key, or ``event`` holding another value at the key's metadata key.
        """
        body = dict(event)
        if idempotency_key is not None:
            body["metadata"] = _with_key(event.get("metadata"), idempotency_key)
        query = _write_query(calendar_id, notify_participants)
        uncertain = False

        def post() -> Wire:
            response = self._client.events.create(
                _path_id(grant_id), request_body=body, query_params=query
            )
            wire: Wire = response.data.to_dict()
            return wire

        def attempt() -> Wire:
            nonlocal uncertain
            if idempotency_key is not None:
                lookup = partial(self._event_with_key, grant_id, calendar_id, idempotency_key)
                found = self._attempt("find_event_by_key", lookup)
                if found is not None:
                    put = partial(self._put_event, grant_id, found["id"], body, query)
                    return self._attempt("update_event", put)
                uncertain = False  # no event holds the key: no earlier attempt made one
            try:
                return self._attempt("create_event", post)
            except Exception as exc:
                uncertain = uncertain or (is_transient(exc) and not answered_without_writing(exc))
                raise

        def retryable(error: BaseException) -> bool:
            if not is_transient(error):
                return False
            return idempotency_key is not None or answered_without_writing(error)

        try:
            return self._grant_scoped("create_event", grant_id, attempt, retryable)
        except NylasUnavailable as exc:
            if not uncertain:
                raise
            raise NylasWriteUncertain(
                f"Nylas create_event for grant {grant_id} may have created the event: {exc}",
                cause=exc.cause,
                retry_after_seconds=exc.retry_after_seconds,
            ) from exc.cause

    def update_event(
        self,
        grant_id: str,
        event_id: str,
        calendar_id: str,
        event: Mapping[str, Any],
        *,
        notify_participants: bool,
    ) -> Wire:
        """Replace the fields ``event`` holds (PUT: nested objects are replaced whole).

        Retried like a read: the same PUT twice leaves the same event.

        Raises:
            NylasNotFound: the event is gone.
        """
        query = _write_query(calendar_id, notify_participants)
        call = partial(self._put_event, grant_id, event_id, dict(event), query)
        return self._call("update_event", grant_id, call)

    def destroy_event(
        self, grant_id: str, event_id: str, calendar_id: str, *, notify_participants: bool
    ) -> bool:
        """Delete the event; False when it was already gone (a 404 is not an error here).

        A retried delete whose first attempt did delete also answers False.
        """
        query = _write_query(calendar_id, notify_participants)

        def call() -> bool:
            self._client.events.destroy(_path_id(grant_id), _path_id(event_id), query_params=query)
            return True

        try:
            return self._call("destroy_event", grant_id, call)
        except NylasNotFound:
            return False

    # Internals -------------------------------------------------------------------------------

    def _all_folder_pages(self, grant_id: str, query: dict[str, Any]) -> list[Wire]:
        """Every page of one folder listing, each page its own retried call."""
        return self._all_pages("list_folders", grant_id, partial(self._folder_page, query=query))

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

    def _folder_page(
        self, grant_id: str, page_token: str | None, *, query: dict[str, Any]
    ) -> tuple[list[Wire], str | None]:
        page_query = query if page_token is None else {**query, "page_token": page_token}
        response = self._client.folders.list(_path_id(grant_id), query_params=page_query)
        return [_folder_wire(f) for f in response.data], response.next_cursor or None

    def _calendar_page(
        self, grant_id: str, page_token: str | None
    ) -> tuple[list[Wire], str | None]:
        query: dict[str, Any] = {"limit": MAX_PAGE_SIZE}
        if page_token is not None:
            query["page_token"] = page_token
        response = self._client.calendars.list(_path_id(grant_id), query_params=query)
        return [c.to_dict() for c in response.data], response.next_cursor or None

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

    def _event_with_key(self, grant_id: str, calendar_id: str, key: str) -> Wire | None:
        """The first event of the calendar carrying ``key`` (one HTTP request)."""
        query = {
            "calendar_id": calendar_id,
            "metadata_pair": {IDEMPOTENCY_METADATA_KEY: key},
            "limit": MAX_PAGE_SIZE,
        }
        response = self._client.events.list(_path_id(grant_id), query_params=query)
        events: list[Wire] = [e.to_dict() for e in response.data]
        return events[0] if events else None

    def _put_event(self, grant_id: str, event_id: str, body: Wire, query: dict[str, str]) -> Wire:
        response = self._client.events.update(
            _path_id(grant_id), _path_id(event_id), request_body=body, query_params=query
        )
        wire: Wire = response.data.to_dict()
        return wire

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


def _path_id(object_id: str) -> str:
    """An id for a URL path: every grant, message and event id placed in a Nylas path goes
    through here. The SDK encodes none of them (NYLAS.md 6.2): ``#``, ``/`` and ``?`` would
    cut the path short, and ``../`` would reach another Nylas endpoint with the API key.

    Raises:
        NylasRejected: for an empty id, ``.`` or ``..``: dots are not encoded, and a URL
            reads these as its own structure. Nothing is sent.
    """
    if object_id in ("", ".", ".."):
        raise NylasRejected(
            f"{object_id!r} cannot be a path segment of the Nylas API",
            status_code=None,
            error_type=None,
        )
    return quote(object_id, safe="")


def _write_query(calendar_id: str, notify_participants: bool) -> dict[str, str]:
    # "true"/"false", not the SDK's True/False (NYLAS.md 6.6).
    return {"calendar_id": calendar_id, "notify_participants": str(notify_participants).lower()}


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_METADATA_VALUE:
        raise ValueError(f"an idempotency key is 1 to {MAX_METADATA_VALUE} characters")


def _with_key(metadata: object, key: str) -> dict[str, Any]:
    """``metadata`` plus the idempotency key; refuses to overwrite another value there."""
    _check_key(key)
    merged = dict(metadata) if isinstance(metadata, Mapping) else {}
    if merged.get(IDEMPOTENCY_METADATA_KEY, key) != key:
        raise ValueError(f"metadata {IDEMPOTENCY_METADATA_KEY!r} already holds another value")
    merged[IDEMPOTENCY_METADATA_KEY] = key
    return merged


def _joined_addresses(addresses: Sequence[str]) -> str:
    if isinstance(addresses, str):
        raise ValueError("any_email must be a sequence of addresses, not one string")
    cleaned = [address.strip() for address in addresses]
    if not cleaned or any(not a or "," in a for a in cleaned):
        raise ValueError("any_email needs 1 to 25 addresses, none empty or holding a comma")
    if len(cleaned) > MAX_ANY_EMAIL:
        raise ValueError(f"any_email accepts at most {MAX_ANY_EMAIL} addresses, got {len(cleaned)}")
    return ",".join(cleaned)


def _folder_wire(folder: Any) -> Wire:
    wire: Wire = folder.to_dict()
    wire["attributes"] = normalise_attributes(wire.get("attributes"))
    return wire


def _incomplete_parents(found: Iterable[Wire]) -> list[str]:
    """Ids of folders whose ``child_count`` is more than the children already listed."""
    folders = list(found)
    listed: dict[str, int] = {}
    for folder in folders:
        parent = folder.get("parent_id")
        if parent is not None:
            listed[parent] = listed.get(parent, 0) + 1
    return [f["id"] for f in folders if (f.get("child_count") or 0) > listed.get(f["id"], 0)]


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
