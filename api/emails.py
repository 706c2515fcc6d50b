"""``/v1/emails``: the emails stored for reps, newest first, and hiding one (E7).

List by rep, by contact or by account (``rep_id``, ``contact_id``, ``account_ref``; at least
one, combinable); an unknown rep or contact is 404, an account is only a reference. Hidden
emails are left out unless ``include_hidden=true``. Pages are cut by an opaque cursor on
(date, id), so emails stored while a client pages never shift or repeat what it already read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import org_of
from api.context import ApiContext
from api.cursors import decode_cursor, encode_cursor
from api.errors import ApiError
from api.operations import Answer, Operation
from api.queries import Flag, PageQuery, read_query
from api.reps import require_rep
from domain import answers
from domain.cursors import position_number, position_text
from domain.text import whole_number
from domain.times import parse_rfc3339
from storage.contacts import contact_exists
from storage.email_changes import email_json
from storage.email_reads import EmailPageKey, email_contacts, get_email, list_emails
from storage.emails import hide_email
from storage.errors import NotFound
from storage.tables import EmailRow


class EmailListQuery(PageQuery):
    rep_id: str | None = Field(None, description="the rep's emails")
    contact_id: str | None = Field(None, description="emails with this CRM contact")
    account_ref: str | None = Field(None, description="emails with the account's contacts")
    include_hidden: Flag = Field(False, description="with those hidden in the CRM (E7)")


EMAIL_ID = {"type": "integer", "minimum": 1}
LIST_EMAILS = Operation(
    "GET",
    "/emails",
    "list_emails",
    "emails",
    "Emails by rep, contact or account, newest first (at least one filter)",
    (Answer(200, "a page", answers.EmailPage),),
    query=EmailListQuery,
    description=(
        "Stored emails newest first, without bodies, by rep, contact or account (at least one; "
        "they combine). Hidden ones only with include_hidden=true."
    ),
)
GET_EMAIL = Operation(
    "GET",
    "/emails/{email_id}",
    "get_email",
    "emails",
    "One email with its body",
    (Answer(200, "the email", answers.Email),),
    path_schemas={"email_id": EMAIL_ID},
    description="One stored email with its body.",
)
HIDE_EMAIL = Operation(
    "POST",
    "/emails/{email_id}/hide",
    "hide_email",
    "emails",
    "Hide an email in the CRM only",
    (Answer(200, "the email, hidden", answers.Email),),
    path_schemas={"email_id": EMAIL_ID},
    description=(
        "Hides the email in the CRM only (E7): the mailbox is not touched, and no later update, "
        "replay or reprocess shows it again."
    ),
)
OPERATIONS = (LIST_EMAILS, GET_EMAIL, HIDE_EMAIL)


def email_routes(context: ApiContext) -> list[Route]:
    async def listing(request: Request) -> JSONResponse:
        org_id = org_of(request)
        query = read_query(request, EmailListQuery)
        rep_id, contact_id, account_ref = query.rep_id, query.contact_id, query.account_ref
        if not (rep_id or contact_id or account_ref):
            raise ApiError(
                400, "missing_filter", "give rep_id, contact_id or account_ref (or several)"
            )
        limit, include_hidden = query.limit, query.include_hidden
        after = _page_key(decode_cursor(query.cursor)) if query.cursor else None

        def read(session: Session) -> list[answers.Email]:
            if rep_id is not None:
                require_rep(session, org_id, rep_id)
            if contact_id is not None and not contact_exists(session, org_id, contact_id):
                raise NotFound("unknown_contact", f"no rep has a contact {contact_id!r}")
            rows = list_emails(
                session,
                org_id=org_id,
                rep_id=rep_id,
                crm_contact_id=contact_id,
                account_ref=account_ref,
                include_hidden=include_hidden,
                after=after,
                limit=limit,
            )
            links = email_contacts(session, [r.id for r in rows if r.id is not None])
            return [email_json(r, links.get(r.id or 0, []), include_body=False) for r in rows]

        emails = await context.in_transaction(read)
        next_cursor = None
        if len(emails) == limit:
            last = emails[-1]
            next_cursor = encode_cursor({"date": last["date"], "id": last["id"]})
        page: answers.EmailPage = {"data": emails, "next_cursor": next_cursor}
        return JSONResponse(page)

    async def get_one(request: Request) -> JSONResponse:
        org_id = org_of(request)
        email_id = _email_id(request)

        def read(session: Session) -> answers.Email:
            row = _require_email(session, org_id, email_id)
            links = email_contacts(session, [email_id]).get(email_id, [])
            return email_json(row, links, include_body=True)

        return JSONResponse(await context.in_transaction(read))

    async def hide(request: Request) -> JSONResponse:
        """Hide in the CRM only (E7): the mailbox is not touched; nothing brings it back."""
        org_id = org_of(request)
        email_id = _email_id(request)

        def write(session: Session) -> answers.Email:
            row = _require_email(session, org_id, email_id, for_update=True)
            hide_email(session, row, context.clock())
            links = email_contacts(session, [email_id]).get(email_id, [])
            return email_json(row, links, include_body=False)

        return JSONResponse(await context.in_transaction(write))

    return [LIST_EMAILS.route(listing), GET_EMAIL.route(get_one), HIDE_EMAIL.route(hide)]


def _email_id(request: Request) -> int:
    raw = request.path_params["email_id"]
    email_id = whole_number(raw, 18)
    if email_id is None:
        raise NotFound("unknown_email", f"no email {raw!r}")
    return email_id


def _require_email(
    session: Session, org_id: str, email_id: int, *, for_update: bool = False
) -> EmailRow:
    """The organization's email ``email_id``; another organization's is not found."""
    row = get_email(session, email_id, for_update=for_update)
    if row is None or row.org_id != org_id:
        raise NotFound("unknown_email", f"no email {email_id}")
    return row


def _page_key(position: dict[str, Any]) -> EmailPageKey:
    date = position_text(position, "date")
    email_id = position_number(position, "id")
    parsed: datetime | None = parse_rfc3339(date) if date is not None else None
    if parsed is None or email_id is None:
        raise ApiError(400, "invalid_cursor", "the cursor is not one crmsync gave")
    return EmailPageKey(parsed, email_id)
