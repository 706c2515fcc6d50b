"""An unauthenticated scrape of ``/metrics`` against queues that hold thousands of large
messages, on the real Redis: the work per scrape is bounded whatever the queues hold.

Each queue's status reads its depths (counts) and the bodies of at most
:data:`~workers.queue_status.AGE_SAMPLE` messages of its ready list and of its dead letters,
from the head of each, for the oldest ages.
"""

from __future__ import annotations

import time
from typing import Any

import dramatiq
import pytest
import redis

from workers.deadletters import dead_letter_key
from workers.queue_status import AGE_SAMPLE, queue_status

QUEUE = "notifications.messages"
MESSAGES = 2_000
BODY_BYTES = 15_000  # a typical notification body
# A handful of bodies per queue, not a share of what it holds.
MAX_BODIES_PER_SCRAPE = 16


def fill(client: redis.Redis, namespace: str, first_at_ms: int) -> None:
    """``MESSAGES`` ready messages and as many dead letters, oldest first in line."""
    ready_key = f"{namespace}:{QUEUE}"
    dead_key = dead_letter_key(namespace, QUEUE)
    with client.pipeline(transaction=False) as pipeline:
        for n in range(MESSAGES):
            for state, key in (("ready", ready_key), ("dead", dead_key)):
                message = dramatiq.Message(
                    queue_name=QUEUE,
                    actor_name="handle_messages",
                    args=("x" * BODY_BYTES,),
                    kwargs={},
                    options={},
                    message_id=f"{state}-{n}",
                    message_timestamp=first_at_ms + n * 1000,
                )
                pipeline.hset(key + ".msgs", message.message_id, message.encode())
                if state == "ready":
                    pipeline.rpush(key, message.message_id)
                else:
                    pipeline.zadd(key, {message.message_id: first_at_ms + n * 1000})
        pipeline.execute()


def test_a_scrape_reads_a_bounded_number_of_bodies_however_deep_the_queues(
    redis_client: redis.Redis, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_at_ms = int(time.time() * 1000) - 3_600_000
    fill(redis_client, redis_namespace, first_at_ms)
    fetched: list[int] = []
    hmget = redis_client.hmget

    def counting_hmget(name: Any, keys: Any, *args: Any) -> Any:
        fetched.append(len(keys))
        return hmget(name, keys, *args)

    monkeypatch.setattr(redis_client, "hmget", counting_hmget)

    status = queue_status(redis_client, redis_namespace, QUEUE)

    assert (status.ready, status.dead_letters) == (MESSAGES, MESSAGES)
    assert fetched == [AGE_SAMPLE, AGE_SAMPLE]
    assert sum(fetched) <= MAX_BODIES_PER_SCRAPE
    assert status.oldest_ready_at is not None
    assert status.oldest_dead_letter_at is not None
    assert int(status.oldest_ready_at.timestamp() * 1000) == first_at_ms
    assert int(status.oldest_dead_letter_at.timestamp() * 1000) == first_at_ms
