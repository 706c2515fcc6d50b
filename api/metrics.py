"""``/metrics`` in the Prometheus text format.

What it serves is assembled by the composition root (:func:`metrics_registry`): this
process's metrics, or, in prometheus_client's multiprocess mode, those of every process that
writes to the shared directory (the web and the separate worker processes on one host); plus
collectors that read the state of the world at scrape time (the queues in Redis).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def metrics_registry(*collectors: Collector, multiprocess_dir: str | None) -> CollectorRegistry:
    """A registry for one application's ``/metrics``: the process's metrics and ``collectors``.

    With ``multiprocess_dir`` (``PROMETHEUS_MULTIPROC_DIR``), the process's metrics are the
    aggregate of every process's files there; otherwise the default registry of this process
    (one process: ``crmsync run``, or a web process whose workers are not on this host). A
    fresh registry per application, so that building several apps (tests, ``crmsync run``)
    never registers a collector twice on the process-wide default registry.
    """
    registry = CollectorRegistry()
    if multiprocess_dir:
        MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)
    for collector in collectors:
        registry.register(collector)
    return registry


# The files of gauges that count only while their process lives ("livesum", "liveall", ...):
# prometheus_client names them gauge_<mode>_<pid>.db.
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")


def forget_dead_processes(directory: str) -> list[int]:
    """Remove the live-gauge files of processes that no longer run; their pids.

    prometheus_client forgets a process's live gauges only when told (``mark_process_dead``),
    which a clean shutdown does and a SIGKILL never does: the in-progress gauge of a killed
    worker went on counting its last value. Called when a worker process starts and at every
    scrape, so a dead process stops counting within a scrape.
    """
    dead: set[int] = set()
    for path in Path(directory).glob("gauge_live*_*.db"):
        found = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if found is not None and not _running(int(found.group(1))):
            dead.add(int(found.group(1)))
    for pid in sorted(dead):
        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
    return sorted(dead)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (signal 0 checks without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def metrics_routes(registry: CollectorRegistry, multiprocess_dir: str | None = None) -> list[Route]:
    """The metrics route serving ``registry``, to mount under the application; with
    ``multiprocess_dir``, dead processes' live gauges are forgotten before each scrape."""

    def scrape() -> bytes:
        if multiprocess_dir:
            forget_dead_processes(multiprocess_dir)
        return generate_latest(registry)

    async def metrics(request: Request) -> Response:
        # Collectors may do I/O (Redis, the multiprocess files): off the event loop.
        body = await run_in_threadpool(scrape)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics)]
