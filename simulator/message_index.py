"""One grant's messages, kept in the order the Messages API lists them, and the list's filters.

``GET /messages`` answers newest first, by pages of up to 200 (NYLAS.md 3.1, 6.3). A backfill
pages through a whole mailbox, tens of thousands of messages for a busy rep, so a page must not
cost a sort or a copy of the whole mailbox: :class:`MessageIndex` keeps the sort keys in a list
sorted at every write, finds where a page starts by bisection, and copies only what it serves.
A date window (``received_after``/``received_before``) bounds the scan as well, because dates
are the leading part of the key.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Wire = dict[str, Any]
OrderKey = tuple[int, str]


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """The filters of ``GET /messages`` (NYLAS.md 3.1), all optional and combined with AND.

    ``metadata_pair`` is ``(key, value)`` on one of the indexed metadata keys (key1..key5).
    """

    any_email: tuple[str, ...] = ()
    in_folder: str | None = None
    received_after: int | None = None
    received_before: int | None = None
    unread: bool | None = None
    starred: bool | None = None
    metadata_pair: tuple[str, str] | None = None


def message_addresses(message: Wire) -> set[str]:
    """Every address in a message's from, to, cc and bcc, lower-cased."""
    found: set[str] = set()
    for key in ("from", "to", "cc", "bcc"):
        for participant in message.get(key) or []:
            email = participant.get("email")
            if isinstance(email, str):
                found.add(email.strip().lower())
    return found


def message_matches(message: Wire, query: MessageQuery) -> bool:
    """Whether ``message`` passes ``query``.

    ``received_after`` and ``received_before`` are strict bounds on ``date``: the stricter
    reading of the docs, so code that needs a boundary message must ask for one second more.
    """
    date = int(message.get("date") or 0)
    metadata = message.get("metadata") or {}
    checks = (
        not query.any_email
        or not message_addresses(message).isdisjoint(a.lower() for a in query.any_email),
        query.in_folder is None or query.in_folder in (message.get("folders") or []),
        query.received_after is None or date > query.received_after,
        query.received_before is None or date < query.received_before,
        query.unread is None or bool(message.get("unread")) == query.unread,
        query.starred is None or bool(message.get("starred")) == query.starred,
        query.metadata_pair is None
        or metadata.get(query.metadata_pair[0]) == query.metadata_pair[1],
    )
    return all(checks)


def message_order(message: Wire) -> OrderKey:
    """The sort key of the message list: newest ``date`` first, then by id."""
    return (-int(message.get("date") or 0), str(message["id"]))


class MessageIndex:
    """A grant's messages by id, and their :func:`message_order` keys kept sorted.

    Not thread-safe: the owner (``FakeNylas``) holds its lock around every call. Stored dicts
    are the index's own; reads hand out copies.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, Wire] = {}
        self._keys: list[OrderKey] = []

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, message_id: str) -> Wire | None:
        """A copy of the message, or None."""
        found = self._by_id.get(message_id)
        return None if found is None else copy.deepcopy(found)

    def put(self, message: Wire) -> None:
        """Insert or replace ``message`` (owned by the index from now on)."""
        self._drop_key(message["id"])
        self._by_id[message["id"]] = message
        bisect.insort(self._keys, message_order(message))

    def put_many(self, messages: Iterable[Wire]) -> None:
        """Insert or replace many messages with one sort, however many there are."""
        for message in messages:
            self._drop_key(message["id"])
            self._by_id[message["id"]] = message
            self._keys.append(message_order(message))
        self._keys.sort()

    def remove(self, message_id: str) -> bool:
        """Forget a message; False when there was none."""
        if message_id not in self._by_id:
            return False
        self._drop_key(message_id)
        del self._by_id[message_id]
        return True

    def all(self, query: MessageQuery) -> list[Wire]:
        """Copies of every message passing ``query``, in list order."""
        return [copy.deepcopy(m) for m in self._scan(query, after=None)]

    def page(
        self, query: MessageQuery, *, limit: int, after: OrderKey | None
    ) -> tuple[list[Wire], bool]:
        """Up to ``limit`` copies of the messages passing ``query`` whose key sorts after
        ``after`` (the last key of the previous page), and whether more follow."""
        page: list[Wire] = []
        for message in self._scan(query, after=after):
            if len(page) == limit:
                return page, True
            page.append(copy.deepcopy(message))
        return page, False

    def _scan(self, query: MessageQuery, *, after: OrderKey | None) -> Iterator[Wire]:
        """Messages passing ``query`` in key order, starting after ``after``.

        Keys are ``(-date, id)``: messages before ``received_before`` start at ``-date >
        -received_before``, and the scan ends at the first message not after ``received_after``.
        """
        start = 0 if after is None else bisect.bisect_right(self._keys, after)
        if query.received_before is not None:
            start = max(start, bisect.bisect_left(self._keys, (1 - query.received_before, "")))
        for index in range(start, len(self._keys)):
            negative_date, message_id = self._keys[index]
            if query.received_after is not None and -negative_date <= query.received_after:
                return
            message = self._by_id[message_id]
            if message_matches(message, query):
                yield message

    def _drop_key(self, message_id: str) -> None:
        previous = self._by_id.get(message_id)
        if previous is None:
            return
        key = message_order(previous)
        index = bisect.bisect_left(self._keys, key)
        if index < len(self._keys) and self._keys[index] == key:
            del self._keys[index]
