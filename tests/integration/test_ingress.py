"""The Nylas ingress over HTTP, against the real Redis: what is queued and what is refused.

Refused requests (401, 400, 413) must leave every queue empty and mark no notification id as
seen, so that nothing is lost when Nylas sends the same notification again.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterator

import pytest
import redis
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from simulator import notifications as sim
from tests.support.harness import nothing_queued, queue_lengths, settings_for
from tests.support.nylas import signed
from tests.support.services import WEBHOOK_SECRET

URL = "/webhooks/nylas"


@pytest.fixture
def client(
    sqlite_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[TestClient]:
    """The app on the real Redis; these tests never reach the database."""
    runtime = make_runtime(settings_for(sqlite_url, redis_namespace, max_body_bytes=64 * 1024))
    with TestClient(build_app(runtime=runtime)) as test_client:
        yield test_client


def test_challenge_is_echoed_as_plain_text(client: TestClient) -> None:
    response = client.get(URL, params={"challenge": "bc609b38-c81f-47fb-a275-1d9bd61a968b"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "bc609b38-c81f-47fb-a275-1d9bd61a968b"
    assert "chunked" not in response.headers.get("transfer-encoding", "")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_challenge_longer_than_nylas_sends_is_not_echoed(client: TestClient) -> None:
    response = client.get(URL, params={"challenge": "<script>" + "x" * 60_000})

    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "invalid_challenge"


def test_challenge_keeps_special_characters_exactly(client: TestClient) -> None:
    value = "a b+c/d=e&?\"'"
    assert client.get(URL, params={"challenge": value}).text == value


def test_verification_without_challenge_is_400(client: TestClient) -> None:
    response = client.get(URL)

    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "missing_challenge"


def test_signed_notification_is_queued_once_and_a_retry_is_a_duplicate(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    body, headers = signed(sim.message_created("grant-1"))

    first = client.post(URL, content=body, headers=headers)
    retry = client.post(URL, content=body, headers=headers)

    assert first.status_code == 200
    assert first.json() == {"status": "accepted", "queued": 1, "duplicates": 0}
    assert retry.status_code == 200
    assert retry.json() == {"status": "accepted", "queued": 0, "duplicates": 1}
    lengths = queue_lengths(redis_client, redis_namespace)
    assert lengths["notifications.messages"] == 1
    assert sum(lengths.values()) == 1


@pytest.mark.parametrize(
    ("document", "queue"),
    [
        (sim.message_created("g"), "notifications.messages"),
        (sim.event_deleted("g", "event-1", "primary"), "notifications.events"),
        (sim.grant_expired("g"), "notifications.grants"),
    ],
)
def test_each_kind_of_work_has_its_own_queue(
    client: TestClient,
    redis_client: redis.Redis,
    redis_namespace: str,
    document: dict[str, object],
    queue: str,
) -> None:
    body, headers = signed(document)

    assert client.post(URL, content=body, headers=headers).status_code == 200

    lengths = queue_lengths(redis_client, redis_namespace)
    assert lengths[queue] == 1
    assert sum(lengths.values()) == 1


def test_v2_body_queues_each_delta(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    document = sim.v2_body(sim.v2_message_delta("acct", "m-1"), sim.v2_message_delta("acct", "m-2"))
    body, headers = signed(document)

    response = client.post(URL, content=body, headers=headers)

    assert response.json()["queued"] == 2
    assert queue_lengths(redis_client, redis_namespace)["notifications.messages"] == 2


def test_a_type_without_a_handler_is_queued_to_be_kept(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    document = sim.envelope("notetaker.media", {"id": "n-1"}, source="/nylas/notetaker")
    body, headers = signed(document)

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "queued": 1, "duplicates": 0}
    assert queue_lengths(redis_client, redis_namespace)["notifications.other"] == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_signature"),
        ({"X-Nylas-Signature": "0" * 64}, "bad_signature"),
        ({"X-Nylas-Signature": sim.sign(b"another body", WEBHOOK_SECRET)}, "bad_signature"),
        ({"X-Nylas-Signature": "not hex at all"}, "bad_signature"),
    ],
)
def test_bad_signature_is_401_and_queues_nothing(
    client: TestClient,
    redis_client: redis.Redis,
    redis_namespace: str,
    headers: dict[str, str],
    reason: str,
) -> None:
    body = sim.encode(sim.message_created("grant-1"))

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["reason"] == reason
    assert nothing_queued(redis_client, redis_namespace)


def test_signature_from_another_secret_is_401(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    body, headers = signed(sim.message_created("grant-1"), secret="someone-else")

    assert client.post(URL, content=body, headers=headers).status_code == 401
    assert nothing_queued(redis_client, redis_namespace)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"", "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"text"', "not_an_object"),
        (b'{"id": "x", "data": {}}', "missing_type"),
        (b'{"type": "message.created", "data": {}}', "missing_id"),
        (b'{"id": "x", "type": "message.created"}', "invalid_data"),
        (b'{"deltas": []}', "invalid_deltas"),
    ],
)
def test_malformed_body_is_400_and_queues_nothing(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str, body: bytes, reason: str
) -> None:
    headers = {"X-Nylas-Signature": sim.sign(body, WEBHOOK_SECRET)}

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["reason"] == reason
    assert nothing_queued(redis_client, redis_namespace)


def test_oversized_body_is_413_by_content_length(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    document = sim.message_created("grant-1", body="x" * 70_000)
    body, headers = signed(document)

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 413
    assert response.json()["error"]["reason"] == "payload_too_large"
    assert nothing_queued(redis_client, redis_namespace)


def test_oversized_streamed_body_without_length_is_413(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    body, headers = signed(sim.message_created("grant-1", body="x" * 70_000))

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = client.post(URL, content=chunks(), headers=headers)

    assert response.status_code == 413
    assert nothing_queued(redis_client, redis_namespace)


@pytest.mark.parametrize("signed_part", ["compressed", "decompressed"])
def test_gzip_body_is_accepted_with_either_signature(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str, signed_part: str
) -> None:
    plain = sim.encode(sim.message_created("grant-1"))
    compressed = gzip.compress(plain)
    signature = sim.sign(compressed if signed_part == "compressed" else plain, WEBHOOK_SECRET)
    headers = {"Content-Encoding": "gzip", "X-Nylas-Signature": signature}

    response = client.post(URL, content=compressed, headers=headers)

    assert response.status_code == 200
    assert response.json()["queued"] == 1
    assert queue_lengths(redis_client, redis_namespace)["notifications.messages"] == 1


def test_gzip_bomb_is_413_and_queues_nothing(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    bomb = gzip.compress(b"{" + b" " * (20 * 1024 * 1024) + b"}")
    headers = {"Content-Encoding": "gzip", "X-Nylas-Signature": sim.sign(bomb, WEBHOOK_SECRET)}

    response = client.post(URL, content=bomb, headers=headers)

    assert response.status_code == 413
    assert nothing_queued(redis_client, redis_namespace)


def test_queue_unreachable_is_503_with_retry_after(
    sqlite_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> None:
    settings = settings_for(sqlite_url, redis_namespace, redis_url="redis://127.0.0.1:1/0")
    body, headers = signed(sim.message_created("grant-1"))

    with TestClient(build_app(runtime=make_runtime(settings))) as unreachable:
        response = unreachable.post(URL, content=body, headers=headers)

    assert response.status_code == 503
    assert response.json()["error"]["reason"] == "queue_unavailable"
    assert response.headers["retry-after"] == "5"


def test_a_queue_outage_is_logged_once_not_once_per_refused_request(
    sqlite_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nylas keeps delivering while Redis is down: every request is a 503, and the log says
    # that the queue is unreachable at most once (workers.redis_outages), not once each.
    settings = settings_for(sqlite_url, redis_namespace, redis_url="redis://127.0.0.1:1/0")
    app = build_app(runtime=make_runtime(settings))
    with TestClient(app) as unreachable, caplog.at_level(logging.WARNING):
        for n in range(20):
            body, headers = signed(sim.message_created("grant-1", message_id=f"m-{n}"))
            assert unreachable.post(URL, content=body, headers=headers).status_code == 503

    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [line for line in lines if "notification request refused" in line]
    assert len([line for line in lines if line.startswith("Redis unreachable")]) <= 1
    assert all(r.levelno < logging.CRITICAL for r in caplog.records)


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checked": ["database", "redis"]}


def test_readiness_names_the_dependency_that_is_down(
    sqlite_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> None:
    settings = settings_for(sqlite_url, redis_namespace, redis_url="redis://127.0.0.1:1/0")
    with TestClient(build_app(runtime=make_runtime(settings))) as unreachable:
        response = unreachable.get("/readyz")

    assert response.status_code == 503
    assert set(response.json()["failed"]) == {"redis"}


def test_metrics_count_outcomes(client: TestClient) -> None:
    body, headers = signed(sim.message_created("grant-1"))
    client.post(URL, content=body, headers=headers)
    client.post(URL, content=b"{", headers={"X-Nylas-Signature": "0" * 64})

    text = client.get("/metrics").text

    assert 'crmsync_notifications_total{outcome="queued",trigger="message.created"}' in text
    assert 'crmsync_notification_requests_rejected_total{reason="bad_signature"}' in text
