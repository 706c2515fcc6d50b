"""Headers every ``/v1`` answer carries: it is private data for one bearer, never cached.

``Cache-Control: no-store`` because answers carry contacts, emails and, once, a
subscription's signing secret: no proxy or browser cache may keep them.
``X-Content-Type-Options: nosniff`` so that no client guesses another type than the one
declared (every answer is JSON or a server-sent event stream).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


class PrivateAnswers:
    """ASGI middleware setting :data:`HEADERS` on every HTTP answer of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
