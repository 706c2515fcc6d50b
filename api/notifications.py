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

from pydantic import Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import caller_of, org_of
from api.context import ApiContext
from api.cursors import decode_cursor, encode_cursor
from api.errors import ApiError
from api.operations import Answer, Operation
from api.queries import Flag, PageQuery, Time, read_query
from api.reps import require_rep
from domain import answers
from domain.cursors import position_number, position_text
from domain.grants import GRANT_ID_SHAPE, is_grant_id
from domain.message_verdicts import validate_message_id
from domain.outcome_words import MAX_WORD_LENGTH, is_outcome_word
from domain.times import parse_rfc3339
from storage.message_history import (
    NotificationPageKey,
    explain_message,
    grant_owners,
    list_notifications,
    notification_json,
    rep_grant_ids,
)

# A page with payloads may weigh a megabyte per notification (Nylas truncates above that).
MAX_PAGE_WITH_PAYLOADS = 20


class NotificationListQuery(PageQuery):
    rep_id: str | None = Field(None, description="rep_id or grant_id (or both) is required")
    grant_id: str | None = Field(None, description="a mailbox grant, held by a rep or not")
    outcome: str | None = Field(None, description="only this outcome word (or state)")
    since: Time | None = Field(None, description="received at or after")
    include_payload: Flag = Field(
        False,
        description=f"with what Nylas sent (then limit is at most {MAX_PAGE_WITH_PAYLOADS})",
    )


EXPLAIN_MESSAGE = Operation(
    "GET",
    "/reps/{rep_id}/messages/{message_id}",
    "explain_message",
    "notifications",
    "Why a Nylas message is or is not in the CRM: the decision, every notification "
    "seen for it, the stored email",
    (Answer(200, "the decision", answers.MessageDecision),),
    path_schemas={"message_id": {"type": "string", "minLength": 1, "maxLength": 1024}},
    description=(
        "Why a Nylas message is or is not in the CRM for the rep: the decision (an outcome in a "
        "word, the rule that decided, a sentence, what would change it), every stored "
        "notification seen for it, the stored email, whether it waits for its folders, and the "
        "rep's settings that bear on it. A message crmsync has no record of is never_seen."
    ),
)
LIST_NOTIFICATIONS = Operation(
    "GET",
    "/notifications",
    "list_notifications",
    "notifications",
    "A rep's (or a grant's) stored notifications, newest first, outcomes explained",
    (Answer(200, "a page", answers.NotificationPage),),
    query=NotificationListQuery,
    description=(
        "For support staff: a rep's (or a mailbox grant's) stored notifications, newest first, "
        "each outcome explained; outcome filters by word, since by received time. What Nylas "
        "sent, message content included, only with include_payload=true, at most 20 a page."
    ),
)
OPERATIONS = (EXPLAIN_MESSAGE, LIST_NOTIFICATIONS)


def notification_routes(context: ApiContext) -> list[Route]:
    async def explain(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        message_id = validate_message_id(request.path_params["message_id"])

        def read(session: Session) -> answers.MessageDecision:
            return explain_message(session, require_rep(session, org_id, rep_id), message_id)

        return JSONResponse(await context.in_transaction(read))

    async def listing(request: Request) -> JSONResponse:
        caller = caller_of(request)
        org_id = caller.org_id
        query = read_query(request, NotificationListQuery)
        rep_id, grant_id, outcome = query.rep_id, query.grant_id, query.outcome
        if rep_id is None and grant_id is None:
            raise ApiError(400, "missing_filter", "give rep_id or grant_id (or both)")
        if grant_id is not None and not is_grant_id(grant_id):
            raise ApiError(400, "invalid_grant_id", f"a grant id is {GRANT_ID_SHAPE}")
        if outcome is not None and not is_outcome_word(outcome):
            raise ApiError(
                400,
                "invalid_outcome",
                f"'outcome' is a word such as no_contact: 1 to {MAX_WORD_LENGTH} lower-case "
                "letters, digits or '_'",
            )
        since, include_payload = query.since, query.include_payload
        given_limit = "limit" in query.model_fields_set
        limit = query.limit if given_limit or not include_payload else MAX_PAGE_WITH_PAYLOADS
        if include_payload and limit > MAX_PAGE_WITH_PAYLOADS:
            raise ApiError(
                400,
                "invalid_limit",
                f"with include_payload=true, 'limit' is at most {MAX_PAGE_WITH_PAYLOADS}",
            )
        after = _page_key(decode_cursor(query.cursor)) if query.cursor else None

        def read(session: Session) -> list[answers.Notification]:
            grants: list[str] = []
            if rep_id is not None:
                grants = rep_grant_ids(session, require_rep(session, org_id, rep_id))
                if grant_id is not None:
                    grants = [grant_id] if grant_id in grants else []
            elif grant_id is not None:
                # A grant's notifications are its organization's; those of a grant no rep
                # ever held are the deployment's, shown to admins only.
                owners = grant_owners(session, grant_id)
                mine = org_id in owners or (caller.admin and not owners)
                grants = [grant_id] if mine else []
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
        page: answers.NotificationPage = {"data": notifications, "next_cursor": next_cursor}
        return JSONResponse(page)

    return [EXPLAIN_MESSAGE.route(explain), LIST_NOTIFICATIONS.route(listing)]


def _page_key(position: dict[str, Any]) -> NotificationPageKey:
    at = position_text(position, "at")
    row_id = position_number(position, "id")
    parsed = parse_rfc3339(at) if at is not None else None
    if parsed is None or row_id is None:
        raise ApiError(400, "invalid_cursor", "the cursor is not one crmsync gave")
    return NotificationPageKey(parsed, row_id)
