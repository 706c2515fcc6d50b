"""Which dead letters an operator means (O1): time bounds as typed, and the selection rule.

Operators select dead letters by queue, actor, message id, organization, time (when a letter
was dead-lettered) and error text. The rule is plain data in, a yes or no out, so ``list``,
``replay`` and ``purge`` select exactly the same letters and a dry run tells the truth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.times import format_time, parse_rfc3339

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time_bound(text: str, now: datetime) -> datetime:
    """An aware time from RFC 3339 (``2026-11-23T10:00:00Z``) or an age before ``now`` (``2h``).

    Ages take one unit: ``s``, ``m``, ``h``, ``d`` or ``w`` (``90m``, ``7d``). A time without a
    zone is refused rather than read in the machine's zone, which would silently shift it.

    Raises:
        ValueError: ``text`` is neither; the message says what is accepted.
    """
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    parsed = parse_rfc3339(text.strip()) if text.strip() else None
    if parsed is None:
        raise ValueError(
            f"{text!r} is not a time: give RFC 3339 with a zone (2026-11-23T10:00:00Z) "
            "or an age such as 30m, 2h, 7d"
        )
    return parsed


@dataclass(frozen=True, slots=True)
class LetterFacts:
    """What the selection rule looks at in one dead letter."""

    queue: str
    actor_name: str
    message_id: str
    redis_message_id: str
    dead_lettered_at: datetime
    error_text: str | None
    # The organization whose work it was, when one is known (``workers.letter_orgs``).
    org_id: str | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    """An operator's filter. Unset fields select everything; set ones must all match."""

    queues: Sequence[str] = ()
    actor: str | None = None
    message_id: str | None = None
    org_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    error: str | None = None
    limit: int | None = None

    def matches(self, letter: LetterFacts) -> bool:
        """True when ``letter`` is one this selection means (``limit`` aside)."""
        if self.queues and letter.queue not in self.queues:
            return False
        if self.actor is not None and letter.actor_name != self.actor:
            return False
        # Either id names the letter: operators copy whichever one a log line showed them.
        if self.message_id is not None and self.message_id not in (
            letter.message_id,
            letter.redis_message_id,
        ):
            return False
        if self.org_id is not None and letter.org_id != self.org_id:
            return False
        if self.since is not None and letter.dead_lettered_at < self.since:
            return False
        if self.until is not None and letter.dead_lettered_at > self.until:
            return False
        return self.error is None or self.error.casefold() in (letter.error_text or "").casefold()

    def as_document(self) -> dict[str, object]:
        """The selection as JSON-ready values, for audit records (times in RFC 3339)."""
        return {
            "queues": list(self.queues),
            "actor": self.actor,
            "message_id": self.message_id,
            "org_id": self.org_id,
            "since": None if self.since is None else format_time(self.since),
            "until": None if self.until is None else format_time(self.until),
            "error": self.error,
            "limit": self.limit,
        }


def error_summary(traceback_text: str | None) -> str | None:
    """The last line of a Python traceback (``RuntimeError: ...``): what went wrong, briefly."""
    if not traceback_text:
        return None
    lines = [line.strip() for line in traceback_text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None
