"""Who is calling the CRM API, and in which organization the call acts.

The bearer check (``api.auth``) records a :class:`Caller` on every ``/v1`` request. A
deployment's own tokens (``CRMSYNC_API_TOKENS``) are admin tokens: they manage
organizations and act in any of them, the one the ``Crmsync-Org`` header names (the
``default`` organization without it, so a deployment without organizations works as it
always has). Every endpoint reads its organization from here, never from the request's
body or path: an organization's objects are found only within it.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from api.errors import ApiError

CALLER_SCOPE_KEY = "crmsync.caller"
ORG_HEADER = "Crmsync-Org"


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller: the organization it acts in, whether it is an admin, and
    the name its per-token limits count under (a position or an id, never the token)."""

    org_id: str
    admin: bool
    label: str


def caller_of(request: Request) -> Caller:
    caller = request.scope.get(CALLER_SCOPE_KEY)
    assert isinstance(caller, Caller), "every /v1 request passes the bearer check first"
    return caller


def org_of(request: Request) -> str:
    """The organization ``request`` acts in."""
    return caller_of(request).org_id


def require_admin(request: Request) -> Caller:
    """The caller, when it holds an admin token.

    Raises:
        ApiError: 404 for an organization's token: what only admins manage does not exist
            for it (no 403 that would say there is something to see).
    """
    caller = caller_of(request)
    if not caller.admin:
        raise ApiError(404, "not_found", "Not Found")
    return caller
