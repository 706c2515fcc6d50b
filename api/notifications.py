"""Why an email is (not) in the CRM, answered for people: the decision for one message of a
rep, and a rep's stored notifications with their outcomes explained, for support staff.

``GET /v1/reps/{rep_id}/messages/{message_id}`` gives the decision for one Nylas message
(the rule that decided, in a sentence, what would change it), every notification seen for
it and the stored email if any. ``GET /v1/notifications`` pages a rep's (or a grant's)
notifications newest first; their payloads, which hold message content written by
strangers, only with ``include_payload=true`` and in smaller pages (answers are JSON, so
whatever they hold reaches a client escaped, never as markup).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.context import ApiContext
from api.cursors import decode_cursor, encode_cursor
from api.errors import ApiError
from api.inputs import query_flag, query_limit, query_time
from api.reps import require_rep
from domain.cursors import position_number, position_text
from domain.grants import GRANT_ID_SHAPE, is_grant_id
from domain.message_verdicts import validate_message_id
from domain.outcomes import MAX_WORD_LENGTH, is_outcome_word
from domain.times import parse_rfc3339
from storage.message_history import (
    NotificationPageKey,
    explain_message,
    list_notifications,
    notification_json,
    rep_grant_ids,
)

# A page with payloads may weigh a megabyte per notification (Nylas truncates above that).
MAX_PAGE_WITH_PAYLOADS = 20


def notification_routes(context: ApiContext) -> list[Route]:
    async def explain(request: Request) -> JSONResponse:
        rep_id = request.path_params["rep_id"]
        message_id = validate_message_id(request.path_params["message_id"])

        def read(session: Session) -> dict[str, Any]:
            return explain_message(session, require_rep(session, rep_id), message_id)

        return JSONResponse(await context.in_transaction(read))

    async def listing(request: Request) -> JSONResponse:
        params = request.query_params
        rep_id = params.get("rep_id")
        grant_id = params.get("grant_id")
        if rep_id is None and grant_id is None:
            raise ApiError(400, "missing_filter", "give rep_id or grant_id (or both)")
        if grant_id is not None and not is_grant_id(grant_id):
            raise ApiError(400, "invalid_grant_id", f"a grant id is {GRANT_ID_SHAPE}")
        outcome = params.get("outcome")
        if outcome is not None and not is_outcome_word(outcome):
            raise ApiError(
                400,
                "invalid_outcome",
                f"'outcome' is a word such as no_contact: 1 to {MAX_WORD_LENGTH} lower-case "
                "letters, digits or '_'",
            )
        since = query_time(request, "since")
        include_payload = query_flag(request, "include_payload")
        limit = query_limit(request, default=MAX_PAGE_WITH_PAYLOADS if include_payload else 50)
        if include_payload and limit > MAX_PAGE_WITH_PAYLOADS:
            raise ApiError(
                400,
                "invalid_limit",
                f"with include_payload=true, 'limit' is at most {MAX_PAGE_WITH_PAYLOADS}",
            )
        cursor = params.get("cursor")
        after = _page_key(decode_cursor(cursor)) if cursor else None

        def read(session: Session) -> list[dict[str, Any]]:
            grants: list[str] = []
            if rep_id is not None:
                grants = rep_grant_ids(session, require_rep(session, rep_id))
                if grant_id is not None:
                    grants = [grant_id] if grant_id in grants else []
            elif grant_id is not None:
                grants = [grant_id]
            rows = list_notifications(
                session, grant_ids=grants, outcome=outcome, since=since, after=after, limit=limit
            )
            return [
                notification_json(row, include_payload=include_payload, rep_id=rep_id)
                for row in rows
            ]

        notifications = await context.in_transaction(read)
        next_cursor = None
        if len(notifications) == limit:
            last = notifications[-1]
            next_cursor = encode_cursor({"at": last["received_at"], "id": last["id"]})
        return JSONResponse({"data": notifications, "next_cursor": next_cursor})

    return [
        Route("/reps/{rep_id}/messages/{message_id}", explain, methods=["GET"]),
        Route("/notifications", listing, methods=["GET"]),
    ]


def _page_key(position: dict[str, Any]) -> NotificationPageKey:
    at = position_text(position, "at")
    row_id = position_number(position, "id")
    parsed = parse_rfc3339(at) if at is not None else None
    if parsed is None or row_id is None:
        raise ApiError(400, "invalid_cursor", "the cursor is not one crmsync gave")
    return NotificationPageKey(parsed, row_id)
