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
from workers.org_gateways import OrgGateways
from workers.org_letters import OrgLetters
from workers.org_shares import OrgShares
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
    # The deployment's Nylas application, and the organizations' own (None: there are none).
    nylas_gateway: NylasGateway | None = None
    org_gateways: OrgGateways | None = None
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
    # Each organization's share of the worker threads (the broker's middleware too).
    shares: OrgShares | None = None
    # The dead letters in Redis, which offboarding an organization deletes with its rows.
    org_letters: OrgLetters | None = None

    def nylas_for(self, grant_id: str) -> NylasGateway:
        """The Nylas API of ``grant_id``'s application: its organization's own, else the
        deployment's.

        Raises:
            NylasNotConfigured: the deployment's is needed and NYLAS_API_KEY is not set.
            OrgKeyUnavailable: the organization's API key cannot be opened.
        """
        own = self.org_gateways.for_grant(grant_id) if self.org_gateways else None
        return own if own is not None else self.nylas

    @property
    def nylas(self) -> NylasGateway:
        """The deployment's Nylas API (a grant's is :meth:`nylas_for`).

        Raises:
            NylasNotConfigured: NYLAS_API_KEY is not set.
        """
        if self.nylas_gateway is None:
            raise NylasNotConfigured(
                "this work needs the Nylas API (a truncated message, a folder list) but "
                "NYLAS_API_KEY is not set"
            )
        return self.nylas_gateway
