"""``/metrics`` in the Prometheus text format.

What it serves is assembled by the composition root (:func:`metrics_registry`): this
process's metrics, or, in prometheus_client's multiprocess mode, those of every process that
writes to the shared directory (the web and the separate worker processes on one host); plus
collectors that read the state of the world at scrape time (the queues in Redis).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
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


def metrics_routes(registry: CollectorRegistry) -> list[Route]:
    """The metrics route serving ``registry``, to mount under the application."""

    async def metrics(request: Request) -> Response:
        # Collectors may do I/O (Redis, the multiprocess files): off the event loop.
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics)]
