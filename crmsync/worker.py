"""Worker processes: ``crmsync worker``, Dramatiq's CLI with ``crmsync.worker:setup`` (see the
Procfile and ``crmsync.worker_command``).

Dramatiq's CLI calls :func:`setup` in each worker process, which builds the broker from the
environment, makes it the global broker, and declares the actors on it, in that order.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import dramatiq
from dramatiq import Worker

from api.metrics import forget_dead_processes
from crmsync.logs import configure_logging
from crmsync.runtime import Runtime
from crmsync.settings import worker_settings
from storage.sealing import SecretBox
from workers.actors.registry import declare_actors
from workers.context import WorkerContext
from workers.dispatch import (
    BACKFILLS,
    CALENDAR_PUSHES,
    OFFBOARDINGS,
    PARKED_MESSAGES,
    SENDS,
    Dispatcher,
)
from workers.grant_limits import GrantLimiter, GrantLimits
from workers.liveness import WorkerLiveness
from workers.maintenance import Maintenance
from workers.nylas_client import NylasGateway
from workers.org_gateways import OrgGateways
from workers.org_letters import OrgLetters
from workers.org_shares import MessageOrgs, OrgShares
from workers.outbound_http import OutboundClient
from workers.queues import (
    BACKFILL_QUEUE,
    CALENDAR_PUSH_QUEUE,
    DELIVERY_QUEUE,
    OFFBOARDING_QUEUE,
    PARKED_QUEUE,
    SEND_QUEUE,
    all_queue_names,
    queues_apart_from_deliveries,
)


def declare(runtime: Runtime) -> None:
    """Declare crmsync's actors on the runtime's broker, with the organizations' shares of
    the worker threads as its middleware."""
    context = worker_context(runtime)
    declared = [m for m in runtime.broker.middleware if isinstance(m, OrgShares)]
    if declared:  # declared on this broker before: its actors share the same threads
        context = dataclasses.replace(context, shares=declared[0])
    elif context.shares is not None:
        runtime.broker.add_middleware(context.shares)
    declare_actors(runtime.broker, context)


def worker_context(runtime: Runtime) -> WorkerContext:
    """The context actors work in: the runtime's database and a Nylas gateway from settings."""
    settings = runtime.settings
    limiter = GrantLimiter(
        runtime.broker.client,
        settings.redis_namespace,
        GrantLimits(
            calls_per_second=settings.nylas_grant_calls_per_second,
            concurrent_calls=settings.nylas_grant_concurrent_calls,
        ),
    )
    gateway = (
        NylasGateway(str(settings.nylas_api_key), settings.nylas_api_uri, limiter=limiter)
        if settings.nylas_api_key is not None
        else None
    )
    # Organizations with a Nylas application of their own: one gateway each, on its key.
    org_gateways = OrgGateways(
        runtime.engine,
        SecretBox(tuple(str(key) for key in settings.secret_keys)),
        lambda api_key, api_uri: NylasGateway(api_key, api_uri, limiter=limiter),
        settings.nylas_region_uris,
    )
    return WorkerContext(
        engine=runtime.engine,
        nylas_gateway=gateway,
        org_gateways=org_gateways,
        shares=OrgShares(MessageOrgs(runtime.engine), capacity=settings.org_share_threads),
        org_letters=OrgLetters(runtime.broker.client, settings.redis_namespace),
        disable_after=timedelta(days=settings.subscription_disable_after_days),
        delivery_timeout_seconds=float(settings.webhook_timeout_seconds),
        outbound=OutboundClient(allowed_networks=settings.webhook_allowed_networks),
        folder_park_wait=timedelta(seconds=settings.folder_park_seconds),
    )


@dataclass(frozen=True)
class BackgroundThreads:
    """The threads a worker process runs beside its actors."""

    maintenance: Maintenance
    dispatcher: Dispatcher
    liveness: WorkerLiveness

    def stop(self) -> None:
        self.liveness.stop()
        self.dispatcher.stop()
        self.maintenance.stop()


def start_background(runtime: Runtime) -> BackgroundThreads:
    """Start change-feed retention and the dispatcher of outbound webhooks (after
    :func:`declare`, whose delivery actor the dispatcher queues to)."""
    context = worker_context(runtime)
    delivery_actor = runtime.broker.get_actor(DELIVERY_QUEUE.actor_name)
    push_actor = runtime.broker.get_actor(CALENDAR_PUSH_QUEUE.actor_name)
    backfill_actor = runtime.broker.get_actor(BACKFILL_QUEUE.actor_name)
    send_actor = runtime.broker.get_actor(SEND_QUEUE.actor_name)
    parked_actor = runtime.broker.get_actor(PARKED_QUEUE.actor_name)
    offboarding_actor = runtime.broker.get_actor(OFFBOARDING_QUEUE.actor_name)
    threads = BackgroundThreads(
        maintenance=Maintenance(
            context,
            timedelta(days=runtime.settings.change_retention_days),
            raw_retention=timedelta(days=runtime.settings.raw_notification_retention_days),
        ),
        dispatcher=Dispatcher(
            context,
            lambda delivery_id: delivery_actor.send(delivery_id),
            recorded=[
                (CALENDAR_PUSHES, lambda item_id: push_actor.send(item_id)),
                (BACKFILLS, lambda backfill_id: backfill_actor.send(backfill_id)),
                (SENDS, lambda email_id: send_actor.send(email_id)),
                (PARKED_MESSAGES, lambda parked_id: parked_actor.send(parked_id)),
                (OFFBOARDINGS, lambda offboarding_id: offboarding_actor.send(offboarding_id)),
            ],
        ),
        liveness=WorkerLiveness(runtime.broker, all_queue_names()),
    )
    threads.maintenance.start()
    threads.dispatcher.start()
    threads.liveness.start()
    return threads


def start_worker(
    runtime: Runtime,
    threads: int,
    *,
    worker_timeout_ms: int = 1000,
    queues: Iterable[str] | None = None,
) -> Worker:
    """Worker threads in this process consuming ``queues`` (their delayed messages included),
    or every queue of the runtime's broker."""
    worker = Worker(
        runtime.broker,
        queues=set(queues) if queues is not None else None,
        worker_threads=threads,
        worker_timeout=worker_timeout_ms,
    )
    worker.start()
    return worker


@dataclass(frozen=True)
class WorkerPools:
    """Two sets of worker threads in one process: deliveries apart from everything else."""

    work: Worker  # every queue but deliveries: notifications, pushes, backfills, sends
    deliveries: Worker

    def stop(self) -> None:
        self.deliveries.stop()
        self.work.stop()


def start_worker_pools(
    runtime: Runtime, threads: int, delivery_threads: int, *, worker_timeout_ms: int = 1000
) -> WorkerPools:
    """``threads`` for all work but deliveries and ``delivery_threads`` for deliveries, as the
    Procfile's ``worker`` and ``deliveries`` processes share them out: a subscriber that
    answers slowly holds a delivery thread for up to a whole attempt, never one of the threads
    that handle notifications."""
    return WorkerPools(
        work=start_worker(
            runtime,
            threads,
            worker_timeout_ms=worker_timeout_ms,
            queues=queues_apart_from_deliveries(),
        ),
        deliveries=start_worker(
            runtime,
            delivery_threads,
            worker_timeout_ms=worker_timeout_ms,
            queues=[DELIVERY_QUEUE.queue_name],
        ),
    )


def setup() -> None:
    """Called by Dramatiq's CLI in each worker process (``crmsync worker``, the Procfile)."""
    settings = worker_settings(os.environ)
    configure_logging(settings.log_level)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if directory and os.path.isdir(directory):
        # A worker killed before this one started left its in-progress gauges behind.
        forget_dead_processes(directory)
    runtime = Runtime.from_settings(settings)
    dramatiq.set_broker(runtime.broker)
    declare(runtime)
    start_background(runtime)
