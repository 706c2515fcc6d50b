"""``/v1/reps/{rep_id}/action-items``: CRM action items synced two ways with the calendar.

``PUT`` sends the whole item with the CRM's own change time (``changed_at``); last writer
wins against edits made in the calendar, the CRM winning ties. The answer, like ``GET``,
shows where the item stands with its calendar: linked, pending push (and the last push
error), unlinked (its event was deleted in the calendar), or not synced.
"""

from __future__ import annotations

from pydantic import Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import org_of
from api.context import ApiContext
from api.cursors import cursor_text, encode_cursor
from api.inputs import ACTION_ITEM_JSON_BYTES, json_body
from api.operations import Answer, Operation
from api.queries import PageQuery, QueryModel, Time, read_query
from api.reps import require_rep
from domain import answers
from domain.action_items import ActionItemInput, parse_action_item
from domain.reps import validate_rep_id
from storage.action_items import delete_item, find_item, item_json, list_items, put_item
from storage.errors import NotFound
from storage.tables import ActionItemRow


class DeleteQuery(QueryModel):
    changed_at: Time | None = Field(
        None, description="when it was deleted in the CRM (default: now); last writer wins"
    )


LIST_ITEMS = Operation(
    "GET",
    "/reps/{rep_id}/action-items",
    "list_action_items",
    "action_items",
    "The rep's action items, in id order",
    (Answer(200, "a page", answers.ActionItemPage),),
    query=PageQuery,
    description="The rep's action items in id order, each with where it stands with the calendar.",
)
ONE_ITEM = "/reps/{rep_id}/action-items/{item_id}"
PUT_ITEM = Operation(
    "PUT",
    ONE_ITEM,
    "put_action_item",
    "action_items",
    "Create or update an action item (last writer wins against the calendar)",
    (Answer(200, "updated", answers.ActionItem), Answer(201, "created", answers.ActionItem)),
    body=ActionItemInput,
    description=(
        "Creates or updates an item and writes it to the rep's calendar (C1); the calendar's own "
        "edits come back the other way, and the later changed_at wins (C3)."
    ),
)
GET_ITEM = Operation(
    "GET",
    ONE_ITEM,
    "get_action_item",
    "action_items",
    "One action item and its calendar sync state",
    (Answer(200, "the item", answers.ActionItem),),
    description=(
        "One item and its calendar state: linked, pending_push (with last_push_error), "
        "push_failed, unlinked, not_synced, pending_delete or deleted."
    ),
)
DELETE_ITEM = Operation(
    "DELETE",
    ONE_ITEM,
    "delete_action_item",
    "action_items",
    "Delete an action item in the CRM; its event is deleted, the item kept, marked",
    (Answer(200, "the item, deleted", answers.ActionItem),),
    query=DeleteQuery,
    description=(
        "Deletes the item's event; the item is kept, marked deleted. changed_at (default now) is "
        "the CRM's time of the deletion, compared with the calendar's edits."
    ),
)
OPERATIONS = (LIST_ITEMS, PUT_ITEM, GET_ITEM, DELETE_ITEM)


def action_item_routes(context: ApiContext) -> list[Route]:
    async def put(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        item_id = validate_rep_id(request.path_params["item_id"])
        document = parse_action_item(await json_body(request, ACTION_ITEM_JSON_BYTES))

        def write(session: Session) -> tuple[answers.ActionItem, bool]:
            require_rep(session, org_id, rep_id)
            result = put_item(session, org_id, rep_id, item_id, document, context.clock())
            return item_json(result.row), result.created

        item, created = await context.in_transaction(write)
        return JSONResponse(item, status_code=201 if created else 200)

    async def get_one(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id, item_id = request.path_params["rep_id"], request.path_params["item_id"]

        def read(session: Session) -> answers.ActionItem:
            return item_json(_require_item(session, org_id, rep_id, item_id))

        return JSONResponse(await context.in_transaction(read))

    async def listing(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        query = read_query(request, PageQuery)
        limit = query.limit
        after = cursor_text(query.cursor, "after") if query.cursor else None

        def read(session: Session) -> list[answers.ActionItem]:
            require_rep(session, org_id, rep_id)
            rows = list_items(session, org_id, rep_id, after=after, limit=limit)
            return [item_json(row) for row in rows]

        items = await context.in_transaction(read)
        next_cursor = encode_cursor({"after": items[-1]["id"]}) if len(items) == limit else None
        page: answers.ActionItemPage = {"data": items, "next_cursor": next_cursor}
        return JSONResponse(page)

    async def delete(request: Request) -> JSONResponse:
        """Deleted in the CRM: its event is deleted; the item is kept, marked deleted."""
        org_id = org_of(request)
        rep_id, item_id = request.path_params["rep_id"], request.path_params["item_id"]
        at = read_query(request, DeleteQuery).changed_at or context.clock()

        def write(session: Session) -> answers.ActionItem:
            row = _require_item(session, org_id, rep_id, item_id, for_update=True)
            delete_item(session, row, at, context.clock())
            return item_json(row)

        return JSONResponse(await context.in_transaction(write))

    return [
        LIST_ITEMS.route(listing),
        PUT_ITEM.route(put),
        GET_ITEM.route(get_one),
        DELETE_ITEM.route(delete),
    ]


def _require_item(
    session: Session, org_id: str, rep_id: str, item_id: str, *, for_update: bool = False
) -> ActionItemRow:
    require_rep(session, org_id, rep_id)
    row = find_item(session, org_id, rep_id, item_id, for_update=for_update)
    if row is None:
        raise NotFound("unknown_action_item", f"rep {rep_id!r} has no action item {item_id!r}")
    return row
