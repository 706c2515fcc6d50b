"""Declares crmsync's actors on a broker, bound to a worker context.

Actors are declared explicitly instead of with ``@dramatiq.actor`` at import time, so that
nothing binds to a global broker as a side effect of an import, and tests can declare them
on a broker of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq import Broker

from domain.notifications import ApiVersion
from workers.actors.calendar_push import push_action_item
from workers.actors.deliveries import deliver
from workers.actors.notifications import handle_notification
from workers.context import WorkerContext
from workers.queues import CALENDAR_PUSH_QUEUE, DELIVERY_QUEUE, NOTIFICATION_QUEUES, QueueSpec


def declare_actors(broker: Broker, context: WorkerContext) -> list[dramatiq.Actor[Any, Any]]:
    """Declare every actor of crmsync on ``broker``; returns them."""

    def notification_actor(
        api_version: ApiVersion, payload: dict[str, Any], received_at: float
    ) -> None:
        handle_notification(context, api_version, payload, received_at)

    def delivery_actor(delivery_id: int) -> None:
        deliver(context, delivery_id)

    def push_actor(item_id: int) -> None:
        push_action_item(context, item_id)

    def declare(fn: Callable[..., None], spec: QueueSpec, **options: Any) -> Any:
        return dramatiq.Actor(
            fn,
            broker=broker,
            actor_name=spec.actor_name,
            queue_name=spec.queue_name,
            priority=0,
            options=options,
        )

    return [
        *(declare(notification_actor, spec) for spec in NOTIFICATION_QUEUES.values()),
        # The delivery actor decides its own waits (dramatiq.Retry); once its schedule is
        # spent it raises, and with one retry per scheduled wait Dramatiq dead-letters it.
        declare(delivery_actor, DELIVERY_QUEUE, max_retries=len(context.delivery_schedule)),
        declare(push_actor, CALENDAR_PUSH_QUEUE),
    ]
