"""The one thread of unauthenticated ingress work: bounded waiting, lowest priority."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from webhooks.errors import IngressBusy
from webhooks.unauthenticated import LOWEST_PRIORITY, UnauthenticatedWork


def test_requests_past_the_waiting_bound_are_refused_busy_and_the_rest_complete() -> None:
    release = threading.Event()

    def held() -> str:
        release.wait(10)
        return "checked"

    async def flood() -> tuple[list[str], int]:
        work = UnauthenticatedWork(max_waiting=2)
        tasks = [asyncio.create_task(work.run(held)) for _ in range(2)]
        await asyncio.sleep(0.05)  # both are waiting for (or in) the one thread
        with pytest.raises(IngressBusy) as refused:
            await work.run(held)
        release.set()
        results = list(await asyncio.gather(*tasks))
        after = await work.run(lambda: "again")  # the bound frees as they finish
        work.close()
        assert refused.value.reason == "ingress_busy"
        return [*results, after], work._waiting

    results, waiting = asyncio.run(flood())

    assert results == ["checked", "checked", "again"]
    assert waiting == 0


def test_an_exception_in_the_work_reaches_the_caller_and_frees_its_place() -> None:
    def refuse() -> None:
        raise ValueError("bad body")

    async def run() -> int:
        work = UnauthenticatedWork(max_waiting=1)
        with pytest.raises(ValueError, match="bad body"):
            await work.run(refuse)
        waiting = work._waiting
        work.close()
        return waiting

    assert asyncio.run(run()) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_the_work_runs_at_the_lowest_priority() -> None:
    def own_priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def run() -> int:
        work = UnauthenticatedWork()
        priority = await work.run(own_priority)
        work.close()
        return priority

    assert asyncio.run(run()) == LOWEST_PRIORITY
    assert own_priority() != LOWEST_PRIORITY  # the caller's own thread is left as it was
