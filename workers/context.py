"""What actors need from the outside world, handed to them when they are declared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine


def utc_now() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """The database and the clock; later the Nylas client. Built once per process."""

    engine: Engine
    clock: Callable[[], datetime] = field(default=utc_now)
