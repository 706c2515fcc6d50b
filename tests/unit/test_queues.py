"""Every queue and actor name the web side enqueues by is declared by the workers."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from domain.triggers import WorkKind
from workers.actors.registry import declare_actors
from workers.broker import BrokerOptions, build_broker, embedded_redis_client
from workers.context import WorkerContext
from workers.queues import (
    CALENDAR_PUSH_QUEUE,
    DELIVERY_QUEUE,
    NOTIFICATION_QUEUES,
    all_queue_names,
)


def test_every_kind_of_work_has_a_queue_of_its_own() -> None:
    assert set(NOTIFICATION_QUEUES) == set(WorkKind)
    # and deliveries, calendar pushes, backfills, sends, parked messages, offboardings
    assert len(set(all_queue_names())) == len(WorkKind) + 6


def test_deliveries_have_their_queue_and_a_retry_per_scheduled_wait() -> None:
    broker = build_broker(embedded_redis_client(), BrokerOptions(namespace="unit"))
    engine = create_engine("sqlite://")
    context = WorkerContext(engine=engine)
    declare_actors(broker, context)

    actor = broker.get_actor(DELIVERY_QUEUE.actor_name)

    assert actor.queue_name == DELIVERY_QUEUE.queue_name == "deliveries"
    assert actor.options["max_retries"] == len(context.delivery_schedule)
    push = broker.get_actor(CALENDAR_PUSH_QUEUE.actor_name)
    assert push.queue_name == CALENDAR_PUSH_QUEUE.queue_name == "calendar.push"
    broker.close()
    engine.dispose()


@pytest.mark.parametrize("kind", list(WorkKind))
def test_the_named_actor_is_declared_on_the_named_queue(kind: WorkKind) -> None:
    broker = build_broker(embedded_redis_client(), BrokerOptions(namespace="unit"))
    engine = create_engine("sqlite://")
    declare_actors(broker, WorkerContext(engine=engine))
    spec = NOTIFICATION_QUEUES[kind]

    actor = broker.get_actor(spec.actor_name)

    assert actor.queue_name == spec.queue_name
    broker.close()
    engine.dispose()
