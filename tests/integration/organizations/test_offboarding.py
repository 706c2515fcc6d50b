"""Offboarding an organization, on SQLite and PostgreSQL with the real Redis and workers: a
dry run counts what would go, its tokens stop at once, its grants are disconnected at Nylas,
and afterwards no table holds a row of it nor Redis a dead letter of it, while another
organization's rows and letters are untouched; an offboarding cut short resumes where it
stopped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from domain.triggers import WorkKind
from simulator import folder_presets as mailbox
from simulator import notifications as sim
from storage.audits import start_audit
from storage.engine import transaction
from storage.offboarding import count_org_rows, delete_next_batch
from storage.org_tables import OffboardingRow
from storage.tables import (
    BackfillRow,
    ConnectAttemptRow,
    DeliveryAttemptRow,
    DeliveryRow,
    FolderRefreshRow,
    ParkedMessageRow,
    SubscriptionRow,
)
from tests.integration.conftest import GMAIL_GRANT, MICROSOFT_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.services import wait_for
from workers.actors.offboarding import offboard_org
from workers.context import WorkerContext
from workers.deadletters import dead_letter_key
from workers.dispatch import OFFBOARDINGS, dispatch_once, dispatch_recorded
from workers.queues import (
    BACKFILL_QUEUE,
    NOTIFICATION_QUEUES,
    OFFBOARDING_QUEUE,
    QueueSpec,
    all_queue_names,
)

IN_GLOBEX = {**AUTH, "Crmsync-Org": "globex"}
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SETTLE = timedelta(minutes=6)  # past storage.offboarding.SETTLE_AFTER


def seed(
    world: EmailSyncWorld, headers: dict[str, str], rep: str, grant: str, provider: str, folder: str
) -> None:
    """A rep with a contact, an email linked to it, an action item, a subscription with a
    delivery, a backfill, and what the workers keep about its mailbox."""
    document = {"email": f"{rep}@acme.example", "grant_id": grant, "provider": provider}
    assert world.client.put(f"/v1/reps/{rep}", json=document, headers=headers).status_code == 201
    contacts = {"contacts": [{"id": "c-bob", "emails": ["bob@customer.example"]}]}
    answer = world.client.put(f"/v1/reps/{rep}/contacts", json=contacts, headers=headers)
    assert answer.status_code == 200
    item = {
        "title": "Call",
        "start": "2026-12-10T10:00:00Z",
        "end": "2026-12-10T10:30:00Z",
        "changed_at": "2026-12-01T00:00:00Z",
    }
    answer = world.client.put(f"/v1/reps/{rep}/action-items/i-1", json=item, headers=headers)
    assert answer.status_code == 201
    answer = world.client.post(
        "/v1/subscriptions", json={"url": "https://crm.example/hook"}, headers=headers
    )
    assert answer.status_code == 201
    assert world.client.post(f"/v1/reps/{rep}/backfill", headers=headers).status_code == 202
    world.notify(
        sim.message_created(
            grant,
            message_id=f"m-{rep}",
            sender="bob@customer.example",
            to=(document["email"],),
            folders=(folder,),
        )
    )


def rows_of_every_table(world: EmailSyncWorld) -> dict[str, int]:
    with transaction(world.runtime.engine) as session:
        return {
            table.name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
            for table in SQLModel.metadata.sorted_tables
        }


def add_what_flows_leave_out(world: EmailSyncWorld, org_id: str, rep: str, grant: str) -> None:
    """Rows the flows above do not always leave by the time the test looks: a connection
    attempt, a delivery attempt, a parked message, a folder refresh, an operator's audit."""
    with transaction(world.runtime.engine) as session:
        session.add(
            ConnectAttemptRow(nonce=f"n-{org_id}", org_id=org_id, rep_id=rep, created_at=NOW)
        )
        session.add(
            ParkedMessageRow(
                grant_id=grant,
                message_id=f"parked-{org_id}",
                message={},
                observed_at=NOW,
                parked_at=NOW,
                deadline=NOW + timedelta(minutes=5),
                next_look_at=NOW + timedelta(minutes=5),
            )
        )
        if session.get(FolderRefreshRow, grant) is None:
            session.add(FolderRefreshRow(grant_id=grant, refreshed_at=NOW))
        start_audit(
            session, org_id=org_id, operator="ops", action="purge", selection={}, matched=0, now=NOW
        )

    def delivery_of_org() -> int | None:
        # A change is readable by the dispatcher once every transaction before it committed.
        dispatch_once(WorkerContext(engine=world.runtime.engine), lambda delivery_id: None)
        with transaction(world.runtime.engine) as session:
            statement = (
                select(DeliveryRow.id)
                .join(SubscriptionRow, SubscriptionRow.id == DeliveryRow.subscription_id)
                .where(SubscriptionRow.org_id == org_id)
            )
            found: int | None = session.exec(statement).scalars().first()
            return found

    delivery_id = wait_for(delivery_of_org, what=f"a delivery to a subscriber of {org_id}")
    with transaction(world.runtime.engine) as session:
        session.add(
            DeliveryAttemptRow(delivery_id=delivery_id, attempt=1, attempted_at=NOW, latency_ms=5)
        )


@pytest.fixture
def globex(world: EmailSyncWorld) -> EmailSyncWorld:
    """The default organization and globex, each holding a row of every kind."""
    seed(world, AUTH, "ann", GMAIL_GRANT, "google", mailbox.GMAIL_INBOX_ID)
    add_what_flows_leave_out(world, "default", "ann", GMAIL_GRANT)
    assert world.api("PUT", "/v1/orgs/globex", json={"name": "Globex"}).status_code == 201
    assert world.api("POST", "/v1/orgs/globex/tokens", json={"name": "crm"}).status_code == 201
    seed(world, IN_GLOBEX, "ben", MICROSOFT_GRANT, "microsoft", mailbox.MICROSOFT_INBOX_ID)
    add_what_flows_leave_out(world, "globex", "ben", MICROSOFT_GRANT)
    return world


def run_offboardings(world: EmailSyncWorld) -> None:
    """What the dispatcher of a worker process does: queue the offboardings to run."""
    actor = world.runtime.broker.get_actor(OFFBOARDING_QUEUE.actor_name)
    dispatch_recorded(WorkerContext(engine=world.runtime.engine), OFFBOARDINGS, actor.send)


def test_offboarding_leaves_no_row_of_the_organization_and_every_other_row(
    world: EmailSyncWorld,
) -> None:
    seed(world, AUTH, "ann", GMAIL_GRANT, "google", mailbox.GMAIL_INBOX_ID)
    add_what_flows_leave_out(world, "default", "ann", GMAIL_GRANT)
    before = rows_of_every_table(world)
    assert world.api("PUT", "/v1/orgs/globex", json={"name": "Globex"}).status_code == 201
    token = world.api("POST", "/v1/orgs/globex/tokens", json={"name": "crm"}).json()["token"]
    seed(world, IN_GLOBEX, "ben", MICROSOFT_GRANT, "microsoft", mailbox.MICROSOFT_INBOX_ID)
    add_what_flows_leave_out(world, "globex", "ben", MICROSOFT_GRANT)
    with transaction(world.runtime.engine) as session:
        plan = count_org_rows(session, "globex")
    # Globex holds a row of every table the plan names: the test below means something.
    assert all(plan.values()), plan
    dry = world.api("DELETE", "/v1/orgs/globex", params={"dry_run": "true"}).json()
    assert (dry["grants"], dry["rows"]) == (1, plan)

    begun = world.api("DELETE", "/v1/orgs/globex")

    assert begun.status_code == 202
    as_globex = {"Authorization": f"Bearer {token}"}
    assert world.client.get("/v1/subscriptions", headers=as_globex).status_code == 401
    run_offboardings(world)
    wait_for(
        lambda: world.api("GET", "/v1/orgs/globex").status_code == 404,
        what="globex to be offboarded",
    )
    after = rows_of_every_table(world)
    assert after == {**before, "offboardings": before["offboardings"] + 1}
    # Its grant was disconnected at Nylas; the default organization's was not.
    assert world.fake.grant(MICROSOFT_GRANT) is None
    assert world.fake.grant(GMAIL_GRANT) is not None
    # A name cannot be taken again while the offboarding settles.
    taken = world.api("PUT", "/v1/orgs/globex", json={"name": "Globex again"})
    assert (taken.status_code, taken.json()["error"]["reason"]) == (409, "org_offboarding")

    # Nylas answers the disconnect with grant.deleted, handled once the rep is gone; the
    # last pass, a few minutes later, deletes what came in so late.
    world.notify(sim.grant_deleted(MICROSOFT_GRANT, provider="microsoft", email="ben@acme.example"))
    assert rows_of_every_table(world)["raw_notifications"] == before["raw_notifications"] + 1
    with transaction(world.runtime.engine) as session:
        [audit] = session.exec(select(OffboardingRow)).scalars().all()
        offboarding_id = audit.id
        assert (audit.state, audit.requested_by) == ("settling", "token-1")
    assert offboarding_id is not None
    later = WorkerContext(engine=world.runtime.engine, clock=lambda: datetime.now(UTC) + SETTLE)
    offboard_org(later, offboarding_id, lambda again: None)

    assert rows_of_every_table(world) == after
    with transaction(world.runtime.engine) as session:
        [audit] = session.exec(select(OffboardingRow)).scalars().all()
        assert (audit.org_id, audit.state, audit.requested_by) == ("globex", "done", "token-1")
        assert audit.deleted == {**plan, "raw_notifications": plan["raw_notifications"] + 1}
        assert audit.grants_disconnected == 1
    assert world.api("PUT", "/v1/orgs/globex", json={"name": "Globex again"}).status_code == 201
    # The default organization still works as before.
    assert len(world.emails("ann")) == 1


def test_an_offboarding_cut_short_resumes_where_it_stopped(globex: EmailSyncWorld) -> None:
    world = globex
    assert world.api("DELETE", "/v1/orgs/globex").status_code == 202
    context = WorkerContext(engine=world.runtime.engine, nylas_gateway=None)
    with transaction(world.runtime.engine) as session:
        [row] = session.exec(select(OffboardingRow)).scalars().all()
        offboarding_id = row.id
    assert offboarding_id is not None

    # A first run that ends after one slice of work: it queues itself again.
    queued: list[int] = []
    offboard_org(context, offboarding_id, queued.append, slice_seconds=0)
    assert queued == [offboarding_id]
    progress = world.api("GET", "/v1/orgs/globex").json()["offboarding"]
    assert progress["grants"] == {"total": 1, "disconnected": 1}
    # A batch deleted by another process meanwhile (or before a crash) is not deleted twice.
    with transaction(world.runtime.engine) as session:
        row = session.get_one(OffboardingRow, offboarding_id)
        assert delete_next_batch(session, row, NOW)

    offboard_org(context, offboarding_id, queued.append)

    assert world.api("GET", "/v1/orgs/globex").status_code == 404
    with transaction(world.runtime.engine) as session:
        assert count_org_rows_after(session) == 0
        assert session.get_one(OffboardingRow, offboarding_id).state == "settling"
    # Queued again before the last pass is due: nothing happens; after it, done.
    offboard_org(context, offboarding_id, queued.append)
    later = WorkerContext(engine=world.runtime.engine, clock=lambda: datetime.now(UTC) + SETTLE)
    offboard_org(later, offboarding_id, queued.append)
    with transaction(world.runtime.engine) as session:
        assert session.get_one(OffboardingRow, offboarding_id).state == "done"
    # Asked again once it is done: nothing to do.
    offboard_org(later, offboarding_id, queued.append)
    assert queued == [offboarding_id]


def count_org_rows_after(session: Any) -> int:
    """Rows still naming globex in a column that names an organization."""
    total = 0
    for table in SQLModel.metadata.sorted_tables:
        for column in ("org_id", "via_org"):
            if column in table.c and table.name != "offboardings":
                statement = (
                    select(func.count()).select_from(table).where(table.c[column] == "globex")
                )
                total += int(session.execute(statement).scalar_one())
    return total


def test_the_default_organization_cannot_be_offboarded(world: EmailSyncWorld) -> None:
    refused = world.api("DELETE", "/v1/orgs/default")
    assert (refused.status_code, refused.json()["error"]["reason"]) == (409, "default_org")


def bury(world: EmailSyncWorld, spec: QueueSpec, *args: Any, **kwargs: Any) -> str:
    """A dead letter of ``spec``'s actor in the world's Redis, as Dramatiq leaves one."""
    client, namespace = world.runtime.broker.client, world.runtime.settings.redis_namespace
    redis_message_id = str(uuid.uuid4())
    message = dramatiq.Message(
        queue_name=spec.queue_name,
        actor_name=spec.actor_name,
        args=args,
        kwargs=kwargs,
        options={"redis_message_id": redis_message_id, "retries": 3},
    )
    key = dead_letter_key(namespace, spec.queue_name)
    client.zadd(key, {redis_message_id: int(datetime.now(UTC).timestamp() * 1000)})
    client.hset(key + ".msgs", redis_message_id, message.encode())
    return redis_message_id


def buried(world: EmailSyncWorld) -> set[str]:
    client, namespace = world.runtime.broker.client, world.runtime.settings.redis_namespace
    return {
        member.decode()
        for queue in all_queue_names()
        for member in client.zrange(dead_letter_key(namespace, queue), 0, -1)
    }


def backfill_of(world: EmailSyncWorld, org_id: str) -> int:
    with transaction(world.runtime.engine) as session:
        found = session.exec(select(BackfillRow.id).where(BackfillRow.org_id == org_id)).first()
    assert found is not None
    return int(found[0])


def test_the_organizations_dead_letters_go_with_it_and_no_one_elses(
    globex: EmailSyncWorld,
) -> None:
    world = globex
    messages = NOTIFICATION_QUEUES[WorkKind.MESSAGES]

    def notification_of(grant: str) -> dict[str, Any]:
        payload = sim.message_created(grant, message_id=f"failed-{grant}")
        return {"api_version": "v3", "payload": payload, "received_at": 1e9}

    # Its notification (named by its grant), its backfill's; the default organization's too.
    globex_letters = {
        bury(world, messages, **notification_of(MICROSOFT_GRANT)),
        bury(world, BACKFILL_QUEUE, backfill_of(world, "globex")),
    }
    default_letters = {
        bury(world, messages, **notification_of(GMAIL_GRANT)),
        bury(world, BACKFILL_QUEUE, backfill_of(world, "default")),
    }
    assert buried(world) >= globex_letters | default_letters

    assert world.api("DELETE", "/v1/orgs/globex").status_code == 202
    run_offboardings(world)
    wait_for(
        lambda: world.api("GET", "/v1/orgs/globex").status_code == 404,
        what="globex to be offboarded",
    )

    assert not buried(world) & globex_letters
    assert buried(world) >= default_letters
    with transaction(world.runtime.engine) as session:
        [audit] = session.exec(select(OffboardingRow)).scalars().all()
        assert audit.deleted["dead_letters"] == len(globex_letters)
