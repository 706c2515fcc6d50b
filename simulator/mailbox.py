"""The fake Nylas that tests, ``crmsync demo`` and the benchmarks fill and serve: one account.

Tests, ``crmsync demo`` and the benchmarks fill a :class:`FakeNylas` and serve it with
``simulator.nylas_api.build_nylas_api``; the real ``nylas`` SDK then talks to it over HTTP.
:class:`FakeNylas` is assembled from one part per job, each in its own module, so one object
holds a whole account: the grants with their folders and messages (``simulator.grant_store``,
with the providers' folder presets of ``simulator.folder_presets``), consent and the grant
lifecycle through hosted auth (``simulator.grant_lifecycle``), sends and bounces
(``simulator.outbox``), calendars and events (``simulator.calendar``), and the faults and
request log of ``simulator.faults``. Every notification Nylas would send after a write (events,
grant lifecycle, sends, bounces) waits in one queue, read with
:meth:`FakeNylas.drain_notifications`.
"""

from __future__ import annotations

import time
from typing import Any

from simulator.applications import Application, Applications
from simulator.calendar import Clock
from simulator.faults import Fault as Fault  # re-exported: the API and tests name it here
from simulator.faults import FaultLog
from simulator.faults import RecordedRequest as RecordedRequest
from simulator.grant_lifecycle import GrantLifecycle
from simulator.grant_store import GrantStore
from simulator.hosted_auth import DEFAULT_CLIENT_ID, CodeBook
from simulator.message_index import MessageQuery as MessageQuery  # re-exported, as Fault
from simulator.message_index import message_addresses as message_addresses
from simulator.message_index import message_matches as message_matches
from simulator.message_index import message_order as message_order
from simulator.outbox import Outbox

Wire = dict[str, Any]


class FakeNylas(GrantLifecycle, Outbox, FaultLog):
    """In-memory Nylas: what the fake API serves, the faults it injects, the requests it saw.

    ``clock`` (unix seconds, ``time.time`` by default) stamps grants, sent messages, every
    calendar write and the notifications queued for :meth:`drain_notifications`.
    ``client_id`` is the application's, checked by hosted auth (the API key is its client
    secret); more applications, each with its own grants, come from :meth:`add_application`
    (``simulator.applications``). ``notify_send_success`` queues ``message.send_success``
    after each send, as Nylas does when the application enables it for immediate sends
    (NYLAS.md 1.3).
    """

    def __init__(
        self,
        api_key: str = "fake-nylas-api-key",
        *,
        clock: Clock = time.time,
        client_id: str = DEFAULT_CLIENT_ID,
        notify_send_success: bool = False,
    ) -> None:
        GrantStore.__init__(self, Applications(client_id, api_key, clock=clock), clock)
        FaultLog.__init__(self)
        self.api_key = api_key  # the first application's (the API serves every application's)
        self.client_id = client_id
        self.notify_send_success = notify_send_success
        self._codes = CodeBook()
        self._refusals = {}

    # Applications --------------------------------------------------------------------------

    def add_application(
        self, client_id: str, api_key: str, *, webhook_secret: str | None = None
    ) -> Application:
        """Another Nylas application; ``webhook_secret`` signs its grants' notifications."""
        return self.applications.add(client_id, api_key, webhook_secret=webhook_secret)
