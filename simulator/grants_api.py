"""The grants routes of the fake Nylas API, and which grants a caller may see.

A request sees its application's grants only: another application's grant is answered exactly
as an unknown one, word for word, as Nylas answers it, so a caller learns nothing of the grants
of other applications. Every route under ``/v3/grants/{grant_id}`` (``simulator.mail_api``,
``simulator.calendar_api``) resolves its grant through :func:`caller_grant` for that reason.
Grants page by ``limit`` and ``offset``, as Nylas pages them, not by cursor.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.api_envelopes import ApiError, Wire, many, new_request_id, one
from simulator.api_requests import MAX_LIMIT, int_param_or
from simulator.applications import caller_of
from simulator.mailbox import FakeNylas

DEFAULT_GRANT_LIMIT = 10

GRANT_PATH = "/v3/grants/{grant_id}"


def caller_grant(fake: FakeNylas, request: Request) -> Wire:
    """The path's grant, if it is one of the caller's application's; else the 404 of a
    grant that does not exist, word for word."""
    grant_id = request.path_params["grant_id"]
    grant = fake.grant(grant_id)
    if grant is None or not fake.applications.owns(caller_of(request.scope), grant_id):
        raise ApiError(404, f"grant {grant_id} not found")
    return grant


class _GrantHandlers:
    """The grants endpoints, over one :class:`FakeNylas`."""

    def __init__(self, fake: FakeNylas) -> None:
        self.fake = fake

    async def list_grants(self, request: Request) -> Response:
        """Grants page by ``limit`` (default 10) and ``offset``, not by cursor."""
        params = request.query_params
        limit = int_param_or(params, "limit", DEFAULT_GRANT_LIMIT, maximum=MAX_LIMIT)
        offset = int_param_or(params, "offset", 0)
        wanted = {key: params.get(key) for key in ("provider", "email", "grant_status")}
        caller = caller_of(request.scope)
        grants = [
            g
            for g in self.fake.grants()
            if self.fake.applications.owns(caller, g["id"])
            and all(value is None or g.get(key) == value for key, value in wanted.items())
        ]
        return many(grants[offset : offset + limit], None)

    async def find_grant(self, request: Request) -> Response:
        return one(caller_grant(self.fake, request))

    async def destroy_grant(self, request: Request) -> Response:
        grant_id = caller_grant(self.fake, request)["id"]
        if not self.fake.delete_grant(grant_id):
            raise ApiError(404, f"grant {grant_id} not found")
        return JSONResponse({"request_id": new_request_id()})


def grant_routes(fake: FakeNylas) -> list[Route]:
    """``/v3/grants`` and ``/v3/grants/{grant_id}`` over ``fake``."""
    handlers = _GrantHandlers(fake)
    return [
        Route("/v3/grants", handlers.list_grants),
        Route(GRANT_PATH, handlers.find_grant, methods=["GET"]),
        Route(GRANT_PATH, handlers.destroy_grant, methods=["DELETE"]),
    ]
