"""A local stand-in for the Nylas v3 API, for the real ``nylas`` SDK to talk to over HTTP.

It serves the grants, folders, messages, calendars and events of a
:class:`simulator.mailbox.FakeNylas` with the exact envelopes the SDK decodes (NYLAS.md 6.6):
``{"request_id", "data"}`` for one object, ``{"request_id", "data": [...], "next_cursor"}`` for
a list, and ``{"request_id", "error": {"type", "message"}}`` for every error, unknown routes
included (``/v3/connect/token`` refuses in the OAuth shape instead: see
:mod:`simulator.connect_api`, which also serves the hosted-auth redirect). It accepts the
SDK's query quirks (``True``/``False`` booleans, lists as repeated keys) and the documented
forms (lower-case booleans, comma-separated lists). Event ids arrive percent-encoded (``#``,
``/`` and ``?`` included) and are decoded before lookup. Writes (events, sends, grant
deletions) answer what Nylas answers (see :mod:`simulator.calendar`,
:mod:`simulator.sending`) and queue the notifications Nylas would send.

Before routing, each request is logged, may meet an injected fault (a status, a
``Retry-After``, a delay, an HTML body, a lost answer), and must carry
``Authorization: Bearer <api_key>`` of one of the fake's applications (except the two
hosted-auth endpoints; see :mod:`simulator.applications`). The key decides what the request
sees: its application's grants only (another application's grant is answered exactly as an
unknown one), and its application's connector credentials (:mod:`simulator.connectors_api`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.applications import APPLICATION_SCOPE_KEY, caller_of
from simulator.calendar import METADATA_QUERY_KEYS, CalendarError, EventQuery, event_order
from simulator.connect_api import OPEN_PATHS, connect_routes
from simulator.connectors_api import connector_routes
from simulator.control import control_routes
from simulator.faults import Fault
from simulator.folder_control import folder_control_routes
from simulator.folder_presets import listed_folders
from simulator.mailbox import FakeNylas, Wire
from simulator.message_index import MessageQuery, OrderKey, message_order
from simulator.notification_push import WebhookTarget, drain_routes
from simulator.sending import InvalidSend

DEFAULT_LIMIT = 50
DEFAULT_GRANT_LIMIT = 10
MAX_LIMIT = 200
MAX_ANY_EMAIL = 25
# Provider filters of GET /messages: Nylas refuses any of them beside metadata_pair.
MESSAGE_PROVIDER_FILTERS = (
    "any_email",
    "in",
    "received_after",
    "received_before",
    "unread",
    "starred",
    "subject",
    "from",
    "to",
    "cc",
    "bcc",
    "thread_id",
    "has_attachment",
    "search_query_native",
)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found_error",
    405: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type_for(status: int) -> str:
    """The Nylas error ``type`` that goes with an HTTP status."""
    if status >= 500:
        return "internal_error"
    return ERROR_TYPES.get(status, "invalid_request_error")


class ApiError(Exception):
    """Raised by a handler to answer with a Nylas error envelope."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_for(status)


# Envelopes -----------------------------------------------------------------------------------


def _request_id() -> str:
    return str(uuid.uuid4())


def one(data: Wire) -> JSONResponse:
    """The envelope of a single object."""
    return JSONResponse({"request_id": _request_id(), "data": data})


def many(data: list[Wire], next_cursor: str | None) -> JSONResponse:
    """The envelope of a list page; ``next_cursor`` is null on the last page."""
    return JSONResponse({"request_id": _request_id(), "data": data, "next_cursor": next_cursor})


def error(
    status: int,
    error_type: str,
    message: str,
    headers: dict[str, str] | None = None,
    provider_error: Wire | None = None,
) -> JSONResponse:
    """The envelope of an error; ``provider_error`` is the provider's own refusal, if any."""
    detail: Wire = {"type": error_type, "message": message}
    if provider_error is not None:
        detail["provider_error"] = provider_error
    body = {"request_id": _request_id(), "error": detail}
    return JSONResponse(body, status_code=status, headers=headers)


def fault_response(fault: Fault, status: int) -> Response:
    """What an injected fault answers: its own body if it has one, else a Nylas error."""
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    if fault.body is not None:
        return Response(
            fault.body, status_code=status, headers=headers, media_type=fault.content_type
        )
    error_type = fault.error_type or error_type_for(status)
    return error(status, error_type, f"injected fault ({status})", headers)


# Pagination: the cursor is the sort key of the last item served, so a page boundary stays put
# when items are added or removed between pages (no duplicates, no skips).


def encode_cursor(key: tuple[Any, ...]) -> str:
    """An opaque ``next_cursor`` for the position just after ``key``."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[Any, ...]:
    """The sort key a ``page_token`` stands for; :class:`ApiError` 400 when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, f"invalid page_token {token!r}") from exc
    if not isinstance(key, list):
        raise ApiError(400, f"invalid page_token {token!r}")
    return tuple(key)


def paginate(
    items: list[Wire],
    key: Callable[[Wire], tuple[Any, ...]],
    *,
    limit: int,
    page_token: str | None,
) -> tuple[list[Wire], str | None]:
    """One page of ``items`` (sorted by ``key``) after ``page_token``, and the next cursor."""
    if page_token:
        after = decode_cursor(page_token)
        try:
            items = [item for item in items if key(item) > after]
        except TypeError as exc:
            raise ApiError(400, f"page_token {page_token!r} is not for this list") from exc
    page = items[:limit]
    next_cursor = encode_cursor(key(page[-1])) if len(items) > limit else None
    return page, next_cursor


# Query parameters --------------------------------------------------------------------------


def int_param(params: QueryParams, name: str, *, maximum: int | None = None) -> int | None:
    """An integer query parameter, None when absent; 400 when not one or out of range."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if value < 0 or (maximum is not None and value > maximum):
        raise ApiError(400, f"{name} must be between 0 and {maximum}, got {value}")
    return value


def int_param_or(
    params: QueryParams, name: str, default: int, *, maximum: int | None = None
) -> int:
    """An integer query parameter, ``default`` when absent."""
    value = int_param(params, name, maximum=maximum)
    return default if value is None else value


def bool_param(params: QueryParams, name: str) -> bool | None:
    """A boolean query parameter, as ``true``/``false`` or the SDK's ``True``/``False``."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ApiError(400, f"{name} must be true or false, got {raw!r}")


def list_param(params: QueryParams, name: str) -> list[str]:
    """A list parameter, given as repeated keys, comma-separated values, or both."""
    return [part.strip() for raw in params.getlist(name) for part in raw.split(",") if part.strip()]


def message_query(params: QueryParams) -> MessageQuery:
    """The filters of a ``GET /messages`` request."""
    any_email = list_param(params, "any_email")
    if len(any_email) > MAX_ANY_EMAIL:
        raise ApiError(400, f"any_email accepts at most {MAX_ANY_EMAIL} addresses")
    return MessageQuery(
        any_email=tuple(any_email),
        in_folder=params.get("in") or None,
        received_after=int_param(params, "received_after"),
        received_before=int_param(params, "received_before"),
        unread=bool_param(params, "unread"),
        starred=bool_param(params, "starred"),
        metadata_pair=_metadata_pair(params, MESSAGE_PROVIDER_FILTERS),
    )


def message_cursor(token: str | None) -> OrderKey | None:
    """The sort key a messages ``page_token`` stands for; 400 when it is not one."""
    if not token:
        return None
    key = decode_cursor(token)
    if len(key) != 2 or not isinstance(key[0], int) or not isinstance(key[1], str):
        raise ApiError(400, f"page_token {token!r} is not for this list")
    return key[0], key[1]


def required_param(params: QueryParams, name: str) -> str:
    """A query parameter the endpoint cannot do without; 400 when absent or empty."""
    value = params.get(name)
    if not value:
        raise ApiError(400, f"{name} is required")
    return value


def metadata_pair_param(params: QueryParams) -> tuple[str, str] | None:
    """``metadata_pair=<key>:<value>`` of an events listing, on an indexed key (``key1``..
    ``key5``) only.

    Nylas refuses a metadata filter combined with provider filters other than ``calendar_id``.
    """
    return _metadata_pair(params, ("start", "end", "title", "description", "location"))


def _metadata_pair(
    params: QueryParams, provider_filters: tuple[str, ...]
) -> tuple[str, str] | None:
    """``metadata_pair``, refused beside any of ``provider_filters`` (Nylas docs, "Metadata")."""
    raw = params.get("metadata_pair")
    if raw is None:
        return None
    key, colon, value = raw.partition(":")
    if not colon or key not in METADATA_QUERY_KEYS:
        raise ApiError(
            400, f"metadata_pair must be <key>:<value> with key in {METADATA_QUERY_KEYS}"
        )
    mixed = [name for name in provider_filters if name in params]
    if mixed:
        raise ApiError(400, f"metadata_pair cannot be combined with {mixed}")
    return key, value


def event_query(params: QueryParams) -> EventQuery:
    """The filters of a ``GET /events`` request besides ``calendar_id``."""
    return EventQuery(
        start=int_param(params, "start"),
        end=int_param(params, "end"),
        expand_recurring=bool(bool_param(params, "expand_recurring")),
        master_event_id=params.get("master_event_id") or None,
        metadata_pair=metadata_pair_param(params),
    )


async def json_object(request: Request) -> Wire:
    """The request body, which must be a JSON object."""
    try:
        document = json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "the body is not valid JSON", "invalid_request_payload") from None
    if not isinstance(document, dict):
        raise ApiError(400, "the body must be a JSON object", "invalid_request_payload")
    return document


def page_limit(params: QueryParams) -> int:
    """``limit``: 50 by default, at most 200 (above is a 400, as the real API answers)."""
    limit = int_param_or(params, "limit", DEFAULT_LIMIT, maximum=MAX_LIMIT)
    if limit == 0:
        raise ApiError(400, "limit must be at least 1")
    return limit


# Handlers ----------------------------------------------------------------------------------


class _Handlers:
    """The endpoints, over one :class:`FakeNylas`."""

    def __init__(self, fake: FakeNylas) -> None:
        self.fake = fake

    def _grant(self, request: Request) -> Wire:
        """The path's grant, if it is one of the caller's application's; else the 404 of a
        grant that does not exist, word for word."""
        grant_id = request.path_params["grant_id"]
        grant = self.fake.grant(grant_id)
        if grant is None or not self.fake.applications.owns(caller_of(request.scope), grant_id):
            raise ApiError(404, f"grant {grant_id} not found")
        return grant

    async def list_grants(self, request: Request) -> Response:
        """Grants page by ``limit`` (default 10) and ``offset``, not by cursor."""
        params = request.query_params
        limit = int_param_or(params, "limit", DEFAULT_GRANT_LIMIT, maximum=MAX_LIMIT)
        offset = int_param_or(params, "offset", 0)
        wanted = {key: params.get(key) for key in ("provider", "email", "grant_status")}
        caller = caller_of(request.scope)
        grants = [
            g
            for g in self.fake.grants()
            if self.fake.applications.owns(caller, g["id"])
            and all(value is None or g.get(key) == value for key, value in wanted.items())
        ]
        return many(grants[offset : offset + limit], None)

    async def find_grant(self, request: Request) -> Response:
        return one(self._grant(request))

    async def list_folders(self, request: Request) -> Response:
        grant = self._grant(request)
        params = request.query_params
        folders = listed_folders(
            self.fake.folders(grant["id"]),
            provider=grant["provider"],
            parent_id=params.get("parent_id") or None,
            single_level=bool(bool_param(params, "single_level")),
        )
        page, cursor = paginate(
            folders,
            lambda f: (f["id"],),
            limit=page_limit(params),
            page_token=params.get("page_token"),
        )
        return many(page, cursor)

    async def find_folder(self, request: Request) -> Response:
        grant = self._grant(request)
        folder_id = request.path_params["folder_id"]
        for folder in self.fake.folders(grant["id"]):
            if folder["id"] == folder_id:
                return one(folder)
        raise ApiError(404, f"folder {folder_id} not found")

    async def list_messages(self, request: Request) -> Response:
        """Pages from the grant's sorted index: each costs its page, not the mailbox."""
        grant = self._grant(request)
        params = request.query_params
        query = message_query(params)
        after = message_cursor(params.get("page_token"))
        page, more = self.fake.message_page(
            grant["id"], query, limit=page_limit(params), after=after
        )
        return many(page, encode_cursor(message_order(page[-1])) if more else None)

    async def send_message(self, request: Request) -> Response:
        """``POST /messages/send`` with a JSON ``SendMessageRequest``.

        Multipart bodies (attachments of 3 MB or more) and raw MIME sends are not simulated.
        """
        grant = self._grant(request)
        if request.query_params.get("type") == "mime":
            raise ApiError(400, "raw MIME sends are not simulated")
        body = await json_object(request)
        return one(self.fake.api_send_message(grant["id"], body))

    async def destroy_grant(self, request: Request) -> Response:
        grant_id = self._grant(request)["id"]
        if not self.fake.delete_grant(grant_id):
            raise ApiError(404, f"grant {grant_id} not found")
        return JSONResponse({"request_id": _request_id()})

    async def find_message(self, request: Request) -> Response:
        grant = self._grant(request)
        message_id = request.path_params["message_id"]  # already percent-decoded
        message = self.fake.message(grant["id"], message_id)
        if message is None:
            raise ApiError(404, f"message {message_id} not found")
        return one(message)

    async def list_calendars(self, request: Request) -> Response:
        grant = self._grant(request)
        params = request.query_params
        page, cursor = paginate(
            self.fake.calendars(grant["id"]),
            lambda c: (c["id"],),
            limit=page_limit(params),
            page_token=params.get("page_token"),
        )
        return many(page, cursor)

    async def find_calendar(self, request: Request) -> Response:
        grant = self._grant(request)
        calendar_id = request.path_params["calendar_id"]
        calendar = self.fake.calendar(grant["id"], calendar_id)
        if calendar is None:
            raise ApiError(404, f"calendar {calendar_id} not found")
        return one(calendar)

    async def list_events(self, request: Request) -> Response:
        grant = self._grant(request)
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
        grant = self._grant(request)
        calendar_id = required_param(request.query_params, "calendar_id")
        event_id = request.path_params["event_id"]  # already percent-decoded
        event = self.fake.event(grant["id"], event_id)
        calendar = self.fake.calendar(grant["id"], calendar_id)
        if event is None or calendar is None or event["calendar_id"] != calendar["id"]:
            raise ApiError(404, f"event {event_id} not found in calendar {calendar_id}")
        return one(event)

    async def create_event(self, request: Request) -> Response:
        grant = self._grant(request)
        params = request.query_params
        calendar_id = required_param(params, "calendar_id")
        bool_param(params, "notify_participants")  # checked; the fake sends no invitations
        body = await json_object(request)
        return one(self.fake.api_create_event(grant["id"], calendar_id, body))

    async def update_event(self, request: Request) -> Response:
        grant = self._grant(request)
        params = request.query_params
        calendar_id = required_param(params, "calendar_id")
        bool_param(params, "notify_participants")
        body = await json_object(request)
        event_id = request.path_params["event_id"]
        return one(self.fake.api_update_event(grant["id"], event_id, calendar_id, body))

    async def destroy_event(self, request: Request) -> Response:
        grant = self._grant(request)
        params = request.query_params
        calendar_id = required_param(params, "calendar_id")
        bool_param(params, "notify_participants")
        self.fake.api_destroy_event(grant["id"], request.path_params["event_id"], calendar_id)
        return JSONResponse({"request_id": _request_id()})


async def _on_calendar_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CalendarError)
    error_type = exc.error_type or error_type_for(exc.status)
    return error(exc.status, error_type, exc.message, provider_error=exc.provider_error)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc.status, exc.error_type, exc.message)


async def _on_invalid_send(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidSend)
    return error(exc.status, error_type_for(exc.status), str(exc))


async def _discard(message: Message) -> None:
    """An ASGI ``send`` that drops the answer: the request happened, its answer is lost."""


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, error_type_for(exc.status_code), str(exc.detail))


class _Gate:
    """ASGI middleware: log the request, serve a pending fault, then check the API key.

    A fault with a status answers it after its delay, without doing the request (unless it is
    ``after_request``: then the request is done and its answer dropped). A slow fault (no
    status) does the request at once and holds the answer back: a client that times out has
    still changed the state, as with a slow provider, which is what makes a retried write
    risky.
    """

    def __init__(self, app: ASGIApp, fake: FakeNylas) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        method, path = request.method, scope["path"]
        params = request.query_params
        self.fake.record(method, path, {key: params.getlist(key) for key in params})
        fault = self.fake.take_fault(method, path)
        if fault is not None and fault.status is not None:
            if fault.after_request:
                await self._serve(request, scope, receive, _discard)
            await asyncio.sleep(fault.delay_seconds)
            await fault_response(fault, fault.status)(scope, receive, send)
            return
        if fault is not None and fault.delay_seconds > 0:
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self._serve(request, scope, receive, hold)
            await asyncio.sleep(fault.delay_seconds)
            for message in held:
                await send(message)  # dropped by the server if the client has gone
            return
        await self._serve(request, scope, receive, send)

    async def _serve(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        # Hosted auth is opened by a browser, and the token exchange authenticates with the
        # client secret in its body: neither needs the API key header.
        # The path below any mount point, compared whole: a suffix test would open
        # ``/v3/grants/x/messages/v3/connect/auth`` to callers without the key.
        if scope["path"].removeprefix(scope.get("root_path", "")) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        application = self.fake.applications.authenticate(
            request.headers.get("authorization", "").encode("latin-1")
        )
        if application is None:
            response = error(401, "unauthorized", "Unauthorized: invalid or missing API key")
            await response(scope, receive, send)
            return
        scope[APPLICATION_SCOPE_KEY] = application.client_id
        await self.app(scope, receive, send)


def build_nylas_api(fake: FakeNylas, webhook: WebhookTarget | None = None) -> Starlette:
    """The fake Nylas API over ``fake``, as an ASGI app (serve it with uvicorn).

    With a ``webhook``, draining the notifications delivers them there, signed
    (``simulator.notification_push``); without one the drain only returns them.
    """
    handlers = _Handlers(fake)
    grant = "/v3/grants/{grant_id}"
    routes = [
        Route("/v3/grants", handlers.list_grants),
        Route(grant, handlers.find_grant, methods=["GET"]),
        Route(grant, handlers.destroy_grant, methods=["DELETE"]),
        Route(f"{grant}/folders", handlers.list_folders),
        Route(f"{grant}/folders/{{folder_id}}", handlers.find_folder),
        Route(f"{grant}/messages", handlers.list_messages),
        Route(f"{grant}/messages/send", handlers.send_message, methods=["POST"]),
        # :path, because a decoded message id may hold "/".
        Route(f"{grant}/messages/{{message_id:path}}", handlers.find_message),
        # :path, because a calendar id may hold "/" once decoded, and so may an event id.
        Route(f"{grant}/calendars", handlers.list_calendars),
        Route(f"{grant}/calendars/{{calendar_id:path}}", handlers.find_calendar),
        Route(f"{grant}/events", handlers.list_events, methods=["GET"]),
        Route(f"{grant}/events", handlers.create_event, methods=["POST"]),
        Route(f"{grant}/events/{{event_id:path}}", handlers.find_event, methods=["GET"]),
        Route(f"{grant}/events/{{event_id:path}}", handlers.update_event, methods=["PUT"]),
        Route(f"{grant}/events/{{event_id:path}}", handlers.destroy_event, methods=["DELETE"]),
        *connect_routes(fake),
        *connector_routes(fake),
        *control_routes(fake),
        *folder_control_routes(fake),
        *drain_routes(fake, webhook),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_Gate, fake=fake)],
        exception_handlers={
            ApiError: _on_api_error,
            CalendarError: _on_calendar_error,
            InvalidSend: _on_invalid_send,
            HTTPException: _on_http_exception,
        },
    )
    # Nylas answers an unknown path 404; Starlette would redirect "/v3/grants/" to a URL
    # built from the request's Host header, which crmsync's embedded mode must not reflect.
    app.router.redirect_slashes = False
    return app
