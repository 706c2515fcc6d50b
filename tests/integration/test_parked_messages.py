"""Messages whose folders are not yet known are parked, never dropped on a guess (N2), end to
end on SQLite and PostgreSQL: real workers, dispatcher and Redis, and the fake Nylas over
HTTP. The folder's notification arrives after the message, before it, or never; a backfill
page parks the same way; and a parked message whose mailbox went away is settled, not kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import select

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from simulator import notifications as sim
from simulator.mailbox import FakeNylas
from storage.tables import ParkedMessageRow
from tests.support.accounts import AccountsWorld, accounts_fake, accounts_world
from tests.support.services import wait_for

GRANT = "grant-ann-google"
ANN = "ann@acme.example"
CONTACT = "carl@client.example"
LABEL = "Proposals"


@pytest.fixture
def fake() -> FakeNylas:
    return accounts_fake(GRANT, ANN)


@pytest.fixture
def park_seconds() -> int:
    """How long a parked message waits (CRMSYNC_FOLDER_PARK_SECONDS): long enough here that
    only a folder notification or a refresh can decide it; tests of the deadline shorten it."""
    return 300


@pytest.fixture
def world(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake: FakeNylas,
    park_seconds: int,
) -> Iterator[AccountsWorld]:
    with accounts_world(
        database_url, redis_namespace, make_runtime, fake, folder_park_seconds=park_seconds
    ) as world:
        world.put_rep("rep-ann", email=ANN)
        world.put_contacts("rep-ann", [{"id": "c-carl", "emails": [CONTACT]}])
        world.put_rep(
            "rep-ann",
            email=ANN,
            grant_id=GRANT,
            provider="google",
            settings={"folders": f"INBOX;{LABEL}"},
        )
        yield world


def fill_the_folder_cache(world: AccountsWorld) -> None:
    """A first message, in the inbox: the grant's folders are listed, and for the next minute
    a folder id missing from them asks for no new listing."""
    first = sim.message_created(GRANT, message_id="m-first", sender=CONTACT, to=(ANN,))
    world.notify(first)
    assert world.outcome_of(first["id"]) == "stored"


def in_label(message_id: str, folder_id: str) -> dict[str, Any]:
    return sim.message_created(
        GRANT, message_id=message_id, sender=CONTACT, to=(ANN,), folders=(folder_id,)
    )


def folder_notifications(fake: FakeNylas) -> list[dict[str, Any]]:
    return [n for n in fake.drain_notifications() if n["type"].startswith("folder.")]


def parked(world: AccountsWorld) -> list[str]:
    with world.session() as session:
        return sorted(row.message_id for row in session.exec(select(ParkedMessageRow)))


def explained(world: AccountsWorld, message_id: str) -> dict[str, Any]:
    answer = world.api("GET", f"/v1/reps/rep-ann/messages/{message_id}")
    assert answer.status_code == 200, answer.text
    decision: dict[str, Any] = answer.json()["decision"]
    return decision


def folder_listings(fake: FakeNylas) -> int:
    return len(fake.requests_to(f"/v3/grants/{GRANT}/folders", method="GET"))


def test_a_message_in_a_folder_announced_after_it_is_parked_then_stored(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    fill_the_folder_cache(world)
    label = fake.create_folder(GRANT, LABEL)  # its folder.created is still on its way
    message = in_label("m-proposal", label["id"])

    world.notify(message)

    assert world.outcome_of(message["id"]) == "folder_pending"
    assert parked(world) == ["m-proposal"]
    assert [e.message_id for e in world.emails("rep-ann")] == ["m-first"]
    answer = world.api("GET", "/v1/reps/rep-ann/messages/m-proposal").json()
    assert answer["decision"]["outcome"] == "folder_pending"
    assert answer["parked"]["folder_ids"] == [label["id"]]
    assert answer["parked"]["unknown_folder_ids"] == [label["id"]]
    assert answer["parked"]["decide_by"] > answer["parked"]["parked_at"]

    [created] = folder_notifications(fake)
    assert created["type"] == "folder.created"
    world.notify(created)

    email = world.email("rep-ann", "m-proposal")
    assert email.folder_names == [LABEL]
    assert parked(world) == []
    # The notification that parked it now says what became of it.
    assert world.outcome_of(message["id"]) == "stored"
    assert explained(world, "m-proposal")["outcome"] == "stored"
    assert world.api("GET", "/v1/reps/rep-ann/messages/m-proposal").json()["parked"] is None


def test_a_message_in_a_folder_announced_before_it_is_stored_at_once(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    fill_the_folder_cache(world)
    label = fake.create_folder(GRANT, LABEL)
    world.notify(*folder_notifications(fake))

    message = in_label("m-proposal", label["id"])
    world.notify(message)

    assert world.outcome_of(message["id"]) == "stored"
    assert parked(world) == []


def test_a_parked_message_seen_again_is_parked_once_and_takes_the_newer_state(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    fill_the_folder_cache(world)
    label = fake.create_folder(GRANT, LABEL)
    first = in_label("m-proposal", label["id"])
    again = {**first, "id": "another-delivery", "time": first["time"] + 5}
    again["data"] = {"object": {**first["data"]["object"], "unread": False}}

    world.notify(first, first, again)

    assert parked(world) == ["m-proposal"]
    world.notify(*folder_notifications(fake))
    email = world.email("rep-ann", "m-proposal")
    assert email.unread is False
    assert {world.outcome_of(first["id"]), world.outcome_of(again["id"])} == {"stored"}


@pytest.mark.parametrize("park_seconds", [1])
def test_a_folder_never_announced_is_decided_after_the_wait_with_one_more_listing(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    fill_the_folder_cache(world)
    message = in_label("m-ghost", "Label_never_listed")
    world.notify(message)
    assert world.outcome_of(message["id"]) == "folder_pending"
    listings = folder_listings(fake)

    wait_for(lambda: parked(world) == [], timeout=30, what="the parked message to be decided")

    assert world.outcome_of(message["id"]) == "folder_not_synced"
    assert folder_listings(fake) == listings + 1  # the one more listing, and no other
    assert explained(world, "m-ghost")["outcome"] == "folder_not_synced"


@pytest.mark.parametrize("park_seconds", [1])
def test_the_last_listing_finds_a_folder_whose_notification_was_lost(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    fill_the_folder_cache(world)
    label = fake.create_folder(GRANT, LABEL)
    fake.drain_notifications()  # Nylas lost the folder.created
    message = in_label("m-proposal", label["id"])
    world.notify(message)
    assert world.outcome_of(message["id"]) == "folder_pending"

    wait_for(lambda: parked(world) == [], timeout=30, what="the parked message to be decided")

    assert world.outcome_of(message["id"]) == "stored"
    assert world.email("rep-ann", "m-proposal").folder_names == [LABEL]


def test_a_backfill_page_parks_what_its_folders_cannot_decide(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    # The message names a label the Folders API does not list yet (Nylas's folder sync lags).
    wire = sim.message_object(
        GRANT, message_id="m-old-proposal", sender=CONTACT, to=(ANN,), folders=("Label_77",)
    )
    fake.put_message(GRANT, wire)

    answer = world.api("POST", "/v1/reps/rep-ann/backfill")
    assert answer.status_code == 202, answer.text
    world.wait_backfills_done("rep-ann")
    assert parked(world) == ["m-old-proposal"]
    assert world.emails("rep-ann") == []

    fake.add_folder(GRANT, {"id": "Label_77", "name": LABEL, "attributes": []})
    world.notify(
        sim.envelope(
            "folder.created",
            {"id": "Label_77", "grant_id": GRANT, "object": "folder", "name": LABEL},
            source="/google/emails/incremental",
        )
    )

    assert world.email("rep-ann", "m-old-proposal").folder_names == [LABEL]
    assert parked(world) == []


@pytest.mark.parametrize("park_seconds", [1])
def test_a_parked_message_of_a_mailbox_disconnected_since_is_settled_not_kept(
    world: AccountsWorld, fake: FakeNylas
) -> None:
    fill_the_folder_cache(world)
    message = in_label("m-ghost", "Label_never_listed")
    world.notify(message)
    assert parked(world) == ["m-ghost"]

    world.put_rep("rep-ann", email=ANN, grant_id=None)

    wait_for(lambda: parked(world) == [], timeout=30, what="the parked message to be settled")
    assert world.outcome_of(message["id"]) == "unknown_grant"
    assert world.emails("rep-ann") == [world.email("rep-ann", "m-first")]
