"""What an attacker sends the Nylas ingress before it has authenticated, over real HTTP.

Before a request is authenticated the ingress does bounded, linear work off the event loop
(DESIGN.md X1): one HMAC over the bytes and, for a gzip body with a well-formed signature,
a decompression capped in size and in members. Every unauthenticated failure is the same 401,
nothing is queued, and signed notifications on other connections keep being answered.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
import requests
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.notifications import MAX_V2_DELTAS
from simulator import notifications as sim
from tests.support.harness import nothing_queued, queue_lengths, settings_for
from tests.support.live_server import serve
from tests.support.nylas import signed
from tests.support.services import WEBHOOK_SECRET

URL = "/webhooks/nylas"
LIMIT = 4 * 1024 * 1024
# Nylas gives up on an answer after 10 seconds.
NYLAS_DEADLINE_SECONDS = 10.0
WRONG_SIGNATURE = "0" * 64


def many_empty_members(total_bytes: int = LIMIT - 100) -> bytes:
    """About 210,000 empty gzip members: quadratic to decompress member by member."""
    member = gzip.compress(b"", 9, mtime=0)
    return member * (total_bytes // len(member))


def inflating_to(size: int) -> bytes:
    """One gzip member that inflates to ``size`` bytes (small on the wire)."""
    return gzip.compress(b" " * size, 9, mtime=0)


def gzip_headers(signature: str) -> dict[str, str]:
    return {"Content-Encoding": "gzip", "X-Nylas-Signature": signature}


@pytest.fixture
def client(
    sqlite_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[TestClient]:
    runtime = make_runtime(settings_for(sqlite_url, redis_namespace, max_body_bytes=LIMIT))
    with TestClient(build_app(runtime=runtime)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("many empty members", many_empty_members()),
        ("inflates past the limit", inflating_to(LIMIT + 1)),
        ("inflates to just the limit", inflating_to(LIMIT)),
        ("five members", gzip.compress(b"{}", mtime=0) * 5),
        ("truncated", inflating_to(1000)[:-9]),
        ("not gzip at all", b"\x1f\x8b" + b"\x00" * 100),
    ],
)
def test_every_unauthenticated_gzip_body_is_the_same_401(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str, name: str, body: bytes
) -> None:
    response = client.post(URL, content=body, headers=gzip_headers(WRONG_SIGNATURE))

    assert response.status_code == 401, name
    assert response.json()["error"]["reason"] == "bad_signature"
    assert nothing_queued(redis_client, redis_namespace)


@pytest.mark.parametrize("signature", ["", "zz" * 32, "0" * 63, "0" * 65, "sha256=" + "0" * 64])
def test_a_signature_that_cannot_match_is_refused_without_decompressing(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str, signature: str
) -> None:
    response = client.post(URL, content=many_empty_members(), headers=gzip_headers(signature))

    assert response.status_code == 401
    assert nothing_queued(redis_client, redis_namespace)


def test_a_signed_body_of_more_members_than_nylas_sends_is_400(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    body = (
        gzip.compress(b'{"a":', mtime=0)
        + gzip.compress(b"1", mtime=0) * 4
        + gzip.compress(b"}", mtime=0)
    )

    response = client.post(URL, content=body, headers=gzip_headers(sim.sign(body, WEBHOOK_SECRET)))

    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "too_many_gzip_members"
    assert nothing_queued(redis_client, redis_namespace)


def test_a_notification_in_four_members_signed_either_way_is_queued(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    plain, _ = signed(sim.message_created("grant-1"))
    quarter = len(plain) // 4
    parts = [plain[:quarter], plain[quarter : 2 * quarter], plain[2 * quarter : 3 * quarter]]
    compressed = b"".join(gzip.compress(p, mtime=0) for p in [*parts, plain[3 * quarter :]])

    over_compressed = client.post(
        URL, content=compressed, headers=gzip_headers(sim.sign(compressed, WEBHOOK_SECRET))
    )
    over_plain = client.post(
        URL, content=compressed, headers=gzip_headers(sim.sign(plain, WEBHOOK_SECRET))
    )

    assert over_compressed.json()["queued"] == 1
    assert over_plain.json()["duplicates"] == 1
    assert queue_lengths(redis_client, redis_namespace)["notifications.messages"] == 1


def test_signed_notifications_are_answered_while_an_attacker_loops_the_worst_body(
    sqlite_url: str,
    redis_namespace: str,
    redis_client: redis.Redis,
    make_runtime: Callable[[Settings], Runtime],
) -> None:
    runtime = make_runtime(settings_for(sqlite_url, redis_namespace, max_body_bytes=LIMIT))
    attacks = [many_empty_members(), inflating_to(LIMIT)]
    stop = threading.Event()
    attack_statuses: list[int] = []

    with serve(build_app(runtime=runtime)) as base:

        def attacker(body: bytes) -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    answer = session.post(
                        base + URL, data=body, headers=gzip_headers(WRONG_SIGNATURE), timeout=60
                    )
                    attack_statuses.append(answer.status_code)

        threads = [threading.Thread(target=attacker, args=(b,), daemon=True) for b in attacks]
        for thread in threads:
            thread.start()
        try:
            answers: list[tuple[int, float]] = []
            health: list[float] = []
            with requests.Session() as session:
                for number in range(20):
                    body, headers = signed(sim.message_created("grant-1", message_id=f"m-{number}"))
                    started = time.monotonic()
                    answer = session.post(base + URL, data=body, headers=headers, timeout=30)
                    answers.append((answer.status_code, time.monotonic() - started))
                    started = time.monotonic()
                    assert session.get(base + "/healthz", timeout=30).status_code == 200
                    health.append(time.monotonic() - started)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

    assert attack_statuses, "the attacker's requests were answered"
    assert set(attack_statuses) == {401}
    assert [status for status, _ in answers] == [200] * 20
    # Bounds of correctness, not speed: Nylas's own deadline, and a health check that is
    # not held up behind the attacker's work.
    assert max(seconds for _, seconds in answers) < NYLAS_DEADLINE_SECONDS
    assert max(health) < NYLAS_DEADLINE_SECONDS / 2
    assert queue_lengths(redis_client, redis_namespace)["notifications.messages"] == 20


def test_a_signed_v2_body_of_too_many_deltas_is_400_and_nothing_queued(
    client: TestClient, redis_client: redis.Redis, redis_namespace: str
) -> None:
    deltas = [sim.v2_message_delta("account-1", f"m-{n}") for n in range(MAX_V2_DELTAS + 1)]
    body, headers = signed(sim.v2_body(*deltas))

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "too_many_deltas"
    assert nothing_queued(redis_client, redis_namespace)


def test_a_failed_signature_is_answered_at_the_configured_pace_and_nothing_else_waits(
    sqlite_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> None:
    """One connection looping unsigned bodies is answered at ``CRMSYNC_REFUSAL_DELAY_MS``;
    signed notifications and other refusals are answered at once."""
    runtime = make_runtime(
        settings_for(sqlite_url, redis_namespace, max_body_bytes=LIMIT, refusal_delay_ms=300)
    )
    with TestClient(build_app(runtime=runtime)) as test_client:
        started = time.monotonic()
        refused = test_client.post(URL, content=b"{}", headers={"X-Nylas-Signature": "0" * 64})
        refused_after = time.monotonic() - started
        body, headers = signed(sim.message_created("grant-1"))
        started = time.monotonic()
        accepted = test_client.post(URL, content=body, headers=headers)
        accepted_after = time.monotonic() - started

    assert refused.status_code == 401
    assert refused_after >= 0.3  # the pace is the feature, not a measure of speed
    assert accepted.status_code == 200
    assert accepted_after < 0.3
