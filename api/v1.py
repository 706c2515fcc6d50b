"""The CRM API under ``/v1``: bearer tokens in front of reps, contacts, emails and changes."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

from api.accounts import AccountsConfig, account_routes
from api.action_items import action_item_routes
from api.auth import BearerAuth
from api.changes import change_routes
from api.contacts import contact_routes
from api.context import ApiContext
from api.emails import email_routes
from api.errors import ApiError
from api.inputs import refuse_control_characters
from api.notifications import notification_routes
from api.openapi import query_parameters
from api.reps import rep_routes
from api.security_headers import PrivateAnswers
from api.sends import send_routes
from api.stream import stream_routes
from api.subscriptions import subscription_routes

PREFIX = "/v1"


def v1_mount(context: ApiContext, tokens: tuple[bytes, ...], accounts: AccountsConfig) -> Mount:
    """Mount every ``/v1`` route behind bearer-token authentication."""
    routes = [
        *rep_routes(context, accounts.silence_after),
        *account_routes(context, accounts),
        *contact_routes(context),
        *action_item_routes(context),
        *email_routes(context),
        *notification_routes(context),
        *send_routes(context),
        *change_routes(context),
        *stream_routes(context),
        *subscription_routes(context),
    ]
    # No slash redirects: Starlette builds them from the request's Host header (finding L6).
    router = Router([strict_query(route) for route in routes], redirect_slashes=False)
    return Mount(
        PREFIX,
        app=router,
        # Outermost first: a 401 is private and not to be sniffed either.
        middleware=[Middleware(PrivateAnswers), Middleware(BearerAuth, tokens=tokens)],
    )


def strict_query(route: Route) -> Route:
    """``route`` refusing query parameters the OpenAPI document does not list for it.

    A misspelt parameter (``rep=`` for ``rep_id=``) is an error, not a silent default; the
    document is the one list of what each operation takes. A control character in a path
    parameter or query value is refused here too, before any endpoint reads it.
    """
    methods = (route.methods or set()) - {"HEAD"}
    allowed = {m: query_parameters(PREFIX + route.path, m) for m in methods}
    endpoint = route.endpoint

    async def checked(request: Request) -> Response:
        unknown = sorted(set(request.query_params) - allowed.get(request.method, frozenset()))
        if unknown:
            raise ApiError(
                400,
                "unknown_parameter",
                f"unknown query parameter(s) {', '.join(map(repr, unknown))}; "
                f"this operation takes {sorted(allowed.get(request.method, ())) or 'none'}",
            )
        refuse_control_characters(request)
        response: Response = await endpoint(request)
        return response

    return Route(route.path, checked, methods=methods, name=route.name)
