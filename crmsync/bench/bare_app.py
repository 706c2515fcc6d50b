"""The baseline of the ingress benchmark: a Starlette endpoint that reads the body, answers 200.

Served by the same uvicorn with the same options as the real application, it measures what
the machine, uvicorn and Starlette cost before crmsync does any work: the real ingress is
reported as a share of it. ``uvicorn --factory crmsync.bench.bare_app:build_bare_app``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The same shape and size as the ingress's answer to one queued notification.
_ANSWER = {"status": "accepted", "queued": 1, "duplicates": 0, "ignored": 0}


async def _receive(request: Request) -> Response:
    await request.body()
    return JSONResponse(_ANSWER)


def build_bare_app() -> Starlette:
    """The baseline application: ``POST /webhooks/nylas`` on the same path as the real one."""
    return Starlette(routes=[Route("/webhooks/nylas", _receive, methods=["POST"])])
