"""Group the enqueues of concurrent requests into one Redis round trip (group commit).

A notification may be acknowledged only once it is in Redis, so every request waits for a
Redis answer. Paid per request, that wait caps the ingress: each enqueue is a thread hop and
a round trip, and under load the hops queue up behind the event loop for the GIL. Here the
first request to arrive while nothing is being flushed is flushed at once, alone (no added
latency when quiet); the requests that arrive while that flush is in flight wait, and are
flushed together as soon as it returns, in one call of the Lua script. The busier the
ingress, the bigger the batches, and the round trips per request fall.

The guarantee does not change: each request gets the outcomes of its own notifications, in
order, only after the script that queued them has returned. When a flush fails, every
request in it gets the error (each answers 503 and Nylas delivers it again; the script is
atomic, so nothing of that flush was half queued). A request that is cancelled (its client
went away) is dropped before its flush, or its outcomes are discarded after it; either way
the other requests of its batch are unaffected. The notifications of one flush share its
``received_at``: they were received within one Redis round trip of each other.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from domain.notifications import Notification
from workers.enqueue import EnqueueOutcome

Flush = Callable[[list[Notification]], Awaitable[list[EnqueueOutcome]]]

DEFAULT_MAX_BATCH = 256  # notifications per script call: bounds the time Redis is busy


@dataclass(slots=True)
class _Waiter:
    notifications: list[Notification]
    outcomes: asyncio.Future[list[EnqueueOutcome]]


@dataclass(slots=True)
class _LoopState:
    pending: deque[_Waiter] = field(default_factory=deque)
    drain: asyncio.Task[None] | None = None


class EnqueueBatcher:
    """An async front of an enqueuer that batches the notifications of concurrent callers.

    ``flush`` queues a list of notifications in one round trip and returns one outcome per
    notification, in order (``NotificationEnqueuer.enqueue`` run in a thread). Callers on
    different event loops are batched separately: a future belongs to its own loop.
    """

    def __init__(self, flush: Flush, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._flush = flush
        self._max_batch = max_batch
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    async def enqueue(self, notifications: Sequence[Notification]) -> list[EnqueueOutcome]:
        """Queue ``notifications`` with whatever other callers are queueing; their outcomes.

        Raises:
            Whatever the flush that carried them raised (``QueueUnavailable`` for Redis).
        """
        if not notifications:
            return []
        loop = asyncio.get_running_loop()
        state = self._loops.setdefault(loop, _LoopState())
        waiter = _Waiter(list(notifications), loop.create_future())
        state.pending.append(waiter)
        if state.drain is None:
            # Its own task: a caller that is cancelled never cancels the others' flush.
            state.drain = loop.create_task(self._drain(state))
        return await waiter.outcomes

    async def _drain(self, state: _LoopState) -> None:
        """Flush batches until nobody is waiting."""
        try:
            while state.pending:
                batch = self._take_batch(state)
                if batch:
                    await self._flush_batch(batch)
        except asyncio.CancelledError:
            for waiter in state.pending:
                waiter.outcomes.cancel()
            state.pending.clear()
            raise
        finally:
            state.drain = None

    def _take_batch(self, state: _LoopState) -> list[_Waiter]:
        """The oldest waiters still waiting, up to ``max_batch`` notifications (at least one
        waiter, however many notifications it brings)."""
        batch: list[_Waiter] = []
        size = 0
        while state.pending:
            waiter = state.pending[0]
            if waiter.outcomes.done():  # cancelled before its turn: nothing to queue
                state.pending.popleft()
                continue
            if batch and size + len(waiter.notifications) > self._max_batch:
                break
            batch.append(state.pending.popleft())
            size += len(waiter.notifications)
        return batch

    async def _flush_batch(self, batch: list[_Waiter]) -> None:
        notifications = [n for waiter in batch for n in waiter.notifications]
        try:
            outcomes = await self._flush(notifications)
            if len(outcomes) != len(notifications):
                raise RuntimeError(
                    f"the enqueuer answered {len(outcomes)} outcomes for "
                    f"{len(notifications)} notifications"
                )
        except asyncio.CancelledError:
            for waiter in batch:
                waiter.outcomes.cancel()
            raise
        except Exception as error:
            for waiter in batch:
                if not waiter.outcomes.done():
                    waiter.outcomes.set_exception(error)
            return
        start = 0
        for waiter in batch:
            end = start + len(waiter.notifications)
            if not waiter.outcomes.done():  # cancelled while in flight: its outcomes go unread
                waiter.outcomes.set_result(outcomes[start:end])
            start = end
