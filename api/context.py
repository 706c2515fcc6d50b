"""What the CRM API's endpoints share: the database, the clock, a way to use them, and the
process's per-token limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.limits import RequestLimits
from domain.outbound_addresses import IPNetwork
from storage.engine import transaction
from storage.org_tokens import TokenHolder, holder_of
from storage.organizations import org_in_service
from storage.sealing import SecretBox

T = TypeVar("T")


def utc_now() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ApiContext:
    engine: Engine
    clock: Callable[[], datetime] = field(default=utc_now)
    # Where subscriptions may point beyond public addresses (CRMSYNC_WEBHOOK_ALLOWED_NETWORKS),
    # so that a URL deliveries could never reach is refused when it is set, not days later.
    webhook_allowed_networks: tuple[IPNetwork, ...] = ()
    limits: RequestLimits = field(default_factory=RequestLimits)
    # Seals and opens organizations' secrets (CRMSYNC_SECRET_KEYS; none: secrets refused).
    secret_box: SecretBox = field(default_factory=SecretBox)

    async def in_transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one database transaction on a worker thread (the driver blocks)."""

        def run() -> T:
            with transaction(self.engine) as session:
                return work(session)

        return await run_in_threadpool(run)

    async def token_holder(self, token: bytes) -> TokenHolder | None:
        """Whose organization token ``token`` is (None: no live one); notes its use."""
        return await self.in_transaction(lambda session: holder_of(session, token, self.clock()))

    async def org_exists(self, org_id: str) -> bool:
        """Whether the organization ``org_id`` is stored and not being removed."""

        return await self.in_transaction(lambda session: org_in_service(session, org_id))
