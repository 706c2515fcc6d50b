"""Notifications finished together (group commit) and emails stored a page at a time, on
SQLite and PostgreSQL: the same rows and the same changes as one at a time, duplicates in a
batch harmless, and a poison notification failing alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from domain.contacts import parse_contacts
from domain.folders import parse_folder
from domain.messages import parse_message
from domain.notifications import Notification, parse_unit
from domain.organizations import DEFAULT_ORG_ID
from domain.reps import parse_rep
from simulator import folder_presets as mailbox
from simulator import notifications as sim
from storage.contacts import replace_contacts
from storage.email_changes import email_json
from storage.email_reads import email_contacts
from storage.engine import create_database_engine, transaction
from storage.folders import replace_folder_cache
from storage.reps import put_rep
from storage.tables import (
    ChangeRow,
    EmailRow,
    NotificationState,
    ParkedMessageRow,
    RawNotification,
)
from workers.actors.finishing import Finishing, finish_notifications
from workers.actors.handled import Handled, MessageToSave
from workers.context import WorkerContext

NOW = datetime.now(UTC).replace(microsecond=0)
REPS = {"rep-a": "grant-a", "rep-b": "grant-b"}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    with transaction(engine) as session:
        for rep_id, grant_id in REPS.items():
            document = {"email": f"{rep_id}@acme.example", "grant_id": grant_id}
            put_rep(session, DEFAULT_ORG_ID, rep_id, parse_rep(document), NOW - timedelta(days=1))
            contacts = [
                {"id": f"{rep_id}-bob", "email": "bob@x.example", "account_ref": "acct-1"},
                {"id": f"{rep_id}-cy", "email": "cy@y.example", "lead_ref": "lead-9"},
            ]
            replace_contacts(
                session,
                DEFAULT_ORG_ID,
                rep_id,
                parse_contacts(rep_id, {"contacts": contacts}),
                NOW,
            )
            folders = [parse_folder(f, "google") for f in mailbox.gmail_folders(grant_id)]
            replace_folder_cache(session, grant_id, folders, NOW)
    yield engine
    engine.dispose()


def notification(
    grant_id: str,
    message_id: str,
    *,
    sender: str,
    cc: tuple[str, ...] = (),
    folders: tuple[str, ...] = ("INBOX",),
    unread: bool = True,
) -> Notification:
    obj = sim.message_object(grant_id, message_id=message_id, sender=sender, cc=cc, folders=folders)
    obj["unread"] = unread
    return parse_unit("v3", sim.envelope("message.created", obj, source="/google/emails/realtime"))


def finishing(
    context: WorkerContext,
    unit: Notification,
    *,
    observed_at: datetime = NOW,
    folders_refreshed: bool = False,
) -> Finishing:
    assert unit.grant_id is not None
    message = parse_message(unit.payload["data"]["object"])
    return Finishing(
        context, unit, NOW, MessageToSave(unit.grant_id, message, observed_at, folders_refreshed)
    )


def outcomes(results: list[object]) -> list[str]:
    return [r.outcome if isinstance(r, Handled) else repr(r) for r in results]


def test_a_batch_of_notifications_is_stored_as_one_at_a_time_would_store_it(
    engine: Engine,
) -> None:
    context = WorkerContext(engine=engine)
    units = [
        notification("grant-a", "m1", sender="bob@x.example", cc=("cy@y.example",)),
        notification("grant-b", "m1", sender="cy@y.example"),
        notification("grant-a", "m2", sender="stranger@z.example"),
        notification("grant-a", "m3", sender="bob@x.example", unread=True),
        notification("grant-a", "m3", sender="bob@x.example", unread=False),
        notification("grant-unknown", "m4", sender="bob@x.example"),
    ]
    items = [finishing(context, unit) for unit in units[:4]]
    items.append(finishing(context, units[4], observed_at=NOW + timedelta(seconds=1)))
    items.append(finishing(context, units[5]))
    items.append(Finishing(context, units[0], NOW, Handled.processed("duplicate")))

    results = finish_notifications(items)

    # The same notification twice in a batch splits it: each is then finished alone.
    assert outcomes(results) == [
        "stored",
        "stored",
        "no_contact",
        "stored",
        "updated",
        "unknown_grant",
        "duplicate",
    ]
    with Session(engine) as session:
        emails = session.exec(select(EmailRow).order_by(col(EmailRow.id))).all()
        assert [(e.rep_id, e.message_id) for e in emails] == [
            ("rep-a", "m1"),
            ("rep-b", "m1"),
            ("rep-a", "m3"),
        ]
        # Each change carries what the API reads back for its email (less the body).
        changes = session.exec(
            select(ChangeRow).where(ChangeRow.entity == "email").order_by(col(ChangeRow.seq))
        ).all()
        assert sorted(c.type for c in changes) == ["email.stored"] * 3 + ["email.updated"]
        by_email = {  # the latest of each email's changes
            int(c.entity_id): {k: v for k, v in c.payload.items() if k != "changed"}
            for c in changes
        }
        links = email_contacts(session, [e.id for e in emails if e.id is not None])
        for email in emails:
            assert email.id is not None
            assert by_email[email.id] == email_json(
                email, links.get(email.id, []), include_body=False
            )
        assert [c["id"] for c in by_email[emails[0].id or 0]["contacts"]] == [
            "rep-a-bob",
            "rep-a-cy",
        ]
        raw = session.exec(select(RawNotification)).all()
        assert len(raw) == 6
        assert {r.state for r in raw} == {NotificationState.PROCESSED.value}
        first = next(r for r in raw if r.notification_id == units[0].notification_id)
        assert (first.attempts, first.outcome) == (2, "duplicate")


def test_a_poison_notification_fails_alone_and_the_rest_of_its_batch_is_stored(
    engine: Engine,
) -> None:
    context = WorkerContext(engine=engine)
    good = [notification("grant-a", f"g{i}", sender="bob@x.example") for i in range(4)]
    poison = notification("grant-a", "poison", sender="bob@x.example")
    # A time without a zone cannot be stored: its insert fails on both databases.
    items = [finishing(context, unit) for unit in good[:2]]
    items.append(finishing(context, poison, observed_at=NOW.replace(tzinfo=None)))
    items.extend(finishing(context, unit) for unit in good[2:])

    results = finish_notifications(items)

    assert "naive datetimes are not stored" in str(results[2])
    assert outcomes([r for i, r in enumerate(results) if i != 2]) == ["stored"] * 4
    with Session(engine) as session:
        stored = session.exec(select(EmailRow.message_id).order_by(col(EmailRow.message_id)))
        assert list(stored) == ["g0", "g1", "g2", "g3"]
        recorded = session.exec(select(RawNotification.notification_id)).all()
        assert poison.notification_id not in recorded


def test_a_message_whose_folders_are_unknown_asks_for_them_once(engine: Engine) -> None:
    context = WorkerContext(engine=engine, folder_refresh_interval=timedelta(0))
    unit = notification("grant-a", "m-new-folder", sender="bob@x.example", folders=("Label_99",))

    [asked] = finish_notifications([finishing(context, unit)])
    [saved] = finish_notifications([finishing(context, unit, folders_refreshed=True)])

    assert type(asked).__name__ == "FoldersToRefresh"
    # Still unknown after the refresh: not decided on a guess, parked until it is known (N2).
    assert outcomes([saved]) == ["folder_pending"]
    with Session(engine) as session:
        parked = session.exec(select(ParkedMessageRow)).all()
    assert [(p.grant_id, p.message_id) for p in parked] == [("grant-a", "m-new-folder")]
