"""What `crmsync status` reads from the database: reps by status, the latest errors, and each
organization's health, for the deployment or for one organization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from domain.organizations import DEFAULT_ORG_ID
from storage.engine import create_database_engine, transaction
from storage.org_health import org_health
from storage.org_tables import OrganizationRow
from storage.status import recent_handling_errors, rep_outcome_counts, reps_by_account_status
from storage.tables import (
    ActionItemRow,
    DeliveryRow,
    RawNotification,
    RepRow,
    SubscriptionRow,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_latest_errors_from_every_source_newest_first(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        with transaction(engine) as session:
            for rep_id, status in (("r1", "valid"), ("r2", "valid"), ("r3", "invalid")):
                session.add(_rep(rep_id, status))
            session.add(_subscription())
            session.flush()
            for minute in range(12):  # more failed notifications than are shown
                session.add(_notification(f"n{minute}", "failed", at(minute), f"boom {minute}"))
            session.add(_notification("ok", "processed", at(30), None))
            session.add(_item("i1", at(20), "calendar not found"))
            session.add(_item("i2", at(40), None))
            session.add(_delivery("c1", "exhausted", at(25), "timed out"))
            session.add(_delivery("c2", "failed", at(15), None, status_code=410))
            session.add(_delivery("c3", "delivered", at(50), None))

        with Session(engine) as session:
            errors = recent_handling_errors(session, limit=10)
            reps = reps_by_account_status(session)
    finally:
        engine.dispose()

    assert reps == {"valid": 2, "invalid": 1}
    assert [(e.source, e.error) for e in errors[:4]] == [
        ("delivery", "timed out"),
        ("action_item", "calendar not found"),
        ("delivery", "HTTP 410"),
        ("notification", "boom 11"),
    ]
    assert [e.error for e in errors[4:]] == [f"boom {m}" for m in (10, 9, 8, 7, 6, 5)]
    assert errors[3].subject == "grant.expired n11 (grant g1)"
    assert [e.at for e in errors] == sorted((e.at for e in errors), reverse=True)


def test_outcomes_of_message_notifications_are_counted_per_rep_since_a_time(
    database_url: str,
) -> None:
    engine = create_database_engine(database_url)
    rows = [
        # (grant, trigger, state, outcome, received minute)
        ("g-r1", "message.created", "processed", "stored", 10),
        ("g-r1", "message.updated", "processed", "folder_not_synced", 11),
        ("g-r1", "message.created", "processed", "folder_not_synced", 12),
        ("g-r1", "message.created", "failed", None, 13),  # a failed attempt: its state
        ("g-r1", "message.deleted", "processed", "not_stored", 14),  # decides no email
        ("g-r1", "event.updated", "processed", "echo", 15),  # not about an email
        ("g-r1", "message.created", "processed", "no_contact", -1),  # before the period
        ("g-r2", "message.created", "processed", "before_sync_from", 20),
        ("g-gone", "message.created", "processed", "unknown_grant", 21),
    ]
    try:
        with transaction(engine) as session:
            session.add(_rep("r1", "valid"))
            session.add(_rep("r2", "valid"))
            session.add(_rep("r3", "valid"))  # nothing received: not counted
            for index, (grant, trigger, state, outcome, minute) in enumerate(rows):
                row = _notification(f"n{index}", state, at(minute), None)
                row.grant_id, row.trigger, row.type, row.outcome = grant, trigger, trigger, outcome
                session.add(row)
        with Session(engine) as session:
            counts = rep_outcome_counts(session, since=at(0))
    finally:
        engine.dispose()

    assert counts.by_rep == {
        (DEFAULT_ORG_ID, "r1"): {"stored": 1, "folder_not_synced": 2, "failed": 1},
        (DEFAULT_ORG_ID, "r2"): {"before_sync_from": 1},
    }
    assert counts.without_rep == {"unknown_grant": 1}


def test_each_organization_is_counted_apart_and_can_be_shown_alone(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        with transaction(engine) as session:
            session.add(
                OrganizationRow(
                    id="acme",
                    name="Acme",
                    provider_apps={},
                    defaults={},
                    created_at=T0,
                    updated_at=T0,
                )
            )
            session.flush()
            session.add(_rep("r1", "valid"))
            # The same rep id in another organization, holding its own grant.
            session.add(_rep("r1", "invalid", org_id="acme", grant_id="g-acme"))
            session.add(_subscription())
            session.flush()
            for index, (org_id, grant_id) in enumerate(((None, "g-r1"), ("acme", "g-acme"))):
                failed = _notification(f"n{index}", "failed", at(index), f"boom {index}")
                failed.org_id, failed.grant_id = org_id, grant_id
                failed.trigger = failed.type = "message.created"
                session.add(failed)
            session.add(_delivery("c1", "pending", at(5), None))
        with Session(engine) as session:
            everyone = {h.org_id: h.to_json() for h in org_health(session, at(0))}
            [acme] = org_health(session, at(0), "acme")
            acme_errors = recent_handling_errors(session, org_id="acme")
            acme_reps = reps_by_account_status(session, "acme")
            acme_outcomes = rep_outcome_counts(session, at(0), "acme")
            all_outcomes = rep_outcome_counts(session, at(0))
            assert org_health(session, at(0), "nobody") == []
    finally:
        engine.dispose()

    assert everyone[DEFAULT_ORG_ID] == {
        "org_id": DEFAULT_ORG_ID,
        "name": "Default organization",
        "reps": 1,
        "reps_by_account_status": {"valid": 1},
        "backfills_under_way": 0,
        "deliveries_pending": 1,
        "subscriptions_disabled": 0,
        "notifications_failed": 0,  # its grant's notification came with no organization known
    }
    assert acme.to_json() == {**everyone["acme"], "name": "Acme"}
    assert (acme.reps, acme.deliveries_pending, acme.notifications_failed) == ({"invalid": 1}, 0, 1)
    assert [e.error for e in acme_errors] == ["boom 1"]
    assert acme_reps == {"invalid": 1}
    assert acme_outcomes.by_rep == {("acme", "r1"): {"failed": 1}}
    assert all_outcomes.by_rep == {
        ("acme", "r1"): {"failed": 1},
        (DEFAULT_ORG_ID, "r1"): {"failed": 1},
    }


def _rep(
    rep_id: str, status: str, *, org_id: str = DEFAULT_ORG_ID, grant_id: str | None = None
) -> RepRow:
    return RepRow(
        org_id=org_id,
        id=rep_id,
        email=f"{rep_id}@acme.example",
        grant_id=grant_id or f"g-{rep_id}",
        folders=[],
        sync_from=T0,
        account_status=status,
        created_at=T0,
        updated_at=T0,
    )


def _subscription() -> SubscriptionRow:
    return SubscriptionRow(
        id="sub_1",
        org_id=DEFAULT_ORG_ID,
        url="https://crm.example/hook",
        event_types=[],
        secret="whsec_x",
        status="active",
        position_txid=0,
        position_seq=0,
        created_at=T0,
        updated_at=T0,
    )


def _notification(
    notification_id: str, state: str, handled_at: datetime, error: str | None
) -> RawNotification:
    return RawNotification(
        notification_id=notification_id,
        api_version="v3",
        type="grant.expired",
        trigger="grant.expired",
        grant_id="g1",
        received_at=handled_at,
        payload={},
        state=state,
        attempts=1,
        last_error=error,
        handled_at=handled_at,
    )


def _item(item_id: str, updated_at: datetime, error: str | None) -> ActionItemRow:
    return ActionItemRow(
        org_id=DEFAULT_ORG_ID,
        rep_id="r1",
        crm_item_id=item_id,
        content={},
        version_at=T0,
        version_side=0,
        version_digest="d",
        push_state="failed" if error else "linked",
        last_push_error=error,
        created_at=T0,
        updated_at=updated_at,
    )


def _delivery(
    change_id: str,
    state: str,
    updated_at: datetime,
    error: str | None,
    status_code: int | None = None,
) -> DeliveryRow:
    return DeliveryRow(
        subscription_id="sub_1",
        change_id=change_id,
        change_type="email.stored",
        payload={},
        state=state,
        last_error=error,
        last_status_code=status_code,
        created_at=T0,
        updated_at=updated_at,
    )
