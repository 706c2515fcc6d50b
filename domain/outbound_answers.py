"""What crmsync keeps of a subscriber's answer (S3): a bounded wait and a short, clean excerpt.

Both come from whoever runs the endpoint, so neither may be trusted: ``Retry-After`` can be
twenty digits (``timedelta`` overflows), and a body can hold NUL (PostgreSQL refuses it in
text), terminal escapes (``crmsync status`` prints it) or a secret of an internal service (the
delivery log is readable by every token holder; the client shows excerpts of public
endpoints' answers only). Recording an attempt must never fail on them: a failed record leaves
the delivery unrecorded and due, which is how a redelivery storm starts.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from domain.outbound_webhooks import MAX_RETRY_AFTER

MAX_EXCERPT_CHARACTERS = 200
# More digits than this is more than MAX_RETRY_AFTER anyway; int() is never asked to read them.
_MAX_RETRY_AFTER_DIGITS = len(str(int(MAX_RETRY_AFTER.total_seconds())))
# An HTTP-date is 29 characters; anything much longer is not one.
_MAX_DATE_CHARACTERS = 64
_LINE_BREAKS = "\t\n\r\v\f\u2028\u2029"
# Control, format (bidi overrides), surrogate, private-use and unassigned characters.
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def parse_retry_after(raw: str | None, now: datetime) -> timedelta | None:
    """The wait a ``Retry-After`` asks for (RFC 9110 10.2.3), capped at
    :data:`MAX_RETRY_AFTER`; None when absent or unreadable (the schedule alone decides).

    Either form is read: delta-seconds (ASCII digits only: ``²`` is no digit here) or an
    HTTP-date, counted from ``now``; a date in the past asks for no wait.
    """
    value = (raw or "").strip()
    if value.isascii() and value.isdigit():
        if len(value.lstrip("0")) > _MAX_RETRY_AFTER_DIGITS:
            return MAX_RETRY_AFTER
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    if not value or len(value) > _MAX_DATE_CHARACTERS:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max(moment - now, timedelta(0)), MAX_RETRY_AFTER)


def excerpt(raw: bytes, limit: int = MAX_EXCERPT_CHARACTERS) -> str | None:
    """The start of an answer's body as one line of plain text (UTF-8, undecodable bytes
    replaced); see :func:`printable_excerpt`."""
    return printable_excerpt(raw[: limit * 4].decode("utf-8", errors="replace"), limit)


def printable_excerpt(text: str | None, limit: int = MAX_EXCERPT_CHARACTERS) -> str | None:
    """``text`` as one line safe to store and to show: every control and format character
    (NUL, ESC, bidi overrides) dropped or, for line breaks and tabs, made a space; runs of
    spaces made one; at most ``limit`` characters. None when nothing printable is left."""
    if text is None:
        return None
    kept = (
        " " if c in _LINE_BREAKS else c
        for c in text[: limit * 4]
        if c in _LINE_BREAKS or unicodedata.category(c) not in _DROPPED
    )
    line = " ".join("".join(kept).split())
    return line[:limit] or None
