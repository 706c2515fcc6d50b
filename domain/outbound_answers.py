"""What crmsync keeps of a subscriber's answer: a bounded wait and a short, clean excerpt.

Both come from whoever runs the endpoint, so neither may be trusted: ``Retry-After`` can be
twenty digits (``timedelta`` overflows), and a body can hold NUL (PostgreSQL refuses it in
text), terminal escapes (``crmsync status`` prints it) or a secret of an internal service (the
delivery log is readable by every token holder; the client shows excerpts of public
endpoints' answers only).
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from domain.outbound_webhooks import MAX_RETRY_AFTER

MAX_EXCERPT_CHARACTERS = 200
# More digits than this is more than MAX_RETRY_AFTER anyway; int() is never asked to read them.
_MAX_RETRY_AFTER_DIGITS = len(str(int(MAX_RETRY_AFTER.total_seconds())))


def parse_retry_after(raw: str | None) -> timedelta | None:
    """``Retry-After`` in seconds, capped at :data:`MAX_RETRY_AFTER`; None when absent or not
    a whole number (the HTTP-date form is ignored: the schedule's own wait applies)."""
    value = (raw or "").strip()
    if not value or not (value.isascii() and value.isdigit()):
        return None
    if len(value.lstrip("0")) > _MAX_RETRY_AFTER_DIGITS:
        return MAX_RETRY_AFTER
    return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)


def excerpt(raw: bytes, limit: int = MAX_EXCERPT_CHARACTERS) -> str | None:
    """The start of an answer's body as one line of plain text: UTF-8 (undecodable bytes
    replaced), every control and format character (NUL, ESC, bidi overrides) dropped or, for
    line breaks and tabs, made a space; runs of spaces made one; at most ``limit``
    characters. None when nothing printable is left."""
    text = raw.decode("utf-8", errors="replace")
    kept = (
        " " if c in "\t\n\r\v\f" else c
        for c in text
        if c in "\t\n\r\v\f" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    line = " ".join("".join(kept).split())
    return line[:limit] or None
