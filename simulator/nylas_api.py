"""A local stand-in for the Nylas v3 API, for the real ``nylas`` SDK to talk to over HTTP.

It serves the grants, folders and messages of a :class:`simulator.mailbox.FakeNylas` with the
exact envelopes the SDK decodes (NYLAS.md 6.6): ``{"request_id", "data"}`` for one object,
``{"request_id", "data": [...], "next_cursor"}`` for a list, and
``{"request_id", "error": {"type", "message"}}`` for every error, unknown routes included. It
accepts the SDK's query quirks (``True``/``False`` booleans, lists as repeated keys) and the
documented forms (lower-case booleans, comma-separated lists).

Before routing, each request is logged, may meet an injected fault (a status, a
``Retry-After``, a delay, an HTML body), and must carry ``Authorization: Bearer <api_key>``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
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
from starlette.types import ASGIApp, Receive, Scope, Send

from simulator.control import control_routes
from simulator.mailbox import (
    FakeNylas,
    Fault,
    MessageQuery,
    Wire,
    listed_folders,
    message_order,
)

DEFAULT_LIMIT = 50
DEFAULT_GRANT_LIMIT = 10
MAX_LIMIT = 200
MAX_ANY_EMAIL = 25

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
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The envelope of an error."""
    body = {"request_id": _request_id(), "error": {"type": error_type, "message": message}}
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
    )


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
        grant_id = request.path_params["grant_id"]
        grant = self.fake.grant(grant_id)
        if grant is None:
            raise ApiError(404, f"grant {grant_id} not found")
        return grant

    async def list_grants(self, request: Request) -> Response:
        """Grants page by ``limit`` (default 10) and ``offset``, not by cursor."""
        params = request.query_params
        limit = int_param_or(params, "limit", DEFAULT_GRANT_LIMIT, maximum=MAX_LIMIT)
        offset = int_param_or(params, "offset", 0)
        wanted = {key: params.get(key) for key in ("provider", "email", "grant_status")}
        grants = [
            g
            for g in self.fake.grants()
            if all(value is None or g.get(key) == value for key, value in wanted.items())
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
        grant = self._grant(request)
        params = request.query_params
        messages = self.fake.messages(grant["id"], message_query(params))
        page, cursor = paginate(
            messages, message_order, limit=page_limit(params), page_token=params.get("page_token")
        )
        return many(page, cursor)

    async def find_message(self, request: Request) -> Response:
        grant = self._grant(request)
        message_id = request.path_params["message_id"]  # already percent-decoded
        message = self.fake.message(grant["id"], message_id)
        if message is None:
            raise ApiError(404, f"message {message_id} not found")
        return one(message)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc.status, exc.error_type, exc.message)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, error_type_for(exc.status_code), str(exc.detail))


class _Gate:
    """ASGI middleware: log the request, serve a pending fault, then check the API key."""

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
        if fault is not None:
            if fault.delay_seconds > 0:
                await asyncio.sleep(fault.delay_seconds)
            if fault.status is not None:
                await fault_response(fault, fault.status)(scope, receive, send)
                return
        if not secrets.compare_digest(
            request.headers.get("authorization", ""), f"Bearer {self.fake.api_key}"
        ):
            response = error(401, "unauthorized", "Unauthorized: invalid or missing API key")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_nylas_api(fake: FakeNylas) -> Starlette:
    """The fake Nylas API over ``fake``, as an ASGI app (serve it with uvicorn)."""
    handlers = _Handlers(fake)
    grant = "/v3/grants/{grant_id}"
    routes = [
        Route("/v3/grants", handlers.list_grants),
        Route(grant, handlers.find_grant),
        Route(f"{grant}/folders", handlers.list_folders),
        Route(f"{grant}/folders/{{folder_id}}", handlers.find_folder),
        Route(f"{grant}/messages", handlers.list_messages),
        # :path, because a decoded message id may hold "/".
        Route(f"{grant}/messages/{{message_id:path}}", handlers.find_message),
        *control_routes(fake),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_Gate, fake=fake)],
        exception_handlers={ApiError: _on_api_error, HTTPException: _on_http_exception},
    )
