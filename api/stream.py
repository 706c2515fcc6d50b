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

from api.changes import POLL_INTERVAL_SECONDS, decode_position, expired_cursor, feed_types
from api.context import ApiContext
from api.errors import ApiError
from api.inputs import QUERY_NUMBER_DIGITS
from api.limits import Lease, token_of
from domain.text import whole_number
from storage.feed import FeedPosition, change_json, read_changes, retained_from

DEFAULT_HEARTBEAT_SECONDS = 15
BATCH = 200
RECONNECT_MS = 2000


def stream_routes(context: ApiContext) -> list[Route]:
    async def stream(request: Request) -> StreamingResponse:
        cursor = request.headers.get("last-event-id") or request.query_params.get("cursor")
        after = decode_position(cursor) if cursor else None
        heartbeat = _heartbeat(request)
        types = feed_types(request.query_params.get("types"))
        rep_id = request.query_params.get("rep_id")

        def start(session: Session) -> FeedPosition:
            oldest = retained_from(session)
            if after is not None and after < oldest:
                raise expired_cursor()
            return after or oldest

        position = await context.in_transaction(start)
        lease = context.limits.streams.acquire(token_of(request))

        def read(session: Session) -> tuple[list[dict[str, Any]], FeedPosition]:
            page = read_changes(session, position, BATCH, types=types, rep_id=rep_id)
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

    return [Route("/changes/stream", stream, methods=["GET"])]


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


def _heartbeat(request: Request) -> float:
    raw = request.query_params.get("heartbeat")
    if raw is None:
        return DEFAULT_HEARTBEAT_SECONDS
    heartbeat = whole_number(raw, QUERY_NUMBER_DIGITS)
    if heartbeat is None or not 1 <= heartbeat <= 60:
        raise ApiError(400, "invalid_heartbeat", "'heartbeat' must be whole seconds, 1 to 60")
    return float(heartbeat)
