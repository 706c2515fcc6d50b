"""Declares crmsync's actors on a broker, bound to a worker context.

Actors are declared explicitly instead of with ``@dramatiq.actor`` at import time, so that
nothing binds to a global broker as a side effect of an import, and tests can declare them
on a broker of their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq import Broker
from dramatiq.middleware import Retries

from domain.notifications import ApiVersion
from workers.actors.backfill import run_backfill
from workers.actors.calendar_push import push_action_item
from workers.actors.deliveries import deliver, poster
from workers.actors.notifications import handle_notification
from workers.actors.offboarding import offboard_org
from workers.actors.parked import decide_due_parked
from workers.actors.sends import send_email
from workers.context import WorkerContext
from workers.grant_limits import GrantThrottled, defer
from workers.queues import (
    BACKFILL_QUEUE,
    CALENDAR_PUSH_QUEUE,
    DELIVERY_QUEUE,
    NOTIFICATION_QUEUES,
    OFFBOARDING_QUEUE,
    PARKED_QUEUE,
    SEND_QUEUE,
    QueueSpec,
)


def declare_actors(broker: Broker, context: WorkerContext) -> list[dramatiq.Actor[Any, Any]]:
    """Declare every actor of crmsync on ``broker``; returns them."""

    def notification_actor(
        api_version: ApiVersion,
        payload: dict[str, Any],
        received_at: float,
        org_id: str | None = None,
    ) -> None:
        handle_notification(context, api_version, payload, received_at, org_id)

    post = poster(context.outbound)

    def delivery_actor(delivery_id: int) -> None:
        deliver(context, delivery_id, post)

    def push_actor(item_id: int) -> None:
        push_action_item(context, item_id)

    def send_actor(email_id: int) -> None:
        send_email(context, email_id)

    def parked_actor(parked_id: int) -> None:
        decide_due_parked(context, parked_id)

    retries = next(m for m in broker.middleware if isinstance(m, Retries))

    def backfill_actor(backfill_id: int) -> None:
        run_backfill(context, backfill_id, backfill.send, max_retries=int(retries.max_retries or 0))

    def declare(fn: Callable[..., None], spec: QueueSpec, **options: Any) -> Any:
        return dramatiq.Actor(
            _deferring_when_throttled(fn, broker),
            broker=broker,
            actor_name=spec.actor_name,
            queue_name=spec.queue_name,
            priority=0,
            options=options,
        )

    backfill = declare(backfill_actor, BACKFILL_QUEUE)

    def offboarding_actor(offboarding_id: int) -> None:
        offboard_org(context, offboarding_id, offboarding.send)

    offboarding = declare(offboarding_actor, OFFBOARDING_QUEUE)
    return [
        *(declare(notification_actor, spec) for spec in NOTIFICATION_QUEUES.values()),
        # The delivery actor decides its own waits (dramatiq.Retry); once its schedule is
        # spent it raises, and with one retry per scheduled wait Dramatiq dead-letters it.
        declare(delivery_actor, DELIVERY_QUEUE, max_retries=len(context.delivery_schedule)),
        declare(push_actor, CALENDAR_PUSH_QUEUE),
        backfill,
        declare(send_actor, SEND_QUEUE),
        declare(parked_actor, PARKED_QUEUE),
        offboarding,
    ]


def _deferring_when_throttled(fn: Callable[..., None], broker: Broker) -> Callable[..., None]:
    """``fn``, putting its message back on the queue when the grant is at its call limit."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except GrantThrottled as throttled:
            defer(broker, throttled)

    return run
