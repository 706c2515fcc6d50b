"""The ingress's enqueue batcher against a fake enqueuer: grouping, outcomes, errors, cancels.

The fake records every flush and can hold one open, so each test decides exactly which
requests are waiting while a flush is in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from domain.notifications import Notification, parse_document
from simulator import notifications as sim
from webhooks.enqueue_batcher import EnqueueBatcher
from workers.enqueue import EnqueueOutcome
from workers.errors import QueueUnavailable

T = TypeVar("T")


def run(test: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(test())


def notification(notification_id: str) -> Notification:
    [unit] = parse_document(sim.message_created("grant-1") | {"id": notification_id})
    return unit


def v2_body(*message_ids: str) -> list[Notification]:
    return parse_document(sim.v2_body(*(sim.v2_message_delta("acct", m) for m in message_ids)))


class FakeEnqueuer:
    """Queues each id once, like the Lua script; ``hold()`` keeps the next flush open."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.seen: set[str] = set()
        self.failures: dict[int, Exception] = {}  # flush number (from 0) -> its error
        self._gate: asyncio.Event | None = None
        self.in_flight = asyncio.Event()

    def hold(self) -> asyncio.Event:
        self._gate = asyncio.Event()
        return self._gate

    async def flush(self, batch: list[Notification]) -> list[EnqueueOutcome]:
        self.batches.append([n.notification_id for n in batch])
        self.in_flight.set()
        if self._gate is not None:
            gate, self._gate = self._gate, None
            await gate.wait()
        if len(self.batches) - 1 in self.failures:
            raise self.failures[len(self.batches) - 1]
        outcomes = []
        for unit in batch:
            outcomes.append(EnqueueOutcome(unit, unit.notification_id not in self.seen))
            self.seen.add(unit.notification_id)
        return outcomes


async def settle() -> None:
    """Let every ready task run until it blocks."""
    for _ in range(5):
        await asyncio.sleep(0)


def ids(outcomes: list[EnqueueOutcome]) -> list[tuple[str, bool]]:
    return [(o.notification.notification_id, o.queued) for o in outcomes]


def start(batcher: EnqueueBatcher, units: list[Notification]) -> asyncio.Task[list[EnqueueOutcome]]:
    return asyncio.ensure_future(batcher.enqueue(units))


# Grouping --------------------------------------------------------------------------------------


def test_a_lone_request_is_flushed_at_once_and_alone() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()
        batcher = EnqueueBatcher(fake.flush)

        outcomes = await batcher.enqueue([notification("n1")])

        assert ids(outcomes) == [("n1", True)]
        assert fake.batches == [["n1"]]

    run(scenario)


def test_requests_that_arrive_during_a_flush_share_the_next_one() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()
        batcher = EnqueueBatcher(fake.flush)
        gate = fake.hold()
        first = start(batcher, [notification("a")])
        await fake.in_flight.wait()

        waiting = [start(batcher, [notification(name)]) for name in ("b", "c", "d")]
        await settle()
        assert fake.batches == [["a"]]  # nothing more is sent while the flush is in flight
        gate.set()
        results = await asyncio.gather(first, *waiting)

        assert fake.batches == [["a"], ["b", "c", "d"]]
        assert [ids(r) for r in results] == [[(n, True)] for n in "abcd"]

    run(scenario)


def test_each_request_gets_its_own_outcomes_in_order_duplicates_included() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()
        batcher = EnqueueBatcher(fake.flush)
        gate = fake.hold()
        opening = start(batcher, [notification("x")])
        await fake.in_flight.wait()

        several = v2_body("m1", "m2", "m3")
        retry = [notification("x"), notification("y")]
        twice = [notification("y")]  # the same id as the request before, in the same batch
        tasks = [start(batcher, units) for units in (several, retry, twice)]
        await settle()
        gate.set()
        await opening
        answered = [ids(outcomes) for outcomes in await asyncio.gather(*tasks)]

        assert answered == [
            [(unit.notification_id, True) for unit in several],
            [("x", False), ("y", True)],
            [("y", False)],
        ]
        assert len(fake.batches) == 2

    run(scenario)


def test_a_batch_holds_at_most_max_batch_notifications_but_never_splits_a_request() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()
        batcher = EnqueueBatcher(fake.flush, max_batch=3)
        gate = fake.hold()
        opening = start(batcher, [notification("a")])
        await fake.in_flight.wait()

        singles = [start(batcher, [notification(name)]) for name in ("b", "c", "d", "e")]
        big = start(batcher, v2_body("m1", "m2", "m3", "m4"))
        await settle()
        gate.set()
        await asyncio.gather(opening, *singles, big)

        sizes = [len(batch) for batch in fake.batches]
        assert sizes == [1, 3, 1, 4]

    run(scenario)


def test_nothing_to_enqueue_needs_no_flush() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()

        assert await EnqueueBatcher(fake.flush).enqueue([]) == []
        assert fake.batches == []

    run(scenario)


# Failures -------------------------------------------------------------------------------------


def test_a_failed_flush_fails_every_request_in_it_and_the_next_flush_works() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()
        batcher = EnqueueBatcher(fake.flush)
        gate = fake.hold()
        opening = start(batcher, [notification("a")])
        await fake.in_flight.wait()
        failing = [start(batcher, [notification(name)]) for name in ("b", "c")]
        await settle()
        fake.failures[1] = QueueUnavailable("could not reach the queue: refused")
        gate.set()

        assert ids(await opening) == [("a", True)]
        for task in failing:
            with pytest.raises(QueueUnavailable):
                await task
        assert ids(await batcher.enqueue([notification("b")])) == [("b", True)]

    run(scenario)


def test_an_enqueuer_that_answers_the_wrong_number_of_outcomes_fails_the_batch() -> None:
    async def scenario() -> None:
        async def short(batch: list[Notification]) -> list[EnqueueOutcome]:
            return [EnqueueOutcome(batch[0], True)]

        batcher = EnqueueBatcher(short)

        with pytest.raises(RuntimeError, match="1 outcomes for 2 notifications"):
            await batcher.enqueue(v2_body("m1", "m2"))

    run(scenario)


# Cancellation ---------------------------------------------------------------------------------


def test_a_request_cancelled_before_its_flush_is_left_out_of_it() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()
        batcher = EnqueueBatcher(fake.flush)
        gate = fake.hold()
        opening = start(batcher, [notification("a")])
        await fake.in_flight.wait()
        gone = start(batcher, [notification("b")])
        staying = start(batcher, [notification("c")])
        await settle()

        gone.cancel()
        gate.set()

        assert ids(await staying) == [("c", True)]
        await opening
        assert fake.batches == [["a"], ["c"]]
        assert gone.cancelled()

    run(scenario)


def test_a_request_cancelled_during_its_flush_leaves_the_others_their_answers() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()
        batcher = EnqueueBatcher(fake.flush)
        await batcher.enqueue([notification("warm")])
        gate = fake.hold()
        fake.in_flight.clear()
        leaving = start(batcher, [notification("b")])
        staying = start(batcher, [notification("c")])
        await fake.in_flight.wait()

        leaving.cancel()
        await settle()
        gate.set()

        assert ids(await staying) == [("c", True)]
        assert leaving.cancelled()
        # Its notification was already on its way: queued, as a later retry will find.
        assert "b" in fake.seen

    run(scenario)


def test_cancelling_every_waiter_never_cancels_the_flush_in_flight() -> None:
    async def scenario() -> None:
        fake = FakeEnqueuer()
        batcher = EnqueueBatcher(fake.flush)
        gate = fake.hold()
        only = start(batcher, [notification("a")])
        await fake.in_flight.wait()

        only.cancel()
        await settle()
        gate.set()
        await settle()

        assert fake.seen == {"a"}
        assert ids(await batcher.enqueue([notification("z")])) == [("z", True)]

    run(scenario)


def test_callers_on_different_event_loops_are_never_mixed() -> None:
    fake_calls: list[list[str]] = []

    async def flush(batch: list[Notification]) -> list[EnqueueOutcome]:
        fake_calls.append([n.notification_id for n in batch])
        await asyncio.sleep(0)
        return [EnqueueOutcome(n, True) for n in batch]

    batcher = EnqueueBatcher(flush)

    async def on_a_loop(name: str) -> list[tuple[str, bool]]:
        return ids(await batcher.enqueue([notification(name)]))

    assert asyncio.run(on_a_loop("first")) == [("first", True)]
    assert asyncio.run(on_a_loop("second")) == [("second", True)]
    assert fake_calls == [["first"], ["second"]]


def test_max_batch_must_be_positive() -> None:
    async def flush(batch: list[Notification]) -> list[EnqueueOutcome]:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="at least 1"):
        EnqueueBatcher(flush, max_batch=0)
