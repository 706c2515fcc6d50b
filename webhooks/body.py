"""Reading a notification body within a size limit, and undoing gzip within the same limit.

The limit is enforced twice on the way in: on ``Content-Length`` before a byte is read, and
while streaming (a client may lie about, or omit, the length). A gzip body is decompressed
incrementally and abandoned as soon as it passes the limit, so a small "gzip bomb" cannot
make the process allocate gigabytes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from starlette.requests import Request

from webhooks.errors import MalformedBody, PayloadTooLarge

# Real notifications nest a handful of levels (envelope, data, object, a list of participants).
# A deeper body is not a notification, and from about 1,000 levels Python's json module, which
# encodes the queued message, raises RecursionError: refused as a 400 rather than failing as a
# 500 (orjson itself stops at 1,024).
MAX_JSON_DEPTH = 64


def check_depth(document: object, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise MalformedBody when ``document`` nests arrays or objects more than ``limit`` deep.

    Iterative, so a hostile body cannot exhaust the stack of the check itself.
    """
    if not isinstance(document, (dict, list)):
        return
    # Only containers are visited: a notification is mostly strings, and pushing every
    # leaf cost about a tenth of the ingress's time per request.
    pending: list[tuple[dict[str, object] | list[object], int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > limit:
            raise MalformedBody("too_deeply_nested", f"the body nests more than {limit} levels")
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, (dict, list)):
                pending.append((child, depth + 1))


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge("payload_too_large", f"the body is over the limit of {limit} bytes")


async def read_capped_chunks(request: Request, limit: int) -> list[bytes]:
    """The raw request body as the chunks it arrived in, or PayloadTooLarge once it is known
    to exceed ``limit`` bytes.

    Not joined here: joining copies the body, and on a machine with little memory bandwidth
    copying 4 MiB costs milliseconds of the event loop, for every unauthenticated body an
    attacker sends. Whoever checks the body joins it where that costs nobody else.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise MalformedBody("bad_content_length", "Content-Length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return chunks


# Nylas sends one gzip member per body (NYLAS.md 1.7); a few are allowed for proxies that
# re-compress, and past that the body is refused before it costs anything: a body of many
# tiny members is no notification, only work.
MAX_GZIP_MEMBERS = 4
# Input is fed to the decompressor in pieces this size, so what it hands back unread
# (``unused_data``) is never more than one piece: the work is linear in the body's size
# whatever its shape.
GZIP_INPUT_CHUNK = 64 * 1024


# Decompressed output is produced in pieces of at most this size, so checking a signature
# over a decompressed body never holds more than one piece of it.
GZIP_OUTPUT_PIECE = 256 * 1024


def gunzip_pieces(data: bytes, limit: int, max_members: int = MAX_GZIP_MEMBERS) -> Iterator[bytes]:
    """The decompressed pieces of a gzip body of at most ``max_members`` members, refusing
    output over ``limit`` bytes.

    Linear in ``len(data)``: the input is read in fixed-size chunks and never copied whole
    (copying the rest of the body after each member made a body of 200,000 empty members
    cost seconds), and each piece is at most :data:`GZIP_OUTPUT_PIECE` bytes.

    Raises:
        MalformedBody: not gzip, truncated, or more members than allowed.
        PayloadTooLarge: the output passes ``limit``.
    """
    if not data:
        raise MalformedBody("bad_gzip", "the gzip body is empty")
    view = memoryview(data)
    produced = 0
    position = 0
    members = 0
    while position < len(view):
        members += 1
        if members > max_members:
            raise MalformedBody(
                "too_many_gzip_members", f"the gzip body has more than {max_members} members"
            )
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not decompressor.eof:
            if decompressor.unconsumed_tail:
                pending: bytes | memoryview = decompressor.unconsumed_tail
            elif position < len(view):
                pending = view[position : position + GZIP_INPUT_CHUNK]
                position += len(pending)
            else:
                pending = b""  # input used up: what the decompressor still holds, if any
            try:
                # Never more than one byte past the limit: output stopped there means the
                # body is over it.
                piece = decompressor.decompress(
                    pending, min(GZIP_OUTPUT_PIECE, limit + 1 - produced)
                )
            except zlib.error as error:
                raise MalformedBody(
                    "bad_gzip", f"the gzip body cannot be decoded: {error}"
                ) from error
            produced += len(piece)
            if produced > limit:
                raise _too_large(limit)
            if not pending and not piece and not decompressor.eof:
                raise MalformedBody("bad_gzip", "the gzip body is truncated")
            if piece:
                yield piece
        # What the decompressor read past the member's end belongs to the next member.
        position -= len(decompressor.unused_data)


def gunzip_capped(data: bytes, limit: int, max_members: int = MAX_GZIP_MEMBERS) -> bytes:
    """Decompress a gzip body whole (see :func:`gunzip_pieces` for the limits)."""
    return b"".join(gunzip_pieces(data, limit, max_members))
