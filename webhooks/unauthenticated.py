"""Where the ingress does the work a request costs before it has authenticated: one thread
of its own, at the lowest CPU priority, with a bounded queue.

Anyone on the internet can POST to the ingress, and before a body is authenticated its cost
is ours: an HMAC over up to the body limit, and for a gzip body a capped decompression. That
work is bounded and linear (webhooks.body), but an attacker can ask for it in a loop. Done
here, it never takes the event loop or the shared thread pool that signed notifications use,
and the operating system runs it only with what CPU those leave (``nice`` 19 for this one
thread, on Linux; elsewhere it runs at normal priority). Requests waiting for it are bounded
too: past :data:`MAX_WAITING` the answer is 503, which Nylas retries.

A signed body large enough not to be checked inline waits here as well: it is not known to be
signed until it has been checked. Nylas's notifications are small; one larger than
``INLINE_BODY_BYTES`` is acknowledged a little later while an attack lasts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from webhooks.errors import IngressBusy

logger = logging.getLogger(__name__)
T = TypeVar("T")

# The lowest priority a Linux task can have.
LOWEST_PRIORITY = 19
# Requests waiting for (or in) the thread at most; more are refused with 503.
MAX_WAITING = 32


def lower_own_priority() -> None:
    """Make the calling thread the last the scheduler runs (per-thread on Linux)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
    except (AttributeError, OSError) as error:  # not Linux, or not permitted: run as is
        logger.debug("unauthenticated work keeps its priority: %s", error)


class UnauthenticatedWork:
    """One low-priority thread for work done before a request has authenticated."""

    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self._max_waiting = max_waiting
        self._waiting = 0
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in the thread; its result or its exception.

        Raises:
            IngressBusy: when too many requests already wait (503, which Nylas retries).
        """
        if self._waiting >= self._max_waiting:
            raise IngressBusy("ingress_busy", "too many requests are being checked; retry later")
        self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread(), functools.partial(work, *args))
        finally:
            self._waiting -= 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _thread(self) -> ThreadPoolExecutor:
        # Made on first use: most processes never authenticate a large or compressed body.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="crmsync-unauthenticated",
                initializer=lower_own_priority,
            )
        return self._executor
