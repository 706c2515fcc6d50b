"""``/v1/subscriptions``: CRM endpoints that receive changes as signed webhooks (S3).

Creating a subscription answers its secret once (``whsec_...``, Standard Webhooks); it is
never shown again, only rotated: the new secret is answered once and the old one keeps
signing beside it for the overlap, so the subscriber can switch without losing a delivery.
A new subscription receives the changes recorded after its creation. Its delivery log
(every attempt, with status code and latency) is readable here. Subscriptions are their
organization's, and receive its changes only. An organization holds at most
``CRMSYNC_MAX_SUBSCRIPTIONS`` (each multiplies the deliveries of every change): one more is
429 until one is deleted.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.callers import org_of
from api.context import ApiContext
from api.cursors import cursor_number, encode_cursor
from api.inputs import json_body, read_body
from api.operations import Answer, Operation
from api.queries import PageQuery, read_query
from domain import answers
from domain.outbound_webhooks import (
    SECRET_BYTES,
    SubscriptionInput,
    parse_subscription,
    secret_from,
)
from storage.feed import head_position
from storage.subscriptions import (
    count_subscriptions_to_create,
    create_subscription,
    list_deliveries,
    list_subscriptions,
    require_subscription,
    rotate_secret,
    subscription_json,
    update_subscription,
)

DEFAULT_OVERLAP_HOURS = 24
MAX_OVERLAP_HOURS = 24 * 7


class RotateInput(BaseModel):
    """How long the old secret keeps signing beside the new one."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"overlap_hours": 24}]}
    )

    overlap_hours: int = Field(
        DEFAULT_OVERLAP_HOURS,
        ge=0,
        le=MAX_OVERLAP_HOURS,
        description="hours the old secret still signs, beside the new one",
    )


SUBSCRIPTION_ID = "/subscriptions/{subscription_id}"
CREATE = Operation(
    "POST",
    "/subscriptions",
    "create_subscription",
    "subscriptions",
    "Subscribe an endpoint; the secret is shown only in this answer",
    (Answer(201, "created", answers.Subscription),),
    body=SubscriptionInput,
    refusals=(429,),
    description=(
        "The endpoint receives the changes recorded from now on, signed as Standard Webhooks "
        "(webhook-id, webhook-timestamp, webhook-signature); event_types takes types or families "
        "(email.*), empty for all. The secret (whsec_...) is shown only in this answer. The URL "
        "must be http(s) on a public address (400 url_not_allowed otherwise)."
    ),
)
LIST = Operation(
    "GET",
    "/subscriptions",
    "list_subscriptions",
    "subscriptions",
    "Every subscription",
    (Answer(200, "the list", answers.SubscriptionList),),
    description="Every subscription with its status, failing_since and disabled_reason.",
)
GET = Operation(
    "GET",
    SUBSCRIPTION_ID,
    "get_subscription",
    "subscriptions",
    "One subscription",
    (Answer(200, "it", answers.Subscription),),
    description="One subscription; its secret is not shown again.",
)
UPDATE = Operation(
    "PATCH",
    SUBSCRIPTION_ID,
    "update_subscription",
    "subscriptions",
    "Change or re-enable a subscription",
    (Answer(200, "changed", answers.Subscription),),
    body=SubscriptionInput,
    description=(
        "Changes url, event_types or description; status active re-enables a subscription "
        "disabled after failing, disabled stops it."
    ),
)
DELETE = Operation(
    "DELETE",
    SUBSCRIPTION_ID,
    "delete_subscription",
    "subscriptions",
    "Delete a subscription",
    (Answer(204, "deleted"),),
    description="Deletes the subscription and its pending deliveries.",
)
ROTATE = Operation(
    "POST",
    f"{SUBSCRIPTION_ID}/rotate-secret",
    "rotate_subscription_secret",
    "subscriptions",
    "A new secret; the old one signs beside it for the overlap",
    (Answer(200, "with the new secret", answers.Subscription),),
    body=RotateInput,
    body_required=False,
    description=(
        "A new secret, shown once; the old one keeps signing beside it for overlap_hours (0 to "
        "168, default 24), so the endpoint can switch without losing a delivery."
    ),
)
DELIVERIES = Operation(
    "GET",
    f"{SUBSCRIPTION_ID}/deliveries",
    "list_deliveries",
    "subscriptions",
    "The delivery log, newest first",
    (Answer(200, "a page", answers.DeliveryPage),),
    query=PageQuery,
    description=(
        "The delivery log, newest first: each change's delivery state and every attempt's status "
        "code, latency and error."
    ),
)
OPERATIONS = (CREATE, LIST, GET, UPDATE, DELETE, ROTATE, DELIVERIES)


def new_secret() -> str:
    return secret_from(secrets.token_bytes(SECRET_BYTES))


def subscription_routes(context: ApiContext) -> list[Route]:
    async def create(request: Request) -> JSONResponse:
        org_id = org_of(request)
        document = parse_subscription(
            await json_body(request),
            creating=True,
            allowed_networks=context.webhook_allowed_networks,
        )

        def write(session: Session) -> answers.Subscription:
            if count_subscriptions_to_create(session, org_id) >= context.limits.max_subscriptions:
                raise context.limits.too_many_subscriptions()
            row = create_subscription(
                session, org_id, document, new_secret(), head_position(session), context.clock()
            )
            return subscription_json(row, with_secret=True)

        return JSONResponse(await context.in_transaction(write), status_code=201)

    async def listing(request: Request) -> JSONResponse:
        org_id = org_of(request)

        def read(session: Session) -> list[answers.Subscription]:
            return [subscription_json(row) for row in list_subscriptions(session, org_id)]

        listed: answers.SubscriptionList = {"data": await context.in_transaction(read)}
        return JSONResponse(listed)

    async def get_one(request: Request) -> JSONResponse:
        org_id = org_of(request)
        subscription_id = request.path_params["subscription_id"]

        def read(session: Session) -> answers.Subscription:
            return subscription_json(require_subscription(session, org_id, subscription_id))

        return JSONResponse(await context.in_transaction(read))

    async def update(request: Request) -> JSONResponse:
        org_id = org_of(request)
        subscription_id = request.path_params["subscription_id"]
        document = parse_subscription(
            await json_body(request),
            creating=False,
            allowed_networks=context.webhook_allowed_networks,
        )

        def write(session: Session) -> answers.Subscription:
            row = require_subscription(session, org_id, subscription_id, for_update=True)
            update_subscription(session, row, document, context.clock())
            return subscription_json(row)

        return JSONResponse(await context.in_transaction(write))

    async def delete(request: Request) -> Response:
        org_id = org_of(request)
        subscription_id = request.path_params["subscription_id"]

        def write(session: Session) -> None:
            session.delete(require_subscription(session, org_id, subscription_id, for_update=True))

        await context.in_transaction(write)
        return Response(status_code=204)

    async def rotate(request: Request) -> JSONResponse:
        org_id = org_of(request)
        subscription_id = request.path_params["subscription_id"]
        given = await read_body(request, RotateInput, "invalid_overlap", optional=True)
        overlap_hours = given.overlap_hours

        def write(session: Session) -> answers.Subscription:
            row = require_subscription(session, org_id, subscription_id, for_update=True)
            rotate_secret(
                session, row, new_secret(), timedelta(hours=overlap_hours), context.clock()
            )
            return subscription_json(row, with_secret=True)

        return JSONResponse(await context.in_transaction(write))

    async def deliveries(request: Request) -> JSONResponse:
        org_id = org_of(request)
        subscription_id = request.path_params["subscription_id"]
        query = read_query(request, PageQuery)
        limit = query.limit
        before = cursor_number(query.cursor, "before") if query.cursor else None

        def read(session: Session) -> list[answers.Delivery]:
            require_subscription(session, org_id, subscription_id)
            return list_deliveries(session, subscription_id, before_id=before, limit=limit)

        found = await context.in_transaction(read)
        next_cursor = encode_cursor({"before": found[-1]["id"]}) if len(found) == limit else None
        page: answers.DeliveryPage = {"data": found, "next_cursor": next_cursor}
        return JSONResponse(page)

    return [
        CREATE.route(create),
        LIST.route(listing),
        GET.route(get_one),
        UPDATE.route(update),
        DELETE.route(delete),
        ROTATE.route(rotate),
        DELIVERIES.route(deliveries),
    ]
