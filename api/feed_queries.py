"""The query strings of the change feed and its stream (S2): filters, cursor, and how long
to wait or how often to beat."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from api.queries import WHOLE_NUMBER, QueryModel, Time

MAX_WAIT_SECONDS = 30
MAX_TYPES = 20
DEFAULT_HEARTBEAT_SECONDS = 15
MAX_TYPE_LENGTH = 64


def _change_types(value: object) -> object:
    """``"email.stored, contact.*"`` as ``("email.stored", "contact.*")``."""
    if not isinstance(value, str):
        return value
    types = tuple(t.strip() for t in value.split(",") if t.strip())
    if len(types) > MAX_TYPES or not all(_is_type_or_family(t) for t in types):
        raise ValueError(
            "is a comma-separated list of change types (email.stored) or families "
            f"(email.*), at most {MAX_TYPES}"
        )
    return types


def _is_type_or_family(value: str) -> bool:
    name = value[:-2] if value.endswith(".*") else value
    return (
        bool(name) and len(name) <= MAX_TYPE_LENGTH and all(c.isalnum() or c in "._" for c in name)
    )


ChangeTypes = Annotated[
    tuple[str, ...],
    BeforeValidator(_change_types),
    WithJsonSchema(
        {
            "type": "string",
            "description": "comma-separated change types or families (email.*)",
        }
    ),
]


class FeedFilters(QueryModel):
    """Which changes to read: of these types, of this rep; all of them when left out."""

    types: ChangeTypes = Field((), description="comma-separated change types or families (email.*)")
    rep_id: str | None = Field(None, description="only changes of this rep")
    cursor: str | None = Field(
        None, description="next_cursor of the page before (default: the oldest retained)"
    )


class ChangesQuery(FeedFilters):
    limit: Annotated[int, Field(ge=1, le=1000), WHOLE_NUMBER] = 100
    wait: Annotated[int, Field(ge=0, le=MAX_WAIT_SECONDS), WHOLE_NUMBER] = Field(
        0, description="seconds an empty page waits for a change (a long-poll)"
    )


class StreamQuery(FeedFilters):
    heartbeat: Annotated[int, Field(ge=1, le=60), WHOLE_NUMBER] = Field(
        DEFAULT_HEARTBEAT_SECONDS, description="seconds of quiet before a comment line"
    )


class CursorAtQuery(QueryModel):
    at: Time = Field(description="the first change recorded at or after this time")
