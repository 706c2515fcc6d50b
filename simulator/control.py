"""The simulator's control routes: what a demo or a load generator puts in the fake mailboxes.

Not part of the Nylas API: they live under ``/_simulator`` and let another process (``crmsync
demo``, a benchmark) create mailboxes and messages in a running fake, behind the same key.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.mailbox import FakeNylas

PROVIDERS = ("google", "microsoft", "imap")


def control_routes(fake: FakeNylas) -> list[Route]:
    async def put_mailbox(request: Request) -> JSONResponse:
        """``PUT /_simulator/grants/{grant_id}`` ``{"provider", "email"}``: a mailbox with the
        folder preset of its provider."""
        grant_id = request.path_params["grant_id"]
        document = await request.json()
        provider = document.get("provider") if isinstance(document, dict) else None
        email = document.get("email") if isinstance(document, dict) else None
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
            fake.add_mailbox(grant_id, provider, email)
        return JSONResponse({"data": fake.grant(grant_id)})

    async def put_message(request: Request) -> JSONResponse:
        """``PUT /_simulator/grants/{grant_id}/messages/{message_id}``: a Message object."""
        grant_id = request.path_params["grant_id"]
        message = await request.json()
        if fake.grant(grant_id) is None or not isinstance(message, dict):
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

    return [
        Route("/_simulator/grants/{grant_id}", put_mailbox, methods=["PUT"]),
        Route(
            "/_simulator/grants/{grant_id}/messages/{message_id:path}", put_message, methods=["PUT"]
        ),
    ]
