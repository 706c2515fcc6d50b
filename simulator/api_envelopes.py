"""The shapes every answer of the fake Nylas API takes: one object, a page, an error.

The SDK decodes exactly these envelopes (NYLAS.md 6.6): ``{"request_id", "data"}`` for one
object, ``{"request_id", "data": [...], "next_cursor"}`` for a list, and ``{"request_id",
"error": {"type", "message"}}`` for every error, so every route and the API's gate build their
answers here rather than each its own. A list's cursor is the sort key of the last item served,
which keeps a page boundary in place when items are added or removed between pages.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from simulator.faults import Fault

Wire = dict[str, Any]

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


def new_request_id() -> str:
    """The ``request_id`` of one answer."""
    return str(uuid.uuid4())


def one(data: Wire) -> JSONResponse:
    """The envelope of a single object."""
    return JSONResponse({"request_id": new_request_id(), "data": data})


def many(data: list[Wire], next_cursor: str | None) -> JSONResponse:
    """The envelope of a list page; ``next_cursor`` is null on the last page."""
    return JSONResponse({"request_id": new_request_id(), "data": data, "next_cursor": next_cursor})


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
    body = {"request_id": new_request_id(), "error": detail}
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
