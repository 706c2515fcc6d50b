"""The simulator's fake Nylas API, served in a thread of the benchmark process.

The workers resolve folders and complete truncated messages through the Nylas API; the
benchmark fills a :class:`~simulator.mailbox.FakeNylas` with the reps' mailboxes and serves
it over real HTTP, so those calls cost what a call over the loopback costs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api

START_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve_fake_nylas(fake: FakeNylas) -> Iterator[str]:
    """Serve ``fake`` on a free loopback port until the block ends; yields its base URL."""
    config = uvicorn.Config(
        build_nylas_api(fake), host="127.0.0.1", port=0, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-fake-nylas", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake Nylas API did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
