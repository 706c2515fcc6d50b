"""How full each queue is, read from Dramatiq's Redis layout without consuming anything.

Per queue ``q`` (``dispatch.lua``): ``<ns>:q`` lists the ids waiting, ``<ns>:q.msgs`` holds the
bodies of those waiting *and* of those a worker has fetched but not acknowledged, ``<ns>:q.DQ``
and ``<ns>:q.DQ.msgs`` the same for retries waiting out their backoff (a running worker fetches
delayed messages at once and holds them until their eta, so the hash counts them, the list
does not), and ``<ns>:q.XQ`` the dead letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dramatiq
import redis

from workers.deadletters import dead_letter_key

# Ages come from the message bodies. A scrape of /metrics (unauthenticated, and most wanted
# during an incident, when dead letters pile up) must cost the same whatever the queues hold,
# so only the first few in line are read: the head of the ready list (enqueued first) and
# the lowest scores of the dead-letter set (dead-lettered first). A message requeued behind
# newer ones can make the age a little young; never the work unbounded.
AGE_SAMPLE = 8


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """One queue's depths, and the first-enqueued time of its oldest waiting and dead message."""

    queue: str
    ready: int
    in_progress: int
    delayed: int
    dead_letters: int
    oldest_ready_at: datetime | None
    oldest_dead_letter_at: datetime | None


def queue_status(client: redis.Redis, namespace: str, queue: str) -> QueueStatus:
    """The status of ``queue``; ages from the first :data:`AGE_SAMPLE` messages in line."""
    ready_key = f"{namespace}:{queue}"
    dead_key = dead_letter_key(namespace, queue)
    with client.pipeline(transaction=True) as pipeline:
        pipeline.llen(ready_key)
        pipeline.hlen(ready_key + ".msgs")
        pipeline.hlen(f"{ready_key}.DQ.msgs")
        pipeline.zcard(dead_key)
        pipeline.lrange(ready_key, 0, AGE_SAMPLE - 1)
        pipeline.zrange(dead_key, 0, AGE_SAMPLE - 1)
        ready, stored, delayed, dead, ready_ids, dead_ids = pipeline.execute()
    return QueueStatus(
        queue=queue,
        ready=int(ready),
        in_progress=max(int(stored) - int(ready), 0),
        delayed=int(delayed),
        dead_letters=int(dead),
        oldest_ready_at=_oldest(client, ready_key + ".msgs", ready_ids),
        oldest_dead_letter_at=_oldest(client, dead_key + ".msgs", dead_ids),
    )


def _oldest(client: redis.Redis, bodies_key: str, ids: Sequence[bytes]) -> datetime | None:
    if not ids:
        return None
    bodies: list[Any] = client.hmget(bodies_key, list(ids))
    stamps = [dramatiq.Message.decode(b).message_timestamp for b in bodies if b is not None]
    return datetime.fromtimestamp(min(stamps) / 1000, UTC) if stamps else None
