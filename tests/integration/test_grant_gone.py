"""A grant deleted at Nylas, end to end (A1, E5): the rep becomes invalid, with its meaning
and next action, and the work that found out is finished, never retried or dead-lettered.

Real worker threads and dispatcher on the real Redis, SQLite and PostgreSQL, and the fake
Nylas over HTTP, whose grant is deleted before crmsync calls it (its ``grant.deleted`` is
queued at the fake and never delivered: Nylas may be late, or lose it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from simulator import notifications as sim
from simulator.mailbox import FakeNylas
from tests.support.accounts import AccountsWorld, accounts_fake, accounts_world
from tests.support.calendar_sync import GRANT as CALENDAR_GRANT
from tests.support.calendar_sync import NOW as CALENDAR_NOW
from tests.support.calendar_sync import REP as CALENDAR_REP
from tests.support.calendar_sync import CalendarWorld
from tests.support.email_sync import EmailSyncWorld
from tests.support.harness import queue_lengths
from tests.support.services import wait_for

GRANT = "grant-ann-google"
ANN = "ann@acme.example"
CONTACT = "carl@client.example"


@pytest.fixture
def fake() -> FakeNylas:
    return accounts_fake(GRANT, ANN)


@pytest.fixture
def accounts(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake: FakeNylas,
) -> Iterator[AccountsWorld]:
    with accounts_world(database_url, redis_namespace, make_runtime, fake) as world:
        world.put_rep("rep-ann", email=ANN)
        world.put_contacts("rep-ann", [{"id": "c-0", "emails": [CONTACT]}])
        world.put_rep("rep-ann", email=ANN, grant_id=GRANT, provider="google")
        yield world


def nothing_dead_lettered(world: EmailSyncWorld, namespace: str) -> bool:
    lengths = queue_lengths(world.runtime.broker.client, namespace)
    return not any(count for queue, count in lengths.items() if queue.endswith(".XQ"))


def test_a_fetch_for_a_deleted_grant_makes_the_rep_invalid_and_is_not_retried(
    accounts: AccountsWorld, fake: FakeNylas, redis_namespace: str
) -> None:
    fake.put_message(GRANT, sim.message_object(GRANT, message_id="m1", to=(CONTACT,)))
    assert fake.delete_grant(GRANT)
    notification = sim.message_created(GRANT, truncated=True, message_id="m1", to=(CONTACT,))

    accounts.notify(notification)

    [row] = accounts.notifications()
    assert (row.state, row.outcome, row.attempts) == ("processed", "grant_gone", 1)
    assert row.last_error is None
    status = accounts.rep("rep-ann")["account_status"]
    assert status["status"] == "invalid"
    assert "deleted at Nylas" in status["meaning"]
    assert "reconnects" in status["next_action"]
    assert accounts.emails("rep-ann") == []
    assert len(fake.requests_to(f"/v3/grants/{GRANT}/messages/m1")) == 1  # one attempt only
    assert nothing_dead_lettered(accounts, redis_namespace)

    # A1: the grant coming back (a grant.created sent after crmsync found it gone) revives it.
    accounts.notify(sim.grant_created(GRANT, provider="google", email=ANN))
    assert accounts.rep("rep-ann")["account_status"]["status"] == "valid"


def test_a_missing_message_of_a_live_grant_is_still_gone_and_leaves_the_status(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    before = accounts.rep("rep-ann")["account_status"]["status"]

    accounts.notify(sim.message_created(GRANT, truncated=True, message_id="never-there"))

    [row] = accounts.notifications()
    assert (row.state, row.outcome, row.attempts) == ("processed", "gone", 1)
    assert accounts.rep("rep-ann")["account_status"]["status"] == before
    assert before != "invalid"


def test_a_backfill_of_a_deleted_grant_stops_saying_why(
    accounts: AccountsWorld, fake: FakeNylas, redis_namespace: str
) -> None:
    assert fake.delete_grant(GRANT)

    answer = accounts.api("POST", "/v1/reps/rep-ann/backfill")
    assert answer.status_code == 202, answer.text
    accounts.wait_backfills_done("rep-ann")

    backfill = accounts.backfill_status("rep-ann")["mailbox"]
    assert backfill["state"] == "failed"
    assert backfill["error"].startswith("grant_gone: ")
    assert accounts.rep("rep-ann")["account_status"]["status"] == "invalid"
    assert len(fake.requests_to(f"/v3/grants/{GRANT}/messages")) == 1  # not retried
    assert nothing_dead_lettered(accounts, redis_namespace)


def test_a_send_from_a_deleted_grant_fails_saying_so_and_is_not_sent(
    accounts: AccountsWorld, fake: FakeNylas, redis_namespace: str
) -> None:
    assert fake.delete_grant(GRANT)
    send = {"send_key": "crm-send-1", "to": [{"email": CONTACT}], "subject": "Hi", "body": "x"}

    email = accounts.api("POST", "/v1/reps/rep-ann/emails", json=send).json()

    def delivery() -> dict[str, str]:
        found: dict[str, str] = accounts.api("GET", f"/v1/emails/{email['id']}").json()["delivery"]
        return found

    wait_for(lambda: delivery()["state"] == "failed", what="the send to fail")
    assert delivery()["error"].startswith("grant_gone: ")
    assert accounts.rep("rep-ann")["account_status"]["status"] == "invalid"
    assert fake.requests_to("/messages/send") == []  # the key lookup found the grant gone
    assert nothing_dead_lettered(accounts, redis_namespace)


def test_a_push_to_the_calendar_of_a_deleted_grant_fails_saying_so_and_is_not_retried(
    calendar_world: CalendarWorld, redis_namespace: str
) -> None:
    world = calendar_world
    assert world.fake.delete_grant(CALENDAR_GRANT)

    world.put_item("a-1", changed_at=CALENDAR_NOW)

    item = world.settled("a-1")
    assert item["calendar"]["status"] == "push_failed"
    assert item["calendar"]["last_push_error"].startswith("grant_gone: ")
    assert world.api("GET", f"/v1/reps/{CALENDAR_REP}").json()["account_status"]["status"] == (
        "invalid"
    )
    assert len(world.fake.requests_to(f"/v3/grants/{CALENDAR_GRANT}/calendars")) == 1
    assert nothing_dead_lettered(world, redis_namespace)
