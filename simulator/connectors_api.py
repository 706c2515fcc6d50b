"""The fake Nylas API's connector credentials: ``/v3/connectors/{provider}/creds[/{id}]``.

What the SDK calls (nylas-python ``nylas/resources/credentials.py``, reached as
``client.connectors.credentials``) and the shapes of the Nylas reference
(developer.nylas.com/docs/reference/api/connector-credentials/):

* ``POST /v3/connectors/{provider}/creds`` with ``{name, credential_type, credential_data}``
  (``create_credential``): ``{request_id, data: Credential}``.
* ``GET /v3/connectors/{provider}/creds`` with ``limit``, ``offset``, ``sort_by``, ``order_by``
  (``get_credential_all``): ``{request_id, data: [Credential], limit, offset}``.
* ``GET /v3/connectors/{provider}/creds/{id}`` (``get_credential_by_id``):
  ``{request_id, data: Credential}``.
* ``DELETE /v3/connectors/{provider}/creds/{id}`` (``delete_credential_by_id``):
  ``{request_id}``; "any grants that use the deleted credential stop working right away", so
  the fake expires them (``grant.expired`` is queued for each that was valid).

Errors are ``{request_id, error: {type, message}}`` (the documented 400 and 401 bodies):
``invalid_request_error`` for a bad provider or body, ``not_found_error`` for a credential that
is not the caller's application's. What a credential is, and the fake's own bounds, are in
:mod:`simulator.credentials`. ``PATCH`` (update) is not simulated: it answers 405.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.applications import caller_of
from simulator.credentials import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, CredentialError
from simulator.mailbox import FakeNylas, Wire

CREDENTIALS_PATH = "/v3/connectors/{provider}/creds"
# A create body is a name and a provider app's id and secret; the bound leaves room for a
# hostile name to be refused for its length rather than for the body's.
MAX_BODY_BYTES = 256 * 1024


def _answer(document: Wire) -> JSONResponse:
    return JSONResponse({"request_id": str(uuid.uuid4()), **document})


def _refused(exc: CredentialError) -> JSONResponse:
    error = {"type": exc.error_type, "message": exc.message}
    body = {"request_id": str(uuid.uuid4()), "error": error}
    return JSONResponse(body, status_code=exc.status)


async def credential_body(request: Request) -> dict[str, Any]:
    """The JSON object of a create request, read to at most :data:`MAX_BODY_BYTES`.

    Raises:
        CredentialError: 413 for a bigger body, 400 for one that is not a JSON object.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise CredentialError(413, f"the body must be at most {MAX_BODY_BYTES} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise CredentialError(413, f"the body must be at most {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise CredentialError(400, "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise CredentialError(400, "the body must be a JSON object")
    return document


def _count(request: Request, name: str, default: int, *, least: int, most: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise CredentialError(400, f"{name} must be a whole number")
    value = int(raw)
    if value < least or (most is not None and value > most):
        bound = f"between {least} and {most}" if most is not None else f"at least {least}"
        raise CredentialError(400, f"{name} must be {bound}")
    return value


def expire_grants_of(fake: FakeNylas, client_id: str, credential_id: str) -> list[str]:
    """Expire the application's valid grants whose consent went through ``credential_id``:
    the ids expired."""
    expired = [
        g["id"]
        for g in fake.grants()
        if g.get("credential_id") == credential_id
        and g.get("grant_status") == "valid"
        and fake.applications.owns(client_id, g["id"])
    ]
    for grant_id in expired:
        fake.expire_grant(grant_id)
    return expired


def connector_routes(fake: FakeNylas) -> list[Route]:
    """The connector-credential routes over ``fake``."""
    apps = fake.applications

    def caller(request: Request) -> str:
        client_id = caller_of(request.scope)
        if client_id is None:  # only the API's gate lets a request reach these routes
            raise CredentialError(401, "Unauthorized: invalid or missing API key", "unauthorized")
        return client_id

    async def create(request: Request) -> Response:
        try:
            client_id = caller(request)
            provider = request.path_params["provider"]
            body = await credential_body(request)
            return _answer({"data": apps.create_credential(client_id, provider, body)})
        except CredentialError as exc:
            return _refused(exc)

    async def listed(request: Request) -> Response:
        try:
            client_id = caller(request)
            limit = _count(request, "limit", DEFAULT_LIST_LIMIT, least=1, most=MAX_LIST_LIMIT)
            offset = _count(request, "offset", 0, least=0, most=None)
            params = request.query_params
            data = apps.credentials(
                client_id,
                request.path_params["provider"],
                limit=limit,
                offset=offset,
                sort_by=params.get("sort_by") or None,
                order_by=params.get("order_by") or None,
            )
            return _answer({"data": data, "limit": limit, "offset": offset})
        except CredentialError as exc:
            return _refused(exc)

    async def find(request: Request) -> Response:
        try:
            client_id = caller(request)
            path = request.path_params
            credential = apps.credential(client_id, path["provider"], path["credential_id"])
            return _answer({"data": credential})
        except CredentialError as exc:
            return _refused(exc)

    async def destroy(request: Request) -> Response:
        try:
            client_id = caller(request)
            path = request.path_params
            apps.delete_credential(client_id, path["provider"], path["credential_id"])
        except CredentialError as exc:
            return _refused(exc)
        expire_grants_of(fake, client_id, path["credential_id"])
        return _answer({})

    one = CREDENTIALS_PATH + "/{credential_id}"  # not :path: an id never holds "/"
    return [
        Route(CREDENTIALS_PATH, listed, methods=["GET"]),
        Route(CREDENTIALS_PATH, create, methods=["POST"]),
        Route(one, find, methods=["GET"]),
        Route(one, destroy, methods=["DELETE"]),
    ]
