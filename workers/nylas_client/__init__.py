"""The one place crmsync calls the Nylas API: the ``nylas`` SDK behind retries and plain dicts.

Results are wire-shaped dicts (``"from"``, not ``from_``), so the rest of crmsync never
imports the SDK's models. Message listings and sends skip the models altogether and return
the JSON Nylas sent (through the SDK's own HTTP client): decoding a page of 200 messages into
dataclasses and back costs the SDK about half a second, the request a few milliseconds.

One module per job: ``retries`` (one counted attempt and the tenacity loop around it),
``core`` (the SDK client, grant-scoped calls, grants gone or alive), ``messages``,
``sending``, ``calendars`` and ``accounts`` (the facets of :class:`NylasGateway`, assembled
in ``gateway``), and ``wire`` (pure helpers and limits). Import from here.
"""

from __future__ import annotations

from workers.nylas_client.accounts import GrantToken
from workers.nylas_client.core import GRANT_ALIVE_SECONDS, MAX_ALIVE_GRANTS, AliveGrants
from workers.nylas_client.gateway import NylasGateway
from workers.nylas_client.messages import MessagePage
from workers.nylas_client.retries import NYLAS_API_CALLS
from workers.nylas_client.wire import (
    IDEMPOTENCY_METADATA_KEY,
    MAX_ANY_EMAIL,
    MAX_METADATA_VALUE,
    MAX_PAGE_SIZE,
    Wire,
    normalise_attributes,
)

__all__ = [
    "GRANT_ALIVE_SECONDS",
    "IDEMPOTENCY_METADATA_KEY",
    "MAX_ALIVE_GRANTS",
    "MAX_ANY_EMAIL",
    "MAX_METADATA_VALUE",
    "MAX_PAGE_SIZE",
    "NYLAS_API_CALLS",
    "AliveGrants",
    "GrantToken",
    "MessagePage",
    "NylasGateway",
    "Wire",
    "normalise_attributes",
]
