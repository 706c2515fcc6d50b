"""A grant deleted at Nylas, seen through the gateway: every grant-scoped 404 is checked
against ``GET /v3/grants/{id}``, so a missing grant raises NylasGrantGone and a missing
message is still None, whatever the 404's body says (``domain.not_found``).

The fake Nylas over real HTTP; the policy records its waits instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from simulator.mailbox import FakeNylas
from simulator.notifications import message_object
from tests.support.fake_api import RecordedSleeps
from workers.nylas_client import GRANT_ALIVE_SECONDS, AliveGrants, NylasGateway
from workers.nylas_failures import (
    NylasGrantGone,
    NylasMalformedResponse,
    NylasNotFound,
    NylasUnavailable,
    RetryPolicy,
)

LIVE = "grant-live"
GONE = "grant-gone"


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas()
    fake.add_mailbox(LIVE, "google", "ann@gmail.example")
    fake.add_mailbox(GONE, "google", "bob@gmail.example")
    fake.put_message(GONE, message_object(GONE, message_id="m1"))
    return fake


def delete_at_nylas(base_url: str, fake: FakeNylas, grant_id: str) -> requests.Response:
    """The simulator's control route: the grant is deleted at Nylas."""
    return requests.delete(
        f"{base_url}/_simulator/grants/{grant_id}",
        headers={"Authorization": f"Bearer {fake.api_key}"},
        timeout=5,
    )


@pytest.fixture
def gone(base_url: str, fake: FakeNylas) -> str:
    """``GONE`` deleted at Nylas, and the request log emptied."""
    assert delete_at_nylas(base_url, fake, GONE).status_code == 200
    fake.clear_requests()
    return GONE


EVENT = {"title": "Call", "when": {"start_time": 1_790_000_000, "end_time": 1_790_003_600}}
CALLS: dict[str, Callable[[NylasGateway, str], Any]] = {
    "find_message": lambda g, grant: g.find_message(grant, "m1"),
    "list_folders": lambda g, grant: g.list_folders(grant),
    "list_messages": lambda g, grant: g.list_messages(grant),
    "find_sent_by_key": lambda g, grant: g.find_sent_by_key(grant, "key-1"),
    "send_message": lambda g, grant: g.send_message(
        grant, to=[{"email": "carl@client.example"}], subject="Hi", body="Hello"
    ),
    "list_calendars": lambda g, grant: g.list_calendars(grant),
    "find_event": lambda g, grant: g.find_event(grant, "e1", "primary"),
    "create_event": lambda g, grant: g.create_event(
        grant, "primary", EVENT, notify_participants=False
    ),
    "update_event": lambda g, grant: g.update_event(
        grant, "e1", "primary", EVENT, notify_participants=False
    ),
    "destroy_event": lambda g, grant: g.destroy_event(
        grant, "e1", "primary", notify_participants=False
    ),
}


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_every_grant_scoped_call_of_a_deleted_grant_is_grant_gone(
    gateway: NylasGateway, fake: FakeNylas, gone: str, sleeps: RecordedSleeps, operation: str
) -> None:
    with pytest.raises(NylasGrantGone) as caught:
        CALLS[operation](gateway, gone)

    assert caught.value.grant_id == gone
    assert (caught.value.status_code, caught.value.reason) == (404, "grant_gone")
    assert fake.requests[-1].path == f"/v3/grants/{gone}"  # confirmed by the grant lookup
    assert sleeps == []  # a 404 is never retried


def test_the_grant_itself_answers_none_and_false_without_a_second_lookup(
    gateway: NylasGateway, fake: FakeNylas, gone: str
) -> None:
    assert gateway.find_grant(gone) is None
    assert gateway.destroy_grant(gone) is False
    assert len(fake.requests) == 2


def test_a_deleted_grant_answers_nylas_s_not_found_envelope(
    base_url: str, fake: FakeNylas, gone: str
) -> None:
    answer = requests.get(
        f"{base_url}/v3/grants/{gone}/messages/m1",
        headers={"Authorization": f"Bearer {fake.api_key}"},
        timeout=5,
    )

    assert answer.status_code == 404
    body = answer.json()
    assert set(body) == {"request_id", "error"}
    assert body["error"]["type"] == "not_found_error"
    assert isinstance(body["error"]["message"], str)


def test_deleting_an_unknown_grant_at_the_simulator_is_refused(
    base_url: str, fake: FakeNylas, gone: str
) -> None:
    answer = delete_at_nylas(base_url, fake, gone)

    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_missing_calendar_on_a_live_grant_is_still_not_found(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    with pytest.raises(NylasNotFound):
        gateway.update_event(LIVE, "e1", "no-such-calendar", EVENT, notify_participants=False)


# A broken or hostile peer: the body of a 404 decides nothing ------------------------------


LIES = {
    "says the grant is gone": '{"request_id": "r", "error": {"type": "grant_not_found", '
    '"message": "grant deleted"}}',
    "is not an error envelope": '{"request_id": "r"}',
}


@pytest.mark.parametrize("body", LIES.values(), ids=LIES.keys())
def test_a_404_lying_that_the_grant_is_gone_is_a_missing_message_of_a_live_grant(
    gateway: NylasGateway, fake: FakeNylas, body: str
) -> None:
    fake.inject(404, path_contains="/messages/", body=body, content_type="application/json")

    assert gateway.find_message(LIVE, "m1") is None
    assert [r.path for r in fake.requests] == [
        f"/v3/grants/{LIVE}/messages/m1",
        f"/v3/grants/{LIVE}",
    ]


def test_a_404_lying_that_only_the_message_is_gone_of_a_deleted_grant_is_grant_gone(
    gateway: NylasGateway, fake: FakeNylas, gone: str
) -> None:
    body = '{"request_id": "r", "error": {"type": "not_found_error", "message": "message m1"}}'
    fake.inject(404, path_contains="/messages/", body=body, content_type="application/json")

    with pytest.raises(NylasGrantGone):
        gateway.find_message(gone, "m1")


@pytest.mark.parametrize("body", ["", "<html><h1>404 Not Found</h1></html>"], ids=["empty", "html"])
def test_an_unreadable_404_of_a_deleted_grant_is_grant_gone_after_its_retries(
    gateway: NylasGateway, fake: FakeNylas, gone: str, sleeps: RecordedSleeps, body: str
) -> None:
    """A body that is not JSON loses its status in the SDK (a proxy's 502 looks the same),
    so it is retried as transient; the grant lookup then settles it."""
    fake.inject(404, path_contains="/messages/", body=body, times=10)

    with pytest.raises(NylasGrantGone):
        gateway.find_message(gone, "m1")

    assert len(fake.requests_to("/messages/")) == 4  # the policy's attempts
    assert fake.requests[-1].path == f"/v3/grants/{gone}"


def test_an_unreadable_404_of_a_live_grant_stays_transient_never_gone(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    fake.inject(404, path_contains="/messages", body="", times=10)

    with pytest.raises(NylasUnavailable) as caught:
        gateway.list_messages(LIVE)

    assert not isinstance(caught.value, NylasGrantGone)
    assert fake.requests[-1].path == f"/v3/grants/{LIVE}"


def test_a_404_whose_body_is_a_json_list_is_malformed_never_grant_gone(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    fake.inject(404, path_contains="/messages/", body="[]", content_type="application/json")

    with pytest.raises(NylasMalformedResponse):
        gateway.find_message(LIVE, "m1")


def test_a_grant_lookup_failing_with_5xx_is_transient_never_gone(
    gateway: NylasGateway, fake: FakeNylas, gone: str
) -> None:
    fake.inject(None, path_contains="/messages/")  # the fetch is answered: the real 404
    fake.inject(503, path_contains=f"/grants/{gone}", times=10)  # every lookup attempt

    with pytest.raises(NylasUnavailable) as caught:
        gateway.find_message(gone, "m1")

    assert not isinstance(caught.value, NylasGrantGone)
    assert len(fake.requests_to(f"/v3/grants/{gone}/messages/m1")) == 1


# A live mailbox whose messages are gone: the grant is looked up once, not per 404 --------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_run_of_missing_messages_of_a_live_grant_looks_the_grant_up_once(
    fake: FakeNylas, base_url: str, policy: RetryPolicy
) -> None:
    clock = Clock()
    gateway = NylasGateway(fake.api_key, base_url, timeout_seconds=5, policy=policy, clock=clock)
    fake.clear_requests()

    assert [gateway.find_message(LIVE, f"gone-{n}") for n in range(5)] == [None] * 5
    assert len(fake.requests_to(f"/v3/grants/{LIVE}", method="GET")) == 6  # 5 messages, 1 grant
    assert [r.path for r in fake.requests].count(f"/v3/grants/{LIVE}") == 1

    clock.now += GRANT_ALIVE_SECONDS  # later, the grant is asked about again
    assert gateway.find_message(LIVE, "gone-5") is None
    assert [r.path for r in fake.requests].count(f"/v3/grants/{LIVE}") == 2


def test_a_grant_remembered_alive_and_deleted_since_is_found_gone_once_forgotten(
    fake: FakeNylas, base_url: str, policy: RetryPolicy
) -> None:
    clock = Clock()
    gateway = NylasGateway(fake.api_key, base_url, timeout_seconds=5, policy=policy, clock=clock)
    assert gateway.find_message(LIVE, "gone-1") is None  # the grant is found alive
    assert delete_at_nylas(base_url, fake, LIVE).status_code == 200

    clock.now += GRANT_ALIVE_SECONDS
    with pytest.raises(NylasGrantGone):
        gateway.find_message(LIVE, "gone-2")


def test_the_grants_remembered_alive_are_bounded() -> None:
    clock = Clock()
    alive = AliveGrants(most=3, clock=clock)
    for n in range(5):
        alive.saw(f"g{n}")

    assert [alive.recently(f"g{n}") for n in range(5)] == [False, False, True, True, True]
