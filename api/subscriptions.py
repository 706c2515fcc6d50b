"""``/v1/subscriptions``: CRM endpoints that receive changes as signed webhooks (S3).

Creating a subscription answers its secret once (``whsec_...``, Standard Webhooks); it is
never shown again, only rotated: the new secret is answered once and the old one keeps
signing beside it for the overlap, so the subscriber can switch without losing a delivery.
A new subscription receives the changes recorded after its creation. Its delivery log
(every attempt, with status code and latency) is readable here. A deployment holds at most
``CRMSYNC_MAX_SUBSCRIPTIONS`` (each multiplies the deliveries of every change): one more is
429 until one is deleted.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.context import ApiContext
from api.cursors import cursor_number, encode_cursor
from api.errors import ApiError
from api.inputs import json_body, query_limit
from domain.outbound_webhooks import SECRET_BYTES, parse_subscription, secret_from
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


def new_secret() -> str:
    return secret_from(secrets.token_bytes(SECRET_BYTES))


def subscription_routes(context: ApiContext) -> list[Route]:
    async def create(request: Request) -> JSONResponse:
        document = parse_subscription(
            await json_body(request),
            creating=True,
            allowed_networks=context.webhook_allowed_networks,
        )

        def write(session: Session) -> dict[str, Any]:
            if count_subscriptions_to_create(session) >= context.limits.max_subscriptions:
                raise context.limits.too_many_subscriptions()
            row = create_subscription(
                session, document, new_secret(), head_position(session), context.clock()
            )
            return subscription_json(row, with_secret=True)

        return JSONResponse(await context.in_transaction(write), status_code=201)

    async def listing(request: Request) -> JSONResponse:
        def read(session: Session) -> list[dict[str, Any]]:
            return [subscription_json(row) for row in list_subscriptions(session)]

        return JSONResponse({"data": await context.in_transaction(read)})

    async def get_one(request: Request) -> JSONResponse:
        subscription_id = request.path_params["subscription_id"]

        def read(session: Session) -> dict[str, Any]:
            return subscription_json(require_subscription(session, subscription_id))

        return JSONResponse(await context.in_transaction(read))

    async def update(request: Request) -> JSONResponse:
        subscription_id = request.path_params["subscription_id"]
        document = parse_subscription(
            await json_body(request),
            creating=False,
            allowed_networks=context.webhook_allowed_networks,
        )

        def write(session: Session) -> dict[str, Any]:
            row = require_subscription(session, subscription_id, for_update=True)
            update_subscription(session, row, document, context.clock())
            return subscription_json(row)

        return JSONResponse(await context.in_transaction(write))

    async def delete(request: Request) -> Response:
        subscription_id = request.path_params["subscription_id"]

        def write(session: Session) -> None:
            session.delete(require_subscription(session, subscription_id, for_update=True))

        await context.in_transaction(write)
        return Response(status_code=204)

    async def rotate(request: Request) -> JSONResponse:
        subscription_id = request.path_params["subscription_id"]
        body = await json_body(request) if await request.body() else {}
        overlap_hours = (
            body.get("overlap_hours", DEFAULT_OVERLAP_HOURS) if isinstance(body, dict) else None
        )
        if (
            not isinstance(overlap_hours, int)
            or isinstance(overlap_hours, bool)
            or not 0 <= overlap_hours <= MAX_OVERLAP_HOURS
        ):
            raise ApiError(
                400,
                "invalid_overlap",
                f"'overlap_hours' must be a whole number from 0 to {MAX_OVERLAP_HOURS}",
            )

        def write(session: Session) -> dict[str, Any]:
            row = require_subscription(session, subscription_id, for_update=True)
            rotate_secret(
                session, row, new_secret(), timedelta(hours=overlap_hours), context.clock()
            )
            return subscription_json(row, with_secret=True)

        return JSONResponse(await context.in_transaction(write))

    async def deliveries(request: Request) -> JSONResponse:
        subscription_id = request.path_params["subscription_id"]
        limit = query_limit(request)
        cursor = request.query_params.get("cursor")
        before = cursor_number(cursor, "before") if cursor else None

        def read(session: Session) -> list[dict[str, Any]]:
            require_subscription(session, subscription_id)
            return list_deliveries(session, subscription_id, before_id=before, limit=limit)

        found = await context.in_transaction(read)
        next_cursor = encode_cursor({"before": found[-1]["id"]}) if len(found) == limit else None
        return JSONResponse({"data": found, "next_cursor": next_cursor})

    one = "/subscriptions/{subscription_id}"
    return [
        Route("/subscriptions", create, methods=["POST"]),
        Route("/subscriptions", listing, methods=["GET"]),
        Route(one, get_one, methods=["GET"]),
        Route(one, update, methods=["PATCH"]),
        Route(one, delete, methods=["DELETE"]),
        Route(f"{one}/rotate-secret", rotate, methods=["POST"]),
        Route(f"{one}/deliveries", deliveries, methods=["GET"]),
    ]
