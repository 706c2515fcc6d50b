"""Bodies of the simulator's control routes, read as hostile input: bounded, JSON objects only,
and every refusal a 4xx with ``{"error": {"type", "message"}}`` (the Nylas error shape), never
a 500.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

# Folder and consent bodies are a few fields; a message carries its body.
SMALL_BODY_BYTES = 16 * 1024
MESSAGE_BODY_BYTES = 1024 * 1024


class Refused(Exception):
    """Raised when a control request is refused; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def refusal(status: int, message: str) -> JSONResponse:
    """The answer to a refused control request."""
    error_type = "not_found_error" if status == 404 else "invalid_request_error"
    return JSONResponse({"error": {"type": error_type, "message": message}}, status_code=status)


async def json_object(
    request: Request, max_bytes: int = SMALL_BODY_BYTES, *, optional: bool = False
) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty ``optional`` body).

    Raises:
        Refused: 413 when the body is over ``max_bytes``, 400 when it is not a JSON object.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise Refused(413, f"the body must be at most {max_bytes} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_bytes:
            raise Refused(413, f"the body must be at most {max_bytes} bytes")
    if optional and not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise Refused(400, "the body must be JSON") from None
    if not isinstance(document, dict):
        raise Refused(400, "the body must be a JSON object")
    return document


Handler = Callable[[Request], Awaitable[JSONResponse]]


def refusing(handler: Handler) -> Handler:
    """``handler``, answering its :class:`Refused` as a 4xx."""

    @functools.wraps(handler)
    async def answer(request: Request) -> JSONResponse:
        try:
            return await handler(request)
        except Refused as refused:
            return refusal(refused.status, refused.message)

    return answer
