"""What a subscriber's answer may put into crmsync's records (S3), read as hostile input.

A subscriber's server is not ours: its status line, headers and body are whatever it sends.
Recording an attempt must never fail on them (a failed record leaves the delivery unrecorded
and due, which is how a redelivery storm starts), so every value taken from an answer goes
through these functions first: text is made printable and short, a ``Retry-After`` is read
within bounds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from domain.outbound_webhooks import MAX_RETRY_AFTER

# How much of an answer's text is kept in the delivery log.
MAX_EXCERPT_CHARS = 500

# C0 and C1 control characters (NUL included: PostgreSQL refuses it in text), DEL, and the
# Unicode line and paragraph separators; each becomes one space.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# A delta-seconds value longer than this is past any cap: read as the cap, never converted.
_MAX_SECONDS_DIGITS = 9


def printable_excerpt(text: str | None, limit: int = MAX_EXCERPT_CHARS) -> str | None:
    """``text`` safe to store and to show: control characters collapsed to a space, at most
    ``limit`` characters, surrogates replaced; None stays None."""
    if text is None:
        return None
    cleaned = _CONTROL.sub(" ", text[: limit * 2]).strip()
    safe = cleaned.encode("utf-8", "replace").decode("utf-8")
    return safe[:limit]


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """The wait a ``Retry-After`` header asks for (RFC 9110 10.2.3), at most a day; None
    when absent or unreadable (the schedule alone then decides).

    Either form is read: delta-seconds (ASCII digits only: ``²`` is no digit here) or an
    HTTP-date, which counts from ``now``; a date in the past asks for no wait.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdecimal():
        if len(value) > _MAX_SECONDS_DIGITS:
            return MAX_RETRY_AFTER
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    if not value or len(value) > 64:  # an HTTP-date is 29 characters
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max(moment - now, timedelta(0)), MAX_RETRY_AFTER)
