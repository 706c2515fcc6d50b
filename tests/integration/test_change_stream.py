"""The live stream of the change feed (Server-Sent Events) over real HTTP: events carry the
changes with their cursors, a reconnect with Last-Event-ID resumes with nothing lost or
repeated, quiet streams send heartbeats, and filters and expired cursors behave as the feed's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import orjson
import pytest

from crmsync.app import build_app
from storage.engine import transaction
from storage.feed import prune_changes
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.feed import record_change
from tests.support.live_server import serve

NOW = datetime.now(UTC)


@pytest.fixture
def base_url(world: EmailSyncWorld) -> Iterator[str]:
    with serve(build_app(runtime=world.runtime)) as url:
        yield url


def record(world: EmailSyncWorld, *numbers: int, change_type: str = "email.stored") -> None:
    with transaction(world.runtime.engine) as session:
        for n in numbers:
            record_change(session, n, change_type=change_type, now=NOW)


def read_events(
    base_url: str, count: int, *, headers: dict[str, str] | None = None, **params: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Open the stream, read ``count`` change events (and the comments before them), close."""
    events: list[dict[str, Any]] = []
    comments: list[str] = []
    with (
        httpx2.Client(timeout=20) as client,
        client.stream(
            "GET",
            f"{base_url}/v1/changes/stream",
            params=params,
            headers={**AUTH, **(headers or {})},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(":"):
                comments.append(line)
            elif line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif "data" in fields:
                assert fields["event"] == "change"
                change = orjson.loads(fields["data"])
                assert fields["id"] == change["cursor"]
                events.append(change)
                fields = {}
                if len(events) == count:
                    break
            else:
                fields = {}
    return events, comments


def test_a_reconnect_with_last_event_id_resumes_without_loss_or_repeats(
    world: EmailSyncWorld, base_url: str
) -> None:
    record(world, 1, 2, 3, 4)
    first, _ = read_events(base_url, 2)
    assert [e["payload"]["n"] for e in first] == [1, 2]

    record(world, 5, 6)  # written while the client is away
    rest, _ = read_events(base_url, 4, headers={"Last-Event-ID": first[-1]["cursor"]})

    assert [e["payload"]["n"] for e in rest] == [3, 4, 5, 6]
    assert len({e["id"] for e in first + rest}) == 6


def test_a_quiet_stream_sends_heartbeats_then_the_next_change(
    world: EmailSyncWorld, base_url: str
) -> None:
    head = world.api("GET", "/v1/changes/latest").json()["cursor"]
    with (
        httpx2.Client(timeout=20) as client,
        client.stream(
            "GET",
            f"{base_url}/v1/changes/stream",
            params={"cursor": head, "heartbeat": "1", "types": "email.*"},
            headers=AUTH,
        ) as response,
    ):
        lines = response.iter_lines()
        seen: list[str] = []
        for line in lines:
            seen.append(line)
            if line == ": heartbeat":
                break
        record(world, 7, change_type="contact.added")  # filtered out
        record(world, 8)
        for line in lines:
            if line.startswith("data: "):
                assert orjson.loads(line[len("data: ") :])["payload"]["n"] == 8
                break
    assert seen[0] == "retry: 2000"


def test_the_stream_refuses_an_expired_cursor_and_a_missing_token(
    world: EmailSyncWorld, base_url: str
) -> None:
    record(world, 1, 2)
    old = world.api("GET", "/v1/changes", params={"limit": 1}).json()["next_cursor"]
    with transaction(world.runtime.engine) as session:
        prune_changes(session, NOW + timedelta(seconds=1), NOW)

    expired = httpx2.get(f"{base_url}/v1/changes/stream", params={"cursor": old}, headers=AUTH)
    anonymous = httpx2.get(f"{base_url}/v1/changes/stream")

    assert (expired.status_code, expired.json()["error"]["reason"]) == (410, "cursor_expired")
    assert anonymous.status_code == 401
