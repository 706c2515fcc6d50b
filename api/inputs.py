"""Reading CRM API requests: JSON bodies within a size limit, read through their models,
and no control character in a path or query value."""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.errors import ApiError
from domain.inputs import M, read_model
from domain.text import id_problem, nul_location

# Each endpoint reads at most this much unless it says otherwise: every document of the API
# is small but one, so a large body of junk is refused before it costs memory or time.
MAX_JSON_BYTES = 64 * 1024
BULK_JSON_BYTES = 64 * 1024 * 1024  # the bulk contact replace: 200,000 contacts fit
# An action item's description may be 64 Ki characters, each escaped in JSON as \uXXXX.
ACTION_ITEM_JSON_BYTES = 1024 * 1024
# A sent email's body may be 3 MiB (domain.sending), escaped in JSON.
SEND_JSON_BYTES = 16 * 1024 * 1024
# Documents up to this size are parsed on the event loop (tens of microseconds); larger ones
# in a thread, so a bulk upload never delays the Nylas ingress on the same loop.
INLINE_JSON_BYTES = 64 * 1024


async def read_body(
    request: Request,
    model: type[M],
    reason: str,
    max_bytes: int = MAX_JSON_BYTES,
    *,
    optional: bool = False,
) -> M:
    """The request's JSON body read as ``model`` (``domain.inputs.read_model``); when
    ``optional``, an empty body is the model's defaults.

    Raises:
        ApiError: 413 or 400 as :func:`json_body`.
        InvalidInput: the body does not have the model's shape (400).
    """
    body = await _capped_body(request, max_bytes)
    if optional and not body:
        return read_model(model, {}, reason)
    return read_model(model, await _document(body), reason)


async def json_body(request: Request, max_bytes: int = MAX_JSON_BYTES) -> object:
    """The request's JSON document.

    Raises:
        ApiError: 413 when larger than ``max_bytes``; 400 when it is not JSON.
    """
    return await _document(await _capped_body(request, max_bytes))


async def _capped_body(request: Request, max_bytes: int) -> bytes:
    """The request's body, refused with 413 as soon as it passes ``max_bytes``: a large body
    of junk is never held whole."""
    too_large = ApiError(
        413, "payload_too_large", f"the body of this request is limited to {max_bytes} bytes"
    )
    declared = request.headers.get("content-length", "")
    if (
        declared.isascii()
        and declared.isdecimal()
        and (len(declared) > 18 or int(declared) > max_bytes)
    ):
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _document(body: bytes) -> object:
    if len(body) <= INLINE_JSON_BYTES:
        return _decode(body)
    return await run_in_threadpool(_decode, body)


def _decode(body: bytes) -> object:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from error
    # JSON can carry a NUL only as the escape \u0000: a body without one needs no walk.
    if b"\\u0000" in body:
        where = nul_location(document)
        if where is not None:
            raise ApiError(
                400,
                "invalid_text",
                f"{where} contains a NUL character (\\u0000), which crmsync cannot store",
            )
    return document


def refuse_control_characters(request: Request) -> None:
    """Refuse a request whose path parameters or query values hold a control character.

    They are ids, cursors, filters and times: none has a NUL (which PostgreSQL cannot even
    compare with), another control character or a bidirectional override in it.

    Raises:
        ApiError: 400 ``invalid_<name>``, naming the parameter.
    """
    values = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in values:
        problem = id_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise ApiError(400, f"invalid_{name}", f"'{name}' {problem}")
