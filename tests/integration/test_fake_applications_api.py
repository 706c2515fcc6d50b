"""Two Nylas applications served by one fake, driven by the real ``nylas`` SDK over real HTTP:
each key sees its own grants and connector credentials only, and hosted auth goes through the
second application's client id, secret and connector credential (a provider auth app of its
own). The browser's side of hosted auth, and bodies the SDK would never send, are plain HTTP.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import nylas
import pytest
import requests
from nylas.models.errors import NylasApiError, NylasOAuthError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.mailbox import FakeNylas
from simulator.notification_push import WebhookTarget
from simulator.notifications import APPLICATION_ID, sign
from simulator.nylas_api import build_nylas_api
from tests.support.fake_api import SettableClock, api_error
from tests.support.live_server import serve

T0 = 1_790_000_000
A_CLIENT, A_KEY = "crm-client", "deployment-api-key"
B_CLIENT, B_KEY = "org-b-client", "org-b-api-key"
B_HOOK_SECRET = "org-b-webhook-secret"
GRANT_A = "grant-of-a"
GRANT_B = "grant-of-b"
CALLBACK = "https://crm.example/v1/connect/callback"
GOOGLE_APP = {
    "client_id": "3805-org-b.apps.googleusercontent.com",
    "client_secret": "GOCSPX-org-b-secret",
}


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas(A_KEY, clock=SettableClock(T0), client_id=A_CLIENT)
    fake.add_application(B_CLIENT, B_KEY, webhook_secret=B_HOOK_SECRET)
    fake.add_mailbox(GRANT_A, "google", "ann@gmail.example")
    fake.add_mailbox(GRANT_B, "microsoft", "ben@outlook.example", application=B_CLIENT)
    return fake


@pytest.fixture
def client_a(base_url: str) -> nylas.Client:
    return nylas.Client(A_KEY, api_uri=base_url, timeout=5)


@pytest.fixture
def client_b(base_url: str) -> nylas.Client:
    return nylas.Client(B_KEY, api_uri=base_url, timeout=5)


def connector(name: str = "Org B Google app", **body: Any) -> dict[str, Any]:
    return {
        "name": name,
        "credential_type": "connector",
        "credential_data": dict(GOOGLE_APP),
        **body,
    }


def raw(base_url: str, method: str, path: str, key: str, **options: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return requests.request(method, base_url + path, headers=headers, timeout=5, **options)


def browse(url: str) -> requests.Response:
    """What the user's browser gets: no API key, and the redirect is not followed."""
    return requests.get(url, allow_redirects=False, timeout=5)


def code_from(response: requests.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["code"][0]


def b_auth_url(client: nylas.Client, **extra: Any) -> str:
    config = {"client_id": B_CLIENT, "redirect_uri": CALLBACK, "state": "s1", **extra}
    url: str = client.auth.url_for_oauth2(config)
    return url


# Grants per application --------------------------------------------------------------------


def test_each_key_lists_only_its_applications_grants(
    client_a: nylas.Client, client_b: nylas.Client
) -> None:
    assert [g.id for g in client_a.grants.list().data] == [GRANT_A]
    assert [g.id for g in client_b.grants.list().data] == [GRANT_B]
    assert client_b.grants.list({"provider": "google"}).data == []
    assert client_b.grants.find(GRANT_B).data.email == "ben@outlook.example"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.grants.find(GRANT_B),
        lambda c: c.grants.destroy(GRANT_B),
        lambda c: c.messages.list(GRANT_B),
        lambda c: c.folders.list(GRANT_B),
        lambda c: c.calendars.list(GRANT_B),
        lambda c: c.messages.send(GRANT_B, request_body={"to": [{"email": "x@y.example"}]}),
    ],
)
def test_another_applications_grant_is_not_found(
    client_a: nylas.Client, fake: FakeNylas, call: Any
) -> None:
    error = api_error(lambda: call(client_a))

    assert (error.status_code, error.type) == (404, "not_found_error")
    assert fake.grant(GRANT_B) is not None
    assert fake.messages(GRANT_B) == []
    assert fake.drain_notifications() == []


@pytest.mark.parametrize("suffix", ["", "/messages", "/calendars", "/folders"])
def test_another_applications_grant_answers_word_for_word_as_an_unknown_one(
    base_url: str, fake: FakeNylas, suffix: str
) -> None:
    unknown_id = GRANT_B[:-1] + "x"  # as long as GRANT_B, and no application's
    other = raw(base_url, "GET", f"/v3/grants/{GRANT_B}{suffix}", A_KEY)
    unknown = raw(base_url, "GET", f"/v3/grants/{unknown_id}{suffix}", A_KEY)

    assert other.status_code == unknown.status_code == 404
    other_error, unknown_error = other.json()["error"], unknown.json()["error"]
    assert other_error == {"type": "not_found_error", "message": f"grant {GRANT_B} not found"}
    assert unknown_error == {"type": "not_found_error", "message": f"grant {unknown_id} not found"}
    assert set(other.json()) == set(unknown.json()) == {"request_id", "error"}
    assert other.headers["content-type"] == unknown.headers["content-type"]
    assert len(other.content) == len(unknown.content)


def test_a_key_of_no_application_is_401(base_url: str) -> None:
    for key in ("nope", f"{A_KEY}{B_KEY}", B_KEY[:-1]):
        error = api_error(lambda key=key: nylas.Client(key, api_uri=base_url).grants.list())
        assert (error.status_code, error.type) == (401, "unauthorized")
    assert raw(base_url, "GET", "/v3/grants", "\xe9t\xe9").status_code == 401


def test_the_control_routes_make_mailboxes_for_the_callers_application(
    base_url: str, client_b: nylas.Client, fake: FakeNylas
) -> None:
    response = raw(
        base_url,
        "PUT",
        "/_simulator/grants/grant-b-2",
        B_KEY,
        json={"provider": "google", "email": "dee@gmail.example"},
    )

    assert response.status_code == 200
    assert fake.applications.owner("grant-b-2") == B_CLIENT
    assert {g.id for g in client_b.grants.list().data} == {GRANT_B, "grant-b-2"}


# Connector credentials ---------------------------------------------------------------------


def test_credentials_are_created_listed_found_and_deleted_through_the_sdk(
    client_b: nylas.Client,
) -> None:
    credentials = client_b.connectors.credentials

    created = credentials.create("google", request_body=connector()).data
    listed = credentials.list("google")
    found = credentials.find("google", created.id).data

    assert (created.name, created.credential_type, created.created_at) == (
        "Org B Google app",
        "connector",
        T0,
    )
    assert created.hashed_data
    assert [c.id for c in listed.data] == [created.id]
    assert listed.next_cursor is None
    assert found == created
    assert credentials.list("microsoft").data == []
    assert credentials.destroy("google", created.id).request_id
    assert api_error(lambda: credentials.find("google", created.id)).status_code == 404
    assert credentials.list("google").data == []


def test_answers_never_carry_the_credential_data(base_url: str) -> None:
    created = raw(base_url, "POST", "/v3/connectors/google/creds", B_KEY, json=connector())
    credential_id = created.json()["data"]["id"]
    found = raw(base_url, "GET", f"/v3/connectors/google/creds/{credential_id}", B_KEY)
    listed = raw(base_url, "GET", "/v3/connectors/google/creds", B_KEY)

    for response in (created, found, listed):
        assert response.status_code == 200
        assert GOOGLE_APP["client_secret"] not in response.text
        assert GOOGLE_APP["client_id"] not in response.text
        assert "credential_data" not in response.text
    assert set(found.json()) == {"request_id", "data"}
    assert set(listed.json()) == {"request_id", "data", "limit", "offset"}
    assert (listed.json()["limit"], listed.json()["offset"]) == (50, 0)


def test_credentials_are_the_callers_applications_only(
    client_a: nylas.Client, client_b: nylas.Client
) -> None:
    mine = client_b.connectors.credentials.create("google", request_body=connector()).data
    theirs = client_a.connectors.credentials

    assert theirs.list("google").data == []
    for call in (
        lambda: theirs.find("google", mine.id),
        lambda: theirs.destroy("google", mine.id),
        lambda: client_b.connectors.credentials.find("microsoft", mine.id),
    ):
        error = api_error(call)
        assert (error.status_code, error.type) == (404, "not_found_error")
    assert client_b.connectors.credentials.find("google", mine.id).data.id == mine.id
    same_name = theirs.create("google", request_body=connector()).data
    assert same_name.id != mine.id


def test_the_same_parameters_answer_the_existing_credential_and_names_are_unique(
    client_b: nylas.Client,
) -> None:
    credentials = client_b.connectors.credentials
    first = credentials.create("google", request_body=connector()).data

    again = credentials.create("google", request_body=connector()).data
    other_secret = {**GOOGLE_APP, "client_secret": "another"}
    error = api_error(
        lambda: credentials.create("google", request_body=connector(credential_data=other_secret))
    )

    assert again.id == first.id
    assert (error.status_code, error.type) == (400, "invalid_request_error")
    assert len(credentials.list("google").data) == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"name": "no data", "credential_type": "connector"}, "credential_data"),
        (connector(credential_data={"client_id": "only-an-id"}), "client_secret"),
        (connector(credential_data=["client_id", "client_secret"]), "credential_data"),
        (connector("x" * 100_000), "name"),
        (connector(credential_type="adminconsent"), "credential_type"),
        ({"credential_type": "connector", "credential_data": GOOGLE_APP}, "name"),
    ],
)
def test_bad_credentials_are_400_invalid_request_errors(
    client_b: nylas.Client, body: dict[str, Any], problem: str
) -> None:
    credentials = client_b.connectors.credentials

    error = api_error(lambda: credentials.create("google", request_body=body))

    assert (error.status_code, error.type) == (400, "invalid_request_error")
    assert problem in str(error)
    assert len(str(error)) < 300  # a 100 KB name is not echoed back
    assert credentials.list("google").data == []


@pytest.mark.parametrize("provider", ["imap", "yahoo", "aol", "x" * 5000])
def test_only_google_and_microsoft_connectors_take_credentials(
    client_b: nylas.Client, provider: str
) -> None:
    credentials = client_b.connectors.credentials

    created = api_error(lambda: credentials.create(provider, request_body=connector()))
    listed = api_error(lambda: credentials.list(provider))

    assert (created.status_code, created.type) == (400, "invalid_request_error")
    assert (listed.status_code, listed.type) == (400, "invalid_request_error")
    assert len(str(created)) < 300


@pytest.mark.parametrize(
    "credential_id", ["a/b", "..", "../../grants", "%2E%2E", "a%2Fb", "x" * 10_000, "null"]
)
def test_credential_ids_that_are_paths_find_nothing(
    client_b: nylas.Client, credential_id: str
) -> None:
    credentials = client_b.connectors.credentials
    credentials.create("google", request_body=connector())

    found = api_error(lambda: credentials.find("google", credential_id))
    deleted = api_error(lambda: credentials.destroy("google", credential_id))

    assert found.status_code == deleted.status_code == 404
    assert len(credentials.list("google").data) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[]", 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),  # nesting too deep to parse
        (json.dumps(connector("y" * 300_000)).encode(), 413),
        (b'{"name": "\\ud800", "credential_type": "connector"}', 400),
    ],
)
def test_bodies_the_sdk_would_not_send_are_refused_in_the_nylas_shape(
    base_url: str, fake: FakeNylas, body: bytes, status: int
) -> None:
    response = raw(base_url, "POST", "/v3/connectors/google/creds", B_KEY, data=body)

    assert response.status_code == status
    document = response.json()
    assert set(document) == {"request_id", "error"}
    assert document["error"]["type"] == "invalid_request_error"
    assert fake.applications.credentials(B_CLIENT, "google") == []


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=abc", "offset=-1", "sort_by=secret", "order_by=up"]
)
def test_bad_list_parameters_are_400(base_url: str, query: str) -> None:
    response = raw(base_url, "GET", f"/v3/connectors/google/creds?{query}", B_KEY)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_credentials_need_a_key(base_url: str) -> None:
    response = requests.post(f"{base_url}/v3/connectors/google/creds", json=connector(), timeout=5)

    assert response.status_code == 401


# Hosted auth through the second application and its credential ----------------------------


def test_a_user_connects_through_the_second_applications_credential(
    client_a: nylas.Client, client_b: nylas.Client, fake: FakeNylas
) -> None:
    credential = client_b.connectors.credentials.create("google", request_body=connector()).data
    url = b_auth_url(
        client_b, provider="google", login_hint="eve@gmail.example", credential_id=credential.id
    )
    assert f"credential_id={credential.id}" in url

    code = code_from(browse(url))
    token = client_b.auth.exchange_code_for_token(
        {"client_id": B_CLIENT, "redirect_uri": CALLBACK, "code": code}
    )

    assert (token.email, token.provider) == ("eve@gmail.example", "google")
    grant = client_b.grants.find(token.grant_id).data
    assert (grant.email, grant.credential_id) == ("eve@gmail.example", credential.id)
    assert fake.credential_of_grant(token.grant_id) == credential.id
    assert fake.applications.owner(token.grant_id) == B_CLIENT
    assert api_error(lambda: client_a.grants.find(token.grant_id)).status_code == 404
    assert token.grant_id not in {g.id for g in client_a.grants.list().data}


def test_without_a_provider_the_credentials_connector_is_used(
    client_b: nylas.Client, fake: FakeNylas
) -> None:
    microsoft = client_b.connectors.credentials.create("microsoft", request_body=connector()).data

    code = code_from(browse(b_auth_url(client_b, credential_id=microsoft.id)))

    token = client_b.auth.exchange_code_for_token(
        {"client_id": B_CLIENT, "redirect_uri": CALLBACK, "code": code}
    )
    assert token.provider == "microsoft"
    assert fake.credential_of_grant(token.grant_id) == microsoft.id


def test_the_second_application_connects_without_a_credential_too(
    client_b: nylas.Client, fake: FakeNylas
) -> None:
    code = code_from(browse(b_auth_url(client_b, login_hint="ann@gmail.example")))

    token = client_b.auth.exchange_code_for_token(
        {"client_id": B_CLIENT, "redirect_uri": CALLBACK, "code": code}
    )

    assert token.grant_id != GRANT_A  # the same address in another application: another grant
    assert fake.credential_of_grant(token.grant_id) is None
    assert client_b.grants.find(token.grant_id).data.credential_id is None


def test_a_wrong_secret_for_the_right_client_id_is_refused(
    client_b: nylas.Client, base_url: str
) -> None:
    code = code_from(browse(b_auth_url(client_b)))
    request = {"client_id": B_CLIENT, "redirect_uri": CALLBACK, "code": code}

    for secret in (A_KEY, "nope", ""):
        with pytest.raises(NylasOAuthError) as caught:
            client_b.auth.exchange_code_for_token({**request, "client_secret": secret})
        assert (caught.value.status_code, caught.value.error) == (401, "invalid_client")
    with pytest.raises(NylasOAuthError) as wrong_app:
        nylas.Client(A_KEY, api_uri=base_url).auth.exchange_code_for_token(
            {**request, "client_id": A_CLIENT}
        )
    assert (wrong_app.value.status_code, wrong_app.value.error) == (400, "invalid_grant")

    assert client_b.auth.exchange_code_for_token(request).grant_id  # not used up by refusals


def test_a_lone_surrogate_secret_is_refused_not_a_crash(
    client_b: nylas.Client, base_url: str
) -> None:
    code = code_from(browse(b_auth_url(client_b)))
    fields = {"grant_type": "authorization_code", "client_id": B_CLIENT, "client_secret": "@"}
    fields.update(code=code, redirect_uri=CALLBACK)
    body = json.dumps(fields).replace('"@"', '"\\ud800"')  # JSON can spell a lone surrogate

    response = requests.post(f"{base_url}/v3/connect/token", data=body, timeout=5)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "credential",
    ["unknown", "of-the-other-application", "of-another-connector", "", "../x", "z" * 5000],
)
def test_a_credential_hosted_auth_cannot_use_is_answered_in_place(
    client_a: nylas.Client, client_b: nylas.Client, fake: FakeNylas, credential: str
) -> None:
    ids = {
        "of-the-other-application": client_a.connectors.credentials.create(
            "google", request_body=connector()
        ).data.id,
        "of-another-connector": client_b.connectors.credentials.create(
            "microsoft", request_body=connector()
        ).data.id,
    }
    url = b_auth_url(client_b, provider="google", credential_id=ids.get(credential, credential))

    response = browse(url)

    assert response.status_code == 400
    document = response.json()
    assert document["error"]["type"] == "invalid_request_error"
    assert "credential_id" in document["error"]["message"]
    assert len(document["error"]["message"]) < 300
    assert [g["id"] for g in fake.grants()] == [GRANT_A, GRANT_B]
    assert fake.drain_notifications() == []


def test_an_unknown_client_id_cannot_start_hosted_auth(client_b: nylas.Client) -> None:
    response = browse(b_auth_url(client_b, client_id="org-c-client"))

    assert response.status_code == 400
    assert "client_id" in response.json()["error"]["message"]


def test_deleting_a_credential_expires_the_grants_that_use_it(
    client_b: nylas.Client, fake: FakeNylas
) -> None:
    credential = client_b.connectors.credentials.create("google", request_body=connector()).data
    code = code_from(browse(b_auth_url(client_b, credential_id=credential.id)))
    grant_id = client_b.auth.exchange_code_for_token(
        {"client_id": B_CLIENT, "redirect_uri": CALLBACK, "code": code}
    ).grant_id
    fake.drain_notifications()

    client_b.connectors.credentials.destroy("google", credential.id)

    assert client_b.grants.find(grant_id).data.grant_status == "invalid"
    assert client_b.grants.find(GRANT_B).data.grant_status == "valid"
    [expired] = fake.drain_notifications()
    assert (expired["type"], expired["data"]["object"]["grant_id"]) == ("grant.expired", grant_id)


# Webhook secrets per application -----------------------------------------------------------


class Receiver:
    """A webhook endpoint keeping each body and its signature."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []

    async def endpoint(self, request: Request) -> JSONResponse:
        self.received.append((await request.body(), request.headers["x-nylas-signature"]))
        return JSONResponse({"status": "accepted"})


@pytest.fixture
def hook() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with serve(Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])) as url:
        yield receiver, f"{url}/hook"


def test_each_applications_notifications_are_signed_with_its_secret(
    fake: FakeNylas, hook: tuple[Receiver, str]
) -> None:
    receiver, url = hook
    fake.create_folder(GRANT_A, "A folder")
    fake.create_folder(GRANT_B, "B folder")
    app = build_nylas_api(fake, WebhookTarget(url, "deployment-secret"))

    with serve(app) as simulator_url:
        drained = raw(simulator_url, "POST", "/_simulator/notifications/drain", B_KEY)

    assert drained.json()["delivered"] == 2
    signed = {}
    for body, signature in receiver.received:
        data = json.loads(body)["data"]
        grant_id = data["object"]["grant_id"]
        signed[grant_id] = data["application_id"]
        secret = B_HOOK_SECRET if grant_id == GRANT_B else "deployment-secret"
        assert hmac.compare_digest(signature, sign(body, secret))
    assert signed == {GRANT_A: APPLICATION_ID, GRANT_B: B_CLIENT}


def test_sdk_errors_for_another_application_are_plain_api_errors(client_a: nylas.Client) -> None:
    with pytest.raises(NylasApiError) as caught:
        client_a.grants.find(GRANT_B)

    assert caught.value.request_id
    assert caught.value.status_code == 404
