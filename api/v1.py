"""The CRM API under ``/v1``: bearer tokens in front of reps, contacts, emails and changes."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Mount

from api.auth import BearerAuth
from api.changes import change_routes
from api.contacts import contact_routes
from api.context import ApiContext
from api.emails import email_routes
from api.reps import rep_routes
from api.stream import stream_routes
from api.subscriptions import subscription_routes


def v1_mount(context: ApiContext, tokens: tuple[bytes, ...]) -> Mount:
    """Mount every ``/v1`` route behind bearer-token authentication."""
    return Mount(
        "/v1",
        routes=[
            *rep_routes(context),
            *contact_routes(context),
            *email_routes(context),
            *change_routes(context),
            *stream_routes(context),
            *subscription_routes(context),
        ],
        middleware=[Middleware(BearerAuth, tokens=tokens)],
    )
