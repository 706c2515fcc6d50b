"""Each organization's share of a worker's time (``workers.org_shares``), without I/O:
alone, or not ahead of the others in CPU time, an organization has every thread; ahead, an
equal part of the capacity, and its long work gives way to lighter work; a message over its
share goes back on its queue and is acknowledged, never lost."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import pytest
from dramatiq.middleware import SkipMessage

from workers import org_shares
from workers.org_shares import OrgShares, thread_cpu_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeWorker:
    worker_threads: int
    consumer_whitelist: set[str] | None


@dataclass
class FakeBroker:
    queues: set[str] = field(default_factory=lambda: {"notifications.messages", "backfill"})
    enqueued: list[tuple[dramatiq.Message[Any], int]] = field(default_factory=list)

    def get_declared_queues(self) -> set[str]:
        return self.queues

    def enqueue(self, message: dramatiq.Message[Any], *, delay: int) -> None:
        self.enqueued.append((message, delay))


def message(org: str, n: int, queue: str = "notifications.messages") -> dramatiq.Message[Any]:
    return dramatiq.Message(
        queue_name=queue,
        actor_name="handle_messages",
        args=(),
        kwargs={"org": org},
        options={},
        message_id=f"{org}-{n}",
    )


class CpuClock:
    """Every thread's CPU clock, as one: the tests run each message on the same thread."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self, thread: int) -> float:
        return self.now


@pytest.fixture
def cpu() -> CpuClock:
    return CpuClock()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


def shares_of(
    clock: Clock, broker: FakeBroker, cpu: CpuClock, threads: int = 4, capacity: int | None = None
) -> OrgShares:
    shares = OrgShares(lambda m: m.kwargs.get("org"), capacity=capacity, clock=clock, cpu_clock=cpu)
    shares.after_worker_boot(broker, FakeWorker(threads, None))  # type: ignore[arg-type]
    return shares


def starts(shares: OrgShares, broker: FakeBroker, sent: dramatiq.Message[Any]) -> bool:
    try:
        shares.before_process_message(broker, sent)  # type: ignore[arg-type]
    except SkipMessage:
        return False
    return True


def finish(shares: OrgShares, broker: FakeBroker, sent: dramatiq.Message[Any]) -> None:
    shares.after_process_message(broker, sent)  # type: ignore[arg-type]


def run(
    shares: OrgShares,
    broker: FakeBroker,
    cpu: CpuClock,
    sent: dramatiq.Message[Any],
    seconds: float,
) -> None:
    """One message run from start to end, using ``seconds`` of CPU."""
    assert starts(shares, broker, sent)
    cpu.now += seconds
    finish(shares, broker, sent)


def test_alone_an_organization_has_every_thread(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu, capacity=2)
    run(shares, broker, cpu, message("a", 100), 5.0)  # however much CPU it uses
    assert [starts(shares, broker, message("a", n)) for n in range(5)] == [
        True,
        True,
        True,
        True,
        # More than the threads never run at once anyway; the fifth would wait for one.
        False,
    ]


def test_an_organization_ahead_in_cpu_time_is_held_to_its_part_when_another_arrives(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu)
    run(shares, broker, cpu, message("a", 100), 1.0)
    for n in range(4):
        assert starts(shares, broker, message("a", n))
    # B's message arrives while A holds every thread: it is not refused for A's sake...
    assert starts(shares, broker, message("b", 0))
    # ...and from now on A, which used all the time lately, may hold two of four: its next
    # messages go back on the queue.
    assert not starts(shares, broker, message("a", 4))
    assert [(m.message_id, delay) for m, delay in broker.enqueued] == [("a-4", 200)]
    assert shares.over_share("notifications.messages", "a")
    for n in range(2):
        finish(shares, broker, message("a", n))
    assert not shares.over_share("notifications.messages", "a")
    assert not starts(shares, broker, message("a", 5))  # still at its two
    # B, light, is never held back: it may take every free thread.
    assert starts(shares, broker, message("b", 1))
    assert not shares.over_share("notifications.messages", "b")


def test_organizations_of_like_load_hold_each_other_back_not_at_all(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu, threads=8, capacity=2)
    for n in range(5):
        run(shares, broker, cpu, message("a", 100 + n), 0.1)
        run(shares, broker, cpu, message("b", 100 + n), 0.1)
    assert all(starts(shares, broker, message("a", n)) for n in range(4))
    assert all(starts(shares, broker, message("b", n)) for n in range(4))


def test_an_organization_no_longer_seen_gives_its_part_back(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu)
    run(shares, broker, cpu, message("a", 100), 1.0)
    run(shares, broker, cpu, message("b", 0), 0.0)
    for n in range(2):
        assert starts(shares, broker, message("a", n))
    assert not starts(shares, broker, message("a", 2))  # b was seen a moment ago

    clock.now += 2.5

    assert starts(shares, broker, message("a", 3))
    assert starts(shares, broker, message("a", 4))


def test_time_used_long_ago_counts_for_little(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu)
    run(shares, broker, cpu, message("a", 100), 1.0)
    run(shares, broker, cpu, message("b", 100), 0.1)
    assert shares.over_share("notifications.messages", "a") is False  # runs nothing now
    assert starts(shares, broker, message("a", 0))
    assert starts(shares, broker, message("a", 1))
    assert not starts(shares, broker, message("a", 2))  # ahead: two of four
    finish(shares, broker, message("a", 0))
    finish(shares, broker, message("a", 1))
    # Both keep sending; A's second ago decays while B uses as much as it did.
    for second in range(6):
        clock.now += 1.0
        run(shares, broker, cpu, message("a", 10 + second), 0.05)
        run(shares, broker, cpu, message("b", 10 + second), 0.05)
    assert all(starts(shares, broker, message("a", 20 + n)) for n in range(3))


def test_a_skipped_message_frees_nothing_it_did_not_hold(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu, threads=2)
    run(shares, broker, cpu, message("a", 100), 1.0)
    assert starts(shares, broker, message("a", 0))
    assert starts(shares, broker, message("b", 0))
    refused = message("a", 1)
    assert not starts(shares, broker, refused)
    shares.after_skip_message(broker, refused)  # type: ignore[arg-type]
    assert not starts(shares, broker, message("a", 2))  # a-0 still holds a's one thread


def test_work_of_no_known_organization_shares_as_one_more(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu, threads=2)
    run(shares, broker, cpu, message("a", 100), 1.0)
    assert starts(shares, broker, message("a", 0))
    nobodys = dramatiq.Message(
        queue_name="notifications.messages",
        actor_name="handle_messages",
        args=(),
        kwargs={},
        options={},
        message_id="x",
    )
    assert starts(shares, broker, nobodys)
    assert not starts(shares, broker, message("a", 1))


def test_queues_no_worker_of_this_process_consumes_are_not_shared(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = OrgShares(lambda m: m.kwargs.get("org"), clock=clock, cpu_clock=cpu)
    shares.after_worker_boot(broker, FakeWorker(1, {"backfill"}))  # type: ignore[arg-type]
    assert starts(shares, broker, message("a", 0, queue="backfill"))
    assert not starts(shares, broker, message("a", 1, queue="backfill"))
    assert starts(shares, broker, message("a", 2))  # notifications: not this worker's
    assert not shares.over_share("notifications.messages", "a")
    shares.give_way("notifications.messages", "a")  # returns at once


def test_a_capacity_shares_fewer_threads_than_the_worker_has_but_never_alone(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu, threads=8, capacity=2)
    # Alone, every one of the eight threads.
    assert all(starts(shares, broker, message("a", n)) for n in range(8))
    cpu.now += 2.0
    for n in range(8):
        finish(shares, broker, message("a", n))
    assert starts(shares, broker, message("b", 0))
    # A ahead of one other: one of the capacity of two, whatever the threads.
    assert starts(shares, broker, message("a", 8))
    assert not starts(shares, broker, message("a", 9))


def test_long_work_of_an_organization_ahead_gives_way_while_lighter_work_runs(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu)
    run(shares, broker, cpu, message("a", 100, queue="backfill"), 1.0)
    live = message("b", 0)
    assert starts(shares, broker, live)
    gave_way = threading.Event()

    def backfill_step() -> None:
        shares.give_way("backfill", "a")
        gave_way.set()

    waiting = threading.Thread(target=backfill_step)
    waiting.start()
    assert not gave_way.wait(0.2)  # B's message runs: A's backfill waits
    finish(shares, broker, live)
    assert gave_way.wait(1.0)  # and goes on as soon as it ends
    waiting.join()


def test_long_work_waits_for_lighter_work_only_so_long(
    clock: Clock, broker: FakeBroker, cpu: CpuClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(org_shares, "GIVE_WAY_SECONDS", 0.1)
    shares = shares_of(clock, broker, cpu)
    run(shares, broker, cpu, message("a", 100, queue="backfill"), 1.0)
    assert starts(shares, broker, message("b", 0))  # and never finishes
    began = time.monotonic()
    shares.give_way("backfill", "a")
    assert time.monotonic() - began < 5.0  # it returned: lighter work never stalls it for good


def test_light_work_never_gives_way(clock: Clock, broker: FakeBroker, cpu: CpuClock) -> None:
    shares = shares_of(clock, broker, cpu)
    run(shares, broker, cpu, message("a", 100), 1.0)
    assert starts(shares, broker, message("a", 0))
    began = time.monotonic()
    shares.give_way("backfill", "b")  # b is not ahead: no waiting at all
    shares.give_way("backfill", "a")  # a is ahead, but no lighter work runs
    assert time.monotonic() - began < 0.5


def test_a_long_message_counts_while_it_runs(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu)
    assert starts(shares, broker, message("a", 0, queue="backfill"))
    cpu.now += 3.0  # a backfill slice, still running
    assert starts(shares, broker, message("b", 0))
    assert shares.over_share("backfill", "a") is False  # one running: within two
    assert starts(shares, broker, message("a", 1, queue="backfill"))
    assert not starts(shares, broker, message("a", 2, queue="backfill"))


def test_threads_held_waiting_count_like_the_cpu(
    clock: Clock, broker: FakeBroker, cpu: CpuClock
) -> None:
    shares = shares_of(clock, broker, cpu, threads=2)
    run(shares, broker, cpu, message("b", 100), 0.01)
    assert starts(shares, broker, message("a", 0))
    clock.now += 0.3  # a slow Nylas: the thread waits, no CPU used
    finish(shares, broker, message("a", 0))
    assert starts(shares, broker, message("a", 1))
    assert not starts(shares, broker, message("a", 2))  # ahead in time held: one of two
    assert starts(shares, broker, message("b", 0))


def test_a_threads_cpu_clock_is_read_from_another_thread() -> None:
    busy_for = threading.Event()
    used: list[float] = []

    def busy() -> None:
        began = time.thread_time()
        while time.thread_time() - began < 0.05:
            pass
        used.append(thread_cpu_seconds(threading.get_ident()))
        busy_for.wait()

    worker = threading.Thread(target=busy)
    worker.start()
    while not used:
        time.sleep(0.01)
    assert worker.ident is not None
    seen = thread_cpu_seconds(worker.ident)
    busy_for.set()
    worker.join()
    assert used[0] >= 0.05
    assert seen >= used[0]


def test_alone_an_organization_costs_one_clock_reading_a_message(
    clock: Clock, broker: FakeBroker
) -> None:
    readings: list[int] = []

    def counted(thread: int) -> float:
        readings.append(thread)
        return 0.0

    shares = OrgShares(lambda m: m.kwargs.get("org"), clock=clock, cpu_clock=counted)
    shares.after_worker_boot(broker, FakeWorker(64, None))  # type: ignore[arg-type]
    for n in range(20):
        assert starts(shares, broker, message("a", n))
    shares.give_way("notifications.messages", "a")
    # Its start's mark each; no reading of the others' clocks to share with nobody.
    assert len(readings) == 20
