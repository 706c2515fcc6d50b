"""A hostile CRM client against the typed edge of the `/v1` API (bodies and query strings
read through models), on SQLite and PostgreSQL.

Each attack is small (a body within its endpoint's limit) and aims at what the edge does
with it: a refusal must be a 400 with a reason, cost memory and time in proportion to the
body, and quote the attacker's value only in part. Memory is measured with tracemalloc around
one request (generous bounds: a sign of proportion, not a benchmark).
"""

from __future__ import annotations

from typing import Any

import pytest

from api.inputs import MAX_JSON_BYTES
from tests.integration.conftest import GMAIL_GRANT
from tests.support.email_sync import EmailSyncWorld
from tests.support.measuring import measured

REP = {"email": "ann@acme.example", "grant_id": GMAIL_GRANT, "provider": "google"}
ITEM = {
    "title": "Call",
    "start": "2026-12-01T10:00:00Z",
    "end": "2026-12-01T10:30:00Z",
    "changed_at": "2026-11-30T00:00:00Z",
}
# A refusal is a few hundred bytes; one that quotes a value quotes a short part of it.
SHORT_ANSWER = 2048
MEBIBYTE = 1024 * 1024


def long_key_and_long_list(tail: bytes) -> bytes:
    """A body under 64 KiB: ``tail`` (a member holding ``\\u0000`` as written, so that the body
    is walked for NULs), then one key of 30,000 characters over a list of 15,000 numbers, which
    the walk reads first."""
    body = b"{" + tail + b', "' + b"k" * 30_000 + b'": [' + b",".join([b"0"] * 15_000) + b"]}"
    assert len(body) < MAX_JSON_BYTES
    return body


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (b'"x": "\\\\u0000"', "unknown_field"),  # an escaped backslash: text, not a NUL
        (b'"x": "\\u0000"', "invalid_text"),
    ],
    ids=["no NUL", "a NUL after them"],
)
def test_a_long_key_over_a_long_list_costs_memory_in_proportion_to_the_body(
    world: EmailSyncWorld, tail: bytes, reason: str
) -> None:
    world.put_rep("rep-ann", **REP)
    body = long_key_and_long_list(tail)

    # The NUL walk built each element's path whole: 15,000 paths of 30,000 characters, about
    # 450 MB and a second and a half on the event loop for this 62 KB body.
    response, peak, _ = measured(lambda: world.api("PUT", "/v1/reps/rep-ann", content=body))

    assert response.status_code == 400
    assert response.json()["error"]["reason"] == reason
    assert peak < 20 * MEBIBYTE
    assert len(response.content) < SHORT_ANSWER


def test_a_nul_deep_under_long_keys_is_named_in_short(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    body = b'{"' + b"k" * 30_000 + b'": {"' + b"j" * 30_000 + b'": "\\u0000"}}'

    response = world.api("PUT", "/v1/reps/rep-ann", content=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["reason"] == "invalid_text"
    assert error["message"].startswith("kkkk")
    assert "contains a NUL" in error["message"]
    assert len(response.content) < SHORT_ANSWER


def test_a_list_of_folders_all_wrong_is_refused_at_the_first(world: EmailSyncWorld) -> None:
    folders = b",".join([b"1"] * 32_000)
    body = b'{"email": "bob@acme.example", "settings": {"folders": [' + folders + b"]}}"
    assert len(body) < MAX_JSON_BYTES

    # Each of the 32,000 numbers was an error record (50 MB, 0.4 s on the event loop).
    response, peak, _ = measured(lambda: world.api("PUT", "/v1/reps/rep-bob", content=body))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["reason"] == "invalid_rep"
    paths = [field["path"] for field in error["fields"]]
    assert "settings.folders[0]" in paths
    assert "settings.folders[1]" not in paths  # the rest is not read
    assert peak < 10 * MEBIBYTE
    assert world.api("GET", "/v1/reps/rep-bob").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "document", "reason"),
    [
        (
            "PUT",
            "/v1/reps/rep-ann/action-items/i-1",
            {**ITEM, "participants": ["x" * 900_000]},
            "invalid_action_item",
        ),
        (
            "PUT",
            "/v1/reps/rep-ann/action-items/i-1",
            {**ITEM, "participants": [{"email": {"x": "x" * 900_000}}]},
            "invalid_action_item",
        ),
        (
            "POST",
            "/v1/reps/rep-ann/emails",
            {"send_key": "k-1", "to": ["x" * 4_000_000], "subject": "Hi", "body": "b"},
            "invalid_to",
        ),
        (
            "PUT",
            "/v1/reps/rep-ann/contacts/c-1",
            {"email": "x" * 60_000},
            "invalid_contact",
        ),
        (
            "PUT",
            "/v1/reps/rep-ann/contacts",
            {"contacts": [{"id": "c-1", "emails": ["x" * 1_000_000]}]},
            "invalid_contact",
        ),
        ("PUT", "/v1/reps/rep-bob", {"email": "b@acme.example", "k" * 60_000: 1}, "unknown_field"),
        (
            "PUT",
            "/v1/reps/rep-bob",
            {"email": "b@acme.example", "settings": {"k" * 60_000: 1}},
            "unknown_field",
        ),
    ],
    ids=[
        "a participant",
        "a participant's email that is an object",
        "a recipient",
        "a contact's email",
        "an address in the bulk replace",
        "an unknown field",
        "an unknown setting",
    ],
)
def test_a_refusal_quotes_a_huge_value_in_part(
    world: EmailSyncWorld, method: str, path: str, document: dict[str, Any], reason: str
) -> None:
    """The value was quoted whole, twice (message and fields): 20 MB back for a 10 MB value."""
    world.put_rep("rep-ann", **REP)

    response = world.api(method, path, json=document)

    assert response.status_code == 400, response.text[:500]
    error = response.json()["error"]
    assert error["reason"] == reason
    assert len(response.content) < SHORT_ANSWER, error["message"][:500]
    assert "xxxx" in error["message"] or "kkkk" in error["message"]  # still says which


def test_an_unknown_query_parameter_is_quoted_in_part(world: EmailSyncWorld) -> None:
    response = world.api("GET", "/v1/changes", params={"x" * 30_000: "1"})

    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "unknown_parameter"
    assert "xxxx" in response.json()["error"]["message"]
    assert len(response.content) < SHORT_ANSWER


@pytest.mark.parametrize("until", ["0001-01-01T00:00:00Z", "0001-01-30T23:59:59Z"])
def test_a_period_ending_in_the_first_month_of_year_1_is_refused(
    world: EmailSyncWorld, until: str
) -> None:
    """Its default start, 30 days before, is before year 1: an OverflowError, a 500."""
    world.put_rep("rep-ann", **REP)

    response = world.api("GET", "/v1/reps/rep-ann/activity", params={"to": until})

    assert response.status_code == 400, response.text
    assert response.json()["error"]["reason"] == "invalid_period"


def test_the_earliest_period_with_its_default_start_is_counted(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)

    response = world.api("GET", "/v1/reps/rep-ann/activity", params={"to": "0001-01-31T00:00:00Z"})

    assert response.status_code == 200, response.text
    assert response.json()["from"] == "0001-01-01T00:00:00Z"


def test_an_event_type_longer_than_any_change_type_is_refused(world: EmailSyncWorld) -> None:
    """A change type has at most 64 characters (the feed's filter says so, the column holds
    no more): a subscription to a longer one was stored, echoed in every answer, and never
    matched a change."""
    document = {"url": "https://crm.example/hooks", "event_types": ["a" * 60_000]}

    response = world.api("POST", "/v1/subscriptions", json=document)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["reason"] == "invalid_subscription"
    assert error["fields"][0]["path"] == "event_types[0]"
    assert world.api("GET", "/v1/subscriptions").json()["data"] == []
