"""``crmsync reprocess`` (N3) and the retention of stored notifications, on SQLite and
PostgreSQL with real workers on the real Redis: stored notifications go through their
handlers again, idempotently, and a hidden email stays hidden."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import crmsync.operator_context
from crmsync.reprocess_command import run_reprocess
from simulator import notifications as sim
from storage.engine import transaction
from storage.notifications import prune_notifications
from tests.integration.conftest import GMAIL_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.harness import operator_environment
from tests.support.services import wait_for


def reprocess(**options: Any) -> int:
    defaults: dict[str, Any] = {
        "org": None,
        "grant": None,
        "since": None,
        "until": None,
        "trigger": None,
        "limit": None,
        "dry_run": False,
        "yes": True,
        "json": True,
    }
    return run_reprocess(argparse.Namespace(**{**defaults, **options}))


@pytest.fixture
def operator_world(world: EmailSyncWorld, monkeypatch: pytest.MonkeyPatch) -> EmailSyncWorld:
    for name, value in operator_environment(world.runtime.settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(crmsync.operator_context, "configure_logging", lambda level: None)
    world.put_rep("rep-ann", email="ann@acme.example", grant_id=GMAIL_GRANT, provider="google")
    world.put_contacts("rep-ann", [{"id": "c-bob", "email": "bob@customer.example"}])
    return world


def test_reprocessing_runs_the_handlers_again_and_changes_nothing_settled(
    operator_world: EmailSyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world = operator_world
    kept = sim.message_created(GMAIL_GRANT, message_id="m-1", sender="bob@customer.example")
    hidden = sim.message_created(GMAIL_GRANT, message_id="m-2", sender="bob@customer.example")
    other = sim.message_created("grant-someone-else", message_id="m-3")
    world.notify(kept, hidden, other)
    [hide_me] = [e for e in world.emails() if e.message_id == "m-2"]
    assert world.api("POST", f"/v1/emails/{hide_me.id}/hide").status_code == 200
    changes = len(world.changes())

    assert reprocess(grant=GMAIL_GRANT, dry_run=True) == 0
    assert '"count": 2' in capsys.readouterr().out
    assert all(row.attempts == 1 for row in world.notifications())

    assert reprocess(grant=GMAIL_GRANT) == 0
    assert '"result": "queued", "count": 2' in capsys.readouterr().out
    wait_for(
        lambda: sorted(r.attempts for r in world.notifications()) == [1, 2, 2],
        what="both notifications of the grant to be handled again",
    )
    assert {r.outcome for r in world.notifications() if r.grant_id == GMAIL_GRANT} == {"unchanged"}
    assert len(world.emails()) == 2
    assert [e.hidden for e in world.emails()] == [False, True]
    assert len(world.changes()) == changes


def test_stored_notifications_name_their_organization_and_reprocess_by_it(
    operator_world: EmailSyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world = operator_world
    assert world.api("PUT", "/v1/orgs/acme", json={"name": "Acme"}).status_code == 201
    in_acme = {**AUTH, "Crmsync-Org": "acme"}
    rep = {"email": "cy@acme.example", "grant_id": "grant-cy", "provider": "google"}
    assert world.client.put("/v1/reps/rep-cy", json=rep, headers=in_acme).status_code == 201
    world.notify(
        sim.message_created(GMAIL_GRANT, message_id="m-1"),
        sim.message_created("grant-cy", message_id="m-2"),
        sim.message_created("grant-nobody", message_id="m-3"),
    )
    assert {r.grant_id: r.org_id for r in world.notifications()} == {
        GMAIL_GRANT: "default",
        "grant-cy": "acme",
        "grant-nobody": None,
    }

    assert reprocess(org="acme") == 0
    assert '"result": "queued", "count": 1' in capsys.readouterr().out
    wait_for(
        lambda: (
            {r.grant_id: r.attempts for r in world.notifications()}
            == {GMAIL_GRANT: 1, "grant-cy": 2, "grant-nobody": 1}
        ),
        what="only acme's notification to be handled again",
    )

    # A grant no rep held when it was stored is named once a rep claims it and it is
    # handled again.
    rep = {"email": "di@acme.example", "grant_id": "grant-nobody", "provider": "google"}
    assert world.client.put("/v1/reps/rep-di", json=rep, headers=in_acme).status_code == 201
    assert reprocess(grant="grant-nobody") == 0
    wait_for(
        lambda: {r.grant_id: r.org_id for r in world.notifications()}["grant-nobody"] == "acme",
        what="the notification to name the organization that now holds its grant",
    )


def test_reprocess_needs_a_grant_or_a_start(operator_world: EmailSyncWorld) -> None:
    assert reprocess() == 2
    assert reprocess(since="yesterday") == 2


def test_stored_notifications_past_their_retention_are_pruned(world: EmailSyncWorld) -> None:
    world.notify(sim.message_created(GMAIL_GRANT, message_id="m-1"))
    with transaction(world.runtime.engine) as session:
        assert prune_notifications(session, datetime.now(UTC) - timedelta(days=1)) == 0
        assert prune_notifications(session, datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert world.notifications() == []
