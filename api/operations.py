"""One declaration per CRM API operation: its route, its inputs, its answers and its words.

An :class:`Operation` is what ``/openapi.json`` says of a call (``api.openapi`` writes the
document from the list of them) and what the router does with it (:meth:`Operation.route`):
the same query model refuses a parameter it does not name and documents those it does, the
same body model validates the body and writes its schema. Nothing about an operation is
written twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.callers import require_admin
from api.errors import ApiError
from api.inputs import refuse_control_characters
from api.queries import NoQuery, parameter_names
from domain.text import clipped

Schema = dict[str, Any]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Answer:
    """One documented answer: its status, what it means, and what it holds: an answer
    shape (a TypedDict of ``domain.answers``, whose schema becomes a component), a
    component by name, an inline schema, or nothing (204)."""

    status: int
    description: str
    schema: str | type | Schema | None = None
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Operation:
    """A CRM API operation under ``/v1``.

    ``refusals`` are the error statuses this operation may answer beyond those every one
    may (400, 401, 404; 413 when it takes a body). ``admin_only`` operations (managing
    organizations) are for admin tokens: to an organization's token they do not exist (404);
    every other one acts in the caller's organization (``api.callers``).
    """

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    answers: tuple[Answer, ...]
    query: type[BaseModel] = NoQuery
    body: str | type[BaseModel] | Schema | None = None
    body_required: bool = True
    refusals: tuple[int, ...] = ()
    description: str = ""
    path_schemas: Mapping[str, Schema] = field(default_factory=dict)
    admin_only: bool = False

    def route(self, endpoint: Endpoint) -> Route:
        """The route of this operation: ``endpoint`` behind the refusal of any query
        parameter the query model does not name (a misspelt ``rep=`` for ``rep_id=`` is an
        error, not a silent default) and of control characters in path or query."""
        allowed = parameter_names(self.query)
        takes = sorted(allowed)
        admin_only = self.admin_only

        async def checked(request: Request) -> Response:
            if admin_only:
                require_admin(request)
            unknown = sorted(set(request.query_params) - allowed)
            if unknown:
                # Named by their start, five at most: they are the client's own text.
                named = ", ".join(repr(clipped(name)) for name in unknown[:5])
                raise ApiError(
                    400,
                    "unknown_parameter",
                    f"unknown query parameter(s) {named}; this operation takes {takes or 'none'}",
                )
            refuse_control_characters(request)
            return await endpoint(request)

        return Route(self.path, checked, methods=[self.method], name=self.operation_id)
