"""Routing of Nylas triggers (rule N1): route on the base trigger, read suffixes as flags."""

from __future__ import annotations

import pytest

from domain.triggers import ROUTES, WorkKind, route, split_type

# Spelled out on purpose: changing, adding or removing a row of ROUTES must fail a test here.
EXPECTED_ROUTES: list[tuple[str, WorkKind]] = [
    ("message.created", WorkKind.MESSAGES),
    ("message.updated", WorkKind.MESSAGES),
    ("message.deleted", WorkKind.MESSAGES),
    ("message.send_success", WorkKind.MESSAGES),
    ("message.send_failed", WorkKind.MESSAGES),
    ("message.bounce_detected", WorkKind.MESSAGES),
    ("message.opened", WorkKind.MESSAGES),
    ("message.link_clicked", WorkKind.MESSAGES),
    ("thread.replied", WorkKind.MESSAGES),
    ("event.created", WorkKind.EVENTS),
    ("event.updated", WorkKind.EVENTS),
    ("event.deleted", WorkKind.EVENTS),
    ("calendar.created", WorkKind.EVENTS),
    ("calendar.updated", WorkKind.EVENTS),
    ("calendar.deleted", WorkKind.EVENTS),
    ("grant.created", WorkKind.GRANTS),
    ("grant.updated", WorkKind.GRANTS),
    ("grant.deleted", WorkKind.GRANTS),
    ("grant.expired", WorkKind.GRANTS),
    ("grant.imap_sync_completed", WorkKind.GRANTS),
    ("account.connected", WorkKind.GRANTS),
    ("account.running", WorkKind.GRANTS),
    ("account.stopped", WorkKind.GRANTS),
    ("account.invalid", WorkKind.GRANTS),
    ("account.sync_error", WorkKind.GRANTS),
    ("folder.created", WorkKind.FOLDERS),
    ("folder.updated", WorkKind.FOLDERS),
    ("folder.deleted", WorkKind.FOLDERS),
    ("contact.created", WorkKind.OTHER),
    ("contact.updated", WorkKind.OTHER),
    ("contact.deleted", WorkKind.OTHER),
]


@pytest.mark.parametrize(("trigger", "kind"), EXPECTED_ROUTES, ids=[t for t, _ in EXPECTED_ROUTES])
def test_each_routed_trigger_goes_to_its_queue(trigger: str, kind: WorkKind) -> None:
    assert ROUTES[trigger] is kind
    assert route(trigger) is kind


def test_the_routing_table_has_exactly_the_expected_rows() -> None:
    assert dict(ROUTES) == dict(EXPECTED_ROUTES)
    assert len(ROUTES) == len(EXPECTED_ROUTES)


def test_every_row_of_the_routing_table_is_a_base_trigger() -> None:
    for trigger in ROUTES:
        assert split_type(trigger) == (trigger, frozenset())


def test_work_kinds_keep_their_queue_names() -> None:
    assert {kind.name: kind.value for kind in WorkKind} == {
        "MESSAGES": "messages",
        "EVENTS": "events",
        "GRANTS": "grants",
        "FOLDERS": "folders",
        "OTHER": "other",
    }


@pytest.mark.parametrize(
    ("delivered", "trigger", "flags"),
    [
        pytest.param("message.created", "message.created", frozenset(), id="plain"),
        pytest.param("grant.imap_sync_completed", "grant.imap_sync_completed", frozenset(), id="_"),
        pytest.param(
            "message.created.truncated", "message.created", frozenset({"truncated"}), id="one"
        ),
        pytest.param("message.opened.legacy", "message.opened", frozenset({"legacy"}), id="legacy"),
        pytest.param(
            "message.updated.cleaned.truncated",
            "message.updated",
            frozenset({"cleaned", "truncated"}),
            id="two",
        ),
        pytest.param(
            "message.created.cleaned.transformed.truncated",
            "message.created",
            frozenset({"cleaned", "transformed", "truncated"}),
            id="three",
        ),
        pytest.param("message", "message", frozenset(), id="one-segment"),
    ],
)
def test_split_type_separates_the_base_trigger_from_suffix_flags(
    delivered: str, trigger: str, flags: frozenset[str]
) -> None:
    assert split_type(delivered) == (trigger, flags)


@pytest.mark.parametrize(
    ("delivered", "kind"),
    [
        ("message.created.truncated", WorkKind.MESSAGES),
        ("message.created.cleaned.transformed.truncated", WorkKind.MESSAGES),
        ("message.updated.metadata", WorkKind.MESSAGES),
        ("message.opened.legacy", WorkKind.MESSAGES),
        ("thread.replied.legacy", WorkKind.MESSAGES),
        ("event.updated.transformed", WorkKind.EVENTS),
    ],
)
def test_a_suffixed_type_routes_like_its_base_trigger(delivered: str, kind: WorkKind) -> None:
    trigger, _ = split_type(delivered)

    assert route(trigger) is kind


def test_route_expects_the_base_trigger_not_the_delivered_type() -> None:
    assert route("message.created.truncated") is WorkKind.OTHER


@pytest.mark.parametrize(
    "delivered",
    [
        "booking.created",
        "notetaker.media",
        "notetaker.meeting_state",
        "message.intelligence.order",
        "message.transactional.bounced",
        "job.successful",
        "",
    ],
)
def test_unknown_triggers_are_kept_on_the_other_queue(delivered: str) -> None:
    """N3: a trigger without a handler is stored (outcome not_handled), to reprocess later."""
    trigger, _ = split_type(delivered)

    assert route(delivered) is WorkKind.OTHER
    assert route(trigger) is WorkKind.OTHER
