"""Each organization's share of the worker's time, with the real Redis, the real Dramatiq
worker and its two threads: once a flooding organization is ahead in the time it holds
threads, it holds at most its part of them while another organization's work is active,
and nothing of either is lost."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from domain.triggers import WorkKind
from simulator import notifications as sim
from tests.integration.conftest import GMAIL_GRANT, MICROSOFT_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.nylas import signed
from tests.support.services import wait_for
from workers.actors.handled import Handled
from workers.actors.notifications import HANDLERS

FLOOD = 8


class Held:
    """How many of the flooding organization's messages ran at once as each one started."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.at_start: list[int] = []
        self.done = 0

    def slow_handler(self, context: Any, notification: Any) -> Handled:
        with self.lock:
            self.now += 1
            self.at_start.append(self.now)
        time.sleep(0.3)  # a slow Nylas, say: the thread is held
        with self.lock:
            self.now -= 1
            self.done += 1
        return Handled.processed("slow")


def handled(world: EmailSyncWorld) -> set[str]:
    return {row.notification_id for row in world.notifications() if row.outcome}


def post(world: EmailSyncWorld, document: dict[str, Any]) -> None:
    body, headers = signed(document)
    assert world.client.post("/webhooks/nylas", content=body, headers=headers).status_code == 200


def test_a_flooding_organization_holds_only_its_share_while_another_is_active(
    world: EmailSyncWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = Held()
    monkeypatch.setitem(HANDLERS, WorkKind.GRANTS, held.slow_handler)
    assert world.api("PUT", "/v1/orgs/acme", json={"name": "Acme"}).status_code == 201
    rep = {"email": "ann@acme.example", "grant_id": GMAIL_GRANT, "provider": "google"}
    answer = world.client.put("/v1/reps/ann", json=rep, headers={**AUTH, "Crmsync-Org": "acme"})
    assert answer.status_code == 201
    world.put_rep("ben", email="ben@acme.example", grant_id=MICROSOFT_GRANT, provider="microsoft")

    # The default organization's live mail keeps arriving while acme's flood runs.
    live: list[str] = []
    stop = threading.Event()

    def live_mail() -> None:
        while not stop.is_set():
            document = sim.message_created(MICROSOFT_GRANT, message_id=f"live-{len(live)}")
            live.append(document["id"])
            post(world, document)
            # Live mail now and then: a few tens of milliseconds of a thread a quarter of a
            # second, well under a third of what acme's flood holds, so acme is ahead by
            # the rule (over 1.5 times an equal part) even when the machine is loaded.
            time.sleep(0.25)

    sender = threading.Thread(target=live_mail)
    sender.start()
    try:
        wait_for(lambda: live and live[0] in handled(world), what="the first live message")
        for n in range(FLOOD):
            post(world, sim.grant_expired(GMAIL_GRANT) | {"id": f"flood-{n}"})
        wait_for(lambda: held.done == FLOOD, what="acme's flood to be handled", timeout=30)
    finally:
        stop.set()
        sender.join()

    # Two threads, two active organizations. Acme's first two messages may take both threads
    # (it has used no time yet: nobody is ahead); once they held them for 0.3 s, acme is
    # ahead, and from then on it holds one. (On a loaded machine the live mail's own
    # messages may hold a thread long enough for a moment of like load: once, at most.)
    assert len(held.at_start) == FLOOD
    assert sum(1 for running in held.at_start[2:] if running > 1) <= 1, held.at_start
    wait_for(lambda: set(live) <= handled(world), what="every live message handled")
