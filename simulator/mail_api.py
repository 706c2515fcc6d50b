"""The mail routes of the fake Nylas API: a grant's folders, its messages, and sends.

Folders are listed as each provider lists them (``simulator.folder_presets.listed_folders``:
Microsoft shows two levels unless asked for a folder's children). Messages page from the
grant's sorted index, so a page costs its page and not the mailbox, and a message id arrives
percent-decoded and may hold ``/``. A send answers what Nylas answers (``simulator.sending``)
and queues what Nylas would then send (``simulator.outbox``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.api_envelopes import ApiError, encode_cursor, many, one, paginate
from simulator.api_requests import (
    bool_param,
    json_object,
    message_cursor,
    message_query,
    page_limit,
)
from simulator.folder_presets import listed_folders
from simulator.grants_api import GRANT_PATH, caller_grant
from simulator.mailbox import FakeNylas
from simulator.message_index import message_order


class _MailHandlers:
    """The folders and messages endpoints, over one :class:`FakeNylas`."""

    def __init__(self, fake: FakeNylas) -> None:
        self.fake = fake

    async def list_folders(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        params = request.query_params
        folders = listed_folders(
            self.fake.folders(grant["id"]),
            provider=grant["provider"],
            parent_id=params.get("parent_id") or None,
            single_level=bool(bool_param(params, "single_level")),
        )
        page, cursor = paginate(
            folders,
            lambda f: (f["id"],),
            limit=page_limit(params),
            page_token=params.get("page_token"),
        )
        return many(page, cursor)

    async def find_folder(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        folder_id = request.path_params["folder_id"]
        for folder in self.fake.folders(grant["id"]):
            if folder["id"] == folder_id:
                return one(folder)
        raise ApiError(404, f"folder {folder_id} not found")

    async def list_messages(self, request: Request) -> Response:
        """Pages from the grant's sorted index: each costs its page, not the mailbox."""
        grant = caller_grant(self.fake, request)
        params = request.query_params
        query = message_query(params)
        after = message_cursor(params.get("page_token"))
        page, more = self.fake.message_page(
            grant["id"], query, limit=page_limit(params), after=after
        )
        return many(page, encode_cursor(message_order(page[-1])) if more else None)

    async def send_message(self, request: Request) -> Response:
        """``POST /messages/send`` with a JSON ``SendMessageRequest``.

        Multipart bodies (attachments of 3 MB or more) and raw MIME sends are not simulated.
        """
        grant = caller_grant(self.fake, request)
        if request.query_params.get("type") == "mime":
            raise ApiError(400, "raw MIME sends are not simulated")
        body = await json_object(request)
        return one(self.fake.api_send_message(grant["id"], body))

    async def find_message(self, request: Request) -> Response:
        grant = caller_grant(self.fake, request)
        message_id = request.path_params["message_id"]  # already percent-decoded
        message = self.fake.message(grant["id"], message_id)
        if message is None:
            raise ApiError(404, f"message {message_id} not found")
        return one(message)


def mail_routes(fake: FakeNylas) -> list[Route]:
    """A grant's ``/folders`` and ``/messages`` over ``fake``."""
    handlers = _MailHandlers(fake)
    grant = GRANT_PATH
    return [
        Route(f"{grant}/folders", handlers.list_folders),
        Route(f"{grant}/folders/{{folder_id}}", handlers.find_folder),
        Route(f"{grant}/messages", handlers.list_messages),
        Route(f"{grant}/messages/send", handlers.send_message, methods=["POST"]),
        # :path, because a decoded message id may hold "/".
        Route(f"{grant}/messages/{{message_id:path}}", handlers.find_message),
    ]
