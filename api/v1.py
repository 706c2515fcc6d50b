"""The CRM API under ``/v1``: bearer tokens in front of reps, contacts, emails, changes and
the organizations they belong to.

:data:`OPERATIONS` is every operation the router serves, in the order the document lists
them; :func:`v1_document` is ``/openapi.json``, written from them.
"""

from __future__ import annotations

from functools import cache

from starlette.middleware import Middleware
from starlette.routing import Mount, Router

from api import (
    accounts,
    action_items,
    changes,
    contacts,
    emails,
    notifications,
    org_tokens,
    organizations,
    reps,
    sends,
    stream,
    subscriptions,
)
from api.accounts import AccountsConfig, account_routes
from api.action_items import action_item_routes
from api.auth import BearerAuth
from api.changes import change_routes
from api.contacts import contact_routes
from api.context import ApiContext
from api.emails import email_routes
from api.notifications import notification_routes
from api.openapi import Schema, openapi_document
from api.operations import Operation
from api.org_tokens import org_token_routes
from api.organizations import organization_routes
from api.reps import rep_routes
from api.security_headers import PrivateAnswers
from api.sends import send_routes
from api.stream import stream_routes
from api.subscriptions import subscription_routes

PREFIX = "/v1"

OPERATIONS: tuple[Operation, ...] = (
    *reps.OPERATIONS,
    *accounts.OPERATIONS,
    *sends.OPERATIONS,
    *contacts.OPERATIONS,
    *action_items.OPERATIONS,
    *emails.OPERATIONS,
    *notifications.OPERATIONS,
    *changes.OPERATIONS,
    *stream.OPERATIONS,
    *subscriptions.OPERATIONS,
    *organizations.OPERATIONS,
    *org_tokens.OPERATIONS,
)


@cache
def v1_document() -> Schema:
    """``/openapi.json`` of the CRM API (the same object each call: do not change it)."""
    return openapi_document(OPERATIONS, PREFIX)


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
        *organization_routes(context),
        *org_token_routes(context),
    ]
    served = sorted(route.name for route in routes)
    declared = sorted(op.operation_id for op in OPERATIONS)
    if served != declared:
        raise RuntimeError(f"the /v1 routes {served} are not the operations {declared}")
    # No slash redirects: Starlette builds them from the request's Host header (finding L6).
    router = Router(routes, redirect_slashes=False)
    return Mount(
        PREFIX,
        app=router,
        # Outermost first: a 401 is private and not to be sniffed either.
        middleware=[
            Middleware(PrivateAnswers),
            Middleware(
                BearerAuth,
                tokens=tokens,
                org_exists=context.org_exists,
                find_holder=context.token_holder,
            ),
        ],
    )
