"""How a worker's time is shared between organizations: the light ones go first.

A worker's threads would take messages in arrival order, whoever's they are, so one
organization's flood (a 200-rep onboarding backfill, a burst of notifications) would hold
every thread, and on a machine of few cores every core, while another's live mail waits.
Counting threads is not enough: a notification spends most of its time waiting on Nylas and
the database, a backfill page mostly on the CPU, so equal threads are not equal time. What
is shared is **worker time**, in two measures of what each organization's messages used
lately (``usage``: :class:`WorkerTime`, seconds, decayed; the worker measures them): the
CPU time of the threads that ran them, and the time they held a thread (a slow Nylas holds
threads without using the CPU). An organization ahead in either is held back:

- an organization alone, or not ahead of the others, is never held back: it may use every
  thread, so a single-tenant deployment and organizations of like load lose nothing;
- an organization **ahead** (:func:`is_ahead`: it used more than :data:`AHEAD_FACTOR` times
  an equal part of the time lately) may hold an equal part of the ``capacity`` at once
  (:func:`thread_share`); what it sends beyond waits on its queue a moment;
- and its long work (a backfill between pages) waits while an organization that is not
  ahead has work running on the same worker (:func:`yields_to_others`), so live mail does
  not share that worker with the backfill for the moment it needs (other processes on the
  machine still take their part of the CPU).

Who is ahead follows the time used, so an organization that floods becomes ahead within
seconds and one that stops is no longer ahead as its time decays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

AHEAD_FACTOR = 1.5
"""How far over an equal part of the recent worker time an organization must be to be held
back: organizations of about the same load never hold each other back."""


@dataclass(frozen=True, slots=True)
class WorkerTime:
    """What an organization's messages used of a worker lately, in seconds."""

    cpu: float = 0.0  # of the CPU, by the threads that ran them
    held: float = 0.0  # of threads held, running or waiting on Nylas and the database

    def __add__(self, other: WorkerTime) -> WorkerTime:
        return WorkerTime(self.cpu + other.cpu, self.held + other.held)


def is_ahead(usage: Mapping[str, WorkerTime], org: str) -> bool:
    """Whether ``org`` used well over its part of the recent worker time of the active
    organizations (``usage``: every active organization a key), by either measure."""
    if len(usage) <= 1:
        return False
    mine = usage.get(org, WorkerTime())
    return _over(mine.cpu, [u.cpu for u in usage.values()]) or _over(
        mine.held, [u.held for u in usage.values()]
    )


def _over(mine: float, everyones: list[float]) -> bool:
    total = sum(everyones)
    return total > 0 and mine > AHEAD_FACTOR * total / len(everyones)


def thread_share(
    threads: int, capacity: int | None, usage: Mapping[str, WorkerTime], org: str
) -> int:
    """How many of a worker's ``threads`` ``org`` may hold at once: every one unless it is
    ahead; then an equal part, at least one, of the ``capacity`` shared between the active
    organizations (None: of all the threads)."""
    if not is_ahead(usage, org):
        return threads
    shared = min(threads, capacity) if capacity else threads
    return max(1, -(-shared // len(usage)))


def yields_to_others(usage: Mapping[str, WorkerTime], running: Mapping[str, int], org: str) -> bool:
    """Whether ``org``'s long work should wait now: it is ahead and an organization that is
    not ahead has a message running on the same worker."""
    if not is_ahead(usage, org):
        return False
    return any(
        count > 0 and other != org and not is_ahead(usage, other)
        for other, count in running.items()
    )
