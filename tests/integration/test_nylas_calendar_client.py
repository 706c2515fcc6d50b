"""The gateway's calendar calls against the fake Nylas API over real HTTP.

Reads, updates and deletes are retried like every other call. A create is sent again only when
the answer proves nothing was written, or when an idempotency key lets it look first; these
tests count the events in the fake and the requests it saw, never the time spent.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests
import urllib3
from nylas.models.errors import (
    NylasApiError,
    NylasApiErrorResponse,
    NylasApiErrorResponseData,
    NylasSdkTimeoutError,
)
from prometheus_client import REGISTRY
from requests.structures import CaseInsensitiveDict

from simulator import calendar as cal
from simulator.mailbox import FakeNylas
from tests.support.fake_api import RecordedSleeps
from workers.nylas_client import IDEMPOTENCY_METADATA_KEY, NylasGateway
from workers.nylas_failures import (
    NylasNotFound,
    NylasRejected,
    NylasUnavailable,
    NylasWriteUncertain,
    RetryPolicy,
    answered_without_writing,
)

GOOGLE = "grant-google-1"
MICROSOFT = "grant-microsoft-1"
REP = "rep@gmail.example"
DEC_1 = 1_796_137_200  # 2026-12-01T15:00:00Z
BODY: dict[str, Any] = {
    "title": "Acme renewal",
    "when": {"start_time": DEC_1, "end_time": DEC_1 + 3600},
    "participants": [{"email": "dana@acme.example"}],
}
WEIRD_ID = "evt#1/part?x=y"


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas()
    fake.add_mailbox(GOOGLE, "google", REP)
    fake.add_mailbox(MICROSOFT, "microsoft", "rep@outlook.example")
    return fake


def methods(fake: FakeNylas) -> list[str]:
    """The method of every request the fake saw, in order."""
    return [r.method for r in fake.requests]


def calls(operation: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "crmsync_nylas_api_calls_total", {"operation": operation, "outcome": outcome}
    )
    return value or 0.0


# Calendars ---------------------------------------------------------------------------------


def test_list_calendars_returns_wire_dicts(gateway: NylasGateway) -> None:
    google = {c["id"]: c for c in gateway.list_calendars(GOOGLE)}
    microsoft = {c["name"]: c for c in gateway.list_calendars(MICROSOFT)}

    assert set(google) == {REP, cal.GOOGLE_HOLIDAYS_ID, cal.GOOGLE_TEAM_ID}
    assert google[REP]["is_primary"] is True
    assert google[cal.GOOGLE_HOLIDAYS_ID]["read_only"] is True
    assert microsoft["Calendar"]["id"] == cal.MICROSOFT_CALENDAR_ID


def test_list_calendars_follows_every_page(gateway: NylasGateway, fake: FakeNylas) -> None:
    fake.add_calendars(
        GOOGLE,
        [{"id": f"c_{n:03d}@group.calendar.google.com", "name": f"Shared {n}"} for n in range(250)],
    )

    calendars = gateway.list_calendars(GOOGLE)

    assert len(calendars) == 253
    assert len({c["id"] for c in calendars}) == 253
    assert [r.query.get("limit") for r in fake.requests] == [["200"], ["200"]]


def test_a_429_on_a_read_waits_its_retry_after(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(429, path_contains="/calendars", retry_after=2)

    assert len(gateway.list_calendars(GOOGLE)) == 3
    assert sleeps == [2.0]
    assert len(fake.requests) == 2


# Finding events ----------------------------------------------------------------------------


def test_find_event_encodes_the_id_and_answers_none_when_gone(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id=WEIRD_ID, title="Weird", **{"when": BODY["when"]})

    found = gateway.find_event(GOOGLE, WEIRD_ID, REP)
    in_other_calendar = gateway.find_event(GOOGLE, WEIRD_ID, cal.GOOGLE_TEAM_ID)
    gone = gateway.find_event(GOOGLE, "gone", REP)

    assert found is not None
    assert (found["id"], found["title"], found["when"]["object"]) == (WEIRD_ID, "Weird", "timespan")
    assert in_other_calendar is None
    assert gone is None
    assert next(r.path for r in fake.requests) == f"/v3/grants/{GOOGLE}/events/{WEIRD_ID}"
    assert fake.requests[0].query == {"calendar_id": [REP]}
    assert sleeps == []


def test_a_503_on_a_read_is_retried(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id="e1", when=BODY["when"])
    fake.inject(503, path_contains="/events/", times=2)

    found = gateway.find_event(GOOGLE, "e1", REP)

    assert found is not None
    assert sleeps == [0.5, 1.0]
    assert len(fake.requests) == 3


# Creating events ---------------------------------------------------------------------------


def test_create_event_sends_the_documented_query(gateway: NylasGateway, fake: FakeNylas) -> None:
    created = gateway.create_event(GOOGLE, "primary", BODY, notify_participants=False)
    gateway.create_event(GOOGLE, REP, BODY, notify_participants=True)

    assert created["calendar_id"] == REP
    assert created["when"]["object"] == "timespan"
    assert created["participants"][0]["email"] == "dana@acme.example"
    assert isinstance(created["updated_at"], int)
    assert [r.query for r in fake.requests] == [
        {"calendar_id": ["primary"], "notify_participants": ["false"]},
        {"calendar_id": [REP], "notify_participants": ["true"]},
    ]


@pytest.mark.parametrize(("status", "wait"), [(429, 1.0), (503, 0.5)])  # Retry-After, backoff
def test_a_create_is_sent_again_after_an_answer_that_wrote_nothing(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps, status: int, wait: float
) -> None:
    fake.inject(status, path_contains="/events", method="POST", retry_after=1)

    created = gateway.create_event(GOOGLE, REP, BODY, notify_participants=False)

    assert [e["id"] for e in fake.events(GOOGLE, REP)] == [created["id"]]
    assert methods(fake) == ["POST", "POST"]
    assert sleeps == [wait]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 502, "body": "<html><h1>502 Bad Gateway</h1></html>"},
        {"status": 504},
    ],
)
def test_without_a_key_an_ambiguous_failure_is_not_sent_again(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps, fault: dict[str, Any]
) -> None:
    fake.inject(path_contains="/events", method="POST", **fault)

    with pytest.raises(NylasWriteUncertain) as caught:
        gateway.create_event(GOOGLE, REP, BODY, notify_participants=False)

    assert isinstance(caught.value, NylasUnavailable)
    assert caught.value.reason == "write_uncertain"
    # An unreadable body may have been the grant's 404: the grant lookup (GET) settles it.
    assert [m for m in methods(fake) if m != "GET"] == ["POST"]
    assert sleeps == []


def test_without_a_key_a_timeout_that_did_create_makes_no_second_event(
    fake: FakeNylas, base_url: str, policy: RetryPolicy
) -> None:
    gateway = NylasGateway(fake.api_key, base_url, timeout_seconds=0.5, policy=policy)
    fake.slow(1.0, path_contains="/events", method="POST")  # answers late: the event is made

    with pytest.raises(NylasWriteUncertain) as caught:
        gateway.create_event(GOOGLE, REP, BODY, notify_participants=False)

    assert isinstance(caught.value.cause, NylasSdkTimeoutError)
    assert methods(fake) == ["POST"]
    assert len(fake.events(GOOGLE, REP)) == 1  # exactly the one the timed-out request made


def test_with_a_key_a_timeout_that_did_create_is_found_not_repeated(
    fake: FakeNylas, base_url: str, policy: RetryPolicy, sleeps: RecordedSleeps
) -> None:
    gateway = NylasGateway(fake.api_key, base_url, timeout_seconds=0.5, policy=policy)
    fake.slow(1.0, path_contains="/events", method="POST")

    created = gateway.create_event(
        GOOGLE, REP, BODY, notify_participants=False, idempotency_key="item-42"
    )

    assert [e["id"] for e in fake.events(GOOGLE, REP)] == [created["id"]]
    assert created["metadata"] == {IDEMPOTENCY_METADATA_KEY: "item-42"}
    assert created["title"] == BODY["title"]
    # look, create (times out), look again (found), bring it to the body
    assert methods(fake) == ["GET", "POST", "GET", "PUT"]
    assert fake.requests[0].query["metadata_pair"] == [f"{IDEMPOTENCY_METADATA_KEY}:item-42"]
    assert len(sleeps) == 1


def test_with_a_key_a_failure_that_wrote_nothing_is_created_once(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    fake.inject(500, path_contains="/events", method="POST")  # answered before any write

    created = gateway.create_event(
        GOOGLE, REP, BODY, notify_participants=False, idempotency_key="item-43"
    )

    assert [e["id"] for e in fake.events(GOOGLE, REP)] == [created["id"]]
    assert methods(fake) == ["GET", "POST", "GET", "POST"]


def test_with_a_key_an_earlier_calls_event_is_reused_and_brought_to_the_body(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    first = gateway.create_event(
        GOOGLE, REP, BODY, notify_participants=False, idempotency_key="item-44"
    )
    fake.clear_requests()

    again = gateway.create_event(
        GOOGLE,
        REP,
        {**BODY, "title": "Acme renewal (moved)", "metadata": {"key1": "crm"}},
        notify_participants=False,
        idempotency_key="item-44",
    )

    assert again["id"] == first["id"]
    assert again["title"] == "Acme renewal (moved)"
    assert again["metadata"] == {"key1": "crm", IDEMPOTENCY_METADATA_KEY: "item-44"}
    assert methods(fake) == ["GET", "PUT"]
    assert len(fake.events(GOOGLE, REP)) == 1
    assert gateway.find_event_by_key(GOOGLE, REP, "item-44") == again
    assert gateway.find_event_by_key(GOOGLE, REP, "item-45") is None


def test_a_key_may_not_overwrite_other_metadata(gateway: NylasGateway, fake: FakeNylas) -> None:
    body = {**BODY, "metadata": {IDEMPOTENCY_METADATA_KEY: "someone else's"}}

    with pytest.raises(ValueError, match=IDEMPOTENCY_METADATA_KEY):
        gateway.create_event(GOOGLE, REP, body, notify_participants=False, idempotency_key="k")
    with pytest.raises(ValueError, match="1 to 500"):
        gateway.create_event(GOOGLE, REP, BODY, notify_participants=False, idempotency_key="")

    assert fake.requests == []


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_refused_connection_sent_nothing_so_a_create_is_retried(
    policy: RetryPolicy, sleeps: RecordedSleeps
) -> None:
    gateway = NylasGateway("key", closed_port_url(), timeout_seconds=1, policy=policy)

    with pytest.raises(NylasUnavailable) as caught:
        gateway.create_event(GOOGLE, REP, BODY, notify_participants=False)

    assert not isinstance(caught.value, NylasWriteUncertain)
    assert isinstance(caught.value.cause, requests.exceptions.ConnectionError)
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_read_only_calendar_is_rejected_at_once(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    before = calls("create_event", "403")

    with pytest.raises(NylasRejected) as caught:
        gateway.create_event(GOOGLE, cal.GOOGLE_HOLIDAYS_ID, BODY, notify_participants=False)

    assert (caught.value.status_code, caught.value.error_type) == (403, "provider_error")
    assert len(fake.requests) == 1
    assert sleeps == []
    assert calls("create_event", "403") - before == 1


# Updating and deleting ---------------------------------------------------------------------


def test_update_event_puts_the_body_and_is_retried(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id=WEIRD_ID, when=BODY["when"], description="d")
    fake.inject(503, path_contains="/events/", method="PUT")

    updated = gateway.update_event(
        GOOGLE, WEIRD_ID, REP, {"title": "Moved"}, notify_participants=True
    )

    assert (updated["id"], updated["title"], updated["description"]) == (WEIRD_ID, "Moved", "d")
    assert methods(fake) == ["PUT", "PUT"]
    assert fake.requests[-1].query == {"calendar_id": [REP], "notify_participants": ["true"]}
    assert len(sleeps) == 1


def test_updating_a_gone_event_is_not_found(gateway: NylasGateway, fake: FakeNylas) -> None:
    with pytest.raises(NylasNotFound):
        gateway.update_event(GOOGLE, "gone", REP, {"title": "x"}, notify_participants=False)

    assert methods(fake) == ["PUT", "GET"]  # the grant lookup says it is the event that is gone


def test_destroy_event_is_true_then_false_once_gone(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id=WEIRD_ID, when=BODY["when"])

    assert gateway.destroy_event(GOOGLE, WEIRD_ID, REP, notify_participants=False) is True
    assert gateway.destroy_event(GOOGLE, WEIRD_ID, REP, notify_participants=False) is False
    assert fake.event(GOOGLE, WEIRD_ID) is None
    assert fake.requests[0].query == {"calendar_id": [REP], "notify_participants": ["false"]}
    assert methods(fake) == ["DELETE", "DELETE", "GET"]  # the 404's grant looked up once
    assert sleeps == []


def test_a_429_on_a_delete_waits_then_deletes(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.user_creates_event(GOOGLE, REP, event_id="e1", when=BODY["when"])
    fake.inject(429, method="DELETE", retry_after=3)

    assert gateway.destroy_event(GOOGLE, "e1", REP, notify_participants=False) is True
    assert sleeps == [3.0]
    assert [n["type"] for n in fake.drain_notifications()] == ["event.deleted"]


# What may be sent again ----------------------------------------------------------------------


def api_error(status: int) -> NylasApiError:
    body = NylasApiErrorResponse("req-1", NylasApiErrorResponseData(type="t", message="m"))
    return NylasApiError(body, status_code=status, headers=CaseInsensitiveDict())


def timeout_from(cause: BaseException) -> NylasSdkTimeoutError:
    error = NylasSdkTimeoutError(url="http://nylas.test/v3", timeout=1)
    error.__cause__ = cause
    return error


def refused() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


@pytest.mark.parametrize(
    ("error", "unwritten"),
    [
        (api_error(429), True),
        (api_error(503), True),
        (api_error(500), False),
        (api_error(502), False),
        (api_error(504), False),
        (api_error(400), False),
        (timeout_from(requests.exceptions.ConnectTimeout()), True),
        (timeout_from(requests.exceptions.ReadTimeout()), False),
        (requests.exceptions.ConnectTimeout(), True),
        (refused(), True),
        (requests.exceptions.ConnectionError("Connection aborted"), False),
        (requests.exceptions.ChunkedEncodingError(), False),
        (requests.exceptions.JSONDecodeError("x", "<html>", 0), False),
    ],
)
def test_what_proves_nothing_was_written(error: BaseException, unwritten: bool) -> None:
    assert answered_without_writing(error) is unwritten
