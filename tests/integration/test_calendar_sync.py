"""Two-way calendar sync end to end (C1-C5) on SQLite and PostgreSQL, through the calendar
world (``tests.support.calendar_sync``). Each test reads back the item, its event and the
change records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import redis

from tests.support.calendar_sync import GRANT, NOW, REP, CalendarWorld, change_types
from tests.support.harness import queue_lengths
from tests.support.services import wait_for


def test_an_item_created_in_the_crm_becomes_an_event_in_the_primary_calendar(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    world.put_item("a-1", changed_at=NOW)

    item = world.settled("a-1")

    assert item["calendar"]["status"] == "linked"
    assert item["calendar"]["calendar_id"] == "ann@acme.example"  # Google's primary
    event = world.event_of(item)
    assert event is not None
    assert (event["title"], event["description"], event["location"]) == (
        "Call Acme",
        "Renewal",
        "Phone",
    )
    assert event["when"]["start_timezone"] == "Europe/Paris"
    assert [p["email"] for p in event["participants"]] == ["buyer@acme.example"]
    assert change_types(world) == ["action_item.created", "action_item.linked"]


def test_our_own_write_echoed_back_changes_nothing_and_pushes_nothing(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    world.put_item("a-1", changed_at=NOW)
    world.settled("a-1")
    writes, changes = world.writes(), change_types(world)

    world.echoes()

    assert [r.outcome for r in world.notifications()] == ["echo"]
    assert world.writes() == writes
    assert change_types(world) == changes


def test_a_newer_edit_in_the_calendar_updates_the_crm_and_is_not_bounced_back(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    item = world.put_item("a-1", changed_at=NOW)
    item = world.settled("a-1")
    world.echoes()
    world.clock.at(NOW + timedelta(minutes=5))

    world.notify(
        world.fake.user_edits_event(GRANT, item["calendar"]["event_id"], title="Call Acme (moved)")
    )

    item = world.settled("a-1")
    assert (item["title"], item["changed_by"]) == ("Call Acme (moved)", "calendar")
    writes = world.writes()
    world.echoes()
    assert world.writes() == writes
    assert change_types(world)[-1] == "action_item.updated"
    assert world.changes(entity="action_item")[-1].payload["source"] == "calendar"


def test_an_older_calendar_edit_loses_to_the_crm_which_is_pushed_again(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    item = world.settled("a-1") if world.put_item("a-1", changed_at=NOW) else None
    assert item is not None
    event_id = item["calendar"]["event_id"]
    world.clock.at(NOW + timedelta(minutes=1))
    stale = world.fake.user_edits_event(GRANT, event_id, title="Edited in the calendar")
    world.put_item("a-1", changed_at=NOW + timedelta(minutes=2), title="Edited in the CRM")
    world.settled("a-1")

    world.notify(stale)  # arrives late: older than the CRM's edit

    item = world.settled("a-1")
    assert item["title"] == "Edited in the CRM"
    event = world.event_of(item)
    assert event is not None
    assert event["title"] == "Edited in the CRM"


def test_a_tie_goes_to_the_crm(calendar_world: CalendarWorld) -> None:
    world = calendar_world
    world.put_item("a-1", changed_at=NOW)
    item = world.settled("a-1")
    moment = NOW + timedelta(minutes=3)
    world.clock.at(moment)
    same_second = world.fake.user_edits_event(
        GRANT, item["calendar"]["event_id"], title="Calendar at the same second"
    )
    world.put_item("a-1", changed_at=moment, title="CRM at the same second")

    world.notify(same_second)

    item = world.settled("a-1")
    assert (item["title"], item["changed_by"]) == ("CRM at the same second", "crm")
    event = world.event_of(item)
    assert event is not None
    assert event["title"] == "CRM at the same second"


def test_an_item_deleted_in_the_crm_deletes_its_event(calendar_world: CalendarWorld) -> None:
    world = calendar_world
    world.put_item("a-1", changed_at=NOW)
    item = world.settled("a-1")
    event_id = item["calendar"]["event_id"]

    response = world.api("DELETE", "/v1/reps/rep-ann/action-items/a-1")

    assert response.status_code == 200
    item = world.settled("a-1")
    assert (item["deleted"], item["calendar"]["status"]) == (True, "deleted")
    assert world.fake.event(GRANT, event_id) is None
    assert change_types(world)[-1] == "action_item.deleted"
    world.echoes()  # the echo of our delete changes nothing
    assert change_types(world)[-1] == "action_item.deleted"


def test_an_event_deleted_in_the_calendar_unlinks_the_item_and_keeps_it(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    world.put_item("a-1", changed_at=NOW)
    item = world.settled("a-1")
    world.clock.at(NOW + timedelta(minutes=5))

    deletion = world.fake.user_deletes_event(GRANT, item["calendar"]["event_id"])
    world.notify(deletion, {**deletion, "id": "the-same-deletion-again"})

    item = world.item("a-1")
    assert item["calendar"]["status"] == "unlinked"
    assert item["title"] == "Call Acme"
    assert item["deleted"] is False
    assert change_types(world).count("action_item.unlinked") == 1

    # A later CRM edit wins over the deletion: the item is written to the calendar again.
    world.put_item("a-1", changed_at=NOW + timedelta(minutes=10), title="Rebooked")
    item = world.settled("a-1")
    assert item["calendar"]["status"] == "linked"
    event = world.event_of(item)
    assert event is not None
    assert event["title"] == "Rebooked"


def test_duplicated_and_reordered_calendar_notifications_end_in_the_newest_state(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    world.put_item("a-1", changed_at=NOW)
    event_id = world.settled("a-1")["calendar"]["event_id"]
    world.clock.at(NOW + timedelta(minutes=1))
    first = world.fake.user_edits_event(GRANT, event_id, title="First")
    world.clock.at(NOW + timedelta(minutes=2))
    second = world.fake.user_edits_event(GRANT, event_id, title="Second")

    world.notify(second, first, {**second, "id": "second-again"}, first)

    item = world.settled("a-1")
    assert item["title"] == "Second"
    event = world.event_of(item)
    assert event is not None
    assert event["title"] == "Second"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {
                "start": (NOW + timedelta(days=60)).isoformat(),
                "end": (NOW + timedelta(days=60, hours=1)).isoformat(),
            },
            "after the window",
        ),
        (
            {
                "start": (NOW - timedelta(days=40)).isoformat(),
                "end": (NOW - timedelta(days=40, hours=-1)).isoformat(),
            },
            "before sync-from",
        ),
        ({"sync": False}, "not flagged"),
    ],
)
def test_an_item_outside_the_window_or_unflagged_is_not_pushed(
    calendar_world: CalendarWorld, fields: dict[str, Any], reason: str
) -> None:
    world = calendar_world
    world.put_item("a-1", changed_at=NOW, **fields)

    item = world.settled("a-1")

    assert item["calendar"]["status"] == "not_synced", reason
    assert world.writes() == 0


def test_a_configured_calendar_name_chooses_the_calendar(calendar_world: CalendarWorld) -> None:
    world = calendar_world
    world.put_rep(
        REP,
        email="ann@acme.example",
        grant_id=GRANT,
        provider="google",
        settings={"calendar_name": "team", "sync_from": (NOW - timedelta(days=30)).isoformat()},
    )
    world.put_item("a-1", changed_at=NOW)

    item = world.settled("a-1")

    calendars = {c["name"]: c["id"] for c in world.fake.calendars(GRANT)}
    assert item["calendar"]["calendar_id"] == calendars["Team"]


def test_an_occurrence_of_a_series_is_left_alone(calendar_world: CalendarWorld) -> None:
    world = calendar_world
    world.put_item("a-1", changed_at=NOW)
    world.settled("a-1")
    master, first, _ = world.fake.add_recurring_event(GRANT, "ann@acme.example", title="Weekly")
    edit = world.fake.user_edits_event(GRANT, first["id"], title="One week moved")

    world.notify(edit)

    assert world.notifications()[-1].outcome == "occurrence_of_series"
    assert world.item("a-1")["title"] == "Call Acme"
    assert master["id"] != first["id"]


def test_a_failing_push_shows_its_error_retries_and_lands_in_the_dead_letters(
    calendar_world: CalendarWorld, redis_client: redis.Redis, redis_namespace: str
) -> None:
    world = calendar_world
    world.fake.inject(500, path_contains="/events", method="POST", times=50)

    world.put_item("a-1", changed_at=NOW)

    wait_for(
        lambda: queue_lengths(redis_client, redis_namespace)["calendar.push.XQ"] == 1,
        what="the push to be dead-lettered",
    )
    item = world.item("a-1")
    assert item["calendar"]["status"] == "pending_push"
    assert "failed after 5 attempt(s): 500" in item["calendar"]["last_push_error"]
    assert world.fake.events(GRANT, "ann@acme.example") == []


def test_a_calendar_name_matching_no_writable_calendar_is_a_push_error_on_the_item(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    world.put_rep(
        REP,
        email="ann@acme.example",
        grant_id=GRANT,
        provider="google",
        settings={
            "calendar_name": "Holidays in United States",
            "sync_from": (NOW - timedelta(days=30)).isoformat(),
        },
    )

    world.put_item("a-1", changed_at=NOW)

    item = world.settled("a-1")
    assert item["calendar"]["status"] == "push_failed"
    assert (
        "no writable calendar named 'Holidays in United States'"
        in (item["calendar"]["last_push_error"])
    )
    assert world.writes() == 0
