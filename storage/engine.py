"""Database engines for any SQLAlchemy URL, with SQLite tuned for concurrent workers.

SQLite runs in WAL mode with a busy timeout, so the web process and worker threads can read
while one writes. ``postgresql://`` URLs are pointed at the psycopg (v3) driver.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str) -> URL:
    """Parse a database URL, choosing the psycopg driver for plain PostgreSQL URLs."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def json_text(value: Any) -> str:
    """JSON columns' text, written by orjson: a stored notification or email carries a whole
    message body, and the standard library's encoder took about a tenth of a worker's time."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite the file's folder is created if needed.

    Both hide bound parameters from their error messages and logs: the values of a failed
    statement are signing secrets, addresses and message bodies (O2), and whoever catches
    the error logs its text.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(
        parsed,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        json_serializer=json_text,
        json_deserializer=orjson.loads,
    )


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_serializer=json_text,
        json_deserializer=orjson.loads,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself so that transactions start when we say.
        connection.isolation_level = None
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock at the start: avoids upgrade deadlocks between writers.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits at the end of the block, or rolls back on an error."""
    with Session(engine) as session, session.begin():
        yield session
