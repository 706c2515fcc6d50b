"""Calendar changes from a v2 account (N1, C3-C5) on SQLite and PostgreSQL: a v2 delta names
the event only, so crmsync fetches it from the calendar its item was written to and applies
it as it applies a v3 notification's event; a deletion, or an event gone since, needs no
event at all, and the rep's own events cost no call to Nylas."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from domain.notifications import parse_document
from simulator import notifications as sim
from storage.tables import ActionItemRow
from tests.support.calendar_sync import GRANT, NOW, CalendarWorld, change_types


def linked_item(world: CalendarWorld) -> str:
    """Item ``a-1`` pushed to the calendar and the v2 echo of that write delivered: the id
    of its event."""
    world.put_item("a-1", changed_at=NOW)
    event_id: str = world.settled("a-1")["calendar"]["event_id"]
    world.notify_v2(*world.fake.drain_notifications())
    return event_id


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_our_own_write_echoed_back_through_v2_changes_nothing(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world

    linked_item(world)

    assert [r.outcome for r in world.notifications()] == ["echo"]
    assert world.event_reads() == 1
    assert world.writes() == 1
    assert change_types(world) == ["action_item.created", "action_item.linked"]


def test_a_v2_edit_of_a_linked_event_is_fetched_and_updates_the_item(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    event_id = linked_item(world)
    world.clock.at(NOW + timedelta(minutes=5))
    edit = world.fake.user_edits_event(GRANT, event_id, title="Call Acme (moved)")

    world.notify_v2(edit)

    item = world.settled("a-1")
    assert (item["title"], item["changed_by"]) == ("Call Acme (moved)", "calendar")
    assert world.notifications()[-1].outcome == "apply_to_crm"
    assert [c.payload["source"] for c in world.changes(entity="action_item")][-1] == "calendar"
    writes = world.writes()
    world.notify_v2(*world.fake.drain_notifications())
    assert world.writes() == writes  # nothing was written back to the calendar


def test_a_late_v2_delta_applies_the_event_as_it_is_now_dated_by_its_updated_at(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    event_id = linked_item(world)
    world.clock.at(NOW + timedelta(minutes=5))
    first = world.fake.user_edits_event(GRANT, event_id, title="First")
    world.clock.at(NOW + timedelta(minutes=7))
    world.fake.user_edits_event(GRANT, event_id, title="Second")

    world.notify_v2(first)  # the second edit's delta is still on its way

    item = world.settled("a-1")
    assert item["title"] == "Second"
    assert parse_time(item["changed_at"]) == NOW + timedelta(minutes=7)


def test_a_v2_deletion_unlinks_the_item_keeps_it_and_fetches_nothing(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    event_id = linked_item(world)
    reads = world.event_reads()
    world.clock.at(NOW + timedelta(minutes=5))

    world.notify_v2(world.fake.user_deletes_event(GRANT, event_id))

    item = world.item("a-1")
    assert item["calendar"]["status"] == "unlinked"
    assert (item["title"], item["deleted"]) == ("Call Acme", False)
    assert parse_time(item["calendar"]["deleted_in_calendar_at"]) == NOW + timedelta(minutes=5)
    assert world.notifications()[-1].outcome == "unlink"
    assert world.event_reads() == reads
    assert change_types(world).count("action_item.unlinked") == 1


def test_a_v2_edit_of_an_event_deleted_since_is_its_deletion(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    event_id = linked_item(world)
    world.clock.at(NOW + timedelta(minutes=5))
    edit = world.fake.user_edits_event(GRANT, event_id, title="Moved, then cancelled")
    world.clock.at(NOW + timedelta(minutes=6))
    deletion = world.fake.user_deletes_event(GRANT, event_id)

    world.notify_v2(edit)

    item = world.item("a-1")
    assert item["calendar"]["status"] == "unlinked"
    assert (item["title"], item["deleted"]) == ("Call Acme", False)
    assert world.notifications()[-1].outcome == "unlink"
    # The deletion's own delta, later, dates it truly and unlinks nothing twice.
    world.notify_v2(deletion)
    item = world.item("a-1")
    assert parse_time(item["calendar"]["deleted_in_calendar_at"]) == NOW + timedelta(minutes=6)
    assert change_types(world).count("action_item.unlinked") == 1


def test_a_v2_delta_about_the_reps_own_event_costs_no_call_to_nylas(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    own = world.fake.user_creates_event(
        GRANT,
        "ann@acme.example",
        title="Dentist",
        when={"start_time": int(NOW.timestamp()), "end_time": int(NOW.timestamp()) + 1800},
    )
    world.fake.clear_requests()

    world.notify_v2(own)

    assert [r.outcome for r in world.notifications()] == ["not_linked"]
    assert world.fake.requests == []


def test_v2_deltas_naming_no_event_crmsync_can_fetch_get_an_outcome_and_no_call(
    calendar_world: CalendarWorld,
) -> None:
    world = calendar_world
    event_id = linked_item(world)
    with world.session() as session:  # a link without its calendar: crmsync never writes one
        row = session.exec(select(ActionItemRow)).one()
        row.calendar_id = None
        session.add(row)
        session.commit()
    world.fake.clear_requests()
    no_id = sim.v2_delta("event.updated", GRANT, "x")
    del no_id["object_data"]["id"]
    id_not_text = sim.v2_delta("event.updated", GRANT, "x")
    id_not_text["object_data"]["id"] = ["e-1"]
    body = sim.v2_body(
        no_id,
        id_not_text,
        sim.v2_delta("event.updated", GRANT, "../../../../v3/grants"),
        sim.v2_delta("event.created", GRANT, "e\u202e?#/ \\"),
        sim.v2_delta("event.updated", "grant-nobody-knows", event_id),
        sim.v2_delta("event.updated", GRANT, event_id),
    )

    world.notify(body)

    outcomes = [world.outcome_of(n.notification_id) for n in parse_document(body)]
    assert outcomes == [
        "no_event",
        "no_event",
        "not_linked",
        "not_linked",
        "unknown_grant",
        "no_calendar",
    ]
    assert {r.state for r in world.notifications()} == {"processed"}
    assert world.fake.requests == []
