"""The simulator's control routes: what a demo or a load generator puts in the fake mailboxes.

Not part of the Nylas API: they live under ``/_simulator`` and let another process (``crmsync
demo``, a benchmark) create mailboxes and messages in a running fake, fill a mailbox in bulk,
make users refuse consent, expire and delete grants, bounce sent mail and drain the
notifications the fake queued, behind the same key.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.applications import caller_of
from simulator.control_bodies import MESSAGE_BODY_BYTES, json_object, refusing
from simulator.mailbox import FakeNylas
from simulator.mailbox_fill import fill_mailbox

PROVIDERS = ("google", "microsoft", "imap")
# The most messages one fill adds: a benchmark's mailbox, not the fake's memory.
MAX_FILL = 100_000


def _bad_request(message: str) -> JSONResponse:
    error = {"type": "invalid_request_error", "message": message}
    return JSONResponse({"error": error}, status_code=400)


def control_routes(fake: FakeNylas) -> list[Route]:
    async def put_mailbox(request: Request) -> JSONResponse:
        """``PUT /_simulator/grants/{grant_id}`` ``{"provider", "email"}``: a mailbox with the
        folder preset of its provider, a grant of the application whose key made the call."""
        grant_id = request.path_params["grant_id"]
        document = await json_object(request)
        provider, email = document.get("provider"), document.get("email")
        if provider not in PROVIDERS or not isinstance(email, str):
            return JSONResponse(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"send provider (one of {PROVIDERS}) and email",
                    }
                },
                status_code=400,
            )
        if fake.grant(grant_id) is None:
            fake.add_mailbox(grant_id, provider, email, application=caller_of(request.scope))
        return JSONResponse({"data": fake.grant(grant_id)})

    async def put_message(request: Request) -> JSONResponse:
        """``PUT /_simulator/grants/{grant_id}/messages/{message_id}``: a Message object."""
        grant_id = request.path_params["grant_id"]
        message = await json_object(request, MESSAGE_BODY_BYTES)
        if fake.grant(grant_id) is None:
            return JSONResponse(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "create the mailbox first; send a Message object",
                    }
                },
                status_code=400,
            )
        message = {**message, "id": request.path_params["message_id"], "grant_id": grant_id}
        fake.put_message(grant_id, message)
        return JSONResponse({"data": message})

    async def put_consent(request: Request) -> JSONResponse:
        """``PUT /_simulator/consent/{email}`` ``{"refuse": bool, "description"?}``: whether the
        user at ``email`` (the ``login_hint``) refuses hosted auth from now on."""
        email = request.path_params["email"]
        document = await json_object(request)
        if not isinstance(document.get("refuse"), bool):
            return _bad_request('send {"refuse": true|false, "description": "..."}')
        if document["refuse"]:
            fake.refuse_consent(email, str(document.get("description") or "Access denied."))
        else:
            fake.allow_consent(email)
        return JSONResponse({"data": {"email": email, "refuse": document["refuse"]}})

    async def expire(request: Request) -> JSONResponse:
        """``POST /_simulator/grants/{grant_id}/expire``: the grant expires (``grant.expired``
        is queued)."""
        grant_id = request.path_params["grant_id"]
        if fake.grant(grant_id) is None:
            return _bad_request(f"no grant {grant_id}")
        return JSONResponse({"data": fake.expire_grant(grant_id)})

    async def delete_mailbox(request: Request) -> JSONResponse:
        """``DELETE /_simulator/grants/{grant_id}``: the grant is deleted at Nylas (from its
        dashboard, say): every grant-scoped call answers 404 from now on, and ``grant.deleted``
        is queued (to drain, or not, as Nylas may be late or lose it)."""
        grant_id = request.path_params["grant_id"]
        if not fake.delete_grant(grant_id):
            return _bad_request(f"no grant {grant_id}")
        return JSONResponse({"data": {"grant_id": grant_id, "deleted": True}})

    async def bounce(request: Request) -> JSONResponse:
        """``POST /_simulator/grants/{grant_id}/messages/{message_id}/bounce`` ``{"reason"?,
        "address"?}``: a bounce is detected for a sent message."""
        grant_id, message_id = request.path_params["grant_id"], request.path_params["message_id"]
        document = await json_object(request, optional=True)
        if fake.grant(grant_id) is None or fake.message(grant_id, message_id) is None:
            return _bad_request(f"no message {message_id} in grant {grant_id}")
        kwargs = {"reason": str(document["reason"])} if document.get("reason") else {}
        address = document.get("address")
        notification = fake.bounce(
            grant_id, message_id, address=str(address) if address else None, **kwargs
        )
        return JSONResponse({"data": notification})

    async def fill(request: Request) -> JSONResponse:
        """``POST /_simulator/grants/{grant_id}/fill`` ``{"count", "contacts", "start", "end",
        "seed"?}``: realistic messages in bulk (see ``simulator.mailbox_fill``)."""
        grant_id = request.path_params["grant_id"]
        document = await json_object(request)
        try:
            count = int(document["count"])
            if not 0 <= count <= MAX_FILL:
                return _bad_request(f"count must be 0 to {MAX_FILL}")
            added = fill_mailbox(
                fake,
                grant_id,
                count,
                contacts=[str(c) for c in document.get("contacts", [])],
                start=int(document["start"]),
                end=int(document["end"]),
                seed=int(document.get("seed", 0)),
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            return _bad_request(f"send count, contacts, start, end (and seed): {exc}")
        return JSONResponse({"data": {"added": len(added)}})

    return [
        Route("/_simulator/consent/{email}", refusing(put_consent), methods=["PUT"]),
        Route("/_simulator/grants/{grant_id}/expire", refusing(expire), methods=["POST"]),
        Route("/_simulator/grants/{grant_id}/fill", refusing(fill), methods=["POST"]),
        Route(
            "/_simulator/grants/{grant_id}/messages/{message_id:path}/bounce",
            refusing(bounce),
            methods=["POST"],
        ),
        Route("/_simulator/grants/{grant_id}", refusing(put_mailbox), methods=["PUT"]),
        Route("/_simulator/grants/{grant_id}", refusing(delete_mailbox), methods=["DELETE"]),
        Route(
            "/_simulator/grants/{grant_id}/messages/{message_id:path}",
            refusing(put_message),
            methods=["PUT"],
        ),
    ]
