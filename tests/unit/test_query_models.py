"""Query strings read through their models: what a CRM writes is read, anything else is
refused naming the parameter, and the document says the same (one declaration)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.requests import Request

from api.errors import ApiError
from api.feed_queries import ChangesQuery, StreamQuery
from api.queries import LargePageQuery, PageQuery, read_query
from api.reps import ActivityQuery


def request_with(query: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query})


def refusal(model: type[Any], query: bytes) -> tuple[str, str]:
    with pytest.raises(ApiError) as raised:
        read_query(request_with(query), model)
    assert raised.value.status == 400
    return raised.value.reason, raised.value.message


@pytest.mark.parametrize(
    ("model", "query", "expected"),
    [
        (PageQuery, b"", {"limit": 50, "cursor": None}),
        (PageQuery, b"limit=200&cursor=abc", {"limit": 200, "cursor": "abc"}),
        (LargePageQuery, b"", {"limit": 100, "cursor": None}),
        (LargePageQuery, b"limit=1000", {"limit": 1000, "cursor": None}),
        (
            ChangesQuery,
            b"types=email.*,+contact.stored&wait=0",
            {"types": ("email.*", "contact.stored"), "wait": 0},
        ),
        (StreamQuery, b"heartbeat=60", {"heartbeat": 60}),
        (
            ActivityQuery,
            b"from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00%2B01:00",
            {
                "since": datetime(2026, 11, 1, tzinfo=UTC),
                "until": datetime(2026, 11, 1, 23, tzinfo=UTC),
            },
        ),
    ],
)
def test_what_a_crm_writes_is_read(
    model: type[Any], query: bytes, expected: dict[str, Any]
) -> None:
    read = read_query(request_with(query), model)
    assert {name: getattr(read, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("model", "query", "reason", "says"),
    [
        (PageQuery, b"limit=0", "invalid_limit", "greater than or equal to 1"),
        (PageQuery, b"limit=201", "invalid_limit", "less than or equal to 200"),
        (PageQuery, b"limit=lots", "invalid_limit", "ASCII digits"),
        (PageQuery, "limit=\u00b2".encode(), "invalid_limit", "ASCII digits"),
        (PageQuery, "limit=\uff15".encode(), "invalid_limit", "ASCII digits"),
        (PageQuery, b"limit=" + b"9" * 5000, "invalid_limit", "ASCII digits"),
        (PageQuery, b"limit=-1", "invalid_limit", "ASCII digits"),
        (PageQuery, b"limit=1.5", "invalid_limit", "ASCII digits"),
        (ChangesQuery, b"wait=31", "invalid_wait", "less than or equal to 30"),
        (ChangesQuery, b"types=email;drop", "invalid_types", "comma-separated"),
        (ChangesQuery, b"types=" + b"a," * 21, "invalid_types", "at most 20"),
        (StreamQuery, b"heartbeat=0", "invalid_heartbeat", "greater than or equal to 1"),
        (ActivityQuery, b"from=yesterday", "invalid_from", "RFC 3339"),
        (ActivityQuery, b"to=2026-11-01T00:00:00", "invalid_to", "RFC 3339"),
    ],
)
def test_anything_else_is_refused_naming_the_parameter(
    model: type[Any], query: bytes, reason: str, says: str
) -> None:
    refused_reason, message = refusal(model, query)
    assert refused_reason == reason
    assert message.startswith(f"'{reason.removeprefix('invalid_')}' ")
    assert says in message


def test_a_required_parameter_left_out_is_named() -> None:
    from api.feed_queries import CursorAtQuery

    assert refusal(CursorAtQuery, b"") == ("invalid_at", "'at' is required")
