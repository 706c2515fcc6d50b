"""Outbound webhooks (S3) end to end on SQLite and PostgreSQL: subscriptions through the API,
the dispatcher and the delivery actor on real worker threads and the real Redis, and a real
local HTTP receiver whose signatures are checked with the ``standardwebhooks`` package."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlmodel import Session, select
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from crmsync.worker import start_worker
from domain.organizations import DEFAULT_ORG_ID
from domain.outbound_addresses import LOOPBACK_NETWORKS
from storage.engine import transaction
from storage.tables import DeliveryAttemptRow, DeliveryRow, SubscriptionRow
from tests.support.email_sync import AUTH
from tests.support.feed import record_change
from tests.support.harness import queue_lengths, settings_for
from tests.support.live_server import serve
from tests.support.services import wait_for
from workers.actors.registry import declare_actors
from workers.context import WorkerContext
from workers.dispatch import Dispatcher, dispatch_once
from workers.maintenance import Maintenance
from workers.outbound_http import OutboundClient
from workers.queues import DELIVERY_QUEUE


@dataclass
class Receiver:
    """A CRM endpoint: records every request, answers the statuses it is told, then 200."""

    url: str = ""
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append((dict(request.headers), body))
                status, headers = self.answers.pop(0) if self.answers else (200, {})
            return Response(status_code=status, headers=headers)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@dataclass
class Hooks:
    client: TestClient
    runtime: Runtime
    receiver: Receiver

    def subscribe(self, **document: Any) -> dict[str, Any]:
        response = self.client.post(
            "/v1/subscriptions", json={"url": self.receiver.url, **document}, headers=AUTH
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def record(self, *types: str) -> None:
        with transaction(self.runtime.engine) as session:
            for n, change_type in enumerate(types):
                record_change(session, n, change_type=change_type)

    def deliveries(self) -> list[DeliveryRow]:
        with Session(self.runtime.engine) as session:
            return list(session.exec(select(DeliveryRow).order_by(DeliveryRow.id)))  # type: ignore[arg-type]

    def settled(self, count: int) -> list[DeliveryRow]:
        def done() -> list[DeliveryRow] | None:
            rows = self.deliveries()
            return rows if len(rows) == count and all(r.state != "pending" for r in rows) else None

        rows = wait_for(done, what=f"{count} deliveries to settle")
        assert rows is not None
        return rows


SHORT = (timedelta(milliseconds=50), timedelta(milliseconds=50), timedelta(milliseconds=50))


@pytest.fixture
def make_hooks(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[Callable[..., Hooks]]:
    """Builds the world for a test: crmsync with a delivery schedule of its choosing."""
    stoppers: list[Callable[[], None]] = []

    def make(
        schedule: tuple[timedelta, ...] = SHORT, disable_after: timedelta = timedelta(days=5)
    ) -> Hooks:
        receiver = Receiver()
        server = serve(receiver.app())
        base = server.__enter__()
        stoppers.append(lambda: server.__exit__(None, None, None))
        receiver.url = f"{base}/hook"
        runtime = make_runtime(settings_for(database_url, redis_namespace))
        context = WorkerContext(
            engine=runtime.engine,
            delivery_schedule=schedule,
            disable_after=disable_after,
            # The receiver listens on loopback: allowed, as CRMSYNC_WEBHOOK_ALLOWED_NETWORKS would.
            outbound=OutboundClient(allowed_networks=LOOPBACK_NETWORKS),
        )
        declare_actors(runtime.broker, context)
        worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
        stoppers.append(worker.stop)
        actor = runtime.broker.get_actor(DELIVERY_QUEUE.actor_name)
        dispatcher = Dispatcher(context, actor.send, interval=timedelta(milliseconds=50))
        dispatcher.start()
        stoppers.append(dispatcher.stop)
        client = TestClient(build_app(runtime=runtime))
        client.__enter__()
        stoppers.append(lambda: client.__exit__(None, None, None))
        return Hooks(client, runtime, receiver)

    yield make
    for stop in reversed(stoppers):
        stop()


def test_subscribed_changes_arrive_signed_as_standard_webhooks(
    make_hooks: Callable[..., Hooks],
) -> None:
    hooks = make_hooks()
    subscription = hooks.subscribe(event_types=["email.*"], description="CRM sync")
    assert subscription["secret"].startswith("whsec_")

    hooks.record("email.stored", "contact.added", "email.hidden")

    [stored, hidden] = hooks.settled(2)
    assert (stored.state, hidden.state) == ("delivered", "delivered")
    assert len(hooks.receiver.received) == 2
    verifier = Webhook(subscription["secret"])
    for headers, body in hooks.receiver.received:
        event = verifier.verify(body, headers)
        assert headers["webhook-id"] == event["data"]["id"]
        assert event["type"] == event["data"]["type"]
        assert event["data"]["cursor"]
    types = sorted(verifier.verify(b, h)["type"] for h, b in hooks.receiver.received)
    assert types == ["email.hidden", "email.stored"]
    log = hooks.client.get(
        f"/v1/subscriptions/{subscription['id']}/deliveries", headers=AUTH
    ).json()["data"]
    assert [[a["status_code"] for a in d["attempts"]] for d in log] == [[200], [200]]


def test_a_500_and_a_429_are_retried_until_delivered(make_hooks: Callable[..., Hooks]) -> None:
    hooks = make_hooks()
    hooks.receiver.answers += [(500, {}), (429, {"Retry-After": "0"})]
    hooks.subscribe()

    hooks.record("email.stored")

    [delivery] = hooks.settled(1)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    ids = {headers["webhook-id"] for headers, _ in hooks.receiver.received}
    assert len(hooks.receiver.received) == 3
    assert len(ids) == 1  # the same message each time: receivers deduplicate on webhook-id


def test_a_400_is_not_retried(make_hooks: Callable[..., Hooks]) -> None:
    hooks = make_hooks()
    hooks.receiver.answers += [(400, {})]
    subscription = hooks.subscribe()

    hooks.record("email.stored")

    [delivery] = hooks.settled(1)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("failed", 1, 400)
    assert len(hooks.receiver.received) == 1
    status = hooks.client.get(f"/v1/subscriptions/{subscription['id']}", headers=AUTH).json()
    assert status["status"] == "active"
    assert status["failing_since"] is not None


def test_exhausted_deliveries_land_in_the_dead_letters(
    make_hooks: Callable[..., Hooks], redis_client: redis.Redis, redis_namespace: str
) -> None:
    hooks = make_hooks()
    hooks.receiver.answers += [(503, {})] * 10
    hooks.subscribe()

    hooks.record("email.stored")

    [delivery] = hooks.settled(1)
    assert (delivery.state, delivery.attempts) == ("exhausted", len(SHORT) + 1)
    wait_for(
        lambda: queue_lengths(redis_client, redis_namespace)["deliveries.XQ"] == 1,
        what="the delivery to be dead-lettered",
    )


def test_an_endpoint_failing_past_the_limit_is_disabled_with_the_reason(
    make_hooks: Callable[..., Hooks],
) -> None:
    hooks = make_hooks(
        schedule=(timedelta(milliseconds=200),) * 20, disable_after=timedelta(milliseconds=500)
    )
    hooks.receiver.answers += [(502, {})] * 100
    subscription = hooks.subscribe()

    hooks.record("email.stored")

    [delivery] = hooks.settled(1)
    assert delivery.state == "cancelled"
    status = hooks.client.get(f"/v1/subscriptions/{subscription['id']}", headers=AUTH).json()
    assert status["status"] == "disabled"
    assert "every delivery failed since" in status["disabled_reason"]
    assert "502" in status["disabled_reason"]
    hooks.record("email.stored")  # nothing more goes to a disabled endpoint
    queued: list[int] = []
    assert dispatch_once(WorkerContext(engine=hooks.runtime.engine), queued.append) == 0
    assert queued == []
    assert len(hooks.deliveries()) == 1

    enabled = hooks.client.patch(
        f"/v1/subscriptions/{subscription['id']}", json={"status": "active"}, headers=AUTH
    ).json()
    assert (enabled["status"], enabled["disabled_reason"], enabled["failing_since"]) == (
        "active",
        None,
        None,
    )


def test_a_rotated_secret_keeps_the_old_one_signing_for_the_overlap(
    make_hooks: Callable[..., Hooks],
) -> None:
    hooks = make_hooks()
    subscription = hooks.subscribe()
    old = subscription["secret"]
    path = f"/v1/subscriptions/{subscription['id']}/rotate-secret"

    rotated = hooks.client.post(path, json={"overlap_hours": 1}, headers=AUTH).json()
    hooks.record("email.stored")
    hooks.settled(1)
    headers, body = hooks.receiver.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(rotated["secret"]).verify(body, headers)

    final = hooks.client.post(path, json={"overlap_hours": 0}, headers=AUTH).json()
    hooks.record("email.updated")
    hooks.settled(2)
    headers, body = hooks.receiver.received[1]
    Webhook(final["secret"]).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(rotated["secret"]).verify(body, headers)


def test_subscriptions_are_managed_through_the_api(make_hooks: Callable[..., Hooks]) -> None:
    hooks = make_hooks()
    api = hooks.client
    created = hooks.subscribe(event_types=["email.stored"])
    one = f"/v1/subscriptions/{created['id']}"

    shown = api.get(one, headers=AUTH).json()
    assert "secret" not in shown
    assert [s["id"] for s in api.get("/v1/subscriptions", headers=AUTH).json()["data"]] == [
        created["id"]
    ]
    patched = api.patch(one, json={"event_types": ["contact.*"], "description": "x"}, headers=AUTH)
    assert patched.json()["event_types"] == ["contact.*"]
    for body in (
        {"url": "ftp://crm.example/hook"},
        {"url": "https://u:p@crm.example/h"},
        {"url": "https://crm.example", "event_types": ["bad type"]},
        {},
    ):
        refused = api.post("/v1/subscriptions", json=body, headers=AUTH)
        assert (refused.status_code, refused.json()["error"]["reason"]) == (
            400,
            "invalid_subscription",
        )
    bad_overlap = api.post(f"{one}/rotate-secret", json={"overlap_hours": -1}, headers=AUTH)
    assert bad_overlap.status_code == 400
    assert api.delete(one, headers=AUTH).status_code == 204
    assert api.get(one, headers=AUTH).status_code == 404
    assert api.get(f"{one}/deliveries", headers=AUTH).status_code == 404


def test_settled_deliveries_are_kept_as_long_as_their_changes_then_pruned_with_attempts(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> None:
    engine = make_runtime(settings_for(database_url, redis_namespace)).engine
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=31), now - timedelta(days=1)
    with transaction(engine) as session:
        session.add(
            SubscriptionRow(
                id="sub_retention",
                org_id=DEFAULT_ORG_ID,
                url="https://crm.example/hook",
                event_types=[],
                secret="whsec_x",
                status="active",
                position_txid=0,
                position_seq=0,
                created_at=old,
                updated_at=old,
            )
        )
        session.flush()
        for n, (state, created) in enumerate(
            [("delivered", old)] * 1_500
            + [("exhausted", old), ("pending", old), ("delivered", recent)]
        ):
            session.add(
                DeliveryRow(
                    subscription_id="sub_retention",
                    change_id=f"chg_{n}",
                    change_type="email.stored",
                    payload={"n": n},
                    state=state,
                    attempts=1,
                    created_at=created,
                    updated_at=created,
                )
            )
        session.flush()
        for delivery in session.exec(select(DeliveryRow)):
            assert delivery.id is not None
            session.add(
                DeliveryAttemptRow(
                    delivery_id=delivery.id, attempt=1, attempted_at=created, latency_ms=5
                )
            )
    maintenance = Maintenance(
        WorkerContext(engine=engine), change_retention=timedelta(days=30), prune_batch=500
    )

    maintenance.run_once()

    with Session(engine) as session:
        left = sorted((d.state, d.change_id) for d in session.exec(select(DeliveryRow)))
        attempts = len(session.exec(select(DeliveryAttemptRow)).all())
    assert left == [("delivered", "chg_1502"), ("pending", "chg_1501")]
    assert attempts == 2
