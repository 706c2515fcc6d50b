"""The shape of a Nylas grant id, checked wherever one enters crmsync.

A grant id is placed in Nylas API paths (``/v3/grants/{grant_id}/...``) and sent with the
application's API key, so one that carries ``/``, ``..``, ``?`` or ``#`` could reach another
Nylas endpoint (the application's webhooks, its connectors). Nylas v3 grant ids are UUIDs and
v2 account ids 25 letters and digits; the shape below admits both, and test ids such as
``grant-1``, and nothing a URL would read as structure.
"""

from __future__ import annotations

import re

MAX_GRANT_ID_LENGTH = 64
_GRANT_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_GRANT_ID_LENGTH}}}")

GRANT_ID_SHAPE = f"1 to {MAX_GRANT_ID_LENGTH} ASCII letters, digits, '-' or '_'"


def is_grant_id(value: object) -> bool:
    """Whether ``value`` has the shape of a Nylas grant (or v2 account) id."""
    return isinstance(value, str) and _GRANT_ID.fullmatch(value) is not None
