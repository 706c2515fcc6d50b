"""A grant's calendars and their events: reads, and writes that are never made twice.

Calendar writes: updates (PUT) and deletes are idempotent, so they are retried like reads. A
create is not: a read timeout, a dropped connection or a 500/502/504 can come after the
provider made the event, and sending it again would make a second one. So a create is sent
again only after an answer that proves nothing was written (429, 503, or a connection that was
never made); otherwise it raises :class:`NylasWriteUncertain`. Given an ``idempotency_key``,
the create becomes safe to repeat, within the call and across calls: the key is stored in the
event's metadata (indexed key ``key4``), and before each POST the calendar is searched for it
(``metadata_pair``), so an event made by an earlier attempt is found, brought to the body by a
PUT, and returned instead of being made twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from workers.nylas_client.core import GatewayCore
from workers.nylas_client.wire import (
    IDEMPOTENCY_METADATA_KEY,
    MAX_PAGE_SIZE,
    Wire,
    _check_key,
    _path_id,
    _with_key,
    _write_query,
)
from workers.nylas_failures import (
    NylasNotFound,
    NylasUnavailable,
    NylasWriteUncertain,
    answered_without_writing,
    is_transient,
)


class CalendarsFacet(GatewayCore):
    """The gateway's calendars and events."""

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

    def _calendar_page(
        self, grant_id: str, page_token: str | None
    ) -> tuple[list[Wire], str | None]:
        query: dict[str, Any] = {"limit": MAX_PAGE_SIZE}
        if page_token is not None:
            query["page_token"] = page_token
        response = self._client.calendars.list(_path_id(grant_id), query_params=query)
        return [c.to_dict() for c in response.data], response.next_cursor or None

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
