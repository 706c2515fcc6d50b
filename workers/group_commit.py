"""Group the database work of concurrent worker threads into one transaction (group commit).

A worker thread handles one queued message at a time and may acknowledge it only once its
work is committed, so every message waits for a commit. Paid per message, that wait and the
statements around it cap the workers: about ten round trips to the database per message,
each with its driver and ORM overhead. Here the first thread to arrive while nothing is
being flushed flushes at once, alone (no added latency when quiet); the threads that arrive
while that flush is in flight wait, and the next of them flushes them all together as soon
as it returns. The busier the workers, the bigger the batches, and the round trips per
message fall. It is the worker-side twin of ``webhooks.enqueue_batcher``.

The guarantee does not change: each thread gets its own item's result, or its own item's
error, only after the flush that carried it has returned. A flush (:class:`SplitOnFailure`)
runs the whole batch in one transaction and, when that fails, each item again alone, so one
poison item fails alone and never blocks or fails the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from workers.metrics import BATCH_SIZE, BATCH_SPLITS

Item = TypeVar("Item")
Result = TypeVar("Result")

DEFAULT_MAX_BATCH = 256  # items per flush: bounds the time one transaction holds its locks


@dataclass(slots=True)
class _Slot(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: Exception | None = None


@dataclass(slots=True)
class _Line:
    """The items waiting for one flush function, and whether a thread is flushing them."""

    pending: list[_Slot[Any, Any]] = field(default_factory=list)
    flushing: bool = False


class GroupCommit:
    """Runs the items of concurrent threads through their flush in batches.

    Items are grouped by flush: callers passing the same flush share batches.
    No thread of its own: the flushing is done by the waiting threads, one at a time.
    """

    def __init__(self, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._max_batch = max_batch
        self._changed = threading.Condition()
        self._lines: dict[SplitOnFailure[Any, Any], _Line] = {}

    def waiting(self, flush: SplitOnFailure[Any, Any]) -> int:
        """How many items wait for ``flush`` behind the one in flight."""
        with self._changed:
            line = self._lines.get(flush)
            return len(line.pending) if line else 0

    def submit(self, flush: SplitOnFailure[Item, Result], item: Item) -> Result:
        """Run ``item`` through ``flush`` together with other threads' items; its result.

        Raises:
            The exception ``flush`` reported for this item, or raised for the whole batch.
        """
        slot: _Slot[Item, Result] = _Slot(item)
        with self._changed:
            line = self._lines.setdefault(flush, _Line())
            line.pending.append(slot)
            while not slot.done:
                if line.flushing:
                    self._changed.wait()
                    continue
                batch = line.pending[: self._max_batch]
                del line.pending[: self._max_batch]
                line.flushing = True
                self._changed.release()
                try:
                    _run(flush, batch)
                finally:
                    self._changed.acquire()
                    line.flushing = False
                    self._changed.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]


def _run(flush: SplitOnFailure[Any, Any], batch: list[_Slot[Any, Any]]) -> None:
    try:
        outcomes = list(flush([slot.item for slot in batch]))
        if len(outcomes) != len(batch):
            raise RuntimeError(f"flush returned {len(outcomes)} results for {len(batch)} items")
    except Exception as error:
        outcomes = [error] * len(batch)
    for slot, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, Exception):
            slot.error = outcome
        else:
            slot.result = outcome
        slot.done = True


class SplitOnFailure(Generic[Item, Result]):
    """A flush: the batch run by ``run_together`` (one transaction) and, if that fails,
    each item run alone by it, so only the items that fail alone fail.

    Called with a batch, it returns per item its result or the exception it failed with.
    ``name`` labels its metrics: batch sizes, and batches split.
    """

    def __init__(self, name: str, run_together: Callable[[list[Item]], Sequence[Result]]) -> None:
        self.name = name
        self._run_together = run_together

    def __call__(self, items: list[Item]) -> list[Result | Exception]:
        BATCH_SIZE.labels(self.name).observe(len(items))
        try:
            return list(self._run_together(items))
        except Exception:
            if len(items) == 1:
                raise
        BATCH_SPLITS.labels(self.name).inc()
        outcomes: list[Result | Exception] = []
        for item in items:
            try:
                outcomes.extend(self._run_together([item]))
            except Exception as error:
                outcomes.append(error)
        return outcomes
