"""Hostile subscribers against the whole delivery path (X1; the review's H3 and M1): the API
that takes their URLs, the delivery actor on real workers and Redis, and the threads that
deliveries may hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from crmsync.worker import start_worker, start_worker_pools
from domain.outbound_addresses import LOOPBACK_NETWORKS
from storage.engine import transaction
from storage.tables import DeliveryRow
from tests.support.email_sync import AUTH
from tests.support.feed import record_change
from tests.support.harness import settings_for
from tests.support.hostile_subscriber import hostile_subscriber, trap
from tests.support.services import wait_for
from workers.actors.registry import declare_actors
from workers.context import WorkerContext
from workers.dispatch import Dispatcher
from workers.outbound_http import OutboundClient
from workers.queues import DELIVERY_QUEUE, NOTIFICATION_QUEUES

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# Literal addresses of every blocked range, and the spellings that used to crash the check.
NOT_ALLOWED = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.1/admin",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://127.0.0.1:6379/",
    "http://[::1]:6379/",
    "http://0.0.0.0:6379/",
    "http://0:6379/",
    "http://2130706433:6379/",
    "http://0x7f000001:6379/",
    "http://127.1:6379/",
    "http://[::ffff:127.0.0.1]:6379/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://localhost./",
    "http://api.localhost/",
]
INVALID = [
    "http://@127.0.0.1/",
    "http://127.0.0.1:99999/",
    "http://127.0.0.1:0/",
    "http://exa mple.com/",
    "http://[127.0.0.1]/",
    "http://[::1/",
    "http://[zz]/",
    "http://a]b/",
    "http://crm.example/ok\r\nX-Injected: 1",
    "http://256.1.1.1/",
]


@pytest.fixture
def strict_api(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[TestClient]:
    """The CRM API of a deployment that allows no network beyond public addresses."""
    runtime = make_runtime(settings_for(database_url, redis_namespace, webhook_allowed_networks=()))
    with TestClient(build_app(runtime=runtime)) as client:
        yield client


@sqlite_only
@pytest.mark.parametrize(
    ("url", "reason"),
    [(u, "url_not_allowed") for u in NOT_ALLOWED] + [(u, "invalid_subscription") for u in INVALID],
)
def test_a_url_deliveries_may_not_reach_is_refused_on_create_and_update(
    strict_api: TestClient, url: str, reason: str
) -> None:
    created = strict_api.post(
        "/v1/subscriptions", json={"url": "https://crm.example/hook"}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    one = f"/v1/subscriptions/{created.json()['id']}"

    for refused in (
        strict_api.post("/v1/subscriptions", json={"url": url}, headers=AUTH),
        strict_api.post("/v1/subscriptions", json={"url": url, "status": "disabled"}, headers=AUTH),
        strict_api.patch(one, json={"url": url}, headers=AUTH),
    ):
        assert (refused.status_code, refused.json()["error"]["reason"]) == (400, reason)
    assert strict_api.get(one, headers=AUTH).json()["url"] == "https://crm.example/hook"
    assert len(strict_api.get("/v1/subscriptions", headers=AUTH).json()["data"]) == 1


@dataclass
class World:
    client: TestClient
    runtime: Runtime

    def subscribe(self, url: str) -> str:
        created = self.client.post("/v1/subscriptions", json={"url": url}, headers=AUTH)
        assert created.status_code == 201, created.text
        subscription_id: str = created.json()["id"]
        return subscription_id

    def attempts(self, subscription_id: str, count: int) -> list[dict[str, Any]]:
        """The attempts of the subscription's one delivery, once there are ``count``."""

        def found() -> list[dict[str, Any]] | None:
            log = self.client.get(f"/v1/subscriptions/{subscription_id}/deliveries", headers=AUTH)
            data = log.json()["data"]
            attempts: list[dict[str, Any]] = data[0]["attempts"] if data else []
            return attempts if len(attempts) >= count else None

        attempts = wait_for(found, what=f"{count} attempts to be recorded")
        assert attempts is not None
        return attempts


@pytest.fixture
def make_world(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[Callable[[OutboundClient], World]]:
    """crmsync whose API allows loopback and whose delivery workers use ``client``."""
    stoppers: list[Callable[[], None]] = []

    def make(client: OutboundClient) -> World:
        runtime = make_runtime(settings_for(database_url, redis_namespace))
        context = WorkerContext(
            engine=runtime.engine,
            delivery_schedule=(timedelta(milliseconds=50),),
            delivery_timeout_seconds=2.0,
            outbound=client,
        )
        declare_actors(runtime.broker, context)
        worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
        stoppers.append(worker.stop)
        actor = runtime.broker.get_actor(DELIVERY_QUEUE.actor_name)
        dispatcher = Dispatcher(context, actor.send, interval=timedelta(milliseconds=50))
        dispatcher.start()
        stoppers.append(dispatcher.stop)
        api = TestClient(build_app(runtime=runtime))
        api.__enter__()
        stoppers.append(lambda: api.__exit__(None, None, None))
        return World(api, runtime)

    yield make
    for stop in reversed(stoppers):
        stop()


@sqlite_only
def test_a_name_that_resolves_to_a_blocked_address_is_refused_at_connect(
    make_world: Callable[[OutboundClient], World],
) -> None:
    # The API took the URL (it allows loopback); the workers allow nothing but public
    # addresses: the guard at connect time decides, after resolving localhost.
    world = make_world(OutboundClient())
    with trap() as internal:
        subscription_id = world.subscribe(f"http://localhost:{internal.port}/")
        with transaction(world.runtime.engine) as session:
            record_change(session, 0)

        attempts = world.attempts(subscription_id, 2)

        assert {(a["status_code"], a["error"]) for a in attempts} == {(None, "blocked_address")}
        assert internal.connections() == 0


def test_hostile_answers_are_recorded_clean_and_capped(
    make_world: Callable[[OutboundClient], World],
) -> None:
    # The review's H2 triggers, on SQLite and PostgreSQL: a NUL in a refusal, a huge wait.
    world = make_world(OutboundClient(allowed_networks=LOOPBACK_NETWORKS))
    with hostile_subscriber() as subscriber:
        nul = world.subscribe(subscriber.url("/nul"))
        wait = world.subscribe(subscriber.url("/retry-after-huge"))
        with transaction(world.runtime.engine) as session:
            record_change(session, 0)

        nul_attempt = world.attempts(nul, 1)[0]
        [wait_attempt] = world.attempts(wait, 1)  # the next one is a day away

    assert (nul_attempt["status_code"], nul_attempt["error"]) == (500, None)
    assert (wait_attempt["status_code"], wait_attempt["error"]) == (503, None)
    with Session(world.runtime.engine) as session:
        rows = {r.subscription_id: r for r in session.exec(select(DeliveryRow))}
    waiting = rows[wait]
    assert waiting.state == "pending"
    assert waiting.next_attempt_at is not None


@sqlite_only
def test_slow_subscribers_hold_only_the_delivery_threads(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> None:
    runtime = make_runtime(settings_for(database_url, redis_namespace))
    released = threading.Event()
    handled = threading.Event()
    slow_started: list[int] = []

    def slow_delivery(n: int) -> None:  # a subscriber dripping until its deadline
        slow_started.append(n)
        released.wait(20)

    def notification() -> None:
        handled.set()

    broker = runtime.broker
    slow = dramatiq.Actor(
        slow_delivery,
        broker=broker,
        actor_name=DELIVERY_QUEUE.actor_name,
        queue_name=DELIVERY_QUEUE.queue_name,
        priority=0,
        options={},
    )
    probe = dramatiq.Actor(
        notification,
        broker=broker,
        actor_name="probe_notification",
        queue_name=next(iter(NOTIFICATION_QUEUES.values())).queue_name,
        priority=0,
        options={},
    )
    pools = start_worker_pools(runtime, threads=1, delivery_threads=2, worker_timeout_ms=100)
    try:
        for n in range(6):
            slow.send(n)
        wait_for(lambda: len(slow_started) == 2, what="both delivery threads to be held")
        started = time.monotonic()
        probe.send()

        assert handled.wait(5), "a notification waited behind slow subscribers"
        assert time.monotonic() - started < 5
        assert len(slow_started) == 2  # deliveries never took more than their own threads
    finally:
        released.set()
        pools.stop()
