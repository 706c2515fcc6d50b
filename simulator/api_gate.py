"""The gate every request to the fake Nylas API passes first: the log, faults, the API key.

Each request is logged (``simulator.faults``), may meet an injected fault (a status, a
``Retry-After``, a delay, an HTML body, a lost answer), and must carry ``Authorization: Bearer
<api_key>`` of one of the fake's applications, except the hosted-auth endpoints a browser
opens (``simulator.connect_api``). It runs before routing, as middleware, so a fault or a
refusal reaches every route alike, unknown routes included, and the routes see the caller's
application (``simulator.applications``) in the request's scope.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.api_envelopes import error, fault_response
from simulator.applications import APPLICATION_SCOPE_KEY
from simulator.connect_api import OPEN_PATHS
from simulator.mailbox import FakeNylas


async def _discard(message: Message) -> None:
    """An ASGI ``send`` that drops the answer: the request happened, its answer is lost."""


class Gate:
    """ASGI middleware: log the request, serve a pending fault, then check the API key.

    A fault with a status answers it after its delay, without doing the request (unless it is
    ``after_request``: then the request is done and its answer dropped). A slow fault (no
    status) does the request at once and holds the answer back: a client that times out has
    still changed the state, as with a slow provider, which is what makes a retried write
    risky.
    """

    def __init__(self, app: ASGIApp, fake: FakeNylas) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        method, path = request.method, scope["path"]
        params = request.query_params
        self.fake.record(method, path, {key: params.getlist(key) for key in params})
        fault = self.fake.take_fault(method, path)
        if fault is not None and fault.status is not None:
            if fault.after_request:
                await self._serve(request, scope, receive, _discard)
            await asyncio.sleep(fault.delay_seconds)
            await fault_response(fault, fault.status)(scope, receive, send)
            return
        if fault is not None and fault.delay_seconds > 0:
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self._serve(request, scope, receive, hold)
            await asyncio.sleep(fault.delay_seconds)
            for message in held:
                await send(message)  # dropped by the server if the client has gone
            return
        await self._serve(request, scope, receive, send)

    async def _serve(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        # Hosted auth is opened by a browser, and the token exchange authenticates with the
        # client secret in its body: neither needs the API key header.
        # The path below any mount point, compared whole: a suffix test would open
        # ``/v3/grants/x/messages/v3/connect/auth`` to callers without the key.
        if scope["path"].removeprefix(scope.get("root_path", "")) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        application = self.fake.applications.authenticate(
            request.headers.get("authorization", "").encode("latin-1")
        )
        if application is None:
            response = error(401, "unauthorized", "Unauthorized: invalid or missing API key")
            await response(scope, receive, send)
            return
        scope[APPLICATION_SCOPE_KEY] = application.client_id
        await self.app(scope, receive, send)
