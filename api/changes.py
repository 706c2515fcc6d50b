"""``/v1/changes``: everything crmsync stores, as a gap-free feed a CRM follows by cursor (S2).

``GET /v1/changes?cursor=C`` answers the changes after ``C`` in feed order and the cursor to
read from next; a reader that keeps the last cursor it was given never misses a change and
never sees one twice, whatever writers commit meanwhile (see ``storage/feed.py``). Without a
cursor the feed starts at the oldest change retained. ``wait=S`` long-polls: an empty answer
waits up to S seconds for a change before returning; a token holds a few long-polls at once
(``api.limits``), and one more is 429. A cursor older than the retention period is refused
with 410 and a way to resync, never silently served a gap.
"""

from __future__ import annotations

import asyncio
import time

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import org_of
from api.context import ApiContext
from api.errors import ApiError
from api.feed_queries import ChangesQuery, CursorAtQuery
from api.limits import token_of
from api.operations import Answer, Operation
from api.queries import read_query
from domain import answers
from domain.times import format_time
from storage.feed import (
    FeedPosition,
    change_json,
    cursor_of,
    head_position,
    position_at,
    position_from_cursor,
    read_changes,
    retained_from,
)

POLL_INTERVAL_SECONDS = 0.25

LIST_CHANGES = Operation(
    "GET",
    "/changes",
    "list_changes",
    "changes",
    "Changes after a cursor, in feed order; long-polls with wait",
    (Answer(200, "a page", answers.ChangePage),),
    query=ChangesQuery,
    refusals=(410, 429),
    description=(
        "Everything crmsync stores, as a gap-free feed: the changes after cursor in feed order, "
        "and the cursor to read from next; a reader that keeps the last cursor never misses a "
        "change nor sees one twice. Without a cursor, from the oldest retained. wait=S "
        "long-polls an empty page up to S seconds. A cursor older than the retention is 410 "
        "cursor_expired, with how to resync."
    ),
)
LATEST_CURSOR = Operation(
    "GET",
    "/changes/latest",
    "latest_cursor",
    "changes",
    "A cursor at the head",
    (Answer(200, "the cursor", answers.Cursor),),
    description="A cursor at the head: follow the feed from now on, without its history.",
)
CURSOR_AT = Operation(
    "GET",
    "/changes/cursor",
    "cursor_at",
    "changes",
    "A cursor before the first change recorded at or after a time",
    (Answer(200, "the cursor", answers.Cursor),),
    query=CursorAtQuery,
    description=(
        "A cursor just before the first change recorded at or after `at`: replay the feed from a "
        "time."
    ),
)
OPERATIONS = (LIST_CHANGES, LATEST_CURSOR, CURSOR_AT)


def decode_position(cursor: str) -> FeedPosition:
    """The position an API cursor names.

    Raises:
        ApiError: 400 when the cursor was not made by crmsync.
    """
    position = position_from_cursor(cursor)
    if position is None:
        raise ApiError(400, "invalid_cursor", "the cursor is not one crmsync gave")
    return position


def expired_cursor() -> ApiError:
    return ApiError(
        410,
        "cursor_expired",
        "changes after this cursor are no longer retained: take a fresh cursor from "
        "GET /v1/changes/latest, re-read the entities you follow, then follow the feed from "
        "that cursor",
        details={
            "resync": {
                "latest_cursor": "/v1/changes/latest",
                "reread": [
                    "/v1/reps/{rep_id}",
                    "/v1/reps/{rep_id}/contacts",
                    "/v1/emails?rep_id={rep_id}",
                ],
            }
        },
    )


def change_routes(context: ApiContext) -> list[Route]:
    async def changes(request: Request) -> JSONResponse:
        org_id = org_of(request)
        query = read_query(request, ChangesQuery)
        limit, wait, types, rep_id = query.limit, query.wait, list(query.types), query.rep_id
        after = decode_position(query.cursor) if query.cursor else None

        def read(session: Session) -> tuple[list[answers.Change], FeedPosition]:
            oldest = retained_from(session)
            if after is not None and after < oldest:
                raise expired_cursor()
            page = read_changes(
                session, after or oldest, limit, org_id=org_id, types=types, rep_id=rep_id
            )
            return [change_json(row) for row in page.changes], page.next_position

        # A long-poll holds one of its token's few slots while it waits (api.limits).
        lease = context.limits.long_polls.acquire(token_of(request)) if wait else None
        try:
            found, next_position = await context.in_transaction(read)
            deadline = time.monotonic() + wait
            while not found and time.monotonic() < deadline:
                await asyncio.sleep(POLL_INTERVAL_SECONDS)
                found, next_position = await context.in_transaction(read)
        finally:
            if lease is not None:
                lease.release()
        page: answers.ChangePage = {
            "data": found,
            "next_cursor": cursor_of(next_position),
            "has_more": len(found) == limit,
        }
        return JSONResponse(page)

    async def latest(request: Request) -> JSONResponse:
        """A cursor at the head: follow from now on, without the history."""
        position = await context.in_transaction(head_position)
        head: answers.Cursor = {"cursor": cursor_of(position)}
        return JSONResponse(head)

    async def cursor_at(request: Request) -> JSONResponse:
        """A cursor just before the first change recorded at or after ``at``."""
        at = read_query(request, CursorAtQuery).at
        position = await context.in_transaction(lambda session: position_at(session, at))
        found: answers.Cursor = {"cursor": cursor_of(position), "at": format_time(at)}
        return JSONResponse(found)

    return [LIST_CHANGES.route(changes), LATEST_CURSOR.route(latest), CURSOR_AT.route(cursor_at)]
