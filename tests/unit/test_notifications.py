"""Parsing Nylas notification bodies (v3 envelopes and v2 deltas) into Notifications.

The fixtures follow the wire formats of NYLAS.md sections 1, 2, 3.1, 4.2 and 5.2.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from domain.errors import MalformedNotification
from domain.notifications import (
    MAX_V2_DELTAS,
    Notification,
    parse_document,
    parse_time,
    v2_notification_id,
)
from domain.triggers import WorkKind
from simulator import notifications as sim

GMAIL_GRANT = "0e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
MICROSOFT_GRANT = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"
V2_ACCOUNT = "aaz875kwuvxik6ku7pwkqp3ah"

FixtureLoader = Callable[[str], bytes]


def parse_one(raw: bytes) -> Notification:
    """Parse a body that must hold exactly one unit of work."""
    notifications = parse_document(orjson.loads(raw))
    assert len(notifications) == 1
    return notifications[0]


def fields(notification: Notification) -> dict[str, Any]:
    """The routing and dedupe fields of a notification, properties included."""
    return {
        "notification_id": notification.notification_id,
        "api_version": notification.api_version,
        "type": notification.type,
        "trigger": notification.trigger,
        "flags": notification.flags,
        "grant_id": notification.grant_id,
        "object_id": notification.object_id,
        "occurred_at": notification.occurred_at,
        "kind": notification.kind,
        "truncated": notification.truncated,
    }


def document(loader: FixtureLoader, name: str) -> dict[str, Any]:
    """A fixture decoded to a fresh dict that the test may change."""
    decoded = json.loads(loader(name))
    assert isinstance(decoded, dict)
    return decoded


# --- v3 envelopes -------------------------------------------------------------------------------

V3_EXPECTATIONS = [
    pytest.param(
        "message_created_gmail",
        {
            "notification_id": "c6f0d7a2-3b1e-4f5a-9d8c-2e7b6a1f0c31",
            "api_version": "v3",
            "type": "message.created",
            "trigger": "message.created",
            "flags": frozenset(),
            "grant_id": GMAIL_GRANT,
            "object_id": "1914a7c3e2b5d6f8",
            "occurred_at": 1723821985,
            "kind": WorkKind.MESSAGES,
            "truncated": False,
        },
        id="gmail-message-created",
    ),
    pytest.param(
        "message_created_truncated_microsoft",
        {
            "notification_id": "5b2e9c4d-7a1f-4e3b-8c6d-9f0a1b2c3d4e",
            "api_version": "v3",
            "type": "message.created.truncated",
            "trigger": "message.created",
            "flags": frozenset({"truncated"}),
            "grant_id": MICROSOFT_GRANT,
            "object_id": "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AmQ3zvTfSZ0WjbWuJ8V1dYAAAAbxZ2AAA=",
            "occurred_at": 1723822410,
            "kind": WorkKind.MESSAGES,
            "truncated": True,
        },
        id="microsoft-message-created-truncated",
    ),
    pytest.param(
        "message_updated_cleaned_truncated",
        {
            "notification_id": "e1d2c3b4-a5f6-4e7d-8c9b-0a1b2c3d4e5f",
            "api_version": "v3",
            "type": "message.updated.cleaned.truncated",
            "trigger": "message.updated",
            "flags": frozenset({"cleaned", "truncated"}),
            "grant_id": GMAIL_GRANT,
            "object_id": "1914a9f0b7c2e4d1",
            "occurred_at": 1723823100,
            "kind": WorkKind.MESSAGES,
            "truncated": True,
        },
        id="message-updated-cleaned-truncated",
    ),
    pytest.param(
        "event_created",
        {
            "notification_id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            "api_version": "v3",
            "type": "event.created",
            "trigger": "event.created",
            "flags": frozenset(),
            "grant_id": GMAIL_GRANT,
            "object_id": "5q8v1r0m2n4b6c7x9z3k1j5h7g",
            "occurred_at": 1723830000,
            "kind": WorkKind.EVENTS,
            "truncated": False,
        },
        id="event-created",
    ),
    pytest.param(
        "event_deleted_minimal",
        {
            "notification_id": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
            "api_version": "v3",
            "type": "event.deleted",
            "trigger": "event.deleted",
            "flags": frozenset(),
            "grant_id": GMAIL_GRANT,
            "object_id": "5q8v1r0m2n4b6c7x9z3k1j5h7g",
            "occurred_at": None,
            "kind": WorkKind.EVENTS,
            "truncated": False,
        },
        id="event-deleted-without-time",
    ),
    pytest.param(
        "grant_expired",
        {
            "notification_id": "b7c8d9e0-f1a2-4b3c-9d4e-5f6a7b8c9d0e",
            "api_version": "v3",
            "type": "grant.expired",
            "trigger": "grant.expired",
            "flags": frozenset(),
            "grant_id": MICROSOFT_GRANT,
            "object_id": None,
            "occurred_at": 1723900000,
            "kind": WorkKind.GRANTS,
            "truncated": False,
        },
        id="grant-expired",
    ),
    pytest.param(
        "grant_created",
        {
            "notification_id": "d0e1f2a3-b4c5-4d6e-8f7a-9b0c1d2e3f4a",
            "api_version": "v3",
            "type": "grant.created",
            "trigger": "grant.created",
            "flags": frozenset(),
            "grant_id": GMAIL_GRANT,
            "object_id": None,
            "occurred_at": 1723700000,
            "kind": WorkKind.GRANTS,
            "truncated": False,
        },
        id="grant-created",
    ),
    pytest.param(
        "unknown_type",
        {
            "notification_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "api_version": "v3",
            "type": "notetaker.media",
            "trigger": "notetaker.media",
            "flags": frozenset(),
            "grant_id": GMAIL_GRANT,
            "object_id": "nt_6f7a8b9c0d1e2f3a",
            "occurred_at": 1724152000,
            "kind": WorkKind.OTHER,
            "truncated": False,
        },
        id="a notetaker trigger, kept unhandled",
    ),
    pytest.param(
        "time_as_rfc3339",
        {
            "notification_id": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            "api_version": "v3",
            "type": "message.updated",
            "trigger": "message.updated",
            "flags": frozenset(),
            "grant_id": GMAIL_GRANT,
            "object_id": "1914a7c3e2b5d6f8",
            # 2024-08-16T17:26:25+02:00 is 2024-08-16T15:26:25Z.
            "occurred_at": 1723821985,
            "kind": WorkKind.MESSAGES,
            "truncated": False,
        },
        id="time-as-rfc3339-string",
    ),
]


@pytest.mark.parametrize(("fixture", "expected"), V3_EXPECTATIONS)
def test_v3_envelope_is_parsed_into_one_notification(
    nylas_fixture: FixtureLoader, fixture: str, expected: dict[str, Any]
) -> None:
    notification = parse_one(nylas_fixture(fixture))

    assert fields(notification) == expected


@pytest.mark.parametrize(("fixture", "expected"), V3_EXPECTATIONS)
def test_v3_parsing_is_the_same_with_the_standard_json_decoder(
    nylas_fixture: FixtureLoader, fixture: str, expected: dict[str, Any]
) -> None:
    (notification,) = parse_document(json.loads(nylas_fixture(fixture)))

    assert fields(notification) == expected


def test_v3_payload_is_the_whole_envelope(nylas_fixture: FixtureLoader) -> None:
    raw = nylas_fixture("message_created_gmail")

    notification = parse_one(raw)

    assert notification.payload == json.loads(raw)
    assert notification.payload["data"]["object"]["folders"] == [
        "UNREAD",
        "CATEGORY_PERSONAL",
        "INBOX",
    ]


def test_a_notification_is_immutable(nylas_fixture: FixtureLoader) -> None:
    notification = parse_one(nylas_fixture("message_created_gmail"))

    with pytest.raises(dataclasses.FrozenInstanceError):
        notification.grant_id = "someone-else"  # type: ignore[misc]


def test_tracking_notification_is_routed_with_its_grant(nylas_fixture: FixtureLoader) -> None:
    notification = parse_one(nylas_fixture("message_opened_tracking"))

    assert notification.notification_id == "f4e5d6c7-b8a9-4f0e-9d1c-2b3a4f5e6d7c"
    assert notification.api_version == "v3"
    assert notification.type == "message.opened"
    assert notification.trigger == "message.opened"
    assert notification.flags == frozenset()
    assert notification.grant_id == GMAIL_GRANT
    assert notification.occurred_at == 1723905567
    assert notification.kind is WorkKind.MESSAGES
    assert notification.truncated is False


def test_tracking_grant_id_falls_back_to_data_grant_id(nylas_fixture: FixtureLoader) -> None:
    envelope = document(nylas_fixture, "message_opened_tracking")
    del envelope["data"]["object"]["grant_id"]
    assert envelope["data"]["grant_id"] == GMAIL_GRANT

    (notification,) = parse_document(envelope)

    assert notification.grant_id == GMAIL_GRANT


def test_object_grant_id_is_preferred_over_data_grant_id(nylas_fixture: FixtureLoader) -> None:
    envelope = document(nylas_fixture, "message_opened_tracking")
    envelope["data"]["grant_id"] = "grant-at-data-level"

    (notification,) = parse_document(envelope)

    assert notification.grant_id == GMAIL_GRANT


def test_blank_or_non_text_grant_ids_are_not_grant_ids(nylas_fixture: FixtureLoader) -> None:
    envelope = document(nylas_fixture, "message_created_gmail")
    envelope["data"]["object"]["grant_id"] = ""
    envelope["data"]["grant_id"] = 42

    (notification,) = parse_document(envelope)

    assert notification.grant_id is None


def test_tracking_object_id_is_the_tracked_message(nylas_fixture: FixtureLoader) -> None:
    notification = parse_one(nylas_fixture("message_opened_tracking"))

    assert notification.object_id == "1914a9f0b7c2e4d1"


def test_an_envelope_without_data_object_is_tolerated(nylas_fixture: FixtureLoader) -> None:
    envelope = document(nylas_fixture, "message_created_gmail")
    envelope["type"] = "message.send_success"
    envelope["source"] = "/nylas/send"
    del envelope["data"]["object"]

    (notification,) = parse_document(envelope)

    assert notification.trigger == "message.send_success"
    assert notification.kind is WorkKind.MESSAGES
    assert notification.grant_id is None
    assert notification.object_id is None


def test_a_null_data_object_is_tolerated(nylas_fixture: FixtureLoader) -> None:
    envelope = document(nylas_fixture, "grant_created")
    envelope["data"]["object"] = None
    envelope["data"]["grant_id"] = GMAIL_GRANT

    (notification,) = parse_document(envelope)

    assert notification.grant_id == GMAIL_GRANT
    assert notification.object_id is None


def test_an_unknown_suffix_is_a_flag_on_the_routed_trigger(nylas_fixture: FixtureLoader) -> None:
    envelope = document(nylas_fixture, "message_created_gmail")
    envelope["type"] = "message.created.metadata"

    (notification,) = parse_document(envelope)

    assert notification.trigger == "message.created"
    assert notification.flags == frozenset({"metadata"})
    assert notification.kind is WorkKind.MESSAGES
    assert notification.truncated is False


def test_a_body_with_specversion_and_deltas_is_a_v3_envelope(nylas_fixture: FixtureLoader) -> None:
    envelope = document(nylas_fixture, "message_created_gmail")
    envelope["deltas"] = []

    (notification,) = parse_document(envelope)

    assert notification.api_version == "v3"
    assert notification.notification_id == "c6f0d7a2-3b1e-4f5a-9d8c-2e7b6a1f0c31"


# --- v2 deltas ----------------------------------------------------------------------------------


def test_v2_body_gives_one_notification_per_delta(nylas_fixture: FixtureLoader) -> None:
    raw = nylas_fixture("v2_deltas_two_messages")
    deltas = json.loads(raw)["deltas"]

    first, second = parse_document(orjson.loads(raw))

    for notification, delta, object_id in [
        (first, deltas[0], "93mgpjynqqu5fohl2dvv6ray7"),
        (second, deltas[1], "4c1h8wq0e2r5t7y9u1i3o5p7a"),
    ]:
        assert notification.notification_id.startswith("v2-")
        assert notification.notification_id == v2_notification_id(delta)
        assert {k: v for k, v in fields(notification).items() if k != "notification_id"} == {
            "api_version": "v2",
            "type": "message.created",
            "trigger": "message.created",
            "flags": frozenset(),
            "grant_id": V2_ACCOUNT,
            "object_id": object_id,
            "occurred_at": delta["date"],
            "kind": WorkKind.MESSAGES,
            "truncated": False,
        }
        assert notification.payload == delta
    assert first.notification_id != second.notification_id


def test_v2_id_is_sha256_hex_after_the_prefix(nylas_fixture: FixtureLoader) -> None:
    first, _ = parse_document(orjson.loads(nylas_fixture("v2_deltas_two_messages")))

    digest = first.notification_id.removeprefix("v2-")
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


def test_the_same_v2_delta_delivered_twice_gets_the_same_id(nylas_fixture: FixtureLoader) -> None:
    raw = nylas_fixture("v2_deltas_two_messages")

    first_delivery = parse_document(orjson.loads(raw))
    second_delivery = parse_document(json.loads(raw))

    assert [n.notification_id for n in first_delivery] == [
        n.notification_id for n in second_delivery
    ]


def test_an_identical_delta_repeated_in_one_body_gets_the_same_id(
    nylas_fixture: FixtureLoader,
) -> None:
    delta = document(nylas_fixture, "v2_deltas_two_messages")["deltas"][0]

    first, second = parse_document({"deltas": [delta, copy.deepcopy(delta)]})

    assert first.notification_id == second.notification_id


def reorder(value: Any) -> Any:
    """The same JSON value with the keys of every object in reverse order."""
    if isinstance(value, dict):
        return {key: reorder(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(item) for item in value]
    return value


def test_v2_id_does_not_depend_on_key_order(nylas_fixture: FixtureLoader) -> None:
    delta = document(nylas_fixture, "v2_deltas_two_messages")["deltas"][0]
    reordered = reorder(delta)
    assert list(reordered) != list(delta)
    assert list(reordered["object_data"]) != list(delta["object_data"])

    (original,) = parse_document({"deltas": [delta]})
    (shuffled,) = parse_document({"deltas": [reordered]})

    assert shuffled.notification_id == original.notification_id


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.update(date=d["date"] + 1), id="date"),
        pytest.param(lambda d: d.update(type="message.updated"), id="type"),
        pytest.param(lambda d: d["object_data"].update(id="other-message"), id="object-id"),
        pytest.param(
            lambda d: d["object_data"]["attributes"].update(thread_id="other-thread"),
            id="nested-attribute",
        ),
    ],
)
def test_a_different_v2_delta_gets_a_different_id(
    nylas_fixture: FixtureLoader, change: Callable[[dict[str, Any]], None]
) -> None:
    delta = document(nylas_fixture, "v2_deltas_two_messages")["deltas"][0]
    changed = copy.deepcopy(delta)
    change(changed)

    assert v2_notification_id(changed) != v2_notification_id(delta)


def test_v2_grant_id_falls_back_to_namespace_id(nylas_fixture: FixtureLoader) -> None:
    delta = document(nylas_fixture, "v2_deltas_two_messages")["deltas"][0]
    del delta["object_data"]["account_id"]

    (notification,) = parse_document({"deltas": [delta]})

    assert notification.grant_id == V2_ACCOUNT


def test_v2_account_delta_routes_to_grants() -> None:
    delta = {
        "date": 1602623300,
        "object": "account",
        "type": "account.invalid",
        "object_data": {
            "namespace_id": V2_ACCOUNT,
            "account_id": V2_ACCOUNT,
            "object": "account",
            "attributes": None,
            "id": V2_ACCOUNT,
            "metadata": None,
        },
    }

    (notification,) = parse_document({"deltas": [delta]})

    assert notification.kind is WorkKind.GRANTS
    assert notification.object_id == V2_ACCOUNT
    assert notification.occurred_at == 1602623300


def test_v2_event_deltas_route_to_events_with_the_event_id_and_the_delta_date(
    nylas_fixture: FixtureLoader,
) -> None:
    updated, deleted = parse_document(orjson.loads(nylas_fixture("v2_deltas_events")))

    assert [(n.trigger, n.kind) for n in (updated, deleted)] == [
        ("event.updated", WorkKind.EVENTS),
        ("event.deleted", WorkKind.EVENTS),
    ]
    assert {n.object_id for n in (updated, deleted)} == {"2j2jbr0yu4r3v3f6yr3tp2qvi"}
    assert {n.grant_id for n in (updated, deleted)} == {V2_ACCOUNT}
    assert (updated.occurred_at, deleted.occurred_at) == (1602623210, 1602623260)


def test_the_simulators_v2_event_delta_has_the_shape_nylas_sends(
    nylas_fixture: FixtureLoader,
) -> None:
    real = orjson.loads(nylas_fixture("v2_deltas_events"))["deltas"][0]
    change = sim.envelope(
        "event.updated",
        {"id": "2j2jbr0yu4r3v3f6yr3tp2qvi", "grant_id": V2_ACCOUNT, "object": "event"},
        source="/google/events/realtime",
        at=1602623210,
    )

    assert sim.v2_event_delta(change) == real


def test_a_v2_delta_with_a_lone_surrogate_does_not_crash_the_parser() -> None:
    body = json.loads(
        '{"deltas":[{"date":1602623196,"object":"message","type":"message.created",'
        '"object_data":{"account_id":"a","object":"message","id":"\\ud800"}}]}'
    )

    (notification,) = parse_document(body)

    assert notification.notification_id.startswith("v2-")
    assert notification.object_id == "\ud800"


# --- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param(1723821985, 1723821985, id="unix-seconds"),
        pytest.param(0, 0, id="epoch"),
        pytest.param(1723821985.0, 1723821985, id="integral-float"),
        pytest.param("2024-08-16T15:26:25Z", 1723821985, id="rfc3339-utc"),
        pytest.param("2024-08-16T17:26:25+02:00", 1723821985, id="rfc3339-offset"),
        pytest.param("2024-08-16T08:26:25-07:00", 1723821985, id="rfc3339-negative-offset"),
        pytest.param("2024-08-16T15:26:25.123Z", 1723821985, id="rfc3339-millis"),
        pytest.param("2024-08-16T15:26:25.123456789Z", 1723821985, id="rfc3339-nanos"),
    ],
)
def test_parse_time_accepts_unix_seconds_and_rfc3339(value: object, expected: int | None) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param(1723821985.5, id="fractional-float"),
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="infinity"),
        pytest.param("yesterday", id="garbage"),
        pytest.param("", id="empty-string"),
        pytest.param("2024-08-16T15:26:25", id="no-offset"),
        pytest.param("2024-08-16", id="date-only"),
        pytest.param([1723821985], id="list"),
        pytest.param({"seconds": 1723821985}, id="object"),
    ],
)
def test_parse_time_refuses_anything_else(value: object) -> None:
    with pytest.raises(MalformedNotification) as refused:
        parse_time(value)
    assert refused.value.reason == "invalid_time"


# --- malformed bodies ---------------------------------------------------------------------------

VALID_ENVELOPE: dict[str, Any] = {
    "specversion": "1.0",
    "type": "message.created",
    "source": "/google/emails/realtime",
    "id": "c6f0d7a2-3b1e-4f5a-9d8c-2e7b6a1f0c31",
    "time": 1723821985,
    "webhook_delivery_attempt": 1,
    "data": {
        "application_id": "8f3d2a1b-6c4e-4d7f-9a0b-1c2d3e4f5a6b",
        "object": {"id": "1914a7c3e2b5d6f8", "grant_id": GMAIL_GRANT, "object": "message"},
    },
}

VALID_DELTA: dict[str, Any] = {
    "date": 1602623196,
    "object": "message",
    "type": "message.created",
    "object_data": {
        "namespace_id": V2_ACCOUNT,
        "account_id": V2_ACCOUNT,
        "object": "message",
        "attributes": {"thread_id": "2u152dt4tnq9j61j8seg26ni6", "received_date": 1602623166},
        "id": "93mgpjynqqu5fohl2dvv6ray7",
        "metadata": None,
    },
}


def envelope(*, drop: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    """A valid v3 envelope with top-level keys dropped or replaced."""
    result = copy.deepcopy(VALID_ENVELOPE)
    for key in drop:
        del result[key]
    result.update(changes)
    return result


def with_data_object(value: Any) -> dict[str, Any]:
    result = envelope()
    result["data"]["object"] = value
    return result


def delta(*, drop: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    """A valid v2 delta with keys dropped or replaced."""
    result = copy.deepcopy(VALID_DELTA)
    for key in drop:
        del result[key]
    result.update(changes)
    return result


def test_the_malformed_table_starts_from_valid_bodies() -> None:
    assert len(parse_document(envelope())) == 1
    assert len(parse_document({"deltas": [delta(), delta(date=1602623197)]})) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param([VALID_ENVELOPE], "not_an_object", id="list"),
        pytest.param([], "not_an_object", id="empty-list"),
        pytest.param("message.created", "not_an_object", id="string"),
        pytest.param(42, "not_an_object", id="number"),
        pytest.param(None, "not_an_object", id="null"),
        pytest.param(True, "not_an_object", id="boolean"),
        pytest.param(envelope(drop=("id",)), "missing_id", id="missing-id"),
        pytest.param(envelope(id=""), "missing_id", id="empty-id"),
        pytest.param(envelope(id="   "), "missing_id", id="blank-id"),
        pytest.param(envelope(id=12345), "missing_id", id="id-not-a-string"),
        pytest.param(envelope(id=None), "missing_id", id="id-null"),
        pytest.param(envelope(drop=("type",)), "missing_type", id="missing-type"),
        pytest.param(envelope(type=""), "missing_type", id="empty-type"),
        pytest.param(envelope(type=["message.created"]), "missing_type", id="type-not-a-string"),
        pytest.param(envelope(drop=("data",)), "invalid_data", id="missing-data"),
        pytest.param(envelope(data=None), "invalid_data", id="data-null"),
        pytest.param(envelope(data=[]), "invalid_data", id="data-list"),
        pytest.param(envelope(data="object"), "invalid_data", id="data-string"),
        pytest.param(with_data_object([]), "invalid_data", id="data-object-list"),
        pytest.param(with_data_object("message"), "invalid_data", id="data-object-string"),
        pytest.param(with_data_object(7), "invalid_data", id="data-object-number"),
        pytest.param({"deltas": {"0": VALID_DELTA}}, "invalid_deltas", id="deltas-object"),
        pytest.param({"deltas": "message.created"}, "invalid_deltas", id="deltas-string"),
        pytest.param({"deltas": None}, "invalid_deltas", id="deltas-null"),
        pytest.param({"deltas": []}, "invalid_deltas", id="deltas-empty"),
        pytest.param({"deltas": ["message.created"]}, "not_an_object", id="delta-string"),
        pytest.param({"deltas": [VALID_DELTA, 3]}, "not_an_object", id="second-delta-number"),
        pytest.param({"deltas": [delta(drop=("object_data",))]}, "invalid_data", id="no-data"),
        pytest.param({"deltas": [delta(object_data=None)]}, "invalid_data", id="data-null-v2"),
        pytest.param({"deltas": [delta(object_data=[])]}, "invalid_data", id="data-list-v2"),
        pytest.param({"deltas": [delta(drop=("type",))]}, "missing_type", id="delta-no-type"),
        pytest.param({"deltas": [delta(date=True)]}, "invalid_time", id="delta-date-boolean"),
        pytest.param(envelope(time=True), "invalid_time", id="time-true"),
        pytest.param(envelope(time=False), "invalid_time", id="time-false"),
        pytest.param(envelope(time="last tuesday"), "invalid_time", id="time-garbage"),
        pytest.param(envelope(time="2024-08-16T15:26:25"), "invalid_time", id="time-naive"),
        pytest.param(envelope(time=1723821985.25), "invalid_time", id="time-fraction"),
    ],
)
def test_malformed_body_is_refused_with_its_reason(body: object, reason: str) -> None:
    with pytest.raises(MalformedNotification) as refused:
        parse_document(body)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-08-16T15:26:25z", 1723821985),
        (1737500935555, 1737500935),  # milliseconds, as the notetaker.media example sends
        (1737500935.0, 1737500935),
    ],
)
def test_time_in_other_spellings(value: object, expected: int) -> None:
    assert parse_time(value) == expected


def test_a_v2_body_of_more_deltas_than_nylas_batches_is_refused_whole(
    nylas_fixture: FixtureLoader,
) -> None:
    delta = orjson.loads(nylas_fixture("v2_deltas_two_messages"))["deltas"][0]

    assert len(parse_document({"deltas": [delta] * MAX_V2_DELTAS})) == MAX_V2_DELTAS
    with pytest.raises(MalformedNotification) as refused:
        parse_document({"deltas": [delta] * (MAX_V2_DELTAS + 1)})
    assert refused.value.reason == "too_many_deltas"


@pytest.mark.parametrize(
    "grant_id", ["../webhooks/wh_0001?", "grant/messages", "g" * 65, "grånt", "grant\x00"]
)
def test_a_grant_id_of_another_shape_than_nylas_refuses_the_body(
    nylas_fixture: FixtureLoader, grant_id: str
) -> None:
    envelope = document(nylas_fixture, "message_created_gmail")
    envelope["data"]["object"]["grant_id"] = grant_id

    with pytest.raises(MalformedNotification) as refused:
        parse_document(envelope)
    assert refused.value.reason == "invalid_grant_id"


def hashed(delivered_id: str) -> str:
    return "sha256-" + hashlib.sha256(delivered_id.encode()).hexdigest()


@pytest.mark.parametrize(
    ("delivered_id", "stored"),
    [
        ("5f1c2a9e-0c1d-4e2f-8a9b-6c7d8e9f0a1b", "5f1c2a9e-0c1d-4e2f-8a9b-6c7d8e9f0a1b"),
        ("i" * 255, "i" * 255),
        ("i" * 256, "sha256-" + hashlib.sha256(b"i" * 256).hexdigest()),
        ("id\x00nul", "sha256-" + hashlib.sha256(b"id\x00nul").hexdigest()),
        (
            'id\n{"level":"critical"}',
            "sha256-" + hashlib.sha256(b'id\n{"level":"critical"}').hexdigest(),
        ),
    ],
    ids=["a uuid", "255 characters", "256 characters", "a NUL", "a forged log line"],
)
def test_an_id_a_database_cannot_store_is_kept_as_its_hash(
    nylas_fixture: FixtureLoader, delivered_id: str, stored: str
) -> None:
    envelope = document(nylas_fixture, "message_created_gmail")
    envelope["id"] = delivered_id

    (notification,) = parse_document(envelope)

    assert notification.notification_id == stored
    assert len(notification.notification_id) <= 255
