"""The CRM's side of a benchmark: registering reps and contacts, and following the change feed.

Through the public API only, as a CRM would: a stored email counts as done when its
``email.stored`` change is readable at ``/v1/changes``, not when a row appears in a table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson

from crmsync.bench.load import Connection, Request
from crmsync.bench.stack import API_TOKEN
from simulator.traffic import MailboxTraffic, SimMessage, SimRep

FEED_POLL_SECONDS = 0.02
FEED_PAGE = 1000


class ApiRefused(Exception):
    """Raised when the CRM API answers a setup call with an error."""


async def call(connection: Connection, method: str, path: str, document: Any = None) -> Any:
    """One CRM API call with the run's token; the decoded answer.

    Raises:
        ApiRefused: the answer is not a 2xx.
    """
    body = b"" if document is None else orjson.dumps(document)
    headers = (("Authorization", f"Bearer {API_TOKEN}"), ("Content-Type", "application/json"))
    status, answer = await connection.send(Request(method, path, body, headers))
    if not 200 <= status < 300:
        raise ApiRefused(f"{method} {path}: {status} {answer[:300]!r}")
    return orjson.loads(answer) if answer else None


async def register(
    connection: Connection, rep: SimRep, *, sync_from: datetime | None, with_grant: bool = True
) -> None:
    """Register the rep and replace its contacts ("My Contacts").

    With its mailbox (``grant_id``) as a CRM that knows the grant does, or without
    (``with_grant=False``), to be connected through hosted OAuth, which sets sync-from.
    """
    settings: dict[str, Any] = {"calendar_sync": False}
    if sync_from is not None:
        settings["sync_from"] = sync_from.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document: dict[str, Any] = {"email": rep.email, "provider": rep.provider, "settings": settings}
    if with_grant:
        document["grant_id"] = rep.grant_id
    await call(connection, "PUT", f"/v1/reps/{rep.rep_id}", document)
    contacts = {"contacts": [contact.to_api() for contact in rep.contacts]}
    await call(connection, "PUT", f"/v1/reps/{rep.rep_id}/contacts", contacts)


async def register_all(connection: Connection, traffic: MailboxTraffic) -> None:
    """Register every rep of ``traffic`` with its contacts, synced from before its messages."""
    sync_from = sync_from_for(traffic.now)
    for rep in traffic.reps:
        await register(connection, rep, sync_from=sync_from)


def sync_from_for(now: int) -> datetime:
    """A sync-from before every generated message (they are at most three days old)."""
    return datetime.fromtimestamp(now, UTC) - timedelta(days=30)


def email_key(message: SimMessage) -> str:
    """How a benchmark names a stored email: the rep and the message."""
    return f"{message.rep_id}/{message.message_id}"


class FeedFollower:
    """Reads ``email.stored`` changes as they become readable and notes when each was read.

    Polls every 20 ms without ``wait`` (the API's long-poll checks every 250 ms, too coarse
    for latencies of tens of milliseconds), so a latency is accurate to about 20 ms.
    """

    def __init__(self, connection: Connection, cursor: str) -> None:
        self._connection = connection
        self._cursor = cursor
        self.seen: dict[str, float] = {}  # email key -> perf_counter when first read

    @classmethod
    async def from_head(cls, connection: Connection) -> FeedFollower:
        """A follower starting after every change recorded so far."""
        latest = await call(connection, "GET", "/v1/changes/latest")
        return cls(connection, str(latest["cursor"]))

    async def follow(self) -> None:
        """Read the feed until cancelled."""
        while True:
            page = await call(
                self._connection,
                "GET",
                f"/v1/changes?types=email.stored&limit={FEED_PAGE}&cursor={quote(self._cursor)}",
            )
            now = time.perf_counter()
            for change in page["data"]:
                key = f"{change['rep_id']}/{change['payload']['message_id']}"
                self.seen.setdefault(key, now)
            self._cursor = str(page["next_cursor"])
            if not page["has_more"]:
                await asyncio.sleep(FEED_POLL_SECONDS)

    def has_all(self, keys: Collection[str]) -> bool:
        return all(key in self.seen for key in keys)
