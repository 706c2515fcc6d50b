"""A rep's world for calendar-sync tests: the email-sync world with a calendar, a settable
clock for the fake Nylas, and the dispatcher that queues pending pushes.

The CRM writes action items through the API, real workers push them through the real SDK
to the fake Nylas API, the fake plays the rep editing and deleting events, and its
notifications (ours echoed back included) come in signed through the ingress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import Secret
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from crmsync.worker import declare, start_worker, worker_context
from simulator import notifications as sim
from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api
from tests.support.email_sync import EmailSyncWorld
from tests.support.fake_api import SettableClock
from tests.support.harness import settings_for
from tests.support.live_server import serve
from tests.support.services import wait_for
from workers.dispatch import CALENDAR_PUSHES, Dispatcher
from workers.queues import CALENDAR_PUSH_QUEUE, DELIVERY_QUEUE

GRANT = "grant-cal-ann"
REP = "rep-ann"
NOW = datetime.now(UTC).replace(microsecond=0)


class CalendarWorld(EmailSyncWorld):
    clock: SettableClock

    def put_item(self, item_id: str, *, changed_at: datetime, **fields: Any) -> dict[str, Any]:
        document = {
            "title": "Call Acme",
            "description": "Renewal",
            "location": "Phone",
            "start": (NOW + timedelta(days=2)).isoformat(),
            "end": (NOW + timedelta(days=2, hours=1)).isoformat(),
            "timezone": "Europe/Paris",
            "participants": ["buyer@acme.example"],
            "changed_at": changed_at.isoformat(),
            **fields,
        }
        response = self.api("PUT", f"/v1/reps/{REP}/action-items/{item_id}", json=document)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    def item(self, item_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.api("GET", f"/v1/reps/{REP}/action-items/{item_id}").json()
        return body

    def settled(self, item_id: str) -> dict[str, Any]:
        """The item once no push is pending for it."""

        def pushed() -> dict[str, Any] | None:
            item = self.item(item_id)
            pending = item["calendar"]["status"] in ("pending_push", "pending_delete")
            return None if pending else item

        settled = wait_for(pushed, what=f"{item_id} to be pushed")
        assert settled is not None
        return settled

    def event_of(self, item: dict[str, Any]) -> dict[str, Any] | None:
        event_id = item["calendar"]["event_id"]
        return self.fake.event(GRANT, event_id) if event_id else None

    def echoes(self) -> None:
        """Deliver the notifications Nylas sends about crmsync's own writes."""
        self.notify(*self.fake.drain_notifications())

    def notify_v2(self, *notifications: dict[str, Any]) -> None:
        """Deliver, as a v2 account is told of them, the changes of v3 event notifications:
        one v2 body of ids only each."""
        self.notify(*(sim.v2_body(sim.v2_event_delta(n)) for n in notifications))

    def writes(self) -> int:
        return sum(
            1
            for r in self.fake.requests
            if r.method in ("POST", "PUT", "DELETE") and "/events" in r.path
        )

    def event_reads(self) -> int:
        """How many single events crmsync asked the fake Nylas for."""
        return sum(1 for r in self.fake.requests if r.method == "GET" and "/events/" in r.path)


def change_types(world: CalendarWorld) -> list[str]:
    return [c.type for c in world.changes(entity="action_item")]


@contextmanager
def open_calendar_world(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[CalendarWorld]:
    """A calendar world for rep ``REP`` (grant ``GRANT``, Google), its workers and dispatcher
    running until the block ends."""
    clock = SettableClock(int(NOW.timestamp()))
    fake = FakeNylas(api_key="test-nylas-api-key", clock=clock)
    fake.add_mailbox(GRANT, "google", "ann@acme.example")
    with serve(build_nylas_api(fake)) as nylas_url:
        runtime = make_runtime(
            settings_for(
                database_url,
                redis_namespace,
                nylas_api_uri=nylas_url,
                nylas_api_key=Secret(fake.api_key),
            )
        )
        declare(runtime)
        worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
        dispatcher = Dispatcher(
            worker_context(runtime),
            runtime.broker.get_actor(DELIVERY_QUEUE.actor_name).send,
            [(CALENDAR_PUSHES, runtime.broker.get_actor(CALENDAR_PUSH_QUEUE.actor_name).send)],
            interval=timedelta(milliseconds=50),
        )
        dispatcher.start()
        try:
            with TestClient(build_app(runtime=runtime)) as client:
                world = CalendarWorld(client, runtime, fake)
                world.clock = clock
                world.put_rep(
                    REP,
                    email="ann@acme.example",
                    grant_id=GRANT,
                    provider="google",
                    settings={"sync_from": (NOW - timedelta(days=30)).isoformat()},
                )
                yield world
        finally:
            dispatcher.stop()
            worker.stop()
