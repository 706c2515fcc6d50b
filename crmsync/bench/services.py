"""The real services a benchmark runs against, each used only through what it creates.

Every run gets its own Redis key prefix and its own databases (a PostgreSQL database created
for the run, SQLite files in the run's directory), and removes them at the end: a benchmark
never touches a deployment's data, and two runs never see each other's keys.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
from sqlalchemy import make_url

from storage.engine import create_database_engine
from storage.migrate import upgrade
from workers.queues import NOTIFICATION_QUEUES


@dataclass(frozen=True, slots=True)
class RedisNamespace:
    """A key prefix of the run's own on the benchmark's Redis."""

    url: str
    name: str

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def queue_keys(self) -> list[str]:
        """The keys of the notification queues (Dramatiq's list and message hash of each)."""
        keys: list[str] = []
        for spec in NOTIFICATION_QUEUES.values():
            keys += [f"{self.name}:{spec.queue_name}", f"{self.name}:{spec.queue_name}.msgs"]
        return keys

    def clean(self) -> int:
        """Delete every key of the namespace; how many were deleted."""
        client = self.client()
        try:
            deleted = 0
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{self.name}:*", count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    deleted += int(client.unlink(*batch))
                    batch.clear()
            if batch:
                deleted += int(client.unlink(*batch))
            return deleted
        finally:
            client.close()


@contextlib.contextmanager
def draining_queues(namespace: RedisNamespace, interval: float = 0.25) -> Iterator[None]:
    """Empty the notification queues every ``interval`` seconds until the block ends.

    The ingress benchmark runs no workers, and thousands of 15 KB notifications a second
    would otherwise pile up in Redis's memory. ``UNLINK`` frees them off Redis's main thread.
    """
    stop = threading.Event()
    client = namespace.client()
    keys = namespace.queue_keys()

    def drain() -> None:
        while not stop.wait(interval):
            client.unlink(*keys)

    thread = threading.Thread(target=drain, name="bench-queue-drain", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        client.unlink(*keys)
        client.close()


@contextlib.contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database named ``name`` beside ``admin_url``'s; dropped after."""
    admin = make_url(admin_url)
    admin_dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(directory: Path, name: str) -> str:
    """The URL of a SQLite file ``name`` in ``directory`` (removed with the directory)."""
    return f"sqlite:///{directory / f'{name}.db'}"


def migrate(database_url: str) -> None:
    """Bring a benchmark database to the current schema, as ``crmsync migrate`` does."""
    engine = create_database_engine(database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def redis_version(url: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server").get("redis_version", "unknown"))
    finally:
        client.close()


def postgres_version(admin_url: str) -> str:
    dsn = make_url(admin_url).render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"
