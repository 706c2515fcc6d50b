"""Control routes for a fake mailbox's folders: what a user does in Gmail or Outlook.

``POST /_simulator/grants/{grant_id}/folders`` ``{"name", "attributes"?, "parent_id"?}`` adds a
label or folder, ``PATCH .../folders/{folder_id}`` ``{"name"}`` renames it and ``DELETE
.../folders/{folder_id}`` deletes it (with its subfolders). Each changes what ``GET
/v3/grants/{grant_id}/folders`` lists and queues the ``folder.*`` notification Nylas would send
(``simulator.folder_writes``), delivered by the next drain.

Like every control route they sit behind the API key. Bodies are small JSON objects (at most
``simulator.control_bodies.SMALL_BODY_BYTES``); anything else is a 4xx with a reason, never
a 500.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.control_bodies import SMALL_BODY_BYTES, Refused, json_object, refusal
from simulator.folder_writes import FolderRefused, checked_attributes, checked_name
from simulator.mailbox import FakeNylas

MAX_ID_LENGTH = 512  # folder ids are long for Microsoft, but never this long


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object (at most :data:`SMALL_BODY_BYTES`)."""
    return await json_object(request, SMALL_BODY_BYTES)


def _path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not value or len(value) > MAX_ID_LENGTH:
        raise FolderRefused(400, f"{name} must be 1 to {MAX_ID_LENGTH} characters")
    return value


def _known_grant(fake: FakeNylas, request: Request) -> str:
    grant_id = _path_id(request, "grant_id")
    if fake.grant(grant_id) is None:
        raise FolderRefused(404, f"no grant {grant_id}; create the mailbox first")
    return grant_id


def folder_control_routes(fake: FakeNylas) -> list[Route]:
    async def add_folder(request: Request) -> JSONResponse:
        """Add a folder: ``201`` with the Folder object; ``folder.created`` is queued."""
        try:
            grant_id = _known_grant(fake, request)
            document = await _body(request)
            parent_id = document.get("parent_id")
            if parent_id is not None and (
                not isinstance(parent_id, str) or not 0 < len(parent_id) <= MAX_ID_LENGTH
            ):
                raise FolderRefused(400, "parent_id must be a folder id")
            folder = fake.create_folder(
                grant_id,
                checked_name(document.get("name")),
                attributes=checked_attributes(document.get("attributes")),
                parent_id=parent_id,
            )
        except Refused as refused:
            return refusal(refused.status, refused.message)
        return JSONResponse({"data": folder}, status_code=201)

    async def rename_folder(request: Request) -> JSONResponse:
        """Rename a folder: the Folder object; ``folder.updated`` is queued."""
        try:
            grant_id = _known_grant(fake, request)
            folder_id = _path_id(request, "folder_id")
            document = await _body(request)
            unknown = sorted(set(document) - {"name"})
            if unknown:
                raise FolderRefused(400, f"only name can change, not {unknown[:5]}")
            folder = fake.rename_folder(grant_id, folder_id, checked_name(document.get("name")))
        except Refused as refused:
            return refusal(refused.status, refused.message)
        return JSONResponse({"data": folder})

    async def delete_folder(request: Request) -> JSONResponse:
        """Delete a folder and its subfolders: those removed; a ``folder.deleted`` each."""
        try:
            grant_id = _known_grant(fake, request)
            removed = fake.delete_folder(grant_id, _path_id(request, "folder_id"))
        except Refused as refused:
            return refusal(refused.status, refused.message)
        return JSONResponse({"data": removed})

    folders = "/_simulator/grants/{grant_id}/folders"
    return [
        Route(folders, add_folder, methods=["POST"]),
        # :path, because a folder id may hold "/" once decoded (IMAP paths, Microsoft base64).
        Route(f"{folders}/{{folder_id:path}}", rename_folder, methods=["PATCH"]),
        Route(f"{folders}/{{folder_id:path}}", delete_folder, methods=["DELETE"]),
    ]
