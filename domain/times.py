"""Times as crmsync's JSON documents write and read them: RFC 3339, UTC, with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(value: datetime) -> str:
    """``2026-11-23T10:00:00Z``: the one way crmsync writes a time.

    Raises:
        ValueError: ``value`` is naive; ``astimezone`` would read it in the machine's zone.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a naive datetime has no zone to write; pass an aware one")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime | None:
    """An aware UTC time from RFC 3339 text (``Z`` or an offset); None when it is not one.

    A time without a zone is refused (None): guessing its zone would silently shift it.
    """
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+00:01" is before year 1 in UTC
        return None
