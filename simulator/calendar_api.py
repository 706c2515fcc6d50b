"""The calendar routes of the fake Nylas API: a grant's calendars and their events.

Event ids arrive percent-encoded (``#``, ``/`` and ``?`` included) and are decoded before
lookup, and a calendar id may hold ``/`` once decoded, so these routes take the rest of the
path. Every event route names its ``calendar_id``, as Nylas requires; writes answer what Nylas
answers and queue the notification it would send (``simulator.calendar``), and
``notify_participants`` is checked but no invitation is sent.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.api_envelopes import ApiError, many, new_request_id, one, paginate
from simulator.api_requests import (
    bool_param,
    event_query,
    json_object,
    page_limit,
    required_param,
)
from simulator.calendar import event_order
from simulator.grants_api import GRANT_PATH, caller_grant
from simulator.mailbox import FakeNylas


class _CalendarHandlers:
    """The calendars and events endpoints, over one :class:`FakeNylas`."""

    def __init__(self, fake: FakeNylas) -> None:
        self.fake = fake

    async def list_calendars(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        params = request.query_params
        page, cursor = paginate(
            self.fake.calendars(grant["id"]),
            lambda c: (c["id"],),
            limit=page_limit(params),
            page_token=params.get("page_token"),
        )
        return many(page, cursor)

    async def find_calendar(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        calendar_id = request.path_params["calendar_id"]
        calendar = self.fake.calendar(grant["id"], calendar_id)
        if calendar is None:
            raise ApiError(404, f"calendar {calendar_id} not found")
        return one(calendar)

    async def list_events(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        params = request.query_params
        calendar_id = required_param(params, "calendar_id")
        query = event_query(params)
        if self.fake.calendar(grant["id"], calendar_id) is None:
            raise ApiError(404, f"calendar {calendar_id} not found")
        events = self.fake.events(grant["id"], calendar_id, query)
        page, cursor = paginate(
            events, event_order, limit=page_limit(params), page_token=params.get("page_token")
        )
        return many(page, cursor)

    async def find_event(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        calendar_id = required_param(request.query_params, "calendar_id")
        event_id = request.path_params["event_id"]  # already percent-decoded
        event = self.fake.event(grant["id"], event_id)
        calendar = self.fake.calendar(grant["id"], calendar_id)
        if event is None or calendar is None or event["calendar_id"] != calendar["id"]:
            raise ApiError(404, f"event {event_id} not found in calendar {calendar_id}")
        return one(event)

    async def create_event(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        params = request.query_params
        calendar_id = required_param(params, "calendar_id")
        bool_param(params, "notify_participants")  # checked; the fake sends no invitations
        body = await json_object(request)
        return one(self.fake.api_create_event(grant["id"], calendar_id, body))

    async def update_event(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        params = request.query_params
        calendar_id = required_param(params, "calendar_id")
        bool_param(params, "notify_participants")
        body = await json_object(request)
        event_id = request.path_params["event_id"]
        return one(self.fake.api_update_event(grant["id"], event_id, calendar_id, body))

    async def destroy_event(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        params = request.query_params
        calendar_id = required_param(params, "calendar_id")
        bool_param(params, "notify_participants")
        self.fake.api_destroy_event(grant["id"], request.path_params["event_id"], calendar_id)
        return JSONResponse({"request_id": new_request_id()})


def calendar_routes(fake: FakeNylas) -> list[Route]:
    """A grant's ``/calendars`` and ``/events`` over ``fake``."""
    handlers = _CalendarHandlers(fake)
    grant = GRANT_PATH
    return [
        # :path, because a calendar id may hold "/" once decoded, and so may an event id.
        Route(f"{grant}/calendars", handlers.list_calendars),
        Route(f"{grant}/calendars/{{calendar_id:path}}", handlers.find_calendar),
        Route(f"{grant}/events", handlers.list_events, methods=["GET"]),
        Route(f"{grant}/events", handlers.create_event, methods=["POST"]),
        Route(f"{grant}/events/{{event_id:path}}", handlers.find_event, methods=["GET"]),
        Route(f"{grant}/events/{{event_id:path}}", handlers.update_event, methods=["PUT"]),
        Route(f"{grant}/events/{{event_id:path}}", handlers.destroy_event, methods=["DELETE"]),
    ]
