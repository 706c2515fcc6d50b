"""Hosted auth, grant deletion, sending and big message listings of the fake Nylas API, driven
by the real ``nylas`` SDK (and, for the browser's side of hosted auth, plain HTTP) over real
HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import nylas
import pytest
import requests
from nylas.models.errors import NylasOAuthError

from simulator import folder_presets as mb
from simulator.mailbox import FakeNylas
from simulator.mailbox_fill import fill_mailbox
from simulator.message_index import message_order
from simulator.notifications import message_object
from tests.support.fake_api import SettableClock, api_error

GMAIL = "grant-gmail-1"
MICROSOFT = "grant-microsoft-1"
T0 = 1_790_000_000
CALLBACK = "https://crm.example/v1/connect/callback?tenant=7"
ALICE = {"email": "alice@customer.example", "name": "Alice"}


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def fake(clock: SettableClock) -> FakeNylas:
    fake = FakeNylas(clock=clock, client_id="crm-client")
    fake.add_mailbox(GMAIL, "google", "ann@gmail.example")
    fake.add_mailbox(MICROSOFT, "microsoft", "ben@outlook.example")
    return fake


@pytest.fixture
def client(fake: FakeNylas, base_url: str) -> nylas.Client:
    return nylas.Client(fake.api_key, api_uri=base_url, timeout=5)


def auth_url(client: nylas.Client, **extra: Any) -> str:
    config = {"client_id": "crm-client", "redirect_uri": CALLBACK, "state": "st/ate=1&x", **extra}
    url: str = client.auth.url_for_oauth2(config)
    return url


def browse(url: str) -> requests.Response:
    """What the user's browser gets: no API key, and the redirect is not followed."""
    return requests.get(url, allow_redirects=False, timeout=5)


def redirected(response: requests.Response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 302
    parts = urlsplit(response.headers["location"])
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return f"{parts.scheme}://{parts.netloc}{parts.path}", query


def exchange(client: nylas.Client, code: str, redirect_uri: str = CALLBACK) -> Any:
    request = {"client_id": "crm-client", "redirect_uri": redirect_uri, "code": code}
    return client.auth.exchange_code_for_token(request)


# Hosted auth -------------------------------------------------------------------------------


def test_consent_redirects_with_a_code_and_the_state_unchanged(
    client: nylas.Client, fake: FakeNylas
) -> None:
    url = auth_url(client, provider="microsoft", login_hint="cy@outlook.example")

    target, query = redirected(browse(url))

    assert target == "https://crm.example/v1/connect/callback"
    assert query["tenant"] == "7"
    assert query["state"] == "st/ate=1&x"
    token = exchange(client, query["code"])
    assert (token.email, token.provider, token.token_type) == (
        "cy@outlook.example",
        "microsoft",
        "Bearer",
    )
    assert "Mail.Send" in (token.scope or "").split()
    grant = client.grants.find(token.grant_id).data
    assert (grant.email, grant.grant_status) == ("cy@outlook.example", "valid")
    assert [n["type"] for n in fake.drain_notifications()] == ["grant.created"]
    auth_request = fake.requests_to("/v3/connect/auth")[0]
    assert auth_request.query["response_type"] == ["code"]


def test_the_browser_needs_no_api_key_but_the_rest_of_the_api_does(
    fake: FakeNylas, base_url: str
) -> None:
    assert requests.get(f"{base_url}/v3/grants/{GMAIL}", timeout=5).status_code == 401
    url = f"{base_url}/v3/connect/auth?client_id=crm-client&redirect_uri=https://a.example/cb&response_type=code"
    assert browse(url).status_code == 302


def test_the_same_address_reconnects_to_the_same_grant(
    client: nylas.Client, fake: FakeNylas
) -> None:
    _, first = redirected(browse(auth_url(client, login_hint="ann@gmail.example")))

    token = exchange(client, first["code"])

    assert token.grant_id == GMAIL
    [updated] = fake.drain_notifications()
    assert updated["type"] == "grant.updated"
    assert updated["data"]["object"]["reauthentication_flag"] is False


def test_a_code_works_once(client: nylas.Client) -> None:
    _, query = redirected(browse(auth_url(client, login_hint="dee@gmail.example")))
    exchange(client, query["code"])

    with pytest.raises(NylasOAuthError) as caught:
        exchange(client, query["code"])

    assert caught.value.status_code == 400
    assert caught.value.error == "invalid_grant"
    assert caught.value.error_uri


def test_a_code_is_bound_to_its_redirect_uri(client: nylas.Client) -> None:
    _, query = redirected(browse(auth_url(client)))

    with pytest.raises(NylasOAuthError) as caught:
        exchange(client, query["code"], redirect_uri="https://evil.example/cb")

    assert (caught.value.status_code, caught.value.error) == (400, "invalid_grant")
    assert exchange(client, query["code"]).grant_id


def test_a_code_expires(client: nylas.Client, clock: SettableClock) -> None:
    _, query = redirected(browse(auth_url(client)))
    clock.now += 601

    with pytest.raises(NylasOAuthError):
        exchange(client, query["code"])


def test_a_wrong_client_secret_is_refused(fake: FakeNylas, base_url: str) -> None:
    code = fake.authorize("eve@gmail.example", redirect_uri=CALLBACK, client_id="crm-client")
    wrong = nylas.Client("not-the-key", api_uri=base_url)

    with pytest.raises(NylasOAuthError) as caught:
        exchange(wrong, code)

    assert (caught.value.status_code, caught.value.error) == (401, "invalid_client")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "invalid_request"),
        (b'{"grant_type": "refresh_token"}', "unsupported_grant_type"),
        (b'{"grant_type": "authorization_code", "code": "c"}', "invalid_request"),
    ],
)
def test_malformed_token_requests_get_oauth_errors(base_url: str, body: bytes, error: str) -> None:
    response = requests.post(f"{base_url}/v3/connect/token", data=body, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert set(response.json()) >= {"error", "error_code", "error_description", "error_uri"}


def test_offline_access_gets_a_refresh_token(client: nylas.Client) -> None:
    _, query = redirected(browse(auth_url(client, access_type="offline")))

    assert exchange(client, query["code"]).refresh_token


def test_a_user_who_refuses_is_sent_back_with_access_denied(
    client: nylas.Client, fake: FakeNylas
) -> None:
    fake.refuse_consent("no@gmail.example", "The user said no")

    target, query = redirected(browse(auth_url(client, login_hint="no@gmail.example")))

    assert target == "https://crm.example/v1/connect/callback"
    assert query == {
        "tenant": "7",
        "error": "access_denied",
        "error_description": "The user said no",
        "state": "st/ate=1&x",
    }
    assert [g["email"] for g in fake.grants()] == ["ann@gmail.example", "ben@outlook.example"]
    assert fake.drain_notifications() == []


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("client_id=other&redirect_uri=https://a.example/cb&response_type=code", "client_id"),
        ("client_id=crm-client&response_type=code", "redirect_uri"),
        (
            "client_id=crm-client&redirect_uri=https://a.example/cb&response_type=token",
            "response_type",
        ),
        (
            "client_id=crm-client&redirect_uri=https://a.example/cb&response_type=code&provider=aol",
            "provider",
        ),
    ],
)
def test_a_bad_authorisation_request_is_answered_in_place(
    base_url: str, fake: FakeNylas, query: str, problem: str
) -> None:
    response = browse(f"{base_url}/v3/connect/auth?{query}")

    assert response.status_code == 400
    assert problem in response.json()["error"]["message"]
    assert fake.drain_notifications() == []


# Deleting grants ---------------------------------------------------------------------------


def test_a_deleted_grant_is_gone_for_every_later_call(
    client: nylas.Client, fake: FakeNylas
) -> None:
    client.grants.destroy(MICROSOFT)

    assert api_error(lambda: client.grants.find(MICROSOFT)).status_code == 404
    assert api_error(lambda: client.messages.list(MICROSOFT)).status_code == 404
    assert api_error(lambda: client.calendars.list(MICROSOFT)).status_code == 404
    assert api_error(lambda: client.grants.destroy(MICROSOFT)).status_code == 404
    [deleted] = fake.drain_notifications()
    assert deleted["type"] == "grant.deleted"
    assert deleted["data"]["object"]["code"] == 25013
    assert [g.id for g in client.grants.list().data] == [GMAIL]


# Sending -----------------------------------------------------------------------------------


def test_a_send_answers_the_message_and_files_it_in_sent(
    client: nylas.Client, fake: FakeNylas
) -> None:
    body = {
        "to": [ALICE],
        "cc": [{"email": "bob@customer.example"}],
        "subject": "Proposal",
        "body": "<p>Please find attached</p>",
        "metadata": {"key4": "crm-send-1", "lead": "L-9"},
    }

    message = client.messages.send(MICROSOFT, request_body=body).data

    assert message.from_ == [{"email": "ben@outlook.example"}]
    assert (message.subject, message.date, message.folders) == (
        "Proposal",
        T0,
        [mb.MICROSOFT_SENT_ID],
    )
    assert message.metadata == {"key4": "crm-send-1", "lead": "L-9"}
    listed = client.messages.list(MICROSOFT, {"in": mb.MICROSOFT_SENT_ID}).data
    assert [m.id for m in listed] == [message.id]
    [created] = fake.drain_notifications()
    assert (created["type"], created["data"]["object"]["id"]) == ("message.created", message.id)


def test_a_reply_joins_the_thread(client: nylas.Client, fake: FakeNylas) -> None:
    fake.put_message(
        GMAIL, message_object(GMAIL, message_id="in-1", sender="alice@customer.example")
    )
    original = fake.message(GMAIL, "in-1")
    assert original is not None

    reply = client.messages.send(
        GMAIL, request_body={"to": [ALICE], "subject": "Re", "reply_to_message_id": "in-1"}
    ).data

    assert reply.thread_id == original["thread_id"]
    assert reply.folders == ["SENT"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"subject": "nobody"}, 400),
        ({"to": [{"email": "nope"}]}, 400),
        ({"to": [ALICE], "send_at": T0 + 60}, 400),
        ({"to": [ALICE], "reply_to_message_id": "missing"}, 404),
    ],
)
def test_a_refused_send_stores_nothing(
    client: nylas.Client, fake: FakeNylas, body: dict[str, Any], status: int
) -> None:
    error = api_error(lambda: client.messages.send(GMAIL, request_body=body))

    assert error.status_code == status
    assert fake.messages(GMAIL) == []
    assert fake.drain_notifications() == []


def test_a_fault_after_the_request_still_sends(client: nylas.Client, fake: FakeNylas) -> None:
    fake.inject(500, path_contains="/messages/send", after_request=True)

    error = api_error(lambda: client.messages.send(GMAIL, request_body={"to": [ALICE]}))

    assert error.status_code == 500
    assert len(fake.messages(GMAIL)) == 1


def test_a_fault_before_the_request_sends_nothing(client: nylas.Client, fake: FakeNylas) -> None:
    fake.inject(503, path_contains="/messages/send")

    assert (
        api_error(lambda: client.messages.send(GMAIL, request_body={"to": [ALICE]})).status_code
        == 503
    )
    assert fake.messages(GMAIL) == []


# Listing messages --------------------------------------------------------------------------


def test_metadata_pair_finds_a_message_and_refuses_other_filters(
    client: nylas.Client, fake: FakeNylas
) -> None:
    sent = client.messages.send(
        GMAIL, request_body={"to": [ALICE], "metadata": {"key4": "k:with:colons"}}
    ).data
    client.messages.send(GMAIL, request_body={"to": [ALICE], "metadata": {"key4": "other"}})

    found = client.messages.list(GMAIL, {"metadata_pair": "key4:k:with:colons"}).data

    assert [m.id for m in found] == [sent.id]
    mixed = api_error(
        lambda: client.messages.list(GMAIL, {"metadata_pair": "key4:x", "in": "SENT"})
    )
    assert mixed.status_code == 400
    assert (
        api_error(lambda: client.messages.list(GMAIL, {"metadata_pair": "lead:x"})).status_code
        == 400
    )


def test_a_cursor_of_another_list_is_refused(client: nylas.Client, fake: FakeNylas) -> None:
    folders = client.folders.list(GMAIL, {"limit": 1})

    error = api_error(lambda: client.messages.list(GMAIL, {"page_token": folders.next_cursor}))

    assert error.status_code == 400


def test_ten_thousand_messages_page_completely_in_order(fake: FakeNylas, base_url: str) -> None:
    """Plain HTTP: the SDK would spend ~0.3 s decoding each page into models, the fake ~20 ms
    serving it."""
    messages = fill_mailbox(
        fake, GMAIL, 10_000, contacts=["alice@customer.example"], start=T0 - 90 * 86_400, end=T0
    )
    expected = [m["id"] for m in sorted(messages, key=message_order)]
    headers = {"Authorization": f"Bearer {fake.api_key}"}

    ids: list[str] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        response = requests.get(
            f"{base_url}/v3/grants/{GMAIL}/messages", params=params, headers=headers, timeout=5
        )
        document = response.json()
        ids += [m["id"] for m in document["data"]]
        if not document["next_cursor"]:
            break
        params["page_token"] = document["next_cursor"]

    assert ids == expected
    assert len(fake.requests_to("/messages")) == 50


# Control routes (for a demo or benchmark in another process) ---------------------------------


def test_control_routes_drive_the_accounts_side(fake: FakeNylas, base_url: str) -> None:
    headers = {"Authorization": f"Bearer {fake.api_key}"}

    def control(method: str, path: str, body: Any = None) -> Any:
        response = requests.request(
            method, f"{base_url}/_simulator{path}", json=body, headers=headers, timeout=5
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]

    added = control(
        "POST",
        f"/grants/{GMAIL}/fill",
        {"count": 50, "contacts": ["alice@customer.example"], "start": T0 - 86_400, "end": T0},
    )
    control("PUT", "/consent/no@gmail.example", {"refuse": True, "description": "nope"})
    refused = fake.consent_refusal("no@gmail.example")
    control("PUT", "/consent/no@gmail.example", {"refuse": False})
    expired = control("POST", f"/grants/{GMAIL}/expire")
    sent = fake.api_send_message(GMAIL, {"to": [ALICE]})
    bounced = control("POST", f"/grants/{GMAIL}/messages/{sent['id']}/bounce", {"reason": "full"})
    drained = control("POST", "/notifications/drain")

    assert added == {"added": 50}
    assert refused == "nope"
    assert fake.consent_refusal("no@gmail.example") is None
    assert expired["type"] == "grant.expired"
    assert bounced["data"]["object"]["bounce_reason"] == "full"
    assert [n["type"] for n in drained] == [
        "grant.expired",
        "message.created",
        "message.bounce_detected",
    ]
    assert fake.drain_notifications() == []
