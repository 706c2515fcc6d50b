"""The fake Nylas API in a process of its own, for a benchmark whose client must not share its
interpreter with the fake.

:func:`crmsync.bench.fake_nylas.serve_fake_nylas` serves the fake in a thread of the bench
process: right when the workers only resolve folders and fetch the odd truncated message. When
they page many mailboxes at once, that thread would take the bench process's interpreter lock
for seconds at a time, and the load generator and the feed reader, which time the figures,
would be measured late. Here the same server runs in a child forked from the bench process
(so it starts with the filled mailboxes, nothing copied), and messages put in it later go
over a pipe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from simulator.mailbox import FakeNylas

START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0
_STOP = "stop"
_PUT = "put"


@dataclass(frozen=True, slots=True)
class NylasProcess:
    """The fake as served by its own process: its URL, and how to put messages in it."""

    url: str
    pid: int
    _pipe: Connection

    def put_messages(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Put each ``(grant_id, message)`` in the served fake; returns once they are in."""
        batch = list(messages)
        if batch:
            self._pipe.send((_PUT, batch))
            self._pipe.recv()


@contextmanager
def nylas_process(fake: FakeNylas) -> Iterator[NylasProcess]:
    """Serve ``fake`` from a forked child process until the block ends.

    Fork before the bench process starts threads or an event loop: the child gets a copy of
    ``fake`` as it is, and changes made to the parent's copy afterwards never reach it.
    """
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(
        target=_serve, args=(fake, theirs), name="bench-fake-nylas", daemon=True
    )
    child.start()
    theirs.close()
    try:
        if not ours.poll(START_TIMEOUT_SECONDS):
            raise RuntimeError("the fake Nylas process did not start")
        url = str(ours.recv())
        yield NylasProcess(url, child.pid or 0, ours)
    finally:
        with contextlib.suppress(OSError):  # it may have gone already
            ours.send((_STOP, None))
        child.join(STOP_TIMEOUT_SECONDS)
        if child.is_alive():
            child.terminate()
            child.join()
        ours.close()


def _serve(fake: FakeNylas, pipe: Connection) -> None:
    from crmsync.bench.fake_nylas import serve_fake_nylas  # uvicorn, only in the child

    with serve_fake_nylas(fake) as url:
        pipe.send(url)
        while True:
            try:
                command, payload = pipe.recv()
            except EOFError:  # the bench process went away
                return
            if command == _STOP:
                return
            for grant_id, message in payload:
                fake.put_message(grant_id, message)
            pipe.send(len(payload))
