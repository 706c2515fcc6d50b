"""What a request to the fake Nylas API asks for: its query parameters and its JSON body.

The fake accepts the SDK's query quirks (``True``/``False`` booleans, lists as repeated keys)
and the documented forms (lower-case booleans, comma-separated lists), and refuses what Nylas
refuses (a limit above 200, a metadata filter beside provider filters) with the 400 the real
API answers. Every route reads its request through these, so they all accept and refuse alike.
"""

from __future__ import annotations

import json

from starlette.datastructures import QueryParams
from starlette.requests import Request

from simulator.api_envelopes import ApiError, Wire, decode_cursor
from simulator.calendar import METADATA_QUERY_KEYS, EventQuery
from simulator.message_index import MessageQuery, OrderKey

DEFAULT_LIMIT = 50
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
