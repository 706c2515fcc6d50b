"""Grouped enqueues on the real Redis: concurrent requests share round trips, lose nothing.

Through the batcher alone (many concurrent callers, duplicates among them, Redis down) and
through the HTTP ingress, where concurrent POSTs must each be answered with their own counts
while the Lua script runs fewer times than there are requests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import redis
from starlette.concurrency import run_in_threadpool

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.notifications import Notification, parse_document
from simulator import notifications as sim
from tests.support.harness import queue_lengths, settings_for
from tests.support.live_server import serve
from tests.support.nylas import signed
from tests.support.services import REDIS_URL
from webhooks.enqueue_batcher import EnqueueBatcher
from workers import broker
from workers.enqueue import EnqueueOutcome, NotificationEnqueuer
from workers.errors import QueueUnavailable

URL = "/webhooks/nylas"


class CountingEnqueuer:
    """The real enqueuer, counting its calls (each one Lua script call, one round trip)."""

    def __init__(
        self,
        enqueue: Callable[[Sequence[Notification]], list[EnqueueOutcome]],
        *,
        delay: float = 0.0,
    ) -> None:
        self._enqueue = enqueue
        self._delay = delay
        self._lock = threading.Lock()
        self.calls: list[int] = []

    def enqueue(self, notifications: Sequence[Notification]) -> list[EnqueueOutcome]:
        with self._lock:
            self.calls.append(len(notifications))
        time.sleep(self._delay)  # a slow Redis: more requests arrive meanwhile
        return self._enqueue(notifications)


def message(notification_id: str) -> Notification:
    [unit] = parse_document(sim.message_created("grant-1") | {"id": notification_id})
    return unit


def test_concurrent_callers_share_round_trips_and_each_gets_its_own_outcome(
    redis_namespace: str, redis_client: redis.Redis
) -> None:
    enqueuer = NotificationEnqueuer(
        broker.redis_client(REDIS_URL), namespace=redis_namespace, dedupe_ttl_seconds=60
    )
    counting = CountingEnqueuer(enqueuer.enqueue, delay=0.005)
    batcher = EnqueueBatcher(lambda batch: run_in_threadpool(counting.enqueue, batch))
    # 150 distinct notifications, each delivered twice by concurrent callers.
    names = [f"n-{i:03d}" for i in range(150)]

    async def deliver_all() -> list[list[EnqueueOutcome]]:
        return await asyncio.gather(*(batcher.enqueue([message(n)]) for n in names + names))

    answers = asyncio.run(deliver_all())

    assert [len(a) for a in answers] == [1] * 300
    assert [a[0].notification.notification_id for a in answers] == names + names
    queued = {name: 0 for name in names}
    for answer in answers:
        queued[answer[0].notification.notification_id] += answer[0].queued
    assert set(queued.values()) == {1}  # each id queued exactly once, whoever came first
    assert sum(counting.calls) == 300
    assert len(counting.calls) < 300 / 10  # grouped: far fewer round trips than callers
    lengths = queue_lengths(redis_client, redis_namespace)
    assert lengths["notifications.messages"] == 150


def test_redis_down_fails_every_caller_of_the_flush_with_queue_unavailable() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    enqueuer = NotificationEnqueuer(dead, namespace="unreachable", dedupe_ttl_seconds=60)
    batcher = EnqueueBatcher(lambda batch: run_in_threadpool(enqueuer.enqueue, batch))

    async def deliver_all() -> list[Any]:
        calls = [batcher.enqueue([message(f"n-{i}")]) for i in range(20)]
        return await asyncio.gather(*calls, return_exceptions=True)

    answers = asyncio.run(deliver_all())

    assert all(isinstance(a, QueueUnavailable) for a in answers)


def test_concurrent_posts_are_answered_each_with_their_counts_over_fewer_round_trips(
    sqlite_url: str,
    redis_namespace: str,
    redis_client: redis.Redis,
    make_runtime: Callable[[Settings], Runtime],
) -> None:
    runtime = make_runtime(settings_for(sqlite_url, redis_namespace))
    counting = CountingEnqueuer(runtime.enqueuer.enqueue, delay=0.02)
    runtime.enqueuer.enqueue = counting.enqueue
    documents = [sim.message_created("grant-1") for _ in range(24)]
    requests = [signed(d) for d in documents] + [signed(documents[0])]

    with serve(build_app(runtime=runtime)) as base_url, httpx2.Client(base_url=base_url) as http:

        def post(request: tuple[bytes, dict[str, str]]) -> dict[str, Any]:
            body, headers = request
            response = http.post(URL, content=body, headers=headers)
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            return answer

        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            answers = list(pool.map(post, requests))

    assert sum(a["queued"] for a in answers) == 24
    assert sum(a["duplicates"] for a in answers) == 1
    assert all(a["queued"] + a["duplicates"] == 1 for a in answers)
    assert len(counting.calls) < len(requests)
    assert queue_lengths(redis_client, redis_namespace)["notifications.messages"] == 24
