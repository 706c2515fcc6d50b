"""The Dramatiq broker: Redis from a URL, or the same broker over an in-process Redis.

Both modes use Dramatiq's RedisBroker, so the embedded mode runs exactly the code that
production runs; only the Redis server differs (fakeredis, in memory, not durable).

Retries are bounded: Dramatiq's default (20 tries over about a week) would hide a broken
handler for days. Messages that exhaust them are dead-lettered and kept for operators.

A worker process that dies without stopping (SIGKILL, a lost machine) leaves the messages it
had fetched in its in-progress set. Once it has been silent for ``heartbeat_timeout_ms``
(15 s), a live worker's liveness timer (``workers.liveness``) puts them back on their queues;
Dramatiq's own "maintenance", which runs with each broker command with a chance of
``maintenance_chance`` in a million, still expires dead letters (RELIABILITY.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dramatiq
import fakeredis
import orjson
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.encoder import Encoder
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from workers.metrics import ActorMetrics

# Answers to Nylas must come well inside 10 s even when Redis is down: fail fast.
REDIS_CONNECT_TIMEOUT_S = 1.0
REDIS_SOCKET_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    """How patient the workers are with failing work."""

    namespace: str = "crmsync"
    max_retries: int = 8
    min_backoff_ms: int = 1_000
    max_backoff_ms: int = 10 * 60_000
    time_limit_ms: int = 5 * 60_000
    dead_letter_ttl_ms: int = 14 * 24 * 3_600_000
    heartbeat_timeout_ms: int = 15_000
    maintenance_chance: int = 1_000  # broker commands in a million that also run maintenance


def redis_client(url: str) -> redis.Redis:
    """A Redis client with short timeouts and one quick retry, for both web and workers."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        health_check_interval=30,
    )


def embedded_redis_client() -> redis.Redis:
    """A Redis client over a fresh in-process server (the embedded mode; not durable)."""
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


class OrjsonEncoder(Encoder):
    """Dramatiq's JSON message format, encoded and decoded by orjson.

    The same bytes as Dramatiq's own ``JSONEncoder`` reads and writes, so either side may use
    either; about a tenth of the standard library's time on a message notification, which
    carries the whole Nylas object (a 15 KB body is typical), on the web's path to every
    acknowledgement and on every message a worker takes.
    """

    def encode(self, data: dict[str, Any]) -> bytes:
        return orjson.dumps(data)

    def decode(self, data: bytes) -> dict[str, Any]:
        try:
            decoded: dict[str, Any] = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise dramatiq.DecodeError("failed to decode message", data, error) from error  # type: ignore[no-untyped-call]
        return decoded


def build_broker(client: redis.Redis, options: BrokerOptions) -> RedisBroker:
    """A RedisBroker on ``client`` with crmsync's middleware and retry policy.

    Also makes :class:`OrjsonEncoder` Dramatiq's encoder: Dramatiq keeps one per process.
    """
    dramatiq.set_encoder(OrjsonEncoder())
    middleware = [
        # First, so that its after_* hooks run last and see what Retries decided.
        ActorMetrics(),
        AgeLimit(),
        TimeLimit(time_limit=options.time_limit_ms),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(
            max_retries=options.max_retries,
            min_backoff=options.min_backoff_ms,
            max_backoff=options.max_backoff_ms,
        ),
        CurrentMessage(),
    ]
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client,
        namespace=options.namespace,
        middleware=middleware,
        dead_message_ttl=options.dead_letter_ttl_ms,
        heartbeat_timeout=options.heartbeat_timeout_ms,
        maintenance_chance=options.maintenance_chance,
    )
