"""Bearer tokens for the CRM API: every ``/v1`` request names one of the configured tokens.

Tokens are compared in constant time, all of them every time, so neither the position of
a match nor the length of a common prefix shows in the response time. Several tokens are
allowed so one can be rotated without downtime.

A caller acts in one organization (``api.callers``): an admin token in the one its
``Crmsync-Org`` header names, ``default`` without it; an organization's token (``cso_...``,
looked up by its digest on each request, so a revoked one stops at once) in its own. A
header naming no organization, or another than the token's, is 404, as any other thing
that does not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.callers import CALLER_SCOPE_KEY, ORG_HEADER, Caller
from api.errors import error_response
from domain.errors import DomainError
from domain.organizations import DEFAULT_ORG_ID, validate_org_id
from storage.org_tokens import TOKEN_PREFIX, TokenHolder

OrgExists = Callable[[str], Awaitable[bool]]
FindHolder = Callable[[bytes], Awaitable[TokenHolder | None]]
_ORG_TOKEN = TOKEN_PREFIX.encode()
_ORG_HEADER = ORG_HEADER.lower().encode()


class BearerAuth:
    """ASGI middleware refusing requests without a valid ``Authorization: Bearer`` token,
    and recording the :class:`Caller` of those with one."""

    def __init__(
        self,
        app: ASGIApp,
        tokens: tuple[bytes, ...],
        org_exists: OrgExists,
        find_holder: FindHolder,
    ) -> None:
        if not tokens:
            raise ValueError("at least one API token is required")
        self.app = app
        self.tokens = tokens
        self.org_exists = org_exists
        self.find_holder = find_holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = _header(scope, b"authorization")
        token = _bearer(presented) if presented is not None else None
        caller = await self._caller(token) if token is not None else None
        if caller is None:
            response = error_response(
                401,
                "unauthorized",
                "send 'Authorization: Bearer <token>' with a token crmsync was configured with "
                "or an organization's token",
                headers={"WWW-Authenticate": 'Bearer realm="crmsync"'},
            )
            await response(scope, receive, send)
            return
        named = _header(scope, _ORG_HEADER)
        if named is not None:
            try:
                org_id = validate_org_id(named.decode("latin-1"))
            except DomainError as error:
                await error_response(400, error.reason, error.message)(scope, receive, send)
                return
            if org_id != caller.org_id:
                if not caller.admin or not await self.org_exists(org_id):
                    refused = error_response(404, "unknown_org", f"no organization {org_id!r}")
                    await refused(scope, receive, send)
                    return
                caller = Caller(org_id=org_id, admin=True, label=caller.label)
        scope[CALLER_SCOPE_KEY] = caller
        await self.app(scope, receive, send)

    async def _caller(self, token: bytes) -> Caller | None:
        """Who ``token`` is: an admin (in the default organization until a header names
        another), an organization's token, or None. Named by position or id, never by value:
        the per-token limits count by it."""
        which = self._which(token)
        if which is not None:
            return Caller(org_id=DEFAULT_ORG_ID, admin=True, label=f"token-{which + 1}")
        if not token.startswith(_ORG_TOKEN):
            return None
        holder = await self.find_holder(token)
        if holder is None:
            return None
        return Caller(org_id=holder.org_id, admin=False, label=holder.token_id)

    def _which(self, presented: bytes) -> int | None:
        """The position of the token presented, or None; every token is compared."""
        matched = None
        for position, token in enumerate(self.tokens):
            if hmac.compare_digest(presented, token):
                matched = position
        return matched


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == wanted:
            return value
    return None


def _bearer(value: bytes) -> bytes | None:
    scheme, _, token = value.partition(b" ")
    if scheme.lower() == b"bearer" and token.strip():
        return token.strip()
    return None
