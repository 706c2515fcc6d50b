"""Backfills (A2, E11): reading a rep's past mail through the API, newest first, resumably.

A backfill covers ``[sync_from, until)``. It is cut into time windows read newest first, so
a new rep's most recent mail appears first, and each window is paged with Nylas's cursor.
The position (window index, page token) is all a backfill needs to resume after a crash;
re-reading a page is harmless because storing an email is idempotent. Windows also give
progress a known denominator, which Nylas's cursor paging alone does not (it has no total).

A contact backfill (E11) is the same thing narrowed to a few addresses (``any_email``,
at most 25 per Nylas request) over one window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# Nylas accepts at most this many addresses in one ``any_email`` filter (NYLAS.md 3.1).
MAX_ANY_EMAIL = 25
MAILBOX_WINDOW = timedelta(days=1)


class BackfillKind(StrEnum):
    MAILBOX = "mailbox"  # the whole look-back window, on connect or on demand
    CONTACT = "contact"  # the past mail of addresses just added to the rep's contacts


class BackfillState(StrEnum):
    PENDING = "pending"  # recorded, waiting for the dispatcher to queue it
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # gave up: the error is kept; can be started again
    CANCELLED = "cancelled"  # the rep was disconnected, or a newer backfill replaced it


ACTIVE_STATES = frozenset({BackfillState.PENDING, BackfillState.RUNNING})


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` of message dates, read as Nylas's strict ``received_after`` and
    ``received_before`` (so ``received_after`` is one second before ``start``)."""

    start: datetime
    end: datetime

    # Message dates are whole seconds: both bounds round up, so that of two adjacent windows
    # (the older one's end is the newer one's start) each second belongs to exactly one.

    @property
    def received_after(self) -> int:
        return math.ceil(self.start.timestamp()) - 1

    @property
    def received_before(self) -> int:
        return math.ceil(self.end.timestamp())


def window_size(kind: BackfillKind, since: datetime, until: datetime) -> timedelta:
    """How wide each window of a backfill is: a day for mailboxes, everything for contacts."""
    if kind is BackfillKind.CONTACT:
        return max(until - since, timedelta(seconds=1))
    return MAILBOX_WINDOW


def window_count(since: datetime, until: datetime, size: timedelta) -> int:
    """How many windows cover ``[since, until)``; at least one."""
    return max(1, math.ceil((until - since) / size))


def window_at(index: int, since: datetime, until: datetime, size: timedelta) -> Window:
    """The ``index``-th window, counting from the newest (0) back to ``since``."""
    end = until - size * index
    return Window(start=max(since, end - size), end=end)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a backfill is, as the API and the CLI show it."""

    windows_total: int
    windows_done: int
    pages_done: int
    scanned: int
    stored: int

    @property
    def windows_left(self) -> int:
        return max(0, self.windows_total - self.windows_done)

    @property
    def percent(self) -> float:
        return round(100.0 * self.windows_done / self.windows_total, 1)


def address_groups(addresses: Sequence[str]) -> list[tuple[str, ...]]:
    """Addresses in groups Nylas accepts in one ``any_email`` filter, deduplicated, in order."""
    unique = list(dict.fromkeys(a.strip().lower() for a in addresses if a.strip()))
    return [tuple(unique[i : i + MAX_ANY_EMAIL]) for i in range(0, len(unique), MAX_ANY_EMAIL)]


# Above this many new addresses at once (a first upload of a rep's contacts), one rescan of
# the whole mailbox costs fewer API calls than searching for them 25 at a time.
MAX_CONTACT_SEARCHES = 10


@dataclass(frozen=True, slots=True)
class RetroactivePlan:
    """How to find the past mail of addresses just added to a rep's contacts (E11)."""

    address_groups: tuple[tuple[str, ...], ...] = ()
    rescan_mailbox: bool = False


def plan_retroactive(new_addresses: Sequence[str]) -> RetroactivePlan:
    """Search by address for a few; rescan the mailbox once for many; nothing for none."""
    groups = address_groups(new_addresses)
    if len(groups) > MAX_CONTACT_SEARCHES:
        return RetroactivePlan(rescan_mailbox=True)
    return RetroactivePlan(address_groups=tuple(groups))
