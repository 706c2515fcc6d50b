"""``POST /v1/reps/{rep_id}/emails``: send an email from the rep's mailbox (E9).

The email is stored at once, as system-generated and linked to its contacts, and sent by a
worker; the answer (202) is the stored email with its delivery state, which moves from
``queued`` to ``sent`` (or ``failed``, ``bounced``) in later versions, visible in the feed.
The CRM's ``send_key`` makes the request safe to retry: the same key answers the email it
already made (200) and sends nothing more.
"""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.callers import org_of
from api.context import ApiContext
from api.errors import ApiError
from api.inputs import SEND_JSON_BYTES, json_body
from api.operations import Answer, Operation
from api.reps import require_rep
from domain import answers
from domain.sending import SendInput, parse_send_request
from storage.email_changes import email_json
from storage.email_reads import email_contacts
from storage.sends import queue_send

SEND_EMAIL = Operation(
    "POST",
    "/reps/{rep_id}/emails",
    "send_email",
    "emails",
    "Send an email from the rep's mailbox; stored at once as system-generated",
    (
        Answer(202, "stored and queued for sending", answers.Email),
        Answer(200, "this send_key was used before: the email it made", answers.Email),
    ),
    body=SendInput,
    refusals=(409,),
    description=(
        "The email is stored at once as system-generated, linked to the rep's contacts in To and "
        "CC, and sent by a worker; delivery.state moves from queued to sent, failed or bounced "
        "in later versions, seen in the feed. send_key is the CRM's id for the send: the same "
        "key again answers 200 with the email it made and sends nothing."
    ),
)
OPERATIONS = (SEND_EMAIL,)


def send_routes(context: ApiContext) -> list[Route]:
    async def send(request: Request) -> JSONResponse:
        org_id = org_of(request)
        rep_id = request.path_params["rep_id"]
        send_request = parse_send_request(await json_body(request, SEND_JSON_BYTES))

        def write(session: Session) -> tuple[answers.Email, bool]:
            rep = require_rep(session, org_id, rep_id)
            if rep.grant_id is None:
                raise ApiError(409, "not_connected", f"rep {rep_id!r} has no connected mailbox")
            row, created = queue_send(session, rep, send_request, context.clock())
            assert row.id is not None
            contacts = email_contacts(session, [row.id]).get(row.id, [])
            return email_json(row, contacts, include_body=True), created

        email, created = await context.in_transaction(write)
        return JSONResponse(email, status_code=202 if created else 200)

    return [SEND_EMAIL.route(send)]
