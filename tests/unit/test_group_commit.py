"""The worker-side group commit: concurrent threads' items flushed together, each thread
answered with its own result or its own error, a poison item failing alone."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable

import pytest
from prometheus_client import REGISTRY

from workers.group_commit import GroupCommit, SplitOnFailure


class Recorder:
    """A run-together function that records its batches and can be held at its first call."""

    def __init__(self, poison: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.poison = poison
        self.first_call = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items: list[int]) -> list[str]:
        self.batches.append(list(items))
        self.first_call.set()
        self.release.wait(timeout=10)
        if self.poison & set(items):
            raise ValueError(f"poison in {items}")
        return [f"done {item}" for item in items]


def split_count(name: str) -> float:
    return REGISTRY.get_sample_value("crmsync_batch_splits_total", {"batch": name}) or 0.0


def release_when_waiting(
    group: GroupCommit, flush: SplitOnFailure[int, str], recorder: Recorder, count: int
) -> None:
    """Let the held first flush return once ``count`` items wait behind it."""

    def release() -> None:
        for _ in range(1000):
            if group.waiting(flush) >= count:
                break
            threading.Event().wait(0.01)
        recorder.release.set()

    threading.Thread(target=release).start()


def submitting(
    group: GroupCommit, flush: SplitOnFailure[int, str], items: Iterable[int]
) -> list[Callable[[], object]]:
    return [functools.partial(group.submit, flush, item) for item in items]


def run_threads(calls: list[Callable[[], object]]) -> tuple[dict[int, object], list[Exception]]:
    results: dict[int, object] = {}
    errors: list[Exception] = []

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            results[index] = call()
        except Exception as error:  # collected for the assertions
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results, errors


def test_an_item_alone_is_flushed_at_once_and_gets_its_result() -> None:
    recorder = Recorder()
    group = GroupCommit()
    assert group.submit(SplitOnFailure("test", recorder), 7) == "done 7"
    assert recorder.batches == [[7]]


def behind_a_held_flush(
    group: GroupCommit, recorder: Recorder, items: range
) -> tuple[dict[int, object], list[Exception]]:
    """Item 0 flushed alone and held there while ``items`` arrive, one thread each; then let
    go. The results (by position in ``items``) and errors of the threads of ``items``."""
    recorder.release.clear()
    flush = SplitOnFailure("test", recorder)
    first = threading.Thread(target=group.submit, args=(flush, 0))
    first.start()
    assert recorder.first_call.wait(timeout=10)
    release_when_waiting(group, flush, recorder, len(items))
    outcome = run_threads(submitting(group, flush, items))
    first.join(timeout=10)
    return outcome


def test_items_arriving_during_a_flush_are_flushed_together_each_with_its_own_result() -> None:
    recorder = Recorder()
    results, errors = behind_a_held_flush(GroupCommit(), recorder, range(1, 9))

    assert errors == []
    assert results == {i - 1: f"done {i}" for i in range(1, 9)}
    assert recorder.batches[0] == [0]
    # The eight that waited behind the first flush went in one batch.
    assert sorted(recorder.batches[1]) == list(range(1, 9))
    assert len(recorder.batches) == 2


def test_a_poison_item_fails_its_own_thread_and_the_others_are_saved() -> None:
    splits_before = split_count("test")
    recorder = Recorder(poison=frozenset({3}))
    results, errors = behind_a_held_flush(GroupCommit(), recorder, range(1, 6))

    assert [str(error) for error in errors] == ["poison in [3]"]
    assert split_count("test") == splits_before + 1
    assert results == {0: "done 1", 1: "done 2", 3: "done 4", 4: "done 5"}
    # Together once (failed), then each alone.
    assert sorted(recorder.batches[1]) == [1, 2, 3, 4, 5]
    assert sorted(map(tuple, recorder.batches[2:])) == [(1,), (2,), (3,), (4,), (5,)]


def test_batches_are_no_bigger_than_max_batch() -> None:
    recorder = Recorder()
    results, errors = behind_a_held_flush(GroupCommit(max_batch=3), recorder, range(1, 8))

    assert errors == []
    assert len(results) == 7
    assert all(len(batch) <= 3 for batch in recorder.batches)
    assert sorted(item for batch in recorder.batches for item in batch) == list(range(8))


def test_a_failing_item_alone_raises_its_error() -> None:
    group = GroupCommit()
    with pytest.raises(ValueError, match="poison"):
        group.submit(SplitOnFailure("test", Recorder(poison=frozenset({1}))), 1)


def test_a_flush_returning_the_wrong_number_of_results_fails_every_item() -> None:
    group = GroupCommit()
    with pytest.raises(RuntimeError, match="2 results for 1 items"):
        group.submit(SplitOnFailure("test", lambda items: ["a", "b"]), 1)


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(max_batch=0)
