"""The process's shared resources, built from settings: database engine, broker, enqueuer."""

from __future__ import annotations

from dataclasses import dataclass

from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine

from crmsync.settings import Settings
from storage.engine import create_database_engine
from workers.broker import BrokerOptions, build_broker, embedded_redis_client, redis_client
from workers.enqueue import NotificationEnqueuer


@dataclass
class Runtime:
    """Everything a crmsync process talks to. Build with :meth:`from_settings`; close at exit."""

    settings: Settings
    engine: Engine
    broker: RedisBroker
    enqueuer: NotificationEnqueuer

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """Connect lazily to the database and Redis that ``settings`` name."""
        client = (
            embedded_redis_client()
            if settings.redis_url is None
            else redis_client(settings.redis_url)
        )
        broker = build_broker(
            client,
            BrokerOptions(
                namespace=settings.redis_namespace,
                max_retries=settings.max_retries,
                dead_letter_ttl_ms=settings.dead_letter_ttl_days * 24 * 3_600_000,
                heartbeat_timeout_ms=settings.worker_heartbeat_timeout_ms,
                maintenance_chance=settings.broker_maintenance_chance,
            ),
        )
        return cls(
            settings=settings,
            engine=create_database_engine(settings.database_url),
            broker=broker,
            enqueuer=NotificationEnqueuer(
                broker.client,
                namespace=settings.redis_namespace,
                dedupe_ttl_seconds=settings.dedupe_ttl_seconds,
            ),
        )

    def close(self) -> None:
        """Release connections."""
        self.broker.close()
        self.engine.dispose()
