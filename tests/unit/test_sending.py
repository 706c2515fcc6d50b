"""Send requests, delivery states and send notifications (E9), as tables."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import DomainError
from domain.sending import (
    DeliveryEvent,
    DeliveryState,
    delivery_report,
    next_delivery_state,
    parse_send_request,
)
from simulator import notifications as sim

GOOD: dict[str, Any] = {
    "send_key": "crm:send-1",
    "to": [{"email": "Carl <Carl@Client.example>", "name": "Carl"}],
    "cc": ["dora@client.example"],
    "bcc": [{"email": "archive@acme.example"}],
    "subject": "Proposal",
    "body": "<p>Hi</p>",
    "reference": {"lead_id": "L-1"},
}


def test_a_send_request_is_read_with_normalised_addresses() -> None:
    request = parse_send_request(GOOD)

    assert [p.email for p in request.to] == ["carl@client.example"]
    assert [p.email for p in request.cc] == ["dora@client.example"]
    assert request.matching_addresses() == {"carl@client.example", "dora@client.example"}
    assert request.metadata() == {"crm_lead_id": "L-1"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"send_key": None}, "invalid_send_key"),
        ({"send_key": "has spaces"}, "invalid_send_key"),
        ({"send_key": "k" * 65}, "invalid_send_key"),
        ({"to": [], "cc": [], "bcc": []}, "no_recipient"),
        ({"to": "carl@client.example"}, "invalid_to"),
        ({"cc": [{"email": 7}]}, "invalid_cc"),
        ({"bcc": [{"email": "a@b.example", "name": 3}]}, "invalid_bcc"),
        ({"subject": "two\nlines"}, "invalid_subject"),
        ({"subject": "  "}, "invalid_subject"),
        ({"body": None}, "invalid_body"),
        ({"body": "x" * (3 * 1024 * 1024 + 1)}, "body_too_large"),
        ({"reference": {"deal_id": "D"}}, "unknown_field"),
        ({"sendkey": "k-2"}, "unknown_field"),
        ({"reply_to_message_id": 5}, "invalid_reply_to_message_id"),
        ({"to": [{"email": "carl@client.example", "nmae": "Carl"}]}, "unknown_field"),
        ("not an object", "invalid_send"),
        ({"reference": {"lead_id": ""}}, "invalid_reference"),
        ({"to": [{"email": f"p{i}@x.example"} for i in range(101)]}, "too_many_recipients"),
    ],
)
def test_a_send_request_that_cannot_be_sent_is_refused_naming_why(
    change: dict[str, Any] | str, reason: str
) -> None:
    document = {**GOOD, **change} if isinstance(change, dict) else change
    with pytest.raises(DomainError) as raised:
        parse_send_request(document)

    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("current", "event", "expected"),
    [
        ("queued", DeliveryEvent.ACCEPTED, DeliveryState.SENT),
        ("queued", DeliveryEvent.REFUSED, DeliveryState.FAILED),
        ("sent", DeliveryEvent.SEND_SUCCESS, None),
        ("queued", DeliveryEvent.SEND_SUCCESS, DeliveryState.SENT),
        ("sent", DeliveryEvent.SEND_FAILED, DeliveryState.FAILED),
        ("sent", DeliveryEvent.BOUNCED, DeliveryState.BOUNCED),
        ("bounced", DeliveryEvent.SEND_SUCCESS, None),
        ("failed", DeliveryEvent.ACCEPTED, None),
        (None, DeliveryEvent.BOUNCED, None),
        ("from-the-future", DeliveryEvent.BOUNCED, None),
    ],
)
def test_delivery_moves_as_the_table_says(
    current: str | None, event: DeliveryEvent, expected: DeliveryState | None
) -> None:
    assert next_delivery_state(current, event) is expected


MESSAGE = sim.message_object("g-1", message_id="m-1", to=("carl@client.example",))


def test_a_bounce_names_the_message_and_the_address() -> None:
    document = sim.message_bounce_detected(MESSAGE, bounced_address="carl@client.example")

    report = delivery_report(document["type"], document["data"])

    assert report is not None
    assert (report.event, report.message_id) == (DeliveryEvent.BOUNCED, "m-1")
    assert report.error is not None
    assert "carl@client.example" in report.error


def test_a_failed_send_without_a_message_still_gives_its_reason() -> None:
    document = sim.message_send_failed(None, grant_id="g-1", reason="quota exceeded")

    report = delivery_report(document["type"], document["data"])

    assert report is not None
    assert (report.event, report.message_id, report.error) == (
        DeliveryEvent.SEND_FAILED,
        None,
        "quota exceeded",
    )


def test_other_triggers_are_not_delivery_reports() -> None:
    assert delivery_report("message.created", {"object": MESSAGE}) is None
