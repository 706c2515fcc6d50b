"""A load generator for HTTP/1.1 endpoints: keep-alive connections, fixed concurrency or rate.

Written on asyncio streams rather than with a full HTTP client, because the client shares
this 2-core machine with the server it measures: a client that spends a few hundred
microseconds per request (httpx, measured in BENCHMARKS.md) would become the limit before a
bare Starlette endpoint does, and the ingress-to-bare ratio would say nothing. Each request is
prepared before the clock starts (head and body bytes); a response is read by its status line,
``Content-Length`` (or chunks) and nothing more.

Two modes. With ``concurrency`` alone (closed loop) each connection sends its next request as
soon as the previous answer arrives: throughput at that concurrency. With ``rate`` (open loop)
request *i* is due at ``start + i / rate`` and its latency counts from when it was due, so a
server that falls behind is charged for the wait (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

NO_ANSWER = 0  # the status of a request that got no answer (connection refused or lost)


@dataclass(frozen=True, slots=True)
class Request:
    """One prepared request; ``tag`` lets the caller find its sample again."""

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """When one request started (was due, in rate mode) and was answered, and how."""

    start: float
    end: float
    status: int
    tag: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass(slots=True)
class LoadRun:
    """The samples of one run and the window they are measured over (``perf_counter``)."""

    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0
    window_start: float = 0.0
    window_end: float = 0.0

    def measured(self) -> list[Sample]:
        """The samples that completed inside the window (warm-up and tail left out)."""
        return [s for s in self.samples if self.window_start <= s.end <= self.window_end]

    @property
    def window_seconds(self) -> float:
        return max(self.window_end - self.window_start, 1e-9)

    @property
    def elapsed_seconds(self) -> float:
        """From the first request to the end of the window, warm-up included."""
        return max(self.window_end - self.started, 1e-9)

    def throughput(self, status: int = 200) -> float:
        """Answers with ``status`` per second of the window."""
        return sum(1 for s in self.measured() if s.status == status) / self.window_seconds

    def latency_ms(self, quantile: float) -> float:
        """The latency at ``quantile`` (0.5, 0.99) of the window's answers, in milliseconds."""
        return percentile([s.latency for s in self.measured()], quantile) * 1000

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for sample in self.measured():
            counts[sample.status] = counts.get(sample.status, 0) + 1
        return counts


def percentile(values: Sequence[float], quantile: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``quantile`` of them at or
    below it. ``nan`` for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[rank - 1]


class Connection:
    """One keep-alive HTTP/1.1 connection to ``host:port``; reconnects after a close."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, request: Request) -> tuple[int, bytes]:
        """Send ``request`` and read its answer: the status and the body.

        Raises:
            OSError, asyncio.IncompleteReadError: the connection failed (it is dropped, and
                the next call opens a new one).
        """
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        try:
            self._writer.writelines((self._head(request), request.body))
            status, body, keep_alive = await _read_response(self._reader)
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            raise
        if not keep_alive:
            self.close()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    def _head(self, request: Request) -> bytes:
        lines = [
            f"{request.method} {request.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(request.body)}",
            *(f"{name}: {value}" for name, value in request.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def run_load(
    host: str,
    port: int,
    requests: Iterable[Request],
    *,
    concurrency: int,
    duration: float | None = None,
    warmup: float = 0.0,
    rate: float | None = None,
) -> LoadRun:
    """Send ``requests`` over ``concurrency`` connections until they run out or time is up.

    Samples answered during the first ``warmup`` seconds are kept but left out of the
    measured window, which lasts ``duration`` seconds (or until the last answer).
    """
    if concurrency < 1 or (rate is not None and rate <= 0):
        raise ValueError("concurrency must be at least 1 and a rate must be positive")
    source: Iterator[Request] = iter(requests)
    run = LoadRun()
    started = time.perf_counter()
    stop_at = math.inf if duration is None else started + warmup + duration
    issued = 0

    def next_request() -> tuple[Request, float] | None:
        nonlocal issued
        due = time.perf_counter() if rate is None else started + issued / rate
        if due >= stop_at:
            return None
        request = next(source, None)
        if request is None:
            return None
        issued += 1
        return request, due

    async def connection_loop() -> None:
        connection = Connection(host, port)
        try:
            while (job := next_request()) is not None:
                request, due = job
                if rate is not None and due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                start = due if rate is not None else time.perf_counter()
                try:
                    status, _ = await connection.send(request)
                except (OSError, asyncio.IncompleteReadError):
                    status = NO_ANSWER
                run.samples.append(Sample(start, time.perf_counter(), status, request.tag))
        finally:
            connection.close()

    await asyncio.gather(*(connection_loop() for _ in range(concurrency)))
    run.started = started
    run.window_start = started + warmup
    run.window_end = min(stop_at, max((s.end for s in run.samples), default=started))
    return run


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length, chunked, keep_alive = 0, False, True
    for line in header_lines:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            keep_alive = value != b"close"
    if chunked:
        return status, await _read_chunks(reader), keep_alive
    return status, await reader.readexactly(length), keep_alive


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # the empty trailer
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
