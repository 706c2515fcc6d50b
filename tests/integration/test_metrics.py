"""``/metrics`` after real traffic: signed notifications through the app, real Dramatiq worker
threads on the real Redis, outbound deliveries to a real HTTP receiver, and, in multiprocess
mode, values written by another process.

Counters are process-wide and other tests add to them, so the tests compare a scrape before
with a scrape after (deltas); gauges read from Redis are compared with what Redis holds.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings, SettingsError
from crmsync.worker import start_worker
from domain.outbound_addresses import LOOPBACK_NETWORKS
from domain.triggers import WorkKind
from simulator import notifications as sim
from storage.engine import transaction
from tests.support.email_sync import AUTH
from tests.support.feed import record_change
from tests.support.harness import queue_lengths, settings_for
from tests.support.live_server import serve
from tests.support.nylas import signed
from tests.support.services import REDIS_URL, wait_for
from tests.support.tcp_proxy import TcpProxy
from workers.actors.handled import Handled
from workers.actors.notifications import HANDLERS
from workers.actors.registry import declare_actors
from workers.context import WorkerContext
from workers.dispatch import Dispatcher
from workers.outbound_http import OutboundClient
from workers.queues import DELIVERY_QUEUE

URL = "/webhooks/nylas"
ROOT = Path(__file__).resolve().parents[2]
# Metrics do not depend on the database: SQLite only, to keep the file fast.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    """Every sample ``/metrics`` serves, keyed by sample name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when absent (a labelled counter not yet incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def has(samples: Samples, name: str) -> bool:
    return any(sample_name == name for sample_name, _ in samples)


class Delta:
    """Scrapes taken after a first one, read as differences from it."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.before = scrape(client)
        self.after = self.before

    def refresh(self) -> Delta:
        self.after = scrape(self.client)
        return self

    def __call__(self, name: str, **labels: str) -> float:
        return value(self.after, name, **labels) - value(self.before, name, **labels)


def actor(name: str, queue: str, outcome: str) -> dict[str, str]:
    return {"actor": name, "queue": queue, "outcome": outcome}


@sqlite_only
@pytest.mark.usefixtures("worker")
def test_notifications_and_actor_runs_are_counted_by_queue_actor_and_outcome(
    client: TestClient,
    redis_client: redis.Redis,
    redis_namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(context: object, notification: object) -> Handled:
        raise RuntimeError("the CRM database said no")

    monkeypatch.setitem(HANDLERS, WorkKind.GRANTS, broken)
    delta = Delta(client)
    first, second = sim.message_created("grant-1"), sim.message_created("grant-1")
    documents = [first, second, sim.event_deleted("grant-1", "ev-1", "cal-1")]
    documents += [sim.grant_expired("grant-1"), first]  # the last one is a duplicate

    for document in documents:
        body, headers = signed(document)
        assert client.post(URL, content=body, headers=headers).status_code == 200
    body, headers = signed(sim.message_created("grant-1"), secret="not-the-secret")
    assert client.post(URL, content=body, headers=headers).status_code == 401

    grants = "notifications.grants"
    # One attempt and the one retry the test settings allow, then the dead letters.
    wait_for(
        lambda: (
            delta.refresh()(
                "crmsync_actor_messages_total", **actor("handle_grants", grants, "dead_lettered")
            )
            == 1
            and delta(
                "crmsync_actor_messages_total",
                **actor("handle_messages", "notifications.messages", "succeeded"),
            )
            == 2
            and delta(
                "crmsync_actor_messages_total",
                **actor("handle_events", "notifications.events", "succeeded"),
            )
            == 1
        ),
        what="every message to be handled or dead-lettered",
    )

    # The ingress: queued by queue, the duplicate, the refusal.
    queued = "crmsync_notifications_queued_total"
    assert delta(queued, queue="notifications.messages") == 2
    assert delta(queued, queue="notifications.events") == 1
    assert delta(queued, queue=grants) == 1
    assert delta("crmsync_notifications_total", outcome="queued", trigger="message.created") == 2
    assert delta("crmsync_notifications_total", outcome="duplicate", trigger="message.created") == 1
    assert delta("crmsync_notification_requests_rejected_total", reason="bad_signature") == 1
    # The actors: every run timed, the failing handler retried once then dead-lettered.
    duration = "crmsync_actor_duration_seconds_count"
    assert delta(duration, actor="handle_messages", queue="notifications.messages") == 2
    assert delta(duration, actor="handle_grants", queue=grants) == 2
    assert delta("crmsync_actor_messages_total", **actor("handle_grants", grants, "retried")) == 1
    assert delta("crmsync_actor_messages_total", **actor("handle_grants", grants, "succeeded")) == 0
    assert delta("crmsync_actor_duration_seconds_sum", actor="handle_grants", queue=grants) > 0
    in_progress = "crmsync_actor_messages_in_progress"
    assert (
        value(delta.after, in_progress, actor="handle_messages", queue="notifications.messages")
        == 0
    )
    # The queues, read from Redis at the scrape: the dead letter is there.
    # The dead letter is written just after the run is counted (Dramatiq's nack).
    wait_for(
        lambda: (
            value(delta.refresh().after, "crmsync_queue_messages", queue=grants, state="dead") == 1
        ),
        what="the dead letter to show",
    )
    lengths = queue_lengths(redis_client, redis_namespace)
    assert lengths[grants + ".XQ"] == 1  # the gauge is what Redis holds
    assert value(delta.after, "crmsync_queue_messages", queue=grants, state="ready") == 0
    assert value(delta.after, "crmsync_queue_oldest_age_seconds", queue=grants, state="dead") > 0
    assert value(delta.after, "crmsync_queue_messages", queue="deliveries", state="dead") == 0
    assert value(delta.after, "crmsync_queue_scrape_ok") == 1


@sqlite_only
def test_queue_gauges_are_what_redis_holds_and_a_scrape_answers_without_redis(
    database_url: str,
    redis_namespace: str,
    redis_client: redis.Redis,
    make_runtime: Callable[[Settings], Runtime],
) -> None:
    redis_port = int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy("127.0.0.1", redis_port)
    proxy.start()
    runtime = make_runtime(
        settings_for(database_url, redis_namespace, redis_url=f"redis://127.0.0.1:{proxy.port}/0")
    )
    try:
        with TestClient(build_app(runtime=runtime)) as client:
            # No worker: what the ingress queues stays queued.
            for document in [sim.message_created("grant-1") for _ in range(3)]:
                body, headers = signed(document)
                assert client.post(URL, content=body, headers=headers).status_code == 200
            time.sleep(0.05)  # so that the oldest message has an age

            up = scrape(client)
            ready = redis_client.llen(f"{redis_namespace}:notifications.messages")
            assert ready == 3
            messages = "notifications.messages"
            assert value(up, "crmsync_queue_messages", queue=messages, state="ready") == ready
            assert value(up, "crmsync_queue_messages", queue=messages, state="dead") == 0
            age = value(up, "crmsync_queue_oldest_age_seconds", queue=messages, state="ready")
            assert 0.05 <= age < 60
            assert (
                value(up, "crmsync_queue_messages", queue="notifications.events", state="ready")
                == 0
            )
            assert value(up, "crmsync_queue_scrape_ok") == 1

            proxy.stop()
            down = scrape(client)
    finally:
        proxy.stop()

    assert value(down, "crmsync_queue_scrape_ok") == 0
    assert not has(down, "crmsync_queue_messages")
    assert not has(down, "crmsync_queue_oldest_age_seconds")
    # The process's own metrics are still served.
    assert has(down, "crmsync_notifications_total")


class Receiver:
    """A CRM endpoint answering the statuses it is given in turn, then 200."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.received = 0
        self.lock = threading.Lock()

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            await request.body()
            with self.lock:
                self.received += 1
                status = self.answers.pop(0) if self.answers else 200
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def delivery_world(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[tuple[TestClient, Runtime, Receiver, str]]:
    """crmsync with a fast delivery schedule, its dispatcher and workers, and a receiver that
    answers 503, then 400, then 200 to everything."""
    receiver = Receiver([503, 400])
    runtime = make_runtime(settings_for(database_url, redis_namespace))
    context = WorkerContext(
        engine=runtime.engine,
        delivery_schedule=(timedelta(milliseconds=50),) * 3,
        outbound=OutboundClient(allowed_networks=LOOPBACK_NETWORKS),  # the receiver's network
    )
    declare_actors(runtime.broker, context)
    worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
    delivery = runtime.broker.get_actor(DELIVERY_QUEUE.actor_name)
    dispatcher = Dispatcher(context, delivery.send, interval=timedelta(milliseconds=50))
    dispatcher.start()
    try:
        with serve(receiver.app()) as base, TestClient(build_app(runtime=runtime)) as client:
            yield client, runtime, receiver, f"{base}/hook"
    finally:
        dispatcher.stop()
        worker.stop()


@sqlite_only
def test_outbound_deliveries_are_counted_by_outcome(
    delivery_world: tuple[TestClient, Runtime, Receiver, str],
) -> None:
    client, runtime, receiver, url = delivery_world
    delta = Delta(client)
    created = client.post("/v1/subscriptions", json={"url": url}, headers=AUTH)
    assert created.status_code == 201, created.text

    with transaction(runtime.engine) as session:
        for n in range(3):
            record_change(session, n)

    # Whichever delivery meets which answer: one refused, one retried then delivered, and one
    # delivered at once.
    deliveries = "crmsync_webhook_deliveries_total"
    wait_for(
        lambda: (
            delta.refresh()(deliveries, outcome="delivered") == 2
            and delta(deliveries, outcome="refused") == 1
            and delta(deliveries, outcome="retry_scheduled") == 1
        ),
        what="every delivery to be settled",
    )
    assert delta(deliveries, outcome="exhausted") == 0
    assert receiver.received == 4
    runs = "crmsync_actor_messages_total"
    wait_for(
        lambda: delta.refresh()(runs, **actor("deliver_change", "deliveries", "succeeded")) == 3,
        what="the delivery actor's runs to be counted",
    )
    assert delta(runs, **actor("deliver_change", "deliveries", "deferred")) == 1


# Run in another process with PROMETHEUS_MULTIPROC_DIR set before prometheus_client is
# imported, as a `crmsync worker` process is: a real worker runs three messages
# through crmsync's broker (one fails with no retry left) and the ingress counts five queued.
WRITER = """
import dramatiq
from dramatiq import Worker

from webhooks import metrics as ingress
from workers.broker import BrokerOptions, build_broker, embedded_redis_client

broker = build_broker(embedded_redis_client(), BrokerOptions(namespace="mp"))
seen = []

def probe(n):
    seen.append(n)
    if n < 0:
        raise ValueError("no")

actor = dramatiq.Actor(
    probe, broker=broker, actor_name="mp_probe", queue_name="mp.probe", priority=0,
    options={"max_retries": 0},
)
worker = Worker(broker, worker_threads=1, worker_timeout=50)
worker.start()
for n in (1, 2, -1):
    actor.send(n)
import time
deadline = time.monotonic() + 20
while len(seen) < 3 and time.monotonic() < deadline:
    time.sleep(0.01)
worker.stop()
ingress.QUEUED.labels("notifications.messages").inc(5)
assert len(seen) == 3, seen
"""


@sqlite_only
def test_multiprocess_mode_serves_what_other_processes_wrote(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    environment = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    writer = subprocess.run(  # noqa: S603  (this interpreter, our own script)
        [sys.executable, "-c", WRITER],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert writer.returncode == 0, writer.stderr
    assert list(directory.glob("*.db")), "the writer wrote no metric files"

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    with TestClient(build_app(runtime=runtime)) as client:
        samples = scrape(client)

    probe = {"actor": "mp_probe", "queue": "mp.probe"}
    runs = "crmsync_actor_messages_total"
    assert value(samples, runs, **probe, outcome="succeeded") == 2
    assert value(samples, runs, **probe, outcome="dead_lettered") == 1
    assert value(samples, "crmsync_actor_duration_seconds_count", **probe) == 3
    assert value(samples, "crmsync_notifications_queued_total", queue="notifications.messages") == 5
    # The writer stopped its worker: its in-progress gauge no longer counts.
    assert value(samples, "crmsync_actor_messages_in_progress", **probe) == 0
    # Scrape-time collectors are served beside the aggregated files.
    assert value(samples, "crmsync_queue_scrape_ok") == 1
    assert has(samples, "crmsync_queue_messages")


# A worker process that is working on two messages when it is killed (SIGKILL: no clean-up).
BUSY_WRITER = """
import sys, threading, time
import dramatiq
from dramatiq import Worker

from workers.broker import BrokerOptions, build_broker, embedded_redis_client

broker = build_broker(embedded_redis_client(), BrokerOptions(namespace="mp"))
started = []

def stuck(n):
    started.append(n)
    threading.Event().wait()

actor = dramatiq.Actor(stuck, broker=broker, actor_name="mp_stuck", queue_name="mp.stuck",
                       priority=0, options={})
worker = Worker(broker, worker_threads=2, worker_timeout=50)
worker.start()
actor.send(1)
actor.send(2)
while len(started) < 2:
    time.sleep(0.01)
print("busy", flush=True)
threading.Event().wait()
"""


@sqlite_only
def test_a_killed_workers_in_progress_gauge_stops_counting(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    environment = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    writer = subprocess.Popen(  # noqa: S603  (this interpreter, our own script)
        [sys.executable, "-c", BUSY_WRITER],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"busy\n"
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
        with TestClient(build_app(runtime=runtime)) as client:
            stuck = {"actor": "mp_stuck", "queue": "mp.stuck"}
            gauge = "crmsync_actor_messages_in_progress"
            assert value(scrape(client), gauge, **stuck) == 2

            writer.kill()
            writer.wait(timeout=10)

            assert value(scrape(client), gauge, **stuck) == 0
            assert not list(directory.glob(f"gauge_live*_{writer.pid}.db"))
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=10)


def test_a_multiprocess_directory_that_does_not_exist_stops_start_up(
    sqlite_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = make_runtime(settings_for(sqlite_url, redis_namespace))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="PROMETHEUS_MULTIPROC_DIR"):
        build_app(runtime=runtime)
