"""Email sync end to end (E2-E8): the CRM registers reps and contacts through the API, Nylas
notifications arrive signed at the ingress, real workers on the real Redis store emails,
and each test reads back the exact rows, links and change records, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from simulator import folder_presets as mailbox
from simulator import notifications as sim
from tests.integration.conftest import GMAIL_GRANT, MICROSOFT_GRANT
from tests.support.email_sync import EmailSyncWorld
from tests.support.harness import queue_lengths
from tests.support.nylas import signed
from tests.support.services import wait_for

NOW = int(time.time())
DAY = 24 * 3600
SYNC_FROM = NOW - 30 * DAY


def rfc3339(unix: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def register_ann(world: EmailSyncWorld, **settings: Any) -> None:
    """Ann (Gmail) with Bob and Carol as her contacts; Rita (Microsoft) owns Dave."""
    world.put_rep(
        "rep-ann",
        email="ann@acme.example",
        grant_id=GMAIL_GRANT,
        provider="google",
        settings={"sync_from": rfc3339(SYNC_FROM), **settings},
    )
    world.put_contacts(
        "rep-ann",
        [
            {"id": "c-bob", "emails": ["Bob@Customer.example"], "account_ref": "acct-1"},
            {
                "id": "c-carol",
                "emails": ["carol@other.example", "carol.alt@other.example"],
                "account_ref": "acct-2",
            },
        ],
    )
    world.put_rep("rep-rita", email="rita@acme.example", grant_id=MICROSOFT_GRANT)
    world.put_contacts("rep-rita", [{"id": "c-dave", "emails": ["dave@partner.example"]}])


def created(
    message_id: str, *, grant: str = GMAIL_GRANT, at: int = NOW, **fields: Any
) -> dict[str, Any]:
    document = sim.message_created(grant, message_id=message_id, **fields)
    document["time"] = at
    return document


def updated(document: dict[str, Any], *, at: int, **changes: Any) -> dict[str, Any]:
    """A ``message.updated`` for the message of ``document``, under a new notification id."""
    obj = {**document["data"]["object"], **changes}
    return sim.envelope("message.updated", obj, source="/google/emails/realtime", at=at)


def test_exactly_the_emails_exchanged_with_the_reps_own_contacts_are_stored(
    world: EmailSyncWorld,
) -> None:
    register_ann(world)
    ann = "ann@acme.example"
    cases = {
        "m-to": created("m-to", sender=ann, to=("bob@customer.example",), date=NOW - DAY),
        "m-from": created(
            "m-from", sender="Bob <BOB@customer.example>", to=(ann,), date=NOW - 2 * DAY
        ),
        "m-cc": created(
            "m-cc", sender=ann, to=("x@nowhere.example",), cc=("carol.alt@other.example",)
        ),
        "m-bcc": created("m-bcc", sender=ann, to=("x@nowhere.example",)),
        "m-other-rep": created("m-other-rep", sender=ann, to=("dave@partner.example",)),
        "m-nobody": created("m-nobody", sender=ann, to=("x@nowhere.example",)),
        "m-old": created("m-old", sender=ann, to=("bob@customer.example",), date=SYNC_FROM - 1),
        "m-label": created(
            "m-label",
            sender=ann,
            to=("bob@customer.example",),
            folders=(mailbox.GMAIL_COOLSTUFF_ID,),
        ),
        "m-on-the-edge": created(
            "m-on-the-edge", sender=ann, to=("bob@customer.example",), date=SYNC_FROM
        ),
    }
    cases["m-bcc"]["data"]["object"]["bcc"] = [{"email": "bob@customer.example"}]

    world.notify(*cases.values())

    outcomes = {name: world.outcome_of(doc["id"]) for name, doc in cases.items()}
    assert outcomes == {
        "m-to": "stored",
        "m-from": "stored",
        "m-cc": "stored",
        "m-bcc": "no_contact",
        "m-other-rep": "no_contact",
        "m-nobody": "no_contact",
        "m-old": "before_sync_from",
        "m-label": "folder_not_synced",
        "m-on-the-edge": "stored",
    }
    emails = world.emails()
    assert sorted(e.message_id for e in emails) == ["m-cc", "m-from", "m-on-the-edge", "m-to"]
    assert {e.rep_id for e in emails} == {"rep-ann"}
    assert {e.source for e in emails} == {"synced"}
    m_from = world.email("rep-ann", "m-from")
    assert m_from.sender == [{"email": "bob@customer.example", "name": "Sales Rep"}]
    assert m_from.folder_names == ["INBOX"]
    assert m_from.body == "<p>Hello</p>"
    assert m_from.hidden is False
    assert list(world.links(m_from.id).values()) == [["from"]]
    assert list(world.links(world.email("rep-ann", "m-cc").id).values()) == [["cc"]]
    stored = world.changes(entity="email")
    assert [c.type for c in stored] == ["email.stored"] * 4
    assert sorted(c.payload["message_id"] for c in stored) == sorted(e.message_id for e in emails)
    assert all(c.rep_id == "rep-ann" and c.entity_version == 1 for c in stored)
    assert all("body" not in c.payload for c in stored)
    # The same message seen again under another notification id changes nothing.
    world.notify(updated(cases["m-to"], at=NOW))
    assert len(world.emails()) == 4
    assert len(world.changes(entity="email")) == 4


def test_microsoft_opaque_folder_ids_are_resolved_through_the_folder_cache(
    world: EmailSyncWorld,
) -> None:
    world.put_rep("rep-ben", email="ben@acme.example", grant_id=MICROSOFT_GRANT)
    world.put_contacts("rep-ben", [{"id": "c-eve", "emails": ["eve@client.example"]}])
    ben, eve = "ben@acme.example", "eve@client.example"
    sent = created(
        "ms-sent",
        grant=MICROSOFT_GRANT,
        sender=ben,
        to=(eve,),
        folders=(mailbox.MICROSOFT_SENT_ID,),
    )
    deleted = created(
        "ms-deleted",
        grant=MICROSOFT_GRANT,
        sender=eve,
        to=(ben,),
        folders=(mailbox.MICROSOFT_DELETED_ID,),
    )
    inbox = created(
        "ms-inbox",
        grant=MICROSOFT_GRANT,
        sender=eve,
        to=(ben,),
        folders=(mailbox.MICROSOFT_INBOX_ID,),
    )

    world.notify(sent, deleted, inbox)

    assert [world.outcome_of(d["id"]) for d in (sent, deleted, inbox)] == [
        "stored",
        "folder_not_synced",
        "stored",
    ]
    assert world.email("rep-ben", "ms-sent").folder_names == ["Sent Items"]
    assert world.email("rep-ben", "ms-inbox").folder_names == ["Inbox"]
    # One fill of the cache served all three messages (the grant lookup learns the provider).
    assert len(world.fake.requests_to("/folders", method="GET")) >= 1
    first_fill = len(world.fake.requests_to("/folders", method="GET"))

    # A rep syncing a folder three levels deep: the cache walked below the two levels listed.
    world.put_rep(
        "rep-ben", email=ben, grant_id=MICROSOFT_GRANT, settings={"folders": "Inbox\\Deep"}
    )
    deep = created(
        "ms-deep",
        grant=MICROSOFT_GRANT,
        sender=eve,
        to=(ben,),
        folders=(mailbox.MICROSOFT_DEEP_ID,),
    )
    world.notify(deep)
    assert world.outcome_of(deep["id"]) == "stored"
    assert world.email("rep-ben", "ms-deep").folder_names == ["Deep"]
    assert len(world.fake.requests_to("/folders", method="GET")) == first_fill


def test_a_message_moved_later_into_a_synced_folder_is_stored_then(
    world: EmailSyncWorld,
) -> None:
    register_ann(world)
    first = created(
        "m-moved",
        sender="bob@customer.example",
        to=("ann@acme.example",),
        folders=(mailbox.GMAIL_COOLSTUFF_ID,),
        at=NOW - 60,
    )
    world.notify(first)
    assert world.outcome_of(first["id"]) == "folder_not_synced"
    assert world.emails() == []

    moved = updated(first, at=NOW - 30, folders=[mailbox.GMAIL_INBOX_ID])
    read = updated(first, at=NOW, folders=[mailbox.GMAIL_INBOX_ID], unread=False)
    world.notify(moved, read)

    assert [world.outcome_of(d["id"]) for d in (moved, read)] == ["stored", "updated"]
    [email] = world.emails()
    assert email.folder_ids == ["INBOX"]
    assert email.unread is False
    assert email.version == 2
    changes = world.changes(entity="email")
    assert [(c.type, c.entity_version) for c in changes] == [
        ("email.stored", 1),
        ("email.updated", 2),
    ]
    assert changes[1].payload["changed"] == ["unread"]
    assert changes[1].payload["unread"] is False


def test_duplicated_and_reordered_notifications_make_one_row_in_the_newest_state(
    world: EmailSyncWorld,
) -> None:
    register_ann(world)
    original = created(
        "m-dup", sender="bob@customer.example", to=("ann@acme.example",), at=NOW - 100
    )
    newer = updated(original, at=NOW, unread=False, starred=True)
    same_again = {**original, "id": "another-id-for-the-same-change"}

    # The update arrives first, then the creation, then the creation again under another id,
    # and then an exact retry of the update (deduplicated by the ingress).
    world.notify(newer, original, same_again, newer)

    assert [world.outcome_of(d["id"]) for d in (newer, original, same_again)] == [
        "stored",
        "unchanged",
        "unchanged",
    ]
    [email] = world.emails()
    assert email.unread is False
    assert email.starred is True
    assert email.version == 1
    assert [c.type for c in world.changes(entity="email")] == ["email.stored"]
    assert len(world.notifications()) == 3


def test_a_truncated_notification_is_completed_through_the_nylas_api_despite_a_429(
    world: EmailSyncWorld,
) -> None:
    register_ann(world)
    full = sim.message_object(
        GMAIL_GRANT,
        message_id="m-big",
        sender="bob@customer.example",
        to=("ann@acme.example",),
        body="<p>" + "x" * 2_000_000 + "</p>",
    )
    world.fake.put_message(GMAIL_GRANT, full)
    world.fake.inject(429, path_contains="/messages/m-big", retry_after=1)
    truncated = sim.envelope(
        "message.created.truncated", {**full, "body": ""}, source="/google/emails/realtime"
    )

    world.notify(truncated)

    assert world.outcome_of(truncated["id"]) == "stored"
    [email] = world.emails()
    assert email.body == full["body"]
    assert len(world.fake.requests_to("/messages/m-big", method="GET")) == 2


def test_a_message_gone_before_it_is_fetched_is_nothing_stored_and_nothing_failed(
    world: EmailSyncWorld,
) -> None:
    register_ann(world)
    gone = sim.message_created(GMAIL_GRANT, message_id="m-gone", truncated=True)
    v2 = sim.v2_message_delta(GMAIL_GRANT, "m-v2-gone")

    world.notify(gone, {"deltas": [v2]})

    rows = world.notifications()
    assert [(r.state, r.outcome) for r in rows] == [("processed", "gone")] * 2
    assert world.emails() == []


def test_a_v2_delta_is_completed_through_the_nylas_api(world: EmailSyncWorld) -> None:
    register_ann(world)
    world.fake.put_message(
        GMAIL_GRANT,
        sim.message_object(
            GMAIL_GRANT,
            message_id="m-v2",
            sender="ann@acme.example",
            to=("carol@other.example",),
            folders=("SENT",),
        ),
    )

    world.notify({"deltas": [sim.v2_message_delta(GMAIL_GRANT, "m-v2")]})

    [email] = world.emails()
    assert email.message_id == "m-v2"
    assert email.folder_names == ["SENT"]


def test_a_hidden_email_stays_hidden_through_updates_and_replays(
    world: EmailSyncWorld,
) -> None:
    register_ann(world)
    original = created("m-hide", sender="bob@customer.example", to=("ann@acme.example",))
    world.notify(original)
    [email] = world.emails()

    response = world.api("POST", f"/v1/emails/{email.id}/hide")
    assert response.status_code == 200
    assert response.json()["hidden"] is True

    replayed = {**original, "id": "replayed-under-a-new-id"}
    moved = updated(original, at=NOW + 10, folders=["INBOX", "IMPORTANT"], unread=False)
    world.notify(replayed, moved)

    [email] = world.emails()
    assert email.hidden is True
    assert email.unread is False
    assert [c.type for c in world.changes(entity="email")] == [
        "email.stored",
        "email.hidden",
        "email.updated",
    ]
    listed = world.api("GET", "/v1/emails", params={"rep_id": "rep-ann"}).json()
    assert listed["data"] == []
    listed = world.api(
        "GET", "/v1/emails", params={"rep_id": "rep-ann", "include_hidden": "true"}
    ).json()
    assert [e["message_id"] for e in listed["data"]] == ["m-hide"]


def test_a_message_deleted_from_the_mailbox_is_marked_and_kept(world: EmailSyncWorld) -> None:
    register_ann(world)
    original = created("m-del", sender="bob@customer.example", to=("ann@acme.example",))
    world.notify(original)
    deleted = sim.envelope(
        "message.deleted",
        {"id": "m-del", "grant_id": GMAIL_GRANT, "object": "message"},
        source="/google/emails/realtime",
    )

    world.notify(deleted, {**deleted, "id": "deleted-again"})

    [email] = world.emails()
    assert email.mailbox_deleted_at is not None
    assert [c.type for c in world.changes(entity="email")] == [
        "email.stored",
        "email.mailbox_deleted",
    ]


def test_folder_notifications_keep_the_cache_current_without_calling_nylas(
    world: EmailSyncWorld,
) -> None:
    register_ann(world, folders="Projects")
    first = created("m-first", sender="bob@customer.example", to=("ann@acme.example",))
    world.notify(first)
    assert world.outcome_of(first["id"]) == "folder_not_synced"
    fills = len(world.fake.requests_to("/folders", method="GET"))

    label = {
        "id": "Label_99",
        "grant_id": GMAIL_GRANT,
        "object": "folder",
        "name": "Projects",
        "attributes": [],
    }
    world.notify(sim.envelope("folder.created", label, source="/google/emails/realtime"))
    project = created(
        "m-project",
        sender="bob@customer.example",
        to=("ann@acme.example",),
        folders=("Label_99",),
    )
    world.notify(project)

    assert world.outcome_of(project["id"]) == "stored"
    assert world.email("rep-ann", "m-project").folder_names == ["Projects"]
    assert len(world.fake.requests_to("/folders", method="GET")) == fills


def test_nothing_is_stored_for_a_rep_with_email_sync_off(world: EmailSyncWorld) -> None:
    register_ann(world, email_sync=False)
    message = created("m-off", sender="bob@customer.example", to=("ann@acme.example",))

    world.notify(message)

    assert world.outcome_of(message["id"]) == "email_sync_off"
    assert world.emails() == []


def test_a_long_retry_after_waits_in_the_queue_not_in_a_worker_thread(
    world: EmailSyncWorld, redis_client: redis.Redis, redis_namespace: str
) -> None:
    register_ann(world)
    world.fake.inject(429, path_contains="/messages/m-later", retry_after=600)
    truncated = sim.message_created(GMAIL_GRANT, message_id="m-later", truncated=True)
    body, headers = signed(truncated)

    assert world.client.post("/webhooks/nylas", content=body, headers=headers).status_code == 200

    # Dramatiq holds it as a delayed message due when Nylas said; nothing dead-lettered.
    def delayed_etas() -> list[float]:
        stored = redis_client.hvals(f"{redis_namespace}:notifications.messages.DQ.msgs")
        return [json.loads(m)["options"]["eta"] / 1000 for m in stored]

    [eta] = wait_for(delayed_etas, what="the notification to be delayed")
    assert eta - time.time() > 500
    [row] = [r for r in world.notifications() if r.notification_id == truncated["id"]]
    assert row.state == "failed"
    assert row.last_error is not None
    assert row.last_error.startswith("NylasRateLimited")
    assert queue_lengths(redis_client, redis_namespace)["notifications.messages.XQ"] == 0
    assert len(world.fake.requests_to("/messages/m-later", method="GET")) == 1
