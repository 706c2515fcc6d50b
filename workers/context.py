"""What actors need from the outside world, handed to them when they are declared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from domain.outbound_webhooks import RETRY_SCHEDULE
from domain.parking import DEFAULT_PARK_WAIT
from workers.group_commit import GroupCommit
from workers.nylas_client import NylasGateway
from workers.outbound_http import OutboundClient


def utc_now() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


class NylasNotConfigured(Exception):
    """Raised when work needs the Nylas API and no API key was configured."""


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """The database, the Nylas API, the clock and the group commit. Built once per process."""

    engine: Engine
    nylas_gateway: NylasGateway | None = None
    clock: Callable[[], datetime] = field(default=utc_now)
    # A folder id missing from a grant's cache triggers a refresh at most this often.
    folder_refresh_interval: timedelta = timedelta(seconds=60)
    # A message whose folders are not yet known waits this long for them (N2).
    folder_park_wait: timedelta = DEFAULT_PARK_WAIT
    # Outbound webhooks: the waits between attempts, how long an endpoint may fail before it
    # is disabled, how long one attempt may take in all, and the client that makes it (public
    # addresses only unless it is given allowed networks).
    delivery_schedule: tuple[timedelta, ...] = RETRY_SCHEDULE
    disable_after: timedelta = timedelta(days=5)
    delivery_timeout_seconds: float = 15.0
    outbound: OutboundClient = field(default_factory=OutboundClient)
    # Where the worker threads of this process finish their notifications together.
    group_commit: GroupCommit = field(default_factory=GroupCommit)

    @property
    def nylas(self) -> NylasGateway:
        """The Nylas API.

        Raises:
            NylasNotConfigured: NYLAS_API_KEY is not set.
        """
        if self.nylas_gateway is None:
            raise NylasNotConfigured(
                "this work needs the Nylas API (a truncated message, a folder list) but "
                "NYLAS_API_KEY is not set"
            )
        return self.nylas_gateway
