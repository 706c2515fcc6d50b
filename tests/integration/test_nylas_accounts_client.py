"""The gateway's hosted auth, grant deletion, sending and backfill listing against the fake Nylas
API over real HTTP. The policy records its waits instead of sleeping, so the tests assert on
the retries the gateway chose and on how many requests reached the server."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from prometheus_client import REGISTRY

from simulator import folder_presets as mb
from simulator.mailbox import FakeNylas
from simulator.mailbox_fill import fill_mailbox
from simulator.message_index import message_addresses, message_order
from tests.integration.test_nylas_client import closed_port_url
from tests.support.fake_api import RecordedSleeps, SettableClock
from workers.nylas_client import GrantToken, NylasGateway
from workers.nylas_failures import (
    NylasCodeRejected,
    NylasRejected,
    NylasUnavailable,
    NylasWriteUncertain,
    RetryPolicy,
)

GMAIL = "grant-gmail-1"
MICROSOFT = "grant-microsoft-1"
CLIENT_ID = "crm-client"
CALLBACK = "https://crm.example/v1/connect/callback"
T0 = 1_790_000_000
ALICE = {"email": "alice@customer.example", "name": "Alice"}


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas(clock=SettableClock(T0), client_id=CLIENT_ID)
    fake.add_mailbox(GMAIL, "google", "ann@gmail.example")
    fake.add_mailbox(MICROSOFT, "microsoft", "ben@outlook.example")
    return fake


def calls(operation: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "crmsync_nylas_api_calls_total", {"operation": operation, "outcome": outcome}
    )
    return value or 0.0


def consent(gateway: NylasGateway, **arguments: Any) -> dict[str, str]:
    """Open the auth URL as the user's browser does; the query of the redirect back."""
    url = gateway.auth_url(client_id=CLIENT_ID, redirect_uri=CALLBACK, state="s-1", **arguments)
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def a_code(fake: FakeNylas, email: str = "cy@gmail.example") -> str:
    return fake.authorize(email, redirect_uri=CALLBACK, client_id=CLIENT_ID)


# Hosted auth -------------------------------------------------------------------------------


def test_auth_url_is_built_without_a_request(gateway: NylasGateway, fake: FakeNylas) -> None:
    url = gateway.auth_url(
        client_id=CLIENT_ID,
        redirect_uri=CALLBACK,
        state="s-1",
        provider="microsoft",
        login_hint="cy@outlook.example",
    )
    again = gateway.auth_url(client_id=CLIENT_ID, redirect_uri=CALLBACK, state="s-2")

    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/v3/connect/auth"
    assert {key: values[0] for key, values in query.items()} == {
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "state": "s-1",
        "provider": "microsoft",
        "login_hint": "cy@outlook.example",
        "response_type": "code",
        "access_type": "online",
    }
    assert "provider" not in parse_qs(urlsplit(again).query)
    assert fake.requests == []


def test_consent_then_exchange_gives_the_grant(gateway: NylasGateway, fake: FakeNylas) -> None:
    before = calls("exchange_code", "200")
    query = consent(gateway, provider="microsoft", login_hint="cy@outlook.example")

    token = gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=query["code"])

    assert query["state"] == "s-1"
    assert isinstance(token, GrantToken)
    assert (token.email, token.provider) == ("cy@outlook.example", "microsoft")
    assert "Mail.Send" in token.scope
    assert isinstance(token.scope, tuple)
    assert gateway.find_grant(token.grant_id) is not None
    [created] = fake.drain_notifications()
    assert (created["type"], created["data"]["object"]["grant_id"]) == (
        "grant.created",
        token.grant_id,
    )
    assert calls("exchange_code", "200") - before == 1


def test_a_used_code_is_rejected_without_retrying(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    code = a_code(fake)
    gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=code)
    before = calls("exchange_code", "400")

    with pytest.raises(NylasCodeRejected) as caught:
        gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=code)

    assert isinstance(caught.value, NylasRejected)
    assert (caught.value.status_code, caught.value.error_type) == (400, "invalid_grant")
    assert caught.value.reason == "code_rejected"
    assert len(fake.requests_to("/connect/token")) == 2
    assert sleeps == []
    assert calls("exchange_code", "400") - before == 1


def test_a_code_for_another_redirect_uri_is_rejected(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    code = a_code(fake)

    with pytest.raises(NylasCodeRejected):
        gateway.exchange_code(
            client_id=CLIENT_ID, redirect_uri="https://evil.example/cb", code=code
        )

    assert gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=code).grant_id


def test_a_wrong_client_id_is_rejected(gateway: NylasGateway, fake: FakeNylas) -> None:
    with pytest.raises(NylasRejected) as caught:
        gateway.exchange_code(client_id="other", redirect_uri=CALLBACK, code=a_code(fake))

    assert (caught.value.status_code, caught.value.error_type) == (401, "invalid_client")
    assert not isinstance(caught.value, NylasCodeRejected)


def test_a_refusal_comes_back_with_access_denied(gateway: NylasGateway, fake: FakeNylas) -> None:
    fake.refuse_consent("no@gmail.example")

    query = consent(gateway, login_hint="no@gmail.example")

    assert query["error"] == "access_denied"
    assert query["state"] == "s-1"
    assert "code" not in query
    assert fake.drain_notifications() == []


def test_reconnecting_an_expired_grant_keeps_the_grant(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    fake.expire_grant(GMAIL)

    query = consent(gateway, login_hint="ann@gmail.example")
    token = gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=query["code"])

    assert token.grant_id == GMAIL
    grant = gateway.find_grant(GMAIL)
    assert grant is not None
    assert grant["grant_status"] == "valid"
    expired, updated = fake.drain_notifications()
    assert (expired["type"], expired["data"]["object"]["code"]) == ("grant.expired", 25009)
    assert (updated["type"], updated["data"]["object"]["code"]) == ("grant.updated", 25014)
    assert updated["data"]["object"]["reauthentication_flag"] is True


def test_an_exchange_refused_by_the_rate_limiter_is_retried(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(429, path_contains="/connect/token", retry_after=1)

    token = gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=a_code(fake))

    assert token.email == "cy@gmail.example"
    assert sleeps == [1.0]


@pytest.mark.parametrize("status", [500, 502])
def test_an_exchange_whose_answer_was_lost_is_uncertain_not_retried(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps, status: int
) -> None:
    code = a_code(fake)
    fake.inject(status, path_contains="/connect/token", after_request=True)

    with pytest.raises(NylasWriteUncertain):
        gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=code)

    assert len(fake.requests_to("/connect/token")) == 1
    assert sleeps == []
    with pytest.raises(NylasCodeRejected):  # the lost attempt did use the code up
        gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=code)


def test_an_exchange_that_timed_out_is_uncertain(
    fake: FakeNylas, base_url: str, policy: RetryPolicy
) -> None:
    gateway = NylasGateway(fake.api_key, base_url, timeout_seconds=0.5, policy=policy)
    fake.slow(1.0, path_contains="/connect/token")

    with pytest.raises(NylasWriteUncertain):
        gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code=a_code(fake))

    assert len(fake.requests_to("/connect/token")) == 1


def test_an_exchange_that_never_connected_is_retried(
    policy: RetryPolicy, sleeps: RecordedSleeps
) -> None:
    gateway = NylasGateway("key", closed_port_url(), timeout_seconds=1, policy=policy)

    with pytest.raises(NylasUnavailable) as caught:
        gateway.exchange_code(client_id=CLIENT_ID, redirect_uri=CALLBACK, code="c")

    assert not isinstance(caught.value, NylasWriteUncertain)
    assert len(sleeps) == 3  # four attempts


# Deleting grants ---------------------------------------------------------------------------


def test_destroy_grant_is_true_then_false(gateway: NylasGateway, fake: FakeNylas) -> None:
    before = calls("destroy_grant", "200")

    assert gateway.destroy_grant(MICROSOFT) is True
    assert gateway.find_grant(MICROSOFT) is None
    assert gateway.destroy_grant(MICROSOFT) is False

    [deleted] = fake.drain_notifications()
    assert (deleted["type"], deleted["data"]["object"]["grant_id"]) == ("grant.deleted", MICROSOFT)
    assert calls("destroy_grant", "200") - before == 1


def test_a_destroy_under_a_503_is_retried(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(503, path_contains=f"/grants/{GMAIL}", method="DELETE")

    assert gateway.destroy_grant(GMAIL) is True
    assert len(sleeps) == 1


# Sending -----------------------------------------------------------------------------------


def send(gateway: NylasGateway, **arguments: Any) -> dict[str, Any]:
    arguments = {"to": [ALICE], "subject": "Proposal", "body": "<p>Hi</p>", **arguments}
    grant_id = arguments.pop("grant_id", GMAIL)
    return gateway.send_message(grant_id, **arguments)


def test_a_send_returns_the_message_filed_in_sent(gateway: NylasGateway, fake: FakeNylas) -> None:
    before = calls("send_message", "200")

    message = send(
        gateway,
        grant_id=MICROSOFT,
        cc=[{"email": "bob@customer.example"}],
        metadata={"lead": "L-1"},
        idempotency_key="send-1",
    )

    assert message["from"] == [{"email": "ben@outlook.example"}]
    assert message["to"] == [ALICE]
    assert message["cc"] == [{"email": "bob@customer.example"}]
    assert message["folders"] == [mb.MICROSOFT_SENT_ID]
    assert message["metadata"] == {"lead": "L-1", "key4": "send-1"}
    assert fake.message(MICROSOFT, message["id"]) == message
    assert gateway.find_sent_by_key(MICROSOFT, "send-1") == message
    assert gateway.find_sent_by_key(MICROSOFT, "send-2") is None
    [created] = fake.drain_notifications()
    assert created["type"] == "message.created"
    assert calls("send_message", "200") - before == 1


def test_a_reply_joins_the_thread(gateway: NylasGateway, fake: FakeNylas) -> None:
    first = send(gateway)

    reply = send(gateway, reply_to_message_id=first["id"], subject="Re: Proposal")

    assert reply["thread_id"] == first["thread_id"]


def test_a_send_without_recipients_is_rejected_once(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    with pytest.raises(NylasRejected) as caught:
        send(gateway, to=[])

    assert caught.value.status_code == 400
    assert len(fake.requests_to("/messages/send")) == 1
    assert sleeps == []
    assert fake.messages(GMAIL) == []


def test_a_send_refused_by_the_rate_limiter_is_sent_again_once(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(429, path_contains="/messages/send", retry_after=2, times=2)
    before = calls("send_message", "429")

    send(gateway)

    assert sleeps == [2.0, 2.0]
    assert len(fake.messages(GMAIL)) == 1
    assert calls("send_message", "429") - before == 2


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_send_whose_answer_was_lost_is_uncertain_and_found_by_its_key(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps, status: int
) -> None:
    fake.inject(status, path_contains="/messages/send", after_request=True)

    with pytest.raises(NylasWriteUncertain) as caught:
        send(gateway, idempotency_key="send-9")

    assert caught.value.reason == "write_uncertain"
    assert len(fake.requests_to("/messages/send")) == 1
    assert sleeps == []
    found = gateway.find_sent_by_key(GMAIL, "send-9")
    assert found is not None
    assert [m["id"] for m in fake.messages(GMAIL)] == [found["id"]]


def test_a_send_under_a_503_is_not_sent_again(
    gateway: NylasGateway, fake: FakeNylas, sleeps: RecordedSleeps
) -> None:
    fake.inject(503, path_contains="/messages/send")

    with pytest.raises(NylasWriteUncertain):
        send(gateway, idempotency_key="send-3")

    assert len(fake.requests_to("/messages/send")) == 1
    assert gateway.find_sent_by_key(GMAIL, "send-3") is None  # this 503 came before the send


def test_a_send_that_timed_out_is_uncertain_and_found_by_its_key(
    fake: FakeNylas, base_url: str, policy: RetryPolicy
) -> None:
    gateway = NylasGateway(fake.api_key, base_url, timeout_seconds=0.5, policy=policy)
    fake.slow(1.0, path_contains="/messages/send")

    with pytest.raises(NylasWriteUncertain):
        send(gateway, idempotency_key="send-4")

    assert len(fake.requests_to("/messages/send")) == 1
    assert gateway.find_sent_by_key(GMAIL, "send-4") is not None


def test_a_send_that_never_connected_is_retried_then_unavailable(
    policy: RetryPolicy, sleeps: RecordedSleeps
) -> None:
    gateway = NylasGateway("key", closed_port_url(), timeout_seconds=1, policy=policy)

    with pytest.raises(NylasUnavailable) as caught:
        send(gateway)

    assert not isinstance(caught.value, NylasWriteUncertain)
    assert len(sleeps) == 3


def test_a_key_may_not_overwrite_other_metadata(gateway: NylasGateway, fake: FakeNylas) -> None:
    with pytest.raises(ValueError, match="key4"):
        send(gateway, metadata={"key4": "theirs"}, idempotency_key="ours")
    with pytest.raises(ValueError, match="idempotency key"):
        gateway.find_sent_by_key(GMAIL, "")

    assert fake.requests == []


def test_sending_to_a_bouncing_address_queues_a_bounce(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    fake.set_bouncing_addresses(GMAIL, ["alice@customer.example"])
    fake.notify_send_success = True

    message = send(gateway, cc=[{"email": "bob@customer.example"}])

    created, success, bounce = fake.drain_notifications()
    assert (created["type"], success["type"]) == ("message.created", "message.send_success")
    assert bounce["type"] == "message.bounce_detected"
    assert bounce["data"]["grant_id"] == GMAIL
    assert bounce["data"]["object"]["message_id"] == message["id"]
    assert bounce["data"]["object"]["bounced_addresses"] == "alice@customer.example"


def test_a_bounce_of_an_earlier_send(gateway: NylasGateway, fake: FakeNylas) -> None:
    message = send(gateway)
    fake.drain_notifications()

    fake.bounce(GMAIL, message["id"], "552 mailbox full")

    [bounce] = fake.drain_notifications()
    assert bounce["data"]["object"]["bounce_reason"] == "552 mailbox full"
    assert bounce["data"]["object"]["origin"]["to"] == ["alice@customer.example"]


# Backfill listing --------------------------------------------------------------------------


def test_a_backfill_pages_through_ten_thousand_messages(
    gateway: NylasGateway, fake: FakeNylas
) -> None:
    contacts = ["alice@customer.example", "bob@customer.example"]
    messages = fill_mailbox(
        fake, GMAIL, 10_000, contacts=contacts, start=T0 - 120 * 86_400, end=T0, contact_share=0.4
    )
    since = T0 - 30 * 86_400
    everything = sorted(messages, key=message_order)

    def walk(**filters: Any) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        while True:
            page = gateway.list_messages(GMAIL, limit=200, page_token=token, **filters)
            ids += [m["id"] for m in page.messages]
            token = page.next_cursor
            if token is None:
                return ids

    assert walk() == [m["id"] for m in everything]
    assert walk(received_after=since, any_email=contacts) == [
        m["id"]
        for m in everything
        if m["date"] > since and {a.lower() for a in contacts} & message_addresses(m)
    ]
    assert walk(in_folder=mb.GMAIL_SENT_ID, received_before=since) == [
        m["id"] for m in everything if m["date"] < since and mb.GMAIL_SENT_ID in m["folders"]
    ]
