"""The rule of how a worker's time is shared between organizations
(``domain.worker_shares``), as tables: who is ahead, how many threads it may hold, when its
long work waits."""

from __future__ import annotations

import pytest

from domain.worker_shares import WorkerTime, is_ahead, thread_share, yields_to_others


def cpu(**seconds: float) -> dict[str, WorkerTime]:
    return {org: WorkerTime(cpu=s) for org, s in seconds.items()}


def held(**seconds: float) -> dict[str, WorkerTime]:
    return {org: WorkerTime(held=s) for org, s in seconds.items()}


@pytest.mark.parametrize(
    ("usage", "org", "ahead"),
    [
        (cpu(), "a", False),  # nobody active: nobody ahead
        (cpu(a=9.0), "a", False),  # alone: never ahead, whatever it uses
        (cpu(a=1.0, b=0.0), "a", True),  # b just arrived: a used all the time
        (cpu(a=1.0, b=0.0), "b", False),
        (cpu(a=0.9, b=0.1), "a", True),
        (cpu(a=0.75, b=0.25), "a", False),  # exactly 1.5 times an equal part: not over
        (cpu(a=0.76, b=0.24), "a", True),
        (cpu(a=0.6, b=0.4), "a", False),  # about the same load: nobody held back
        (cpu(a=0.0, b=0.0), "a", False),  # both active, neither has used time yet
        (cpu(a=0.6, b=0.2, c=0.2), "a", True),  # three: over half the time
        (cpu(a=0.5, b=0.3, c=0.2), "a", False),
        (cpu(a=0.5, b=0.5, c=0.0), "a", False),  # two of like load beside a new one
        (cpu(b=1.0), "a", False),  # an organization not active uses nothing
        # Threads held waiting (a slow Nylas) count as much as the CPU.
        (held(a=2.0, b=0.1), "a", True),
        (held(a=1.0, b=1.0), "a", False),
        ({"a": WorkerTime(cpu=0.1, held=2.0), "b": WorkerTime(cpu=0.9, held=0.5)}, "a", True),
        ({"a": WorkerTime(cpu=0.1, held=2.0), "b": WorkerTime(cpu=0.9, held=0.5)}, "b", True),
        ({"a": WorkerTime(cpu=0.5, held=1.0), "b": WorkerTime(cpu=0.4, held=0.9)}, "a", False),
    ],
)
def test_an_organization_is_ahead_when_it_used_well_over_its_part_of_the_time(
    usage: dict[str, WorkerTime], org: str, ahead: bool
) -> None:
    assert is_ahead(usage, org) is ahead


@pytest.mark.parametrize(
    ("threads", "capacity", "usage", "share"),
    [
        (64, 4, cpu(a=5.0), 64),  # alone: every thread, whatever the capacity
        (64, 4, cpu(a=0.5, b=0.5), 64),  # not ahead: not held back
        (64, 4, cpu(a=1.0, b=0.0), 2),  # ahead of one other: half the capacity
        (64, 4, cpu(a=1.0, b=0.0, c=0.0), 2),  # an equal part, rounded up
        (64, 4, cpu(a=1.0, b=0.0, c=0.0, d=0.0, e=0.0), 1),  # at least one
        (64, None, cpu(a=1.0, b=0.0), 32),  # no capacity: the threads are shared
        (2, 4, cpu(a=1.0, b=0.0), 1),  # a capacity above the threads shares the threads
        (1, None, cpu(a=1.0, b=0.0, c=0.0), 1),
    ],
)
def test_only_an_organization_ahead_is_held_to_its_part_of_the_threads(
    threads: int, capacity: int | None, usage: dict[str, WorkerTime], share: int
) -> None:
    assert thread_share(threads, capacity, usage, "a") == share


@pytest.mark.parametrize(
    ("usage", "running", "org", "waits"),
    [
        (cpu(a=1.0, b=0.0), {"a": 2, "b": 1}, "a", True),  # b's live mail runs: a waits
        (cpu(a=1.0, b=0.0), {"a": 2}, "a", False),  # nothing of b's running now
        (cpu(a=1.0, b=0.0), {"a": 2, "b": 0}, "a", False),
        (cpu(a=1.0, b=0.0), {"a": 2, "b": 1}, "b", False),  # the light one never waits
        (cpu(a=0.6, b=0.4), {"a": 2, "b": 1}, "a", False),  # like loads: nobody waits
        (cpu(a=5.0), {"a": 3}, "a", False),  # alone: nobody to wait for
        # Two ahead of a third: each waits only for the one that is not ahead.
        (cpu(a=0.45, b=0.45, c=0.0), {"a": 1, "b": 1}, "a", False),
        (cpu(a=0.8, b=0.1, c=0.1), {"a": 1, "c": 1}, "a", True),
    ],
)
def test_the_long_work_of_an_organization_ahead_waits_while_a_lighter_one_runs(
    usage: dict[str, WorkerTime], running: dict[str, int], org: str, waits: bool
) -> None:
    assert yields_to_others(usage, running, org) is waits
