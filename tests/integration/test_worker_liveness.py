"""The workers' liveness timer on the real Redis with real Dramatiq brokers and worker
threads (workers.liveness): a worker process that stopped beating has its fetched messages
put back on their queues, a live one keeps its own, and a busy one keeps beating."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.brokers.redis import RedisBroker

from tests.support.services import REDIS_URL, wait_for
from workers.broker import BrokerOptions, build_broker, redis_client
from workers.liveness import WorkerLiveness, beat_interval

QUEUE = "liveness.probe"
TIMEOUT_MS = 1_500


@pytest.fixture
def brokers(redis_namespace: str) -> Iterator[list[RedisBroker]]:
    made: list[RedisBroker] = []

    def make() -> RedisBroker:
        options = BrokerOptions(namespace=redis_namespace, heartbeat_timeout_ms=TIMEOUT_MS)
        broker = build_broker(redis_client(REDIS_URL), options)
        made.append(broker)
        return broker

    yield [make(), make()]
    for broker in made:
        broker.close()


def test_the_messages_of_a_worker_that_stopped_beating_come_back(
    brokers: list[RedisBroker], redis_namespace: str
) -> None:
    dead, alive = brokers
    handled: list[int] = []
    release = threading.Event()

    def probe(n: int) -> None:
        handled.append(n)
        release.wait(30)

    for broker in brokers:
        dramatiq.Actor(
            probe, broker=broker, actor_name="probe", queue_name=QUEUE, priority=0, options={}
        )
    # The first worker fetches three messages, and "dies": its threads hang, it never acks,
    # and nothing of it beats again (its consumers are stopped without giving them back).
    first = Worker(dead, queues={QUEUE}, worker_threads=3, worker_timeout=50)
    first.start()
    for n in range(3):
        dead.get_actor("probe").send(n)
    wait_for(lambda: len(handled) == 3, what="the first worker to take the three messages")
    acks = f"{redis_namespace}:__acks__.{dead.broker_id}.{QUEUE}"
    assert dead.client.scard(acks) == 3
    for thread in first.consumers.values():
        thread.running = False  # silenced, as a SIGKILL would

    liveness = WorkerLiveness(alive, [QUEUE])
    assert liveness.run_once() == 0  # the first worker beat moments ago: it is alive

    time.sleep(TIMEOUT_MS / 1000 + 0.2)
    assert liveness.run_once() == 3
    assert dead.client.scard(acks) == 0
    assert dead.client.llen(f"{redis_namespace}:{QUEUE}") == 3
    release.set()
    first.stop(timeout=1_000)


def test_a_live_worker_beats_even_when_every_thread_is_busy(
    brokers: list[RedisBroker], redis_namespace: str
) -> None:
    busy, other = brokers
    release = threading.Event()

    def stuck(n: int) -> None:
        release.wait(30)

    dramatiq.Actor(stuck, broker=busy, actor_name="stuck", queue_name=QUEUE, priority=0, options={})
    worker = Worker(busy, queues={QUEUE}, worker_threads=1, worker_timeout=50)
    worker.start()
    beating = WorkerLiveness(busy, [QUEUE])
    beating.start()
    try:
        for n in range(4):
            busy.get_actor("stuck").send(n)
        acks = f"{redis_namespace}:__acks__.{busy.broker_id}.{QUEUE}"
        wait_for(lambda: busy.client.scard(acks) >= 1, what="the worker to fetch")
        held = busy.client.scard(acks)

        time.sleep(2 * TIMEOUT_MS / 1000)

        assert WorkerLiveness(other, [QUEUE]).run_once() == 0
        assert busy.client.scard(acks) == held
    finally:
        beating.stop()
        release.set()
        worker.stop(timeout=1_000)


def test_a_worker_beats_twice_within_the_heartbeat_timeout() -> None:
    from datetime import timedelta

    assert beat_interval(timedelta(seconds=15)) == timedelta(seconds=5)
    assert beat_interval(timedelta(seconds=60)) == timedelta(seconds=5)
    assert beat_interval(timedelta(seconds=3)) == timedelta(seconds=1)
