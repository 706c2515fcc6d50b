"""``GET /v1/changes/stream``: the change feed as Server-Sent Events, resumable (S2).

Each event is one change: ``id`` is the cursor just after it, so a client that reconnects
with ``Last-Event-ID`` (browsers' EventSource do it by themselves) resumes exactly where it
stopped, with nothing lost and nothing repeated. The same filters as ``/v1/changes`` apply.
A comment line is sent every ``heartbeat`` seconds of quiet so proxies and clients can tell
an idle stream from a dead one. A token holds a few streams at once (``api.limits``): one
more is 429 with ``Retry-After``, and a stream's slot is free again as soon as it ends.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api.callers import org_of
from api.changes import POLL_INTERVAL_SECONDS, decode_position, expired_cursor
from api.context import ApiContext
from api.feed_queries import StreamQuery
from api.limits import Lease, token_of
from api.operations import Answer, Operation
from api.queries import read_query
from domain import answers
from storage.feed import FeedPosition, change_json, read_changes, retained_from

BATCH = 200
RECONNECT_MS = 2000

STREAM_CHANGES = Operation(
    "GET",
    "/changes/stream",
    "stream_changes",
    "changes",
    "The feed as Server-Sent Events; resume with Last-Event-ID",
    (Answer(200, "an endless event stream", {"type": "string"}, "text/event-stream"),),
    query=StreamQuery,
    refusals=(410, 429),
    description=(
        "The same feed as Server-Sent Events: each event's id is the cursor after it, so "
        "reconnecting with Last-Event-ID resumes exactly after the last event received; a "
        "comment line every heartbeat seconds of quiet."
    ),
)
OPERATIONS = (STREAM_CHANGES,)


def stream_routes(context: ApiContext) -> list[Route]:
    async def stream(request: Request) -> StreamingResponse:
        org_id = org_of(request)
        query = read_query(request, StreamQuery)
        cursor = request.headers.get("last-event-id") or query.cursor
        after = decode_position(cursor) if cursor else None
        heartbeat, types, rep_id = float(query.heartbeat), list(query.types), query.rep_id

        def start(session: Session) -> FeedPosition:
            oldest = retained_from(session)
            if after is not None and after < oldest:
                raise expired_cursor()
            return after or oldest

        position = await context.in_transaction(start)
        lease = context.limits.streams.acquire(token_of(request))

        def read(session: Session) -> tuple[list[answers.Change], FeedPosition]:
            page = read_changes(session, position, BATCH, org_id=org_id, types=types, rep_id=rep_id)
            return [change_json(row) for row in page.changes], page.next_position

        async def events() -> AsyncIterator[str]:
            nonlocal position
            yield f"retry: {RECONNECT_MS}\n\n"
            quiet_since = time.monotonic()
            while not await request.is_disconnected():
                found, position = await context.in_transaction(read)
                for change in found:
                    data = json.dumps(change, separators=(",", ":"))
                    yield f"id: {change['cursor']}\nevent: change\ndata: {data}\n\n"
                if found:
                    quiet_since = time.monotonic()
                    continue
                if time.monotonic() - quiet_since >= heartbeat:
                    yield ": heartbeat\n\n"
                    quiet_since = time.monotonic()
                await asyncio.sleep(POLL_INTERVAL_SECONDS)

        return LeasedStream(
            lease,
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [STREAM_CHANGES.route(stream)]


class LeasedStream(StreamingResponse):
    """A streaming response that gives its slot back however it ends: finished, cancelled by
    a disconnect, or failed while sending."""

    def __init__(self, lease: Lease, content: AsyncIterator[str], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.lease.release()
