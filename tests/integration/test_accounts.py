"""Accounts end to end (A1, A2, E11): connect through hosted OAuth, backfill, status, disconnect.

Real worker threads and dispatcher on the real Redis, SQLite and PostgreSQL, and the fake
Nylas over HTTP: the CRM asks for a URL, the rep's browser consents at the fake's hosted
page, comes back to the callback, and the backfill fills the look-back window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlmodel import Session, select

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from simulator import notifications as sim
from simulator.mailbox import FakeNylas
from simulator.mailbox_fill import fill_mailbox
from storage.tables import BackfillRow, ChangeRow
from tests.support.accounts import (
    ACCOUNTS_CLIENT_ID,
    DAY,
    AccountsWorld,
    accounts_fake,
    accounts_world,
    unix_now,
)
from tests.support.harness import queue_lengths
from tests.support.services import wait_for

GRANT = "grant-ann-google"
ANN = "ann@acme.example"
CONTACTS = ["carl@client.example", "dora@client.example"]
LATER_CONTACT = "erin@prospect.example"
CRM_ORIGIN = "https://crm.example"  # the one origin a return_url may have (explicitly listed)


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
    with accounts_world(
        database_url, redis_namespace, make_runtime, fake, return_url_origins=(CRM_ORIGIN,)
    ) as world:
        yield world


def register(world: AccountsWorld, contacts: Sequence[str] = CONTACTS) -> None:
    world.put_rep("rep-ann", email=ANN)
    world.put_contacts("rep-ann", [{"id": f"c-{i}", "emails": [a]} for i, a in enumerate(contacts)])


def matching(messages: list[dict[str, Any]], addresses: Sequence[str], since: int) -> set[str]:
    """The ids E2 stores: dated on or after ``since``, From/To/CC holding one of ``addresses``."""
    wanted = {a.lower() for a in addresses}
    found = set()
    for message in messages:
        people = {p["email"].lower() for key in ("from", "to", "cc") for p in message[key]}
        if message["date"] >= since and people & wanted:
            found.add(message["id"])
    return found


def test_a_rep_connected_through_hosted_oauth_gets_the_last_30_days_backfilled(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    register(accounts)
    now = unix_now()
    messages = fill_mailbox(
        fake, GRANT, 400, contacts=[*CONTACTS, LATER_CONTACT], start=now - 60 * DAY, end=now - 60
    )
    assert accounts.rep("rep-ann")["account_status"]["status"] == "stopped"

    url = accounts.connect_url("rep-ann", provider="google")
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [ACCOUNTS_CLIENT_ID]
    assert query["login_hint"] == [ANN]
    connected = accounts.connect("rep-ann")

    rep = connected["rep"]
    assert rep["grant_id"] == GRANT
    assert rep["account_status"]["status"] in ("initializing", "downloading", "running")
    accounts.wait_backfills_done("rep-ann")
    sync_from = now - 30 * DAY
    expected = matching(messages, CONTACTS, sync_from + 5)  # a few seconds of clock slack
    stored = set(accounts.message_ids("rep-ann"))
    assert expected <= stored
    assert stored <= matching(messages, CONTACTS, sync_from - 5)
    assert len(stored) == len(accounts.emails("rep-ann"))  # none twice
    older = matching(messages, CONTACTS, 0) - matching(messages, CONTACTS, sync_from - 5)
    assert older, "the mailbox must hold matching mail older than the window"
    assert not older & stored

    status = accounts.rep("rep-ann")["account_status"]
    assert status["status"] == "running"
    assert status["meaning"] == "Everything is syncing."
    assert status["silent"] is False
    backfill = accounts.backfill_status("rep-ann")["mailbox"]
    assert backfill["state"] == "done"
    assert backfill["progress"]["emails_stored"] == len(stored)
    assert backfill["progress"]["percent"] == 100.0
    # Every message of the window read once (the windows neither overlap nor leave gaps).
    in_window = [m for m in messages if m["date"] >= sync_from + 5]
    near_window = [m for m in messages if m["date"] >= sync_from - 5]
    assert len(in_window) <= backfill["progress"]["messages_scanned"] <= len(near_window)
    assert backfill["progress"]["windows_total"] in (30, 31)
    with Session(accounts.runtime.engine) as session:
        statuses = [
            c.payload["account_status"]["status"]
            for c in session.exec(select(ChangeRow).where(ChangeRow.entity == "rep"))
        ]
    assert statuses[-3:] == ["initializing", "downloading", "running"]


def test_a_callback_cannot_be_replayed_forged_or_moved_to_another_rep(
    accounts: AccountsWorld,
) -> None:
    register(accounts)
    accounts.put_rep("rep-bob", email="bob@acme.example")
    path = accounts.consent(accounts.connect_url("rep-ann"))
    first = accounts.callback(path)
    assert first.status_code == 200, first.text

    replayed = accounts.callback(path)
    assert (replayed.status_code, replayed.json()["error"]["reason"]) == (400, "state_used")

    params = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    version, payload, signature = params["state"].split(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    forged = {**params, "state": f"{version}.{forged_payload}.{signature}"}
    answer = accounts.callback(f"{urlsplit(path).path}?{urlencode(forged)}")
    assert (answer.status_code, answer.json()["error"]["reason"]) == (400, "invalid_state")

    no_state = accounts.callback(f"{urlsplit(path).path}?code={params['code']}")
    assert no_state.status_code == 400
    assert accounts.rep("rep-bob")["grant_id"] is None


def test_a_callback_reads_what_nylas_adds_and_refuses_what_nylas_never_sends(
    accounts: AccountsWorld,
) -> None:
    register(accounts)
    path = accounts.consent(accounts.connect_url("rep-ann"))
    params = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}

    overlong = accounts.callback(
        f"{urlsplit(path).path}?{urlencode({**params, 'code': 'c' * 9000})}"
    )
    assert (overlong.status_code, overlong.json()["error"]["reason"]) == (400, "invalid_code")
    assert accounts.rep("rep-ann")["grant_id"] is None

    # A parameter Nylas may add (scope, say) is not the CRM's typo: it is let through.
    answer = accounts.callback(f"{urlsplit(path).path}?{urlencode({**params, 'scope': 'email'})}")
    assert answer.status_code == 200, answer.text
    assert accounts.rep("rep-ann")["grant_id"] is not None


def test_a_refusal_at_the_provider_returns_the_browser_to_the_crm_saying_so(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    register(accounts)
    fake.refuse_consent(ANN)
    url = accounts.connect_url("rep-ann", return_url=f"{CRM_ORIGIN}/reps/ann?tab=mail")

    answer = accounts.callback(accounts.consent(url))

    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.netloc == "crm.example"
    assert parse_qs(location.query) == {
        "tab": ["mail"],
        "rep_id": ["rep-ann"],
        "status": ["failed"],
        "error": ["denied"],
    }
    assert accounts.rep("rep-ann")["grant_id"] is None


def test_grant_notifications_move_the_status_with_its_meaning(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    register(accounts)
    accounts.connect("rep-ann")
    accounts.wait_backfills_done("rep-ann")

    accounts.notify(sim.grant_expired(GRANT))
    status = accounts.rep("rep-ann")["account_status"]
    assert status["status"] == "invalid-credentials"
    assert "reconnects" in status["next_action"]

    # Reconnecting re-authenticates the same grant and runs again.
    accounts.connect("rep-ann")
    accounts.wait_backfills_done("rep-ann")
    assert accounts.rep("rep-ann")["account_status"]["status"] == "running"


def test_disconnect_destroys_the_grant_stops_syncing_and_keeps_the_emails(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    register(accounts)
    now = unix_now()
    fill_mailbox(fake, GRANT, 100, contacts=CONTACTS, start=now - 10 * DAY, end=now - 60)
    accounts.connect("rep-ann")
    accounts.wait_backfills_done("rep-ann")
    kept = accounts.message_ids("rep-ann")
    assert kept

    answer = accounts.api("POST", "/v1/reps/rep-ann/disconnect")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["grant_id"], body["grant_destroyed"]) == (GRANT, True)
    assert body["rep"]["account_status"]["status"] == "stopped"
    assert fake.grant(GRANT) is None
    assert accounts.message_ids("rep-ann") == kept
    again = accounts.api("POST", "/v1/reps/rep-ann/disconnect").json()
    assert (again["grant_id"], again["grant_destroyed"]) == (None, None)


def test_a_contact_added_later_brings_its_past_emails_and_no_older_ones(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    register(accounts)
    now = unix_now()
    messages = fill_mailbox(
        fake, GRANT, 300, contacts=[*CONTACTS, LATER_CONTACT], start=now - 45 * DAY, end=now - 60
    )
    accounts.connect("rep-ann")
    accounts.wait_backfills_done("rep-ann")
    before = set(accounts.message_ids("rep-ann"))
    assert not before & (matching(messages, [LATER_CONTACT], 0) - matching(messages, CONTACTS, 0))

    answer = accounts.api(
        "PUT", "/v1/reps/rep-ann/contacts/c-later", json={"emails": [LATER_CONTACT.upper()]}
    )
    assert answer.status_code == 201, answer.text
    accounts.wait_backfills_done("rep-ann")

    sync_from = now - 30 * DAY
    stored = set(accounts.message_ids("rep-ann"))
    assert stored - before == matching(messages, [LATER_CONTACT], sync_from) - before
    assert stored - before, "the new contact must have mail in the window"
    assert not (stored - before) & (
        matching(messages, [LATER_CONTACT], 0) - matching(messages, [LATER_CONTACT], sync_from)
    )
    searches = [r for r in fake.requests_to("/messages", method="GET") if "any_email" in r.query]
    assert searches
    assert all(r.query["any_email"] == [LATER_CONTACT] for r in searches)
    assert len(stored) == len(accounts.emails("rep-ann"))


def test_a_backfill_interrupted_between_a_page_and_its_progress_resumes_without_duplicates(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake: FakeNylas,
) -> None:
    now = unix_now()
    messages = fill_mailbox(fake, GRANT, 600, contacts=CONTACTS, start=now - 29 * DAY, end=now)
    with accounts_world(database_url, redis_namespace, make_runtime, fake) as world:
        register(world)
        world.connect("rep-ann")
        # Let it store part of the history, then rewind its saved position by three pages
        # and a window, as a crash after storing pages but before saving them would leave it.
        wait_for(
            lambda: world.backfill_status("rep-ann")["mailbox"]["progress"]["pages_done"] >= 4,
            timeout=60,
            what="some pages",
        )
        with Session(world.runtime.engine) as session:
            row = session.exec(select(BackfillRow)).one()
            row.window_index = max(0, row.window_index - 1)
            row.page_token = None
            row.state = "running"
            row.finished_at = None
            row.queued_at = None  # its message "lost": the dispatcher queues it again
            session.add(row)
            session.commit()
        world.wait_backfills_done("rep-ann")
        stored = world.message_ids("rep-ann")
        assert len(stored) == len(set(stored))
        assert set(stored) == matching(messages, CONTACTS, now - 30 * DAY)


def connected(world: AccountsWorld, fake: FakeNylas) -> None:
    register(world)
    world.connect("rep-ann")
    world.wait_backfills_done("rep-ann")
    fake.drain_notifications()  # grant.updated from the consent: not what these tests are about


SEND = {
    "send_key": "crm-send-1",
    "to": [{"email": "Carl@Client.example", "name": "Carl"}],
    "bcc": [{"email": "archive@acme.example"}],
    "subject": "Our proposal",
    "body": "<p>Here it is.</p>",
    "reference": {"lead_id": "L-42", "contact_id": "c-0"},
}


def delivery_of(world: AccountsWorld, email_id: int) -> dict[str, Any]:
    response = world.api("GET", f"/v1/emails/{email_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_sent_email_is_stored_at_once_and_its_sent_folder_copy_is_the_same_email(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    connected(accounts, fake)

    answer = accounts.api("POST", "/v1/reps/rep-ann/emails", json=SEND)

    assert answer.status_code == 202, answer.text
    email = answer.json()
    assert (email["source"], email["delivery"]["state"]) == ("system", "queued")
    assert email["delivery"]["reference"] == {"lead_id": "L-42", "contact_id": "c-0"}
    assert [c["id"] for c in email["contacts"]] == ["c-0"]
    retried = accounts.api("POST", "/v1/reps/rep-ann/emails", json=SEND)
    assert (retried.status_code, retried.json()["id"]) == (200, email["id"])

    wait_for(
        lambda: delivery_of(accounts, email["id"])["delivery"]["state"] == "sent",
        what="the send",
    )
    sent = delivery_of(accounts, email["id"])
    [message] = [m for m in fake.messages(GRANT) if m["id"] == sent["message_id"]]
    assert message["metadata"]["crm_lead_id"] == "L-42"
    assert [p["email"] for p in message["bcc"]] == ["archive@acme.example"]

    copies = fake.drain_notifications()
    assert [n["type"] for n in copies] == ["message.created"]
    accounts.notify(*copies)
    rows = [e for e in accounts.emails("rep-ann") if e.message_id == sent["message_id"]]
    assert len(rows) == 1
    assert rows[0].id == email["id"]
    assert delivery_of(accounts, email["id"])["folders"] == ["SENT"]
    assert len(fake.requests_to("/messages/send", method="POST")) == 1


def test_a_bounce_updates_the_sent_email(accounts: AccountsWorld, fake: FakeNylas) -> None:
    connected(accounts, fake)
    fake.set_bouncing_addresses(GRANT, ["carl@client.example"])
    email = accounts.api("POST", "/v1/reps/rep-ann/emails", json=SEND).json()
    wait_for(
        lambda: delivery_of(accounts, email["id"])["delivery"]["state"] == "sent",
        what="the send",
    )

    accounts.notify(*fake.drain_notifications())

    delivery = delivery_of(accounts, email["id"])["delivery"]
    assert delivery["state"] == "bounced"
    assert "carl@client.example" in delivery["error"]


def test_a_send_nylas_refuses_fails_with_the_reason(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    connected(accounts, fake)
    fake.inject(400, path_contains="/messages/send", method="POST")

    email = accounts.api("POST", "/v1/reps/rep-ann/emails", json=SEND).json()

    wait_for(
        lambda: delivery_of(accounts, email["id"])["delivery"]["state"] == "failed",
        what="the refusal",
    )
    assert delivery_of(accounts, email["id"])["delivery"]["error"]


def test_a_send_request_with_no_recipient_or_no_key_is_refused(accounts: AccountsWorld) -> None:
    register(accounts)
    for document, reason in [
        ({**SEND, "to": [], "bcc": []}, "no_recipient"),
        ({k: v for k, v in SEND.items() if k != "send_key"}, "invalid_send_key"),
        ({**SEND, "to": [{"email": "not an address"}]}, "invalid_to"),
    ]:
        answer = accounts.api("POST", "/v1/reps/rep-ann/emails", json=document)
        assert (answer.status_code, answer.json()["error"]["reason"]) == (400, reason)
    unconnected = accounts.api("POST", "/v1/reps/rep-ann/emails", json=SEND)
    assert (unconnected.status_code, unconnected.json()["error"]["reason"]) == (
        409,
        "not_connected",
    )


def test_a_throttled_grant_does_not_hold_up_another_grants_live_notifications(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake: FakeNylas,
) -> None:
    """Grant A's 12 truncated messages need 12 fetches at 2 calls a second (6 s); grant B's
    one message is stored while A's are still waiting their turn, not behind all of them."""
    fake.add_mailbox("grant-bob", "google", "bob@acme.example")
    flood = [
        sim.message_object(GRANT, message_id=f"a-{i}", sender=ANN, to=(CONTACTS[0],))
        for i in range(12)
    ]
    for message in flood:
        fake.put_message(GRANT, message)
    lone = sim.message_object(
        "grant-bob", message_id="b-1", sender="bob@acme.example", to=(CONTACTS[0],)
    )
    fake.put_message("grant-bob", lone)
    limits = {"nylas_grant_calls_per_second": 2, "nylas_grant_concurrent_calls": 1}
    with accounts_world(database_url, redis_namespace, make_runtime, fake, **limits) as world:
        # Contacts first, then the grant: no retroactive search stores the flood for us.
        for rep_id, email, grant in [
            ("rep-ann", ANN, GRANT),
            ("rep-bob", "bob@acme.example", "grant-bob"),
        ]:
            world.put_rep(rep_id, email=email)
            world.put_contacts(rep_id, [{"id": "c-0", "emails": [CONTACTS[0]]}])
            world.put_rep(rep_id, email=email, grant_id=grant, provider="google")
        for message in flood:
            world.post(
                sim.message_created(
                    GRANT, truncated=True, message_id=message["id"], sender=ANN, to=(CONTACTS[0],)
                )
            )

        world.notify(
            sim.message_created(
                "grant-bob",
                truncated=True,
                message_id="b-1",
                sender="bob@acme.example",
                to=(CONTACTS[0],),
            )
        )

        ann_stored_when_bob_was = len(world.emails("rep-ann"))
        assert [e.message_id for e in world.emails("rep-bob")] == ["b-1"]
        assert ann_stored_when_bob_was < len(flood)
        wait_for(
            lambda: len(world.emails("rep-ann")) == len(flood),
            timeout=60,
            what="grant A's messages, at its own pace",
        )
        # Waiting for a slot is not a failure: nothing was marked failed or dead-lettered.
        wait_for(
            lambda: {n.state for n in world.notifications()} == {"processed"},
            what="every notification processed",
        )
        lengths = queue_lengths(world.runtime.broker.client, redis_namespace)
        assert not any(count for queue, count in lengths.items() if queue.endswith(".XQ"))


def test_repeated_failures_mark_the_rep_sync_error_and_a_success_clears_it(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    """Each truncated message needs a fetch; while the fetches fail, the rep's work fails in
    a row (two attempts each: the tests' retry budget is one retry) until its status says so."""
    register(accounts)
    accounts.put_rep("rep-ann", email=ANN, grant_id=GRANT, provider="google")
    fake.put_message(GRANT, sim.message_object(GRANT, message_id="ok", to=(CONTACTS[0],)))
    fake.inject(400, path_contains="/messages/bad", times=100)

    for i in range(3):
        accounts.post(sim.message_created(GRANT, truncated=True, message_id=f"bad-{i}"))
    wait_for(
        lambda: accounts.rep("rep-ann")["account_status"]["status"] == "sync-error",
        timeout=60,
        what="the rep to show sync-error",
    )
    status = accounts.rep("rep-ann")["account_status"]
    assert "failed repeatedly" in status["meaning"]

    accounts.notify(sim.message_created(GRANT, truncated=True, message_id="ok"))
    assert accounts.rep("rep-ann")["account_status"]["status"] == "running"


def test_a_reply_joins_the_thread_of_the_message_it_answers(
    accounts: AccountsWorld, fake: FakeNylas
) -> None:
    original = sim.message_object(GRANT, message_id="m-orig", sender=CONTACTS[0], to=(ANN,))
    fake.put_message(GRANT, original)
    connected(accounts, fake)
    reply = {**SEND, "send_key": "reply-1", "reply_to_message_id": "m-orig"}

    email = accounts.api("POST", "/v1/reps/rep-ann/emails", json=reply).json()
    wait_for(
        lambda: delivery_of(accounts, email["id"])["delivery"]["state"] == "sent",
        what="the reply",
    )

    assert delivery_of(accounts, email["id"])["thread_id"] == original["thread_id"]
