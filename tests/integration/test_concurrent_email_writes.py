"""Many workers handling notifications of one message at the same moment (N2, E4): one row,
one ``email.stored``, versions that count up without gaps or repeats, the newest state
last, and the hidden flag kept. Run on SQLite and PostgreSQL, threads released together,
so their notifications are finished in shared batches (group commit) as well as apart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from domain.contacts import parse_contacts
from domain.folders import parse_folder
from domain.organizations import DEFAULT_ORG_ID
from domain.reps import parse_rep
from simulator import folder_presets as mailbox
from simulator import notifications as sim
from storage.contacts import replace_contacts
from storage.email_reads import find_email
from storage.emails import hide_email
from storage.engine import create_database_engine, transaction
from storage.folders import replace_folder_cache
from storage.reps import put_rep
from storage.tables import ChangeRow, EmailRow
from workers.actors.notifications import handle_notification
from workers.context import WorkerContext

GRANT = "grant-race"
NOW = datetime.now(UTC).replace(microsecond=0)


def race(work: list[Callable[[], object]]) -> list[BaseException]:
    """Run every callable on its own thread, all released at once; the errors raised."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as error:  # collected, then asserted empty
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_notifications_of_one_message_make_one_row_and_ordered_versions(
    database_url: str,
) -> None:
    engine = create_database_engine(database_url)
    context = WorkerContext(engine=engine)  # the folder cache is filled: no Nylas call needed
    with transaction(engine) as session:
        put_rep(
            session,
            DEFAULT_ORG_ID,
            "rep-1",
            parse_rep({"email": "ann@acme.example", "grant_id": GRANT}),
            NOW,
        )
        replace_contacts(
            session,
            DEFAULT_ORG_ID,
            "rep-1",
            parse_contacts("rep-1", {"contacts": [{"id": "c", "email": "bob@x.example"}]}),
            NOW,
        )
        replace_folder_cache(
            session,
            GRANT,
            [parse_folder(f, "google") for f in mailbox.gmail_folders(GRANT)],
            NOW,
        )
    base = sim.message_object(GRANT, message_id="m-race", sender="bob@x.example")
    states = [
        {"unread": i % 2 == 0, "starred": i % 3 == 0, "folders": ["INBOX", f"Label_{i % 2 + 1}"]}
        for i in range(12)
    ]
    envelopes = [
        sim.envelope(
            "message.updated" if i else "message.created",
            {**base, **state},
            source="/google/emails/realtime",
            at=int((NOW + timedelta(seconds=i)).timestamp()),
        )
        for i, state in enumerate(states)
    ]

    def hide() -> None:
        with transaction(engine) as session:
            row = find_email(session, DEFAULT_ORG_ID, "rep-1", "m-race", for_update=True)
            if row is not None:
                hide_email(session, row, NOW)

    try:
        work: list[Callable[[], object]] = [
            (lambda e=e: handle_notification(context, "v3", e, NOW.timestamp())) for e in envelopes
        ]
        errors = race([*work, hide])
        assert errors == []
        hide()  # if the race ran it before the row existed

        with Session(engine) as session:
            [email] = session.exec(select(EmailRow)).all()
            changes = session.exec(
                select(ChangeRow).where(ChangeRow.entity == "email").order_by(col(ChangeRow.seq))
            ).all()
        newest = states[-1]
        assert email.unread is newest["unread"]
        assert email.starred is newest["starred"]
        assert sorted(email.folder_ids) == sorted(newest["folders"])
        assert email.hidden is True
        assert [c.type for c in changes].count("email.stored") == 1
        assert changes[0].type == "email.stored"
        assert [c.entity_version for c in changes] == list(range(1, len(changes) + 1))
        assert email.version == len(changes)
    finally:
        engine.dispose()
