"""The gateway's pure wire helpers: limits, path ids, query values, metadata keys, folders.

Nothing here makes a request; each helper turns what a caller gave into what the Nylas API
takes, or what the SDK answered into the plain dicts crmsync keeps.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from workers.nylas_failures import NylasRejected

Wire = dict[str, Any]

MAX_ANY_EMAIL = 25  # the Messages API refuses more (NYLAS.md 3.1)
MAX_PAGE_SIZE = 200
# Where a create's idempotency key is kept: one of the five metadata keys Nylas indexes for
# ``metadata_pair`` queries (key5 is Nylas's own, for round-robin scheduling).
IDEMPOTENCY_METADATA_KEY = "key4"
MAX_METADATA_VALUE = 500


def normalise_attributes(value: object) -> list[str]:
    """Folder ``attributes`` as a list of strings.

    SDK 6.18 types them ``Optional[str]`` and hands back ``"['\\\\Sent']"`` (NYLAS.md 6.7).
    ``ast.literal_eval`` reads that back without evaluating code; a lone flag stays one flag.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return [text]
        if isinstance(value, str):
            return [value]
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value]
    return [str(value)]


def _path_id(object_id: str) -> str:
    """An id for a URL path: every grant, message and event id placed in a Nylas path goes
    through here. The SDK encodes none of them (NYLAS.md 6.2): ``#``, ``/`` and ``?`` would
    cut the path short, and ``../`` would reach another Nylas endpoint with the API key.

    Raises:
        NylasRejected: for an empty id, ``.`` or ``..``: dots are not encoded, and a URL
            reads these as its own structure. Nothing is sent.
    """
    if object_id in ("", ".", ".."):
        raise NylasRejected(
            f"{object_id!r} cannot be a path segment of the Nylas API",
            status_code=None,
            error_type=None,
        )
    return quote(object_id, safe="")


def _write_query(calendar_id: str, notify_participants: bool) -> dict[str, str]:
    # "true"/"false", not the SDK's True/False (NYLAS.md 6.6).
    return {"calendar_id": calendar_id, "notify_participants": str(notify_participants).lower()}


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_METADATA_VALUE:
        raise ValueError(f"an idempotency key is 1 to {MAX_METADATA_VALUE} characters")


def _with_key(metadata: object, key: str) -> dict[str, Any]:
    """``metadata`` plus the idempotency key; refuses to overwrite another value there."""
    _check_key(key)
    merged = dict(metadata) if isinstance(metadata, Mapping) else {}
    if merged.get(IDEMPOTENCY_METADATA_KEY, key) != key:
        raise ValueError(f"metadata {IDEMPOTENCY_METADATA_KEY!r} already holds another value")
    merged[IDEMPOTENCY_METADATA_KEY] = key
    return merged


def _joined_addresses(addresses: Sequence[str]) -> str:
    if isinstance(addresses, str):
        raise ValueError("any_email must be a sequence of addresses, not one string")
    cleaned = [address.strip() for address in addresses]
    if not cleaned or any(not a or "," in a for a in cleaned):
        raise ValueError("any_email needs 1 to 25 addresses, none empty or holding a comma")
    if len(cleaned) > MAX_ANY_EMAIL:
        raise ValueError(f"any_email accepts at most {MAX_ANY_EMAIL} addresses, got {len(cleaned)}")
    return ",".join(cleaned)


def _folder_wire(folder: Any) -> Wire:
    wire: Wire = folder.to_dict()
    wire["attributes"] = normalise_attributes(wire.get("attributes"))
    return wire


def _incomplete_parents(found: Iterable[Wire]) -> list[str]:
    """Ids of folders whose ``child_count`` is more than the children already listed."""
    folders = list(found)
    listed: dict[str, int] = {}
    for folder in folders:
        parent = folder.get("parent_id")
        if parent is not None:
            listed[parent] = listed.get(parent, 0) + 1
    return [f["id"] for f in folders if (f.get("child_count") or 0) > listed.get(f["id"], 0)]
