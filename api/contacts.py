"""``/v1/reps/{rep_id}/contacts``: a rep's "My Contacts", replaced in bulk or one at a time.

``PUT .../contacts`` makes the list the rep's whole list and answers what changed; a CRM can
send its full list on every sync and only the differences are written. Contacts of one rep
never match another rep's mail (E8). Addresses a rep's contacts gain get their past mail
searched for (E11): the backfill is recorded in the same transaction as the contacts.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.callers import org_of
from api.context import ApiContext
from api.cursors import cursor_text, encode_cursor
from api.errors import ApiError
from api.inputs import BULK_JSON_BYTES, json_body
from api.operations import Answer, Operation
from api.queries import LargePageQuery, read_query
from api.reps import require_rep
from domain import answers
from domain.contacts import (
    Contact,
    ContactInput,
    ContactListInput,
    contact_json,
    parse_contact,
    parse_contacts,
)
from storage.backfills import rep_addresses, start_retroactive_backfills
from storage.contacts import (
    ContactOutcome,
    ReplaceSummary,
    get_contact,
    list_contacts,
    put_contact,
    remove_contact,
    replace_contacts,
)
from storage.errors import NotFound

REPLACE_CONTACTS = Operation(
    "PUT",
    "/reps/{rep_id}/contacts",
    "replace_contacts",
    "contacts",
    "Replace the rep's whole contact list",
    (Answer(200, "what changed", answers.ContactsReplaced),),
    body=ContactListInput,
    description=(
        'Makes the list the rep\'s whole "My Contacts"; only differences are written, so '
        "sending the same list again costs nothing. Addresses the rep gains get their past mail "
        "searched (E11). The first wrong contact is named by its position (invalid_contact); the "
        "same id twice is duplicate_contact."
    ),
)
LIST_CONTACTS = Operation(
    "GET",
    "/reps/{rep_id}/contacts",
    "list_contacts",
    "contacts",
    "The rep's contacts, in id order",
    (Answer(200, "a page", answers.ContactPage),),
    query=LargePageQuery,
    description=(
        "The rep's contacts in id order, a page at a time; pass next_cursor back as cursor."
    ),
)
ONE_CONTACT = "/reps/{rep_id}/contacts/{contact_id}"
PUT_CONTACT = Operation(
    "PUT",
    ONE_CONTACT,
    "put_contact",
    "contacts",
    "Add or update one contact",
    (Answer(200, "updated", answers.Contact), Answer(201, "added", answers.Contact)),
    body=ContactInput,
    description=(
        "Adds or updates one contact; its addresses' past mail is searched if new to the rep "
        "(E11). A body id other than the URL's is 400 id_mismatch."
    ),
)
GET_CONTACT = Operation(
    "GET",
    ONE_CONTACT,
    "get_contact",
    "contacts",
    "One contact",
    (Answer(200, "the contact", answers.Contact),),
    description="One contact of the rep.",
)
DELETE_CONTACT = Operation(
    "DELETE",
    ONE_CONTACT,
    "delete_contact",
    "contacts",
    "Remove one contact",
    (Answer(204, "removed"),),
    description="Removes one contact; emails already stored stay.",
)
OPERATIONS = (REPLACE_CONTACTS, LIST_CONTACTS, PUT_CONTACT, GET_CONTACT, DELETE_CONTACT)


def contact_routes(context: ApiContext) -> list[Route]:
    async def replace(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        document = await json_body(request, BULK_JSON_BYTES)
        # Checking 100,000 contacts takes a while: off the event loop the ingress shares.
        contacts = await run_in_threadpool(parse_contacts, rep_id, document)

        def write(session: Session) -> ReplaceSummary:
            rep = require_rep(session, org_id, rep_id)
            known = rep_addresses(session, rep)
            summary = replace_contacts(session, org_id, rep_id, contacts, context.clock())
            start_retroactive_backfills(session, rep, known, context.clock())
            return summary

        summary = await context.in_transaction(write)
        replaced: answers.ContactsReplaced = {
            "rep_id": rep_id,
            "added": summary.added,
            "updated": summary.updated,
            "removed": summary.removed,
            "unchanged": summary.unchanged,
        }
        return JSONResponse(replaced)

    async def listing(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        query = read_query(request, LargePageQuery)
        limit = query.limit
        after = cursor_text(query.cursor, "after") if query.cursor else None

        def read(session: Session) -> list[Contact]:
            require_rep(session, org_id, rep_id)
            return list_contacts(session, org_id, rep_id, after=after, limit=limit)

        contacts = await context.in_transaction(read)
        next_cursor = (
            encode_cursor({"after": contacts[-1].crm_contact_id})
            if len(contacts) == limit
            else None
        )
        page: answers.ContactPage = {
            "data": [contact_json(c) for c in contacts],
            "next_cursor": next_cursor,
        }
        return JSONResponse(page)

    async def put_one(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        contact_id = request.path_params["contact_id"]
        document = await json_body(request)
        if isinstance(document, Mapping):
            document = {**document, "id": document.get("id", contact_id)}
        contact = parse_contact(rep_id, document)
        if contact.crm_contact_id != contact_id:
            raise ApiError(400, "id_mismatch", "the body's 'id' differs from the URL's")

        def write(session: Session) -> ContactOutcome:
            rep = require_rep(session, org_id, rep_id)
            known = rep_addresses(session, rep, contact.addresses)
            outcome = put_contact(session, org_id, contact, context.clock())
            start_retroactive_backfills(
                session, rep, known, context.clock(), among=contact.addresses
            )
            return outcome

        outcome = await context.in_transaction(write)
        status = 201 if outcome is ContactOutcome.ADDED else 200
        return JSONResponse(contact_json(contact), status_code=status)

    async def get_one(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        contact_id = request.path_params["contact_id"]

        def read(session: Session) -> Contact:
            require_rep(session, org_id, rep_id)
            contact = get_contact(session, org_id, rep_id, contact_id)
            if contact is None:
                raise NotFound("unknown_contact", f"rep {rep_id!r} has no contact {contact_id!r}")
            return contact

        return JSONResponse(contact_json(await context.in_transaction(read)))

    async def delete_one(request: Request) -> Response:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        contact_id = request.path_params["contact_id"]

        def write(session: Session) -> None:
            require_rep(session, org_id, rep_id)
            if not remove_contact(session, org_id, rep_id, contact_id, context.clock()):
                raise NotFound("unknown_contact", f"rep {rep_id!r} has no contact {contact_id!r}")

        await context.in_transaction(write)
        return Response(status_code=204)

    return [
        REPLACE_CONTACTS.route(replace),
        LIST_CONTACTS.route(listing),
        PUT_CONTACT.route(put_one),
        GET_CONTACT.route(get_one),
        DELETE_CONTACT.route(delete_one),
    ]
