"""A NUL in what Nylas sends (a stranger's subject, a display name, a folder name), on SQLite
and PostgreSQL: PostgreSQL's text and JSONB hold no NUL, so it used to be acknowledged (200),
fail in the worker and end in the dead letters, the email lost. It is kept instead, as U+FFFD.
"""

from __future__ import annotations

import json
import time

from simulator import notifications as sim
from tests.integration.conftest import GMAIL_GRANT
from tests.support.email_sync import EmailSyncWorld
from tests.support.nylas import signed
from tests.support.services import wait_for

ANN = "ann@acme.example"
BOB = "bob@customer.example"


def register(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", email=ANN, grant_id=GMAIL_GRANT, provider="google")
    world.put_contacts("rep-ann", [{"id": "c-bob", "emails": [BOB]}])


def test_a_nul_in_a_notification_is_stored_as_a_replacement_character(
    world: EmailSyncWorld,
) -> None:
    register(world)
    document = sim.message_created(
        GMAIL_GRANT, message_id="m-nul", sender=BOB, to=(ANN,), subject="Offer\x00 inside"
    )
    document["data"]["object"]["from"][0]["name"] = "Bob\x00"
    document["data"]["object"]["metadata"] = {"k\x00": "v\x00"}

    world.notify(document)

    [row] = world.notifications()
    assert (row.state, row.outcome) == ("processed", "stored")
    assert row.payload["data"]["object"]["subject"] == "Offer\ufffd inside"
    email = world.email("rep-ann", "m-nul")
    assert email.subject == "Offer\ufffd inside"
    assert email.sender == [{"email": BOB, "name": "Bob\ufffd"}]


def test_the_same_notification_with_a_nul_delivered_twice_is_one(world: EmailSyncWorld) -> None:
    register(world)
    document = sim.message_created(
        GMAIL_GRANT, message_id="m-nul", sender=BOB, to=(ANN,), subject="a\x00b"
    )

    world.notify(document, document)

    assert len(world.notifications()) == 1
    assert len(world.emails("rep-ann")) == 1


def test_a_v2_delta_with_a_nul_is_one_notification_however_often_it_comes(
    world: EmailSyncWorld,
) -> None:
    # The v2 dedupe key is a hash of the delta: computed after the NUL is replaced, it is the
    # same for every delivery.
    register(world)
    delta = {
        "deltas": [
            {
                "date": int(time.time()),
                "object": "message",
                "type": "message.created",
                "object_data": {
                    "namespace_id": GMAIL_GRANT,
                    "account_id": GMAIL_GRANT,
                    "object": "message",
                    "id": "m-v2",
                    "attributes": {"thread_id": "t\x00"},
                },
            }
        ]
    }
    for _ in range(2):
        body, headers = signed(delta)
        assert b"\\u0000" in body
        answer = world.client.post("/webhooks/nylas", content=body, headers=headers)
        assert answer.status_code == 200, answer.text

    wait_for(lambda: len(world.notifications()) == 1, what="the v2 delta stored")
    wait_for(
        lambda: world.notifications()[0].state not in ("pending", "failed"),
        what="the v2 delta handled",
    )
    assert len(world.notifications()) == 1
    assert "\x00" not in json.dumps(world.notifications()[0].payload, ensure_ascii=False)
