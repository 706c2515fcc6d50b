"""The simulator's other control routes (mailboxes, messages, consent, fill, bounce) read
their bodies as hostile input: a body that is not a JSON object, or too big, is a 4xx with a
reason, never a 500, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from simulator.control_bodies import MESSAGE_BODY_BYTES, SMALL_BODY_BYTES
from simulator.mailbox import FakeNylas
from tests.support.fake_api import SettableClock, fake_api_client

GMAIL = "grant-gmail"
T0 = 1_790_000_000


@pytest.fixture
def fake() -> FakeNylas:
    fake = FakeNylas(clock=SettableClock(T0))
    fake.add_mailbox(GMAIL, "google", "ann@gmail.example")
    return fake


@pytest.fixture
def client(fake: FakeNylas) -> Iterator[TestClient]:
    with fake_api_client(fake) as client:
        yield client


NESTED = "[" * 8_000 + "]" * 8_000  # deeper than the JSON parser recurses, under the limit
BIG = json.dumps({"padding": "p" * SMALL_BODY_BYTES}).encode()
HUGE_MESSAGE = json.dumps({"body": "p" * MESSAGE_BODY_BYTES}).encode()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    [
        ("PUT", "/grants/grant-new", b"not json", 400, "JSON"),
        ("PUT", "/grants/grant-new", b"", 400, "JSON"),
        ("PUT", "/grants/grant-new", b"[1]", 400, "object"),
        ("PUT", "/grants/grant-new", NESTED.encode(), 400, "JSON"),
        ("PUT", "/grants/grant-new", BIG, 413, "at most"),
        ("PUT", "/grants/grant-new", b'{"provider": "aol", "email": "x@y"}', 400, "provider"),
        ("PUT", f"/grants/{GMAIL}/messages/m-1", b"\xff\xfe", 400, "JSON"),
        ("PUT", f"/grants/{GMAIL}/messages/m-1", b'"a string"', 400, "object"),
        ("PUT", f"/grants/{GMAIL}/messages/m-1", HUGE_MESSAGE, 413, "at most"),
        ("PUT", "/grants/nobody/messages/m-1", b"{}", 400, "mailbox"),
        ("PUT", "/consent/ann@gmail.example", b"null", 400, "object"),
        ("PUT", "/consent/ann@gmail.example", b'{"refuse": "yes"}', 400, "refuse"),
        ("POST", f"/grants/{GMAIL}/fill", b"{", 400, "JSON"),
        ("POST", f"/grants/{GMAIL}/fill", b'{"count": 5}', 400, "start"),
        ("POST", f"/grants/{GMAIL}/fill", b'{"count": "many", "start": 0, "end": 1}', 400, "count"),
        ("POST", f"/grants/{GMAIL}/fill", b'{"count": 1e12, "start": 0, "end": 1}', 400, "count"),
        ("POST", f"/grants/{GMAIL}/fill", b'{"count": -1, "start": 0, "end": 1}', 400, "count"),
        ("POST", f"/grants/{GMAIL}/messages/m-1/bounce", b"[]", 400, "object"),
        ("POST", f"/grants/{GMAIL}/messages/m-none/bounce", b"", 400, "no message"),
    ],
)
def test_a_hostile_control_body_is_refused_with_a_reason_and_changes_nothing(
    fake: FakeNylas,
    client: TestClient,
    method: str,
    path: str,
    body: bytes,
    status: int,
    reason: str,
) -> None:
    grants_before = sorted(g["id"] for g in fake.grants())

    answer = client.request(method, f"/_simulator{path}", content=body)

    assert answer.status_code == status, answer.text
    assert reason in answer.json()["error"]["message"]
    assert sorted(g["id"] for g in fake.grants()) == grants_before
    assert fake.message(GMAIL, "m-1") is None
    assert fake.drain_notifications() == []


def test_a_polite_control_body_still_works(fake: FakeNylas, client: TestClient) -> None:
    created = client.put(
        "/_simulator/grants/grant-new", json={"provider": "microsoft", "email": "b@x.example"}
    )
    put = client.put(f"/_simulator/grants/{GMAIL}/messages/m-1", json={"subject": "Hi"})
    bounced = client.post(f"/_simulator/grants/{GMAIL}/messages/m-1/bounce")

    assert (created.status_code, put.status_code, bounced.status_code) == (200, 200, 200)
    assert fake.message(GMAIL, "m-1") is not None
