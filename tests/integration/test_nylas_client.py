"""The Nylas gateway against the fake Nylas API over real HTTP: retries, errors, completeness.

The policy's ``sleep`` records each wait instead of sleeping, so the tests assert on the waits
the gateway chose and on how many requests reached the server, never on elapsed time.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests
from nylas.models.errors import NylasApiError, NylasSdkTimeoutError
from prometheus_client import REGISTRY

from simulator import folder_presets as mb
from simulator.mailbox import FakeNylas
from simulator.notifications import message_object
from tests.support.fake_api import RecordedSleeps
from workers.nylas_client import NylasGateway
from workers.nylas_failures import (
    NylasGrantGone,
    NylasMalformedResponse,
    NylasNotFound,
    NylasRateLimited,
    NylasRejected,
    NylasUnavailable,
    RetryPolicy,
)

GMAIL = "grant-gmail-1"
MICROSOFT = "grant-microsoft-1"
NOW = 1_790_000_000


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas()
    fake.add_mailbox(GMAIL, "google", "rep@gmail.example")
    fake.add_mailbox(MICROSOFT, "microsoft", "rep@outlook.example")
    return fake


def put(fake: FakeNylas, message_id: str, **fields: Any) -> None:
    fake.put_message(GMAIL, message_object(GMAIL, message_id=message_id, **fields))


def calls(operation: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "crmsync_nylas_api_calls_total", {"operation": operation, "outcome": outcome}
    )
    return value or 0.0


# Retries -----------------------------------------------------------------------------------


def test_a_429_waits_its_retry_after_then_succeeds(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    put(fake, "m1")
    fake.inject(429, path_contains="/messages", retry_after=2)

    message = gateway.find_message(GMAIL, "m1")

    assert message is not None
    assert message["id"] == "m1"
    assert sleeps == [2.0]
    assert len(fake.requests) == 2


def test_5xx_twice_backs_off_exponentially_then_succeeds(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(503, times=2)
    before = calls("find_grant", "503")

    grant = gateway.find_grant(GMAIL)

    assert grant is not None
    assert grant["provider"] == "google"
    assert sleeps == [0.5, 1.0]
    assert len(fake.requests) == 3
    assert calls("find_grant", "503") - before == 2


def test_an_html_502_is_retried(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(502, body="<html><h1>502 Bad Gateway</h1></html>")
    before = calls("find_grant", "invalid_body")

    assert gateway.find_grant(GMAIL) is not None
    assert len(sleeps) == 1
    assert len(fake.requests) == 2
    assert calls("find_grant", "invalid_body") - before == 1


def test_a_response_slower_than_the_timeout_is_retried(
    fake: FakeNylas, base_url: str, policy: RetryPolicy, sleeps: RecordedSleeps
) -> None:
    gateway = NylasGateway(fake.api_key, base_url, timeout_seconds=1, policy=policy)
    fake.slow(1.5, path_contains=f"/grants/{GMAIL}")
    before = calls("find_grant", "timeout")

    assert gateway.find_grant(GMAIL) is not None
    assert len(sleeps) == 1
    assert len(fake.requests) == 2
    assert calls("find_grant", "timeout") - before == 1


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_connection_refused_is_unavailable_after_max_attempts(
    policy: RetryPolicy, sleeps: RecordedSleeps
) -> None:
    gateway = NylasGateway("key", closed_port_url(), timeout_seconds=1, policy=policy)
    before = calls("list_folders", "connection_error")

    with pytest.raises(NylasUnavailable) as caught:
        gateway.list_folders(GMAIL)

    assert caught.value.reason == "unavailable"
    assert isinstance(caught.value.cause, requests.exceptions.ConnectionError)
    assert caught.value.__cause__ is caught.value.cause
    assert sleeps == [0.5, 1.0, 2.0]  # max_attempts=4: three waits between four attempts
    assert calls("list_folders", "connection_error") - before == 4


def test_timeouts_on_every_attempt_are_unavailable(
    fake: FakeNylas, base_url: str, sleeps: RecordedSleeps
) -> None:
    policy = RetryPolicy(max_attempts=2, jitter=0.0, sleep=sleeps)
    gateway = NylasGateway(fake.api_key, base_url, timeout_seconds=0.4, policy=policy)
    fake.slow(0.8, path_contains="/grants/", times=2)

    with pytest.raises(NylasUnavailable) as caught:
        gateway.find_grant(GMAIL)

    assert isinstance(caught.value.cause, NylasSdkTimeoutError)
    assert len(fake.requests) == 2


def test_429s_outlasting_the_attempts_are_unavailable_with_their_retry_after(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(429, retry_after=3, times=4)

    with pytest.raises(NylasUnavailable) as caught:
        gateway.find_grant(GMAIL)

    assert sleeps == [3.0, 3.0, 3.0]
    assert caught.value.retry_after_seconds == 3.0
    assert isinstance(caught.value.cause, NylasApiError)


# Errors that are not retried -------------------------------------------------------------


def test_a_404_lookup_is_none_once_the_grant_is_known_to_exist(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    """The message's 404 costs one grant lookup (is it the grant that is gone?), no retry."""
    assert gateway.find_message(GMAIL, "gone") is None
    assert gateway.find_grant("no-such-grant") is None
    assert [r.path for r in fake.requests] == [
        f"/v3/grants/{GMAIL}/messages/gone",
        f"/v3/grants/{GMAIL}",
        "/v3/grants/no-such-grant",
    ]
    assert sleeps == []


def test_a_404_listing_of_a_missing_grant_is_grant_gone(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    with pytest.raises(NylasGrantGone) as caught:
        gateway.list_messages("no-such-grant")

    assert (caught.value.status_code, caught.value.error_type) == (404, "not_found_error")
    assert caught.value.grant_id == "no-such-grant"
    assert isinstance(caught.value, NylasRejected)
    assert not isinstance(caught.value, NylasNotFound)
    assert len(fake.requests) == 2


def test_a_400_is_rejected_after_exactly_one_request(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(400, error_type="invalid_request_error")

    with pytest.raises(NylasRejected) as caught:
        gateway.find_grant(GMAIL)

    assert caught.value.status_code == 400
    assert caught.value.error_type == "invalid_request_error"
    assert caught.value.reason == "rejected"
    assert len(fake.requests) == 1
    assert sleeps == []


def test_a_wrong_api_key_is_rejected(fake: FakeNylas, base_url: str, policy: RetryPolicy) -> None:
    gateway = NylasGateway("wrong-key", base_url, policy=policy)

    with pytest.raises(NylasRejected) as caught:
        gateway.find_grant(GMAIL)

    assert (caught.value.status_code, caught.value.error_type) == (401, "unauthorized")


def test_a_long_retry_after_is_rate_limited_at_once(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(429, retry_after=120)

    with pytest.raises(NylasRateLimited) as caught:
        gateway.list_messages(GMAIL)

    assert caught.value.retry_after_seconds == 120
    assert caught.value.reason == "rate_limited"
    assert len(fake.requests) == 1
    assert sleeps == []


def test_a_response_missing_a_required_field_is_malformed(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    body = '{"request_id": "r1", "data": {"id": "m1"}}'  # no grant_id
    fake.inject(200, body=body, content_type="application/json")

    with pytest.raises(NylasMalformedResponse) as caught:
        gateway.find_message(GMAIL, "m1")

    assert caught.value.reason == "malformed_response"
    assert isinstance(caught.value.__cause__, KeyError)
    assert len(fake.requests) == 1


# Folders -----------------------------------------------------------------------------------


def test_microsoft_folders_are_complete_with_attributes_as_lists(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    folders = {f["id"]: f for f in gateway.list_folders(MICROSOFT)}

    assert set(folders) == {f["id"] for f in mb.microsoft_folders(MICROSOFT)}
    assert folders[mb.MICROSOFT_DEEP_ID]["parent_id"] == mb.MICROSOFT_COOLSTUFF_ID
    assert folders[mb.MICROSOFT_SENT_ID]["attributes"] == ["\\Sent"]
    assert folders[mb.MICROSOFT_COOLSTUFF_ID]["attributes"] == []
    walks = [r.query.get("parent_id") for r in fake.requests]
    assert walks == [None, [mb.MICROSOFT_COOLSTUFF_ID]]  # one listing, one walk


def test_gmail_folders_take_one_listing(gateway: NylasGateway, fake: FakeNylas) -> None:
    folders = {f["id"]: f for f in gateway.list_folders(GMAIL)}

    assert folders["INBOX"]["attributes"] == ["\\Inbox"]
    assert folders[mb.GMAIL_CLIENTS_ACME_ID]["name"] == "Clients/Acme"
    assert len(fake.requests) == 1


def test_folder_pages_are_all_followed(gateway: NylasGateway, fake: FakeNylas) -> None:
    labels = [
        {"id": f"Label_{n:03d}", "name": f"Client {n}", "system_folder": False, "attributes": []}
        for n in range(100, 350)
    ]
    fake.add_folders(GMAIL, labels)

    folders = gateway.list_folders(GMAIL)

    assert len(folders) == len(labels) + len(mb.gmail_folders(GMAIL))
    assert len({f["id"] for f in folders}) == len(folders)
    assert len(fake.requests) == 2


def test_a_failing_folder_page_is_retried_alone(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(503, path_contains="/folders")

    folders = gateway.list_folders(MICROSOFT)

    assert len(folders) == len(mb.microsoft_folders(MICROSOFT))
    assert len(sleeps) == 1
    assert len(fake.requests) == 3


# Messages ----------------------------------------------------------------------------------


def test_list_messages_sends_filters_in_the_documented_form(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    put(fake, "hit", to=("alice@customer.example",), folders=("SENT",), date=NOW)
    put(fake, "other-folder", to=("alice@customer.example",), folders=("INBOX",), date=NOW)
    put(fake, "other-person", to=("zed@else.example",), folders=("SENT",), date=NOW)
    put(fake, "too-old", to=("bob@customer.example",), folders=("SENT",), date=NOW - 100)

    page = gateway.list_messages(
        GMAIL,
        any_email=["alice@customer.example", "bob@customer.example"],
        in_folder="SENT",
        received_after=NOW - 50,
        received_before=NOW + 50,
    )

    assert [m["id"] for m in page.messages] == ["hit"]
    assert page.messages[0]["from"] == [{"name": "Sales Rep", "email": "rep@example.com"}]
    assert page.next_cursor is None
    assert fake.requests[-1].query == {
        "limit": ["200"],
        "any_email": ["alice@customer.example,bob@customer.example"],
        "in": ["SENT"],
        "received_after": [str(NOW - 50)],
        "received_before": [str(NOW + 50)],
    }


def test_list_messages_pages_with_next_cursor(gateway: NylasGateway, fake: FakeNylas) -> None:
    for index in range(5):
        put(fake, f"m{index}", date=NOW - index)

    first = gateway.list_messages(GMAIL, limit=2)
    second = gateway.list_messages(GMAIL, limit=2, page_token=first.next_cursor)
    third = gateway.list_messages(GMAIL, limit=2, page_token=second.next_cursor)

    ids = [m["id"] for page in (first, second, third) for m in page.messages]
    assert ids == ["m0", "m1", "m2", "m3", "m4"]
    assert third.next_cursor is None


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"any_email": [f"c{i}@x.example" for i in range(26)]}, "at most 25"),
        ({"any_email": []}, "1 to 25"),
        ({"any_email": "one@x.example"}, "not one string"),
        ({"any_email": ["a@x.example,b@x.example"]}, "comma"),
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
    ],
)
def test_list_messages_refuses_bad_arguments_without_a_request(
    gateway: NylasGateway, fake: FakeNylas, arguments: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        gateway.list_messages(GMAIL, **arguments)

    assert fake.requests == []


@pytest.mark.parametrize(
    "grant_id",
    ["../webhooks/wh_0001?", "grant/../../applications", "grant#fragment", "grant?limit=1"],
)
def test_a_grant_id_is_one_path_segment_whatever_it_holds(
    gateway: NylasGateway, fake: FakeNylas, grant_id: str
) -> None:
    """Every id placed in a Nylas path is percent-encoded in one place: ``../`` never reaches
    another Nylas endpoint with the application's API key (the ids are also refused on input:
    domain.grants)."""
    assert gateway.find_grant(grant_id) is None

    [request] = fake.requests
    assert (request.method, request.path, request.query) == ("GET", f"/v3/grants/{grant_id}", {})


@pytest.mark.parametrize("grant_id", ["", ".", ".."])
def test_an_id_that_a_url_reads_as_a_dot_segment_is_never_sent(
    gateway: NylasGateway, fake: FakeNylas, grant_id: str
) -> None:
    with pytest.raises(NylasRejected, match="path segment"):
        gateway.find_grant(grant_id)

    assert fake.requests == []
