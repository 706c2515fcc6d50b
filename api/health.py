"""``/healthz`` (the process answers) and ``/readyz`` (it can reach Redis and the database)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Check = Callable[[], None]


def health_routes(checks: dict[str, Check]) -> list[Route]:
    """Health routes; ``checks`` maps a dependency's name to a call that raises if it is down."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        failed: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await run_in_threadpool(check)
            except Exception as error:  # any failure means not ready; say which and why
                failed[name] = type(error).__name__
        if failed:
            return JSONResponse({"status": "unavailable", "failed": failed}, status_code=503)
        return JSONResponse({"status": "ready", "checked": sorted(checks)})

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
