"""Reading CRM API requests: JSON bodies within a size limit, and query parameters."""

from __future__ import annotations

from datetime import datetime

import orjson
from starlette.requests import Request

from api.errors import ApiError
from domain.times import parse_rfc3339

MAX_JSON_BYTES = 64 * 1024 * 1024  # a bulk replace of 200,000 contacts fits


async def json_body(request: Request, max_bytes: int = MAX_JSON_BYTES) -> object:
    """The request's JSON document.

    Raises:
        ApiError: 413 when larger than ``max_bytes``; 400 when it is not JSON.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "payload_too_large", f"the body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, "payload_too_large", f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from error


def query_limit(request: Request, default: int = 50, maximum: int = 200) -> int:
    """The ``limit`` query parameter, from 1 to ``maximum``."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid_limit", f"'limit' must be a whole number from 1 to {maximum}")
    return int(raw)


def query_time(request: Request, name: str) -> datetime | None:
    """An RFC 3339 time from the query string, or None when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    parsed = parse_rfc3339(raw)
    if parsed is None:
        raise ApiError(
            400, f"invalid_{name}", f"'{name}' must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z"
        )
    return parsed


def query_flag(request: Request, name: str) -> bool:
    """A boolean query parameter: ``true`` or ``false`` (absent is false)."""
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(400, f"invalid_{name}", f"'{name}' must be true or false")
    return raw == "true"
