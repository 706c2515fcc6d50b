"""Reading a mailbox: one message, every folder however deep, and pages of messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from workers.nylas_client.core import GatewayCore
from workers.nylas_client.wire import (
    MAX_PAGE_SIZE,
    Wire,
    _folder_wire,
    _incomplete_parents,
    _joined_addresses,
    _path_id,
)


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of ``GET /messages``; ``next_cursor`` is None on the last page."""

    messages: list[Wire]
    next_cursor: str | None


class MessagesFacet(GatewayCore):
    """The gateway's message and folder reads."""

    def find_message(self, grant_id: str, message_id: str) -> Wire | None:
        """The message, or None when it is gone (404): nothing to store, nothing failed."""

        def call() -> Wire:
            wire: Wire = self._client.messages.find(
                _path_id(grant_id), _path_id(message_id)
            ).data.to_dict()
            return wire

        return self._find("find_message", grant_id, call)

    def list_folders(self, grant_id: str) -> list[Wire]:
        """Every folder of the grant, however deep, each with ``attributes`` as a list.

        Microsoft lists only two levels (NYLAS.md 3.2), so any folder whose ``child_count``
        says it has children not yet seen is listed again with ``parent_id``, level by level.
        Other providers have no ``child_count`` and cost one listing.
        """
        found: dict[str, Wire] = {}
        walked: set[str] = set()
        pending: list[str | None] = [None]
        while pending:
            parent_id = pending.pop()
            query: dict[str, Any] = {"limit": MAX_PAGE_SIZE}
            if parent_id is not None:
                query["parent_id"] = parent_id
                walked.add(parent_id)
            for folder in self._all_folder_pages(grant_id, query):
                found.setdefault(folder["id"], folder)
            pending = [fid for fid in _incomplete_parents(found.values()) if fid not in walked]
        return list(found.values())

    def list_messages(
        self,
        grant_id: str,
        *,
        any_email: Sequence[str] | None = None,
        in_folder: str | None = None,
        received_after: int | None = None,
        received_before: int | None = None,
        limit: int = MAX_PAGE_SIZE,
        page_token: str | None = None,
    ) -> MessagePage:
        """One page of the grant's messages, newest first, filtered as asked.

        ``any_email`` matches From, To, CC or BCC; it is joined with commas here because the
        SDK would send repeated keys, which the API does not document (NYLAS.md 6.6).

        Raises:
            ValueError: more than 25 addresses, an empty list, or ``limit`` outside 1..200.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
        query: dict[str, Any] = {"limit": limit}
        if any_email is not None:
            query["any_email"] = _joined_addresses(any_email)
        optional = {
            "in": in_folder,
            "received_after": received_after,
            "received_before": received_before,
            "page_token": page_token,
        }
        query.update({key: value for key, value in optional.items() if value is not None})

        def call() -> MessagePage:
            messages, next_cursor = self._message_list(grant_id, query)
            return MessagePage(messages, next_cursor)

        return self._call("list_messages", grant_id, call)

    def _all_folder_pages(self, grant_id: str, query: dict[str, Any]) -> list[Wire]:
        """Every page of one folder listing, each page its own retried call."""
        return self._all_pages("list_folders", grant_id, partial(self._folder_page, query=query))

    def _folder_page(
        self, grant_id: str, page_token: str | None, *, query: dict[str, Any]
    ) -> tuple[list[Wire], str | None]:
        page_query = query if page_token is None else {**query, "page_token": page_token}
        response = self._client.folders.list(_path_id(grant_id), query_params=page_query)
        return [_folder_wire(f) for f in response.data], response.next_cursor or None
