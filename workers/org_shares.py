"""Each organization's share of a worker's time: one organization's flood never starves
another's live mail.

The rule is ``domain.worker_shares``: an organization that used well over its part of the
worker's recent time (it is *ahead*) may hold an equal part of the capacity
(``CRMSYNC_ORG_SHARE_THREADS``, two per core by default: what such work competes for is
the CPU) and its long work waits while a lighter organization's message runs; every other
organization may use every thread. This middleware keeps the bookkeeping, for each pool of
threads (each Dramatiq worker, in each process): which organizations are active, how many
messages each one runs now, and the time they used, the CPU time of the threads that ran
them and the time they held them (messages done, decayed over :data:`ACTIVE_SECONDS`, and
those running, read from their threads' CPU clocks as each decision is made, so a long
backfill slice counts while it runs).

A message of an organization at its share goes back on its queue for a moment
(:data:`DEFER_MS`) and is acknowledged, so it is never lost and the threads go to whoever
else is waiting. Long work (a backfill's slice) calls :meth:`OrgShares.give_way` between
its steps, outside any transaction, and ends its slice early when :meth:`OrgShares.over_share`
says so.

An organization is active while one of its messages runs, and for :data:`ACTIVE_SECONDS`
after the last one was seen (run or sent back), so one that sends a notification now and
then keeps its place between them. Beside these shares, the per-grant limits still hold
(``workers.grant_limits``). Whose a message is comes from what it names
(``workers.letter_orgs``), looked up once and kept: a row's organization never changes,
a grant's is read again after :data:`GRANT_SECONDS`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from dramatiq import Broker, Middleware, Worker
from dramatiq.common import q_name
from dramatiq.middleware import SkipMessage
from sqlalchemy import Engine
from sqlmodel import Session

from domain.worker_shares import WorkerTime, thread_share, yields_to_others
from workers.letter_orgs import orgs_of_messages, subject_of

logger = logging.getLogger(__name__)

ACTIVE_SECONDS = 2.0
DEFER_MS = 200
GIVE_WAY_SECONDS = 1.0  # the longest long work waits at one step for lighter work
GIVE_WAY_STEP_SECONDS = 0.02
GRANT_SECONDS = 10.0
MAX_REMEMBERED = 100_000
NO_ORG = ""  # work no organization is known to own shares as one more organization


@dataclass
class _Pool:
    """One worker's threads and what each organization does on them."""

    threads: int
    running: Counter[str] = field(default_factory=Counter)
    seen: dict[str, float] = field(default_factory=dict)  # organization -> last seen
    done: dict[str, tuple[WorkerTime, float]] = field(default_factory=dict)  # used, as of


@dataclass(frozen=True, slots=True)
class _Slot:
    """A running message: whose it is, on which thread, since when (CPU and wall clock)."""

    pool: _Pool
    org: str
    thread: int
    cpu_mark: float
    mark: float


def thread_cpu_seconds(thread: int) -> float:
    """The CPU time ``thread`` (a running thread's ``threading.get_ident()``) has used so
    far, 0 where its clock cannot be read."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread))
    except OSError:
        return 0.0


class OrgShares(Middleware):
    """Shares each worker's time between the organizations whose work it runs."""

    def __init__(
        self,
        org_of: Callable[[dramatiq.Message[Any]], str | None],
        *,
        capacity: int | None = None,
        active_seconds: float = ACTIVE_SECONDS,
        defer_ms: int = DEFER_MS,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[int], float] = thread_cpu_seconds,
    ) -> None:
        self._org_of = org_of
        self._capacity = capacity
        self._active_seconds = active_seconds
        self._defer_ms = defer_ms
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._changed = threading.Condition()
        self._pools: dict[str, _Pool] = {}  # queue name -> the worker that consumes it
        self._slots: dict[str, _Slot] = {}  # message id -> the message running

    # Dramatiq's hooks -------------------------------------------------------------------------

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        pool = _Pool(worker.worker_threads)
        queues = worker.consumer_whitelist or broker.get_declared_queues()
        with self._changed:
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

    # What long work asks ---------------------------------------------------------------------

    def over_share(self, queue_name: str, org_id: str | None) -> bool:
        """Whether ``org_id`` runs more than its share on ``queue_name``'s worker now: long
        work (a backfill's slice) stops early and queues itself again when it does."""
        pool = self._pools.get(q_name(queue_name))
        if pool is None:
            return False
        org = org_id or NO_ORG
        with self._changed:
            return pool.running[org] > self._share(pool, org)

    def give_way(self, queue_name: str, org_id: str | None) -> None:
        """Called by long work between its steps (never inside a transaction): wait while
        ``org_id`` is ahead and a lighter organization's message runs on the same worker,
        for up to :data:`GIVE_WAY_SECONDS`."""
        pool = self._pools.get(q_name(queue_name))
        if pool is None:
            return
        org = org_id or NO_ORG
        with self._changed:
            for _ in range(round(GIVE_WAY_SECONDS / GIVE_WAY_STEP_SECONDS)):
                if not yields_to_others(self._used(pool), pool.running, org):
                    return
                self._changed.wait(GIVE_WAY_STEP_SECONDS)

    # The bookkeeping -------------------------------------------------------------------------

    def _enter(self, pool: _Pool, org: str, message_id: str) -> bool:
        with self._changed:
            pool.seen[org] = self._clock()
            if pool.running[org] >= self._share(pool, org):
                return False
            pool.running[org] += 1
            thread = threading.get_ident()
            self._slots[message_id] = _Slot(
                pool, org, thread, self._cpu_clock(thread), self._clock()
            )
            return True

    def _leave(self, message_id: str) -> None:
        with self._changed:
            slot = self._slots.pop(message_id, None)
            if slot is None:
                return  # sent back, or not one of the shared queues
            pool, now = slot.pool, self._clock()
            pool.running[slot.org] -= 1
            if not pool.running[slot.org]:
                del pool.running[slot.org]
            pool.seen[slot.org] = now
            before = self._decayed(*pool.done.get(slot.org, (WorkerTime(), now)), now)
            used = self._running_time(slot, now)
            pool.done[slot.org] = (before + used, now)
            self._changed.notify_all()

    def _active(self, pool: _Pool, now: float) -> set[str]:
        """The organizations active on ``pool``; forgets the others."""
        for org in [o for o, at in pool.seen.items() if now - at > self._active_seconds]:
            if org not in pool.running:
                del pool.seen[org]
                pool.done.pop(org, None)
        return pool.seen.keys() | pool.running.keys()

    def _used(self, pool: _Pool) -> dict[str, WorkerTime]:
        """The recent time of each active organization of ``pool``. One alone is ahead of
        nobody whatever it used, so its time is not read (no thread's clock for nothing)."""
        now = self._clock()
        active = self._active(pool, now)
        if len(active) <= 1:
            return dict.fromkeys(active, WorkerTime())
        used = {org: self._decayed(*pool.done.get(org, (WorkerTime(), now)), now) for org in active}
        for slot in self._slots.values():
            if slot.pool is pool:
                used[slot.org] += self._running_time(slot, now)
        return used

    def _running_time(self, slot: _Slot, now: float) -> WorkerTime:
        return WorkerTime(self._cpu_clock(slot.thread) - slot.cpu_mark, now - slot.mark)

    def _decayed(self, used: WorkerTime, at: float, now: float) -> WorkerTime:
        kept = math.exp(-(now - at) / self._active_seconds)
        return WorkerTime(used.cpu * kept, used.held * kept)

    def _share(self, pool: _Pool, org: str) -> int:
        return thread_share(pool.threads, self._capacity, self._used(pool), org)


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
