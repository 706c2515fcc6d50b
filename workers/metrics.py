"""How crmsync's actors fare, measured by a Dramatiq middleware and served at ``/metrics``.

Dramatiq ships a Prometheus middleware, but it forks an HTTP server in every worker process
and rewrites ``PROMETHEUS_MULTIPROC_DIR`` behind the deployment's back. crmsync serves every
metric from the web's one ``/metrics`` instead (multiprocess mode when web and workers are
separate processes), so this middleware only records; it never serves.

Outcomes are read once the Retries middleware has decided what becomes of a failed message:
:class:`ActorMetrics` is the *first* middleware of the broker, and Dramatiq calls ``after_*``
hooks in reverse order, so it runs last and sees ``message.failed`` as Retries left it.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from dramatiq import Broker, Middleware, Retry, Worker
from dramatiq.broker import MessageProxy
from dramatiq.common import q_name
from prometheus_client import Counter, Gauge, Histogram, multiprocess

# Per run of an actor: what became of the message.
SUCCEEDED = "succeeded"
DEFERRED = "deferred"  # the actor raised dramatiq.Retry: it asked to run again later
RETRIED = "retried"  # it raised; Retries scheduled another attempt
DEAD_LETTERED = "dead_lettered"  # it raised with no attempt left (or was failed): dead letters
SKIPPED = "skipped"  # a middleware skipped it without failing it

# Most handlers take milliseconds; Nylas calls with retries take seconds; the time limit is 5 min.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

ACTOR_DURATION = Histogram(
    "crmsync_actor_duration_seconds",
    "Time an actor spent on one message (whatever the outcome), by actor and queue.",
    ["actor", "queue"],
    buckets=DURATION_BUCKETS,
)
ACTOR_MESSAGES = Counter(
    "crmsync_actor_messages_total",
    "Messages an actor finished, by actor, queue and outcome (succeeded, deferred, retried, "
    "dead_lettered, skipped).",
    ["actor", "queue", "outcome"],
)
# In multiprocess mode, the sum over the worker processes still running: a process that has
# stopped no longer holds any message, so its last value must not count.
ACTOR_IN_PROGRESS = Gauge(
    "crmsync_actor_messages_in_progress",
    "Messages an actor is working on right now, by actor and queue.",
    ["actor", "queue"],
    multiprocess_mode="livesum",
)

# The workers' group commit (workers.group_commit): how many items each transaction carried,
# and how often a batch's transaction failed and its items were run one by one.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
BATCH_SIZE = Histogram(
    "crmsync_batch_size",
    "Items written per transaction by a batch (notifications finished together, messages of "
    "a backfill page), by kind of batch.",
    ["batch"],
    buckets=BATCH_SIZE_BUCKETS,
)
BATCH_SPLITS = Counter(
    "crmsync_batch_splits_total",
    "Batches whose transaction failed, so that each item was written alone, by kind of batch.",
    ["batch"],
)


def outcome_of(message: MessageProxy, exception: BaseException | None) -> str:
    """What became of ``message`` after a run that raised ``exception`` (None: returned)."""
    if exception is None:
        return SUCCEEDED
    if message.failed:
        return DEAD_LETTERED
    if isinstance(exception, Retry):
        return DEFERRED
    return RETRIED


class ActorMetrics(Middleware):
    """Records each run's duration and outcome, and the messages in progress, per actor."""

    def __init__(self) -> None:
        # before_ and after_process_message of one message run on the same worker thread.
        self._local = threading.local()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        self._local.started = time.perf_counter()
        ACTOR_IN_PROGRESS.labels(*_labels(message)).inc()

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        labels = _labels(message)
        started: float | None = getattr(self._local, "started", None)
        self._local.started = None
        if started is not None:
            ACTOR_DURATION.labels(*labels).observe(time.perf_counter() - started)
            ACTOR_IN_PROGRESS.labels(*labels).dec()
        ACTOR_MESSAGES.labels(*labels, outcome_of(message, exception)).inc()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        labels = _labels(message)
        if getattr(self._local, "started", None) is not None:
            self._local.started = None
            ACTOR_IN_PROGRESS.labels(*labels).dec()
        outcome = DEAD_LETTERED if message.failed else SKIPPED
        ACTOR_MESSAGES.labels(*labels, outcome).inc()

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        # In multiprocess mode a stopped process's in-progress gauge must stop counting.
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def _labels(message: MessageProxy) -> tuple[str, str]:
    # A retry waits on "<queue>.DQ"; it is still the queue's work.
    return message.actor_name, q_name(message.queue_name)
