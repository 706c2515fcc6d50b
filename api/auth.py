"""Bearer tokens for the CRM API: every ``/v1`` request names one of the configured tokens.

Tokens are compared in constant time, all of them every time, so neither the position of
a match nor the length of a common prefix shows in the response time. Several tokens are
allowed so one can be rotated without downtime.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from api.limits import CALLER_SCOPE_KEY


class BearerAuth:
    """ASGI middleware refusing requests without a valid ``Authorization: Bearer`` token."""

    def __init__(self, app: ASGIApp, tokens: tuple[bytes, ...]) -> None:
        if not tokens:
            raise ValueError("at least one API token is required")
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = _bearer(scope)
        which = None if presented is None else self._which(presented)
        if which is None:
            response = error_response(
                401,
                "unauthorized",
                "send 'Authorization: Bearer <token>' with a token crmsync was configured with",
                headers={"WWW-Authenticate": 'Bearer realm="crmsync"'},
            )
            await response(scope, receive, send)
            return
        # Which token, by position (never its value): the per-token limits count by it.
        scope[CALLER_SCOPE_KEY] = f"token-{which + 1}"
        await self.app(scope, receive, send)

    def _which(self, presented: bytes) -> int | None:
        """The position of the token presented, or None; every token is compared."""
        matched = None
        for position, token in enumerate(self.tokens):
            if hmac.compare_digest(presented, token):
                matched = position
        return matched


def _bearer(scope: Scope) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            return None
    return None
