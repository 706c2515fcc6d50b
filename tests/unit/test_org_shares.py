"""Each organization's share of a worker's threads (``workers.org_shares``), without I/O:
alone an organization has every thread; with others active, an equal part; a message over
its share goes back on its queue and is acknowledged, never lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dramatiq
import pytest
from dramatiq.middleware import SkipMessage

from workers.org_shares import OrgShares


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


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


def shares_of(clock: Clock, broker: FakeBroker, threads: int = 4) -> OrgShares:
    shares = OrgShares(lambda m: m.kwargs.get("org"), clock=clock)
    shares.after_worker_boot(broker, FakeWorker(threads, None))  # type: ignore[arg-type]
    return shares


def starts(shares: OrgShares, broker: FakeBroker, sent: dramatiq.Message[Any]) -> bool:
    try:
        shares.before_process_message(broker, sent)  # type: ignore[arg-type]
    except SkipMessage:
        return False
    return True


def test_alone_an_organization_has_every_thread(clock: Clock, broker: FakeBroker) -> None:
    shares = shares_of(clock, broker)
    assert [starts(shares, broker, message("a", n)) for n in range(5)] == [
        True,
        True,
        True,
        True,
        # More than the threads never run at once anyway; the fifth would wait for one.
        False,
    ]


def test_another_organization_gets_its_part_as_soon_as_it_is_seen(
    clock: Clock, broker: FakeBroker
) -> None:
    shares = shares_of(clock, broker)
    for n in range(4):
        assert starts(shares, broker, message("a", n))
    # B's message arrives while A holds every thread: it is not refused for A's sake...
    assert starts(shares, broker, message("b", 0))
    # ...and from now on A may hold two of four: its next messages go back on the queue.
    assert not starts(shares, broker, message("a", 4))
    assert [(m.message_id, delay) for m, delay in broker.enqueued] == [("a-4", 200)]
    assert shares.over_share("notifications.messages", "a")
    for n in range(2):
        shares.after_process_message(broker, message("a", n))  # type: ignore[arg-type]
    assert not shares.over_share("notifications.messages", "a")
    assert not starts(shares, broker, message("a", 5))  # still at its two
    assert starts(shares, broker, message("b", 1))


def test_an_organization_no_longer_seen_gives_its_part_back(
    clock: Clock, broker: FakeBroker
) -> None:
    shares = shares_of(clock, broker)
    assert starts(shares, broker, message("b", 0))
    shares.after_process_message(broker, message("b", 0))  # type: ignore[arg-type]
    for n in range(2):
        assert starts(shares, broker, message("a", n))
    assert not starts(shares, broker, message("a", 2))  # b was seen a moment ago

    clock.now += 2.5

    assert starts(shares, broker, message("a", 3))
    assert starts(shares, broker, message("a", 4))


def test_a_skipped_message_frees_nothing_it_did_not_hold(clock: Clock, broker: FakeBroker) -> None:
    shares = shares_of(clock, broker, threads=2)
    assert starts(shares, broker, message("a", 0))
    assert starts(shares, broker, message("b", 0))
    refused = message("a", 1)
    assert not starts(shares, broker, refused)
    shares.after_skip_message(broker, refused)  # type: ignore[arg-type]
    assert not starts(shares, broker, message("a", 2))  # a-0 still holds a's one thread


def test_work_of_no_known_organization_shares_as_one_more(clock: Clock, broker: FakeBroker) -> None:
    shares = shares_of(clock, broker, threads=2)
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
    clock: Clock, broker: FakeBroker
) -> None:
    shares = OrgShares(lambda m: m.kwargs.get("org"), clock=clock)
    shares.after_worker_boot(broker, FakeWorker(1, {"backfill"}))  # type: ignore[arg-type]
    assert starts(shares, broker, message("a", 0, queue="backfill"))
    assert not starts(shares, broker, message("a", 1, queue="backfill"))
    assert starts(shares, broker, message("a", 2))  # notifications: not this worker's
    assert not shares.over_share("notifications.messages", "a")


def test_a_capacity_shares_fewer_threads_than_the_worker_has_but_never_alone(
    clock: Clock, broker: FakeBroker
) -> None:
    shares = OrgShares(lambda m: m.kwargs.get("org"), capacity=2, clock=clock)
    shares.after_worker_boot(broker, FakeWorker(8, None))  # type: ignore[arg-type]
    # Alone, every one of the eight threads.
    assert all(starts(shares, broker, message("a", n)) for n in range(8))
    for n in range(8):
        shares.after_process_message(broker, message("a", n))  # type: ignore[arg-type]
    assert starts(shares, broker, message("b", 0))
    # Two active: one each of the capacity of two, whatever the threads.
    assert starts(shares, broker, message("a", 8))
    assert not starts(shares, broker, message("a", 9))
