"""Malformed values a token holder sends the `/v1` API, on SQLite and PostgreSQL: each is a
4xx with a named reason, never a 500.

Schemathesis (``tests/integration/test_openapi.py``) generates values from the OpenAPI
document, which describes ASCII integers and cursors crmsync made; it never tries ``²``, a
5,000-digit number, a cursor nested 3,000 deep or holding ``true``, or a NUL, which PostgreSQL
cannot store or even compare with. The security review of December 2026 (L3) found each of
these to be a 500; this table holds every one, one row each.

An email id in a path that is not a number is 404 ``unknown_email``, like ``abc``: it names
no email. Every other row is 400.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from storage.engine import create_database_engine
from storage.migrate import upgrade
from tests.integration.conftest import GMAIL_GRANT
from tests.support.email_sync import AUTH, EmailSyncWorld
from tests.support.harness import empty_database, settings_for
from tests.support.services import REDIS_URL, SESSION_TOKEN

REP = {"email": "ann@acme.example", "grant_id": GMAIL_GRANT, "provider": "google"}
SUBSCRIPTION = {"url": "https://crm.example/hooks", "status": "disabled"}
SUB = "{sub}"  # replaced by the subscription created for the test
DIGITS_5000 = "1" * 5000
ITEM = (
    b'{"title": "Call", "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:30:00Z",'
    b' "changed_at": "2026-11-30T00:00:00Z", "description": "a\\u0000b"}'
)


def cursor(json_text: str) -> str:
    """A cursor made of ``json_text`` exactly as written (so ``1e23`` stays a float)."""
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


NESTED = "[" * 3000 + "]" * 3000


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    reason: str
    params: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400


def row(name: str, case: Case, *marks: pytest.MarkDecorator) -> Any:
    return pytest.param(case, id=name, marks=marks)


CASES = [
    # Unicode digits: str.isdigit() is true, int() refuses ² (and took a fullwidth 5 as 5).
    row("limit ² on the feed", Case("GET", "/v1/changes", "invalid_limit", {"limit": "²"})),
    row(
        "limit U+FF15 (fullwidth 5) on the feed",
        Case("GET", "/v1/changes", "invalid_limit", {"limit": "\uff15"}),
    ),
    row("wait ²", Case("GET", "/v1/changes", "invalid_wait", {"wait": "²"})),
    row(
        "wait U+0661 (Arabic-Indic 1)",
        Case("GET", "/v1/changes", "invalid_wait", {"wait": "\u0661"}),
    ),
    row(
        "heartbeat ²",
        Case("GET", "/v1/changes/stream", "invalid_heartbeat", {"heartbeat": "²"}),
    ),
    row(
        "contacts limit ²",
        Case("GET", "/v1/reps/rep-ann/contacts", "invalid_limit", {"limit": "²"}),
    ),
    row(
        "emails limit ²",
        Case("GET", "/v1/emails", "invalid_limit", {"rep_id": "rep-ann", "limit": "²"}),
    ),
    row(
        "deliveries limit ²",
        Case("GET", f"/v1/subscriptions/{SUB}/deliveries", "invalid_limit", {"limit": "²"}),
    ),
    row(
        "action items limit ²",
        Case("GET", "/v1/reps/rep-ann/action-items", "invalid_limit", {"limit": "²"}),
    ),
    row("email id ²", Case("GET", "/v1/emails/²", "unknown_email", status=404)),
    row("hide email id ²", Case("POST", "/v1/emails/²/hide", "unknown_email", status=404)),
    # More digits than Python's int() reads (4,300).
    row(
        "limit of 5,000 digits", Case("GET", "/v1/changes", "invalid_limit", {"limit": DIGITS_5000})
    ),
    row("wait of 5,000 digits", Case("GET", "/v1/changes", "invalid_wait", {"wait": DIGITS_5000})),
    row(
        "heartbeat of 5,000 digits",
        Case("GET", "/v1/changes/stream", "invalid_heartbeat", {"heartbeat": DIGITS_5000}),
    ),
    row(
        "email id of 5,000 digits",
        Case("GET", f"/v1/emails/{DIGITS_5000}", "unknown_email", status=404),
    ),
    # Bracketed hosts: urlsplit raises ValueError.
    *(
        row(
            f"subscription url {url}",
            Case(
                "POST",
                "/v1/subscriptions",
                "invalid_subscription",
                body=b'{"status": "disabled", "url": "' + url.encode() + b'"}',
            ),
        )
        for url in ("http://[127.0.0.1]/", "http://[::1/", "http://[zz]/", "http://a]b/")
    ),
    # Feed cursors: nested, huge, boolean, negative.
    *(
        row(
            f"feed cursor {name}",
            Case("GET", "/v1/changes", "invalid_cursor", {"cursor": cursor(text)}),
        )
        for name, text in [
            ("nested 3,000 deep", NESTED),
            ("with s nested 3,000 deep", '{"t":0,"s":' + NESTED + "}"),
            ("nested under the length bound", "[" * 300 + "]" * 300),
            ("s = 10**23", '{"t":0,"s":100000000000000000000000}'),
            ("s = 1e23", '{"t":0,"s":1e23}'),
            ("t = 2**63", '{"t":9223372036854775808,"s":0}'),
            ("t = 1e23", '{"t":1e23,"s":1}'),
            ("t and s true", '{"t":true,"s":true}'),
            ("s = -1", '{"t":0,"s":-1}'),
            ("s = 5,000 digits", '{"t":0,"s":' + DIGITS_5000 + "}"),
        ]
    ),
    row(
        "stream cursor t and s true",
        Case(
            "GET", "/v1/changes/stream", "invalid_cursor", {"cursor": cursor('{"t":true,"s":true}')}
        ),
    ),
    row(
        "stream Last-Event-ID s = 10**23",
        Case(
            "GET",
            "/v1/changes/stream",
            "invalid_cursor",
            headers={"Last-Event-ID": cursor('{"t":0,"s":100000000000000000000000}')},
        ),
    ),
    # Page cursors of emails, deliveries, contacts and action items.
    *(
        row(
            f"email cursor {name}",
            Case(
                "GET",
                "/v1/emails",
                "invalid_cursor",
                {"rep_id": "rep-ann", "cursor": cursor('{"date":"2026-11-01T00:00:00Z",' + tail)},
            ),
        )
        for name, tail in [
            ("id = 1e23", '"id":1e23}'),
            ("id = 10**23", '"id":100000000000000000000000}'),
            ("id true", '"id":true}'),
        ]
    ),
    row(
        "email cursor date with a NUL",
        Case(
            "GET",
            "/v1/emails",
            "invalid_cursor",
            {"rep_id": "rep-ann", "cursor": cursor('{"date":"2026-11-01\\u0000","id":1}')},
        ),
    ),
    *(
        row(
            f"deliveries cursor {name}",
            Case(
                "GET",
                f"/v1/subscriptions/{SUB}/deliveries",
                "invalid_cursor",
                {"cursor": cursor(text)},
            ),
        )
        for name, text in [
            ("before = 1e23", '{"before":1e23}'),
            ("before = 10**23", '{"before":100000000000000000000000}'),
            ("before true", '{"before":true}'),
        ]
    ),
    *(
        row(
            f"{what} cursor {name}",
            Case("GET", f"/v1/reps/rep-ann/{what}", "invalid_cursor", {"cursor": cursor(text)}),
        )
        for what in ("contacts", "action-items")
        for name, text in [
            ("after with a NUL", '{"after":"c\\u00001"}'),
            ("after nested", '{"after":[[["c-1"]]]}'),
            ("without after", "{}"),
        ]
    ),
    # NUL in ids (path and query) and in text (bodies); controls and bidi overrides in ids.
    row("rep id a%00b (GET)", Case("GET", "/v1/reps/a%00b", "invalid_rep_id")),
    row("rep id a%00b (PUT)", Case("PUT", "/v1/reps/a%00b", "invalid_rep_id", body=b"{}")),
    row("rep id with ESC", Case("GET", "/v1/reps/a%1Bb", "invalid_rep_id")),
    row("rep id with U+202E", Case("GET", "/v1/reps/a%E2%80%AEb", "invalid_rep_id")),
    row("feed rep_id a\\0b", Case("GET", "/v1/changes", "invalid_rep_id", {"rep_id": "a\x00b"})),
    row(
        "stream rep_id a\\0b",
        Case("GET", "/v1/changes/stream", "invalid_rep_id", {"rep_id": "a\x00b"}),
    ),
    row("emails rep_id a\\0b", Case("GET", "/v1/emails", "invalid_rep_id", {"rep_id": "a\x00b"})),
    row(
        "emails contact_id a\\0b",
        Case("GET", "/v1/emails", "invalid_contact_id", {"contact_id": "a\x00b"}),
    ),
    row(
        "emails account_ref a\\0b",
        Case("GET", "/v1/emails", "invalid_account_ref", {"account_ref": "a\x00b"}),
    ),
    row(
        "subscription id sub%00x",
        Case("GET", "/v1/subscriptions/sub%00x", "invalid_subscription_id"),
    ),
    row(
        "contact id c%00x",
        Case("GET", "/v1/reps/rep-ann/contacts/c%00x", "invalid_contact_id"),
    ),
    row(
        "contact name with a NUL",
        Case(
            "PUT",
            "/v1/reps/rep-ann/contacts/c-1",
            "invalid_text",
            body=b'{"email": "bob@example.com", "name": "Bo\\u0000b"}',
        ),
    ),
    row(
        "bulk contact name with a NUL",
        Case(
            "PUT",
            "/v1/reps/rep-ann/contacts",
            "invalid_text",
            body=b'{"contacts": [{"id": "c-1", "email": "bob@example.com", "name": "\\u0000"}]}',
        ),
    ),
    row(
        "bulk contact id with U+202E",
        Case(
            "PUT",
            "/v1/reps/rep-ann/contacts",
            "invalid_contact",
            body=b'{"contacts": [{"id": "c\\u202e1", "email": "bob@example.com"}]}',
        ),
    ),
    row(
        "rep email with a NUL",
        Case("PUT", "/v1/reps/rep-bob", "invalid_text", body=b'{"email": "bob\\u0000@x.example"}'),
    ),
    row(
        "subscription description with a NUL",
        Case(
            "POST",
            "/v1/subscriptions",
            "invalid_text",
            body=b'{"url": "https://crm.example/h", "status": "disabled",'
            b' "description": "\\u0000"}',
        ),
    ),
    row(
        "subscription description with a NUL (PATCH)",
        Case(
            "PATCH", f"/v1/subscriptions/{SUB}", "invalid_text", body=b'{"description": "a\\u0000"}'
        ),
    ),
    row(
        "action item description with a NUL",
        Case("PUT", "/v1/reps/rep-ann/action-items/item-1", "invalid_text", body=ITEM),
    ),
    row(
        "a NUL in a key",
        Case("PUT", "/v1/reps/rep-bob", "invalid_text", body=b'{"email\\u0000": "b@x.example"}'),
    ),
]


@dataclass(frozen=True)
class Api:
    """The API on one database, with a rep and a subscription, shared by the table's rows:
    each row is a refusal, which changes nothing, so none needs a world of its own."""

    client: TestClient
    subscription_id: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('malformed') / 'crmsync.db'}"
        engine = create_database_engine(url)
        upgrade(engine)
        engine.dispose()
    else:
        url = request.getfixturevalue("postgres_database_url")
    namespace = f"crmsync-test-{SESSION_TOKEN}-malformed-{request.param}"
    runtime = Runtime.from_settings(settings_for(url, namespace))
    try:
        with TestClient(build_app(runtime=runtime)) as client:
            assert client.put("/v1/reps/rep-ann", json=REP, headers=AUTH).status_code == 201
            created = client.post("/v1/subscriptions", json=SUBSCRIPTION, headers=AUTH)
            assert created.status_code == 201, created.text
            yield Api(client, created.json()["id"])
    finally:
        runtime.close()
        client = redis.Redis.from_url(REDIS_URL)
        for key in list(client.scan_iter(match=f"{namespace}:*", count=1000)):
            client.delete(key)
        client.close()
        if request.param == "postgresql":
            empty_database(url)


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_value_is_refused_with_a_reason(api: Api, case: Case) -> None:
    path = case.path.replace(SUB, api.subscription_id)
    headers = {**case.headers}
    if case.body is not None:
        headers["Content-Type"] = "application/json"

    response = api.client.request(
        case.method,
        path,
        params=case.params,
        content=case.body,
        headers={**headers, **AUTH},
    )

    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert error["reason"] == case.reason
    assert error["message"]


def test_a_nul_in_a_body_is_named_where_it_is(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    contacts = [{"id": f"c-{n}", "email": f"p{n}@example.com"} for n in range(5)]
    contacts[3]["name"] = "x\x00y"

    response = world.api("PUT", "/v1/reps/rep-ann/contacts", json={"contacts": contacts})

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("contacts[3].name contains a NUL")
    assert world.api("GET", "/v1/reps/rep-ann/contacts").json()["data"] == []


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(world: EmailSyncWorld) -> None:
    world.put_rep("rep-ann", **REP)
    response = world.client.put(
        "/v1/reps/rep-ann/contacts/c-1",
        content=b'{"emails": ["carl@client.example"], "name": "g\\\\u0000"}',
        headers={**AUTH, "Content-Type": "application/json"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["name"] == "g\\u0000"
