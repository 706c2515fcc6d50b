"""Each organization's share of a worker's threads: one organization's flood never starves
another's live mail.

A worker's threads take messages from its queues in arrival order, whoever's they are: a
200-rep onboarding backfill, or a burst of a million notifications of one organization, would
hold every thread while another organization's new mail waits behind it. So each worker
(each pool of threads, in each process) shares its threads between the organizations whose
work it has seen lately: with ``n`` of them active, one may run at most ``ceil(capacity / n)``
messages at once, where the capacity is the worker's threads, or fewer
(``CRMSYNC_ORG_SHARE_THREADS``): on a machine of few cores, work that needs the CPU shares
the cores, not the threads, and 64 threads of one organization's backfill leave another's
notifications a thread each but no CPU. A message of an organization at its share goes
back on its queue for a moment (:data:`DEFER_MS`) and is acknowledged, so it is never lost
and the threads go to whoever else is waiting. Alone, an organization has every thread:
nothing is left idle.

An organization is active while one of its messages runs, and for :data:`ACTIVE_SECONDS`
after the last one was seen (run or sent back), so one that sends a notification now and
then keeps its share between them. Beside these shares, the per-grant limits still hold
(``workers.grant_limits``). Whose a message is comes from what it names
(``workers.letter_orgs``), looked up once and kept: a row's organization never changes,
a grant's is read again after :data:`GRANT_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq import Broker, Middleware, Worker
from dramatiq.common import q_name
from dramatiq.middleware import SkipMessage
from sqlalchemy import Engine
from sqlmodel import Session

from domain.org_scope import thread_share
from workers.letter_orgs import orgs_of_messages, subject_of

logger = logging.getLogger(__name__)

ACTIVE_SECONDS = 2.0
DEFER_MS = 200
GRANT_SECONDS = 10.0
MAX_REMEMBERED = 100_000
NO_ORG = ""  # work no organization is known to own shares as one more organization

Pool = int


class OrgShares(Middleware):
    """Shares each worker's threads between the organizations whose work it runs."""

    def __init__(
        self,
        org_of: Callable[[dramatiq.Message[Any]], str | None],
        *,
        capacity: int | None = None,
        active_seconds: float = ACTIVE_SECONDS,
        defer_ms: int = DEFER_MS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._org_of = org_of
        self._capacity = capacity
        self._active_seconds = active_seconds
        self._defer_ms = defer_ms
        self._clock = clock
        self._lock = threading.Lock()
        self._pools: dict[str, Pool] = {}  # queue name -> the worker that consumes it
        self._threads: dict[Pool, int] = {}
        self._running: dict[tuple[Pool, str], int] = {}
        self._seen: dict[Pool, dict[str, float]] = {}
        self._entered: dict[str, tuple[Pool, str]] = {}  # message id -> its slot

    # Dramatiq's hooks -------------------------------------------------------------------------

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        pool = id(worker)
        queues = worker.consumer_whitelist or broker.get_declared_queues()
        with self._lock:
            self._threads[pool] = worker.worker_threads
            self._seen[pool] = {}
            for queue in queues:
                self._pools[q_name(queue)] = pool

    def before_process_message(self, broker: Broker, message: Any) -> None:
        pool = self._pools.get(q_name(message.queue_name))
        if pool is None:
            return
        org = self._org_of(message) or NO_ORG
        if self._enter(pool, org, message.message_id):
            return
        # Back on its queue in a moment, then acknowledged: the threads go to the others.
        broker.enqueue(message.copy(), delay=self._defer_ms)
        raise SkipMessage(f"organization {org!r} is at its share of the worker's threads")

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        self._leave(message.message_id)

    def after_skip_message(self, broker: Broker, message: Any) -> None:
        self._leave(message.message_id)

    # The shares ------------------------------------------------------------------------------

    def over_share(self, queue_name: str, org_id: str | None) -> bool:
        """Whether ``org_id`` runs more than its share on ``queue_name``'s worker now: long
        work (a backfill's slice) stops early and queues itself again when it does."""
        pool = self._pools.get(q_name(queue_name))
        if pool is None:
            return False
        with self._lock:
            return self._running.get((pool, org_id or NO_ORG), 0) > self._share(pool)

    def _enter(self, pool: Pool, org: str, message_id: str) -> bool:
        with self._lock:
            self._seen[pool][org] = self._clock()
            key = (pool, org)
            if self._running.get(key, 0) >= self._share(pool):
                return False
            self._running[key] = self._running.get(key, 0) + 1
            self._entered[message_id] = key
            return True

    def _leave(self, message_id: str) -> None:
        with self._lock:
            key = self._entered.pop(message_id, None)
            if key is None:
                return  # sent back, or not one of the shared queues
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]
            self._seen[key[0]][key[1]] = self._clock()

    def _share(self, pool: Pool) -> int:
        """Threads one organization may hold: every thread alone, else an equal part of the
        capacity among the active ones."""
        now = self._clock()
        seen = self._seen[pool]
        for org in [o for o, at in seen.items() if now - at > self._active_seconds]:
            if (pool, org) not in self._running:
                del seen[org]
        return thread_share(self._threads[pool], self._capacity, len(seen))


class MessageOrgs:
    """Whose each message is, from the database, remembered: a row's organization for good
    (bounded), a grant's for :data:`GRANT_SECONDS`."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._known: OrderedDict[tuple[str, object], tuple[float, str | None]] = OrderedDict()

    def __call__(self, message: dramatiq.Message[Any]) -> str | None:
        subject = subject_of(message)
        if subject is None:
            return None
        kind, value = subject
        if kind == "org":
            return str(value)
        now = self._clock()
        with self._lock:
            known = self._known.get(subject)
            if known is not None and (kind != "grant" or now - known[0] < GRANT_SECONDS):
                return known[1]
        with Session(self._engine) as session:
            [org_id] = orgs_of_messages(session, [message])
        with self._lock:
            self._known[subject] = (now, org_id)
            self._known.move_to_end(subject)
            while len(self._known) > MAX_REMEMBERED:
                self._known.popitem(last=False)
        return org_id
