"""Signed notifications through the real app, the real Redis and real Dramatiq worker threads,
stored once each in SQLite and in PostgreSQL (N2, N3)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
import redis
from dramatiq import Worker
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from domain.triggers import WorkKind
from simulator import notifications as sim
from storage.tables import RawNotification
from tests.support.harness import nothing_queued, queue_lengths, settings_for
from tests.support.live_server import serve
from tests.support.nylas import signed
from tests.support.services import REDIS_URL, wait_for
from tests.support.tcp_proxy import TcpProxy
from workers.actors.handled import Handled
from workers.actors.notifications import HANDLERS

URL = "/webhooks/nylas"


def stored(runtime: Runtime) -> list[RawNotification]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(RawNotification).order_by(RawNotification.id)))


def count_rows(runtime: Runtime, notification_id: str | None = None) -> int:
    statement = select(func.count()).select_from(RawNotification)
    if notification_id is not None:
        statement = statement.where(RawNotification.notification_id == notification_id)
    with Session(runtime.engine) as session:
        return int(session.exec(statement).one())


def handled(runtime: Runtime, expected: int) -> bool:
    """True once ``expected`` rows exist and every one has been through its handler."""
    rows = stored(runtime)
    return len(rows) == expected and all(row.state != "pending" for row in rows)


def queues_drained(redis_client: redis.Redis, namespace: str) -> bool:
    return not any(queue_lengths(redis_client, namespace).values())


@pytest.mark.usefixtures("worker")
def test_a_signed_notification_is_stored_with_its_facts(
    client: TestClient, runtime: Runtime
) -> None:
    document = sim.message_created("grant-42", message_id="msg-7")
    body, headers = signed(document)

    assert client.post(URL, content=body, headers=headers).status_code == 200

    wait_for(lambda: handled(runtime, 1), what="the notification to be stored")
    [row] = stored(runtime)
    assert row.notification_id == document["id"]
    assert row.api_version == "v3"
    assert row.type == "message.created"
    assert row.trigger == "message.created"
    assert row.grant_id == "grant-42"
    assert row.object_id == "msg-7"
    assert row.occurred_at is not None
    assert int(row.occurred_at.timestamp()) == document["time"]
    assert row.received_at.tzinfo is not None
    assert row.payload == document
    # No rep has this grant: handled, and the outcome says why nothing was stored.
    assert row.state == "processed"
    assert row.outcome == "unknown_grant"
    assert row.attempts == 1


@pytest.mark.usefixtures("worker")
def test_truncated_and_v2_notifications_are_stored_per_unit(
    client: TestClient, runtime: Runtime
) -> None:
    truncated = sim.message_created("grant-1", truncated=True)
    v2 = sim.v2_body(sim.v2_message_delta("acct", "m-1"), sim.v2_message_delta("acct", "m-2"))
    for document in (truncated, v2):
        body, headers = signed(document)
        assert client.post(URL, content=body, headers=headers).status_code == 200

    wait_for(lambda: handled(runtime, 3), what="three stored notifications")
    rows = stored(runtime)
    assert {row.type for row in rows} == {"message.created.truncated", "message.created"}
    assert sorted(row.object_id or "" for row in rows if row.api_version == "v2") == ["m-1", "m-2"]
    assert {row.grant_id for row in rows if row.api_version == "v2"} == {"acct"}


@pytest.mark.usefixtures("worker")
def test_duplicate_deliveries_store_one_row(
    client: TestClient, runtime: Runtime, redis_client: redis.Redis, redis_namespace: str
) -> None:
    document = sim.message_created("grant-1")
    body, headers = signed(document)

    answers = [client.post(URL, content=body, headers=headers).json() for _ in range(5)]

    assert [a["queued"] for a in answers] == [1, 0, 0, 0, 0]
    wait_for(lambda: handled(runtime, 1), what="the notification to be stored")
    wait_for(lambda: queues_drained(redis_client, redis_namespace), what="queues to drain")
    assert count_rows(runtime, document["id"]) == 1


@pytest.mark.usefixtures("worker")
def test_concurrent_deliveries_of_one_notification_store_one_row(runtime: Runtime) -> None:
    document = sim.message_created("grant-1")
    body, headers = signed(document)

    with serve(build_app(runtime=runtime)) as base_url, httpx2.Client(base_url=base_url) as http:

        def deliver(_: int) -> httpx2.Response:
            return http.post(URL, content=body, headers=headers)

        with ThreadPoolExecutor(max_workers=16) as pool:
            responses = list(pool.map(deliver, range(32)))

    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["queued"] for r in responses) == 1
    wait_for(lambda: handled(runtime, 1), what="the notification to be stored")
    assert count_rows(runtime) == 1


@pytest.mark.usefixtures("worker")
def test_many_distinct_notifications_delivered_concurrently_are_each_stored_once(
    runtime: Runtime,
) -> None:
    documents = [sim.message_created(f"grant-{i % 3}") for i in range(60)]

    with serve(build_app(runtime=runtime)) as base_url, httpx2.Client(base_url=base_url) as http:

        def deliver(document: dict[str, object]) -> int:
            body, headers = signed(document)
            return http.post(URL, content=body, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(deliver, documents + documents))

    assert set(statuses) == {200}
    wait_for(lambda: handled(runtime, 60), what="60 stored notifications")
    assert {row.notification_id for row in stored(runtime)} == {d["id"] for d in documents}


@pytest.mark.usefixtures("worker")
def test_a_notification_requeued_by_another_path_still_makes_one_row(
    client: TestClient, runtime: Runtime, redis_client: redis.Redis, redis_namespace: str
) -> None:
    document = sim.message_created("grant-1")
    body, headers = signed(document)
    client.post(URL, content=body, headers=headers)
    wait_for(lambda: handled(runtime, 1), what="the first delivery to be stored")

    # The dedupe window has passed (or an operator reprocesses it): it is queued again.
    redis_client.delete(runtime.enqueuer.dedupe_key(document["id"]))
    assert client.post(URL, content=body, headers=headers).json()["queued"] == 1

    wait_for(lambda: stored(runtime)[0].attempts == 2, what="the second handling")
    assert count_rows(runtime) == 1


def test_nothing_is_lost_while_redis_is_down(
    database_url: str,
    redis_namespace: str,
    redis_client: redis.Redis,
    make_runtime: Callable[[Settings], Runtime],
    worker: Worker,
    runtime: Runtime,
) -> None:
    """Nylas retries a 503; once Redis answers again, every notification is stored once."""
    redis_port = int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy("127.0.0.1", redis_port)
    proxy.start()
    web = make_runtime(
        settings_for(database_url, redis_namespace, redis_url=f"redis://127.0.0.1:{proxy.port}/0")
    )
    before, during = sim.message_created("grant-1"), sim.message_created("grant-1")
    try:
        with TestClient(build_app(runtime=web)) as client:
            body, headers = signed(before)
            assert client.post(URL, content=body, headers=headers).status_code == 200

            proxy.stop()
            body, headers = signed(during)
            refused = client.post(URL, content=body, headers=headers)
            assert refused.status_code == 503

            proxy.start()  # Redis is back; Nylas delivers the refused notification again
            retried = client.post(URL, content=body, headers=headers)
            assert retried.status_code == 200
            assert retried.json()["queued"] == 1
    finally:
        proxy.stop()

    wait_for(lambda: handled(runtime, 2), what="both notifications to be stored")
    assert {row.notification_id for row in stored(runtime)} == {before["id"], during["id"]}
    wait_for(lambda: queues_drained(redis_client, redis_namespace), what="queues to drain")
    assert not nothing_queued(redis_client, redis_namespace)  # dedupe keys remain for retries


@pytest.mark.usefixtures("worker")
def test_a_failing_handler_is_recorded_retried_and_dead_lettered(
    client: TestClient,
    runtime: Runtime,
    redis_client: redis.Redis,
    redis_namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(context: object, notification: object) -> Handled:
        raise RuntimeError("the CRM database said no")

    monkeypatch.setitem(HANDLERS, WorkKind.GRANTS, broken)
    body, headers = signed(sim.grant_expired("grant-1"))

    assert client.post(URL, content=body, headers=headers).status_code == 200

    # One attempt and the one retry the test settings allow, then the dead letters.
    wait_for(
        lambda: queue_lengths(redis_client, redis_namespace)["notifications.grants.XQ"] == 1,
        what="the message to be dead-lettered",
    )
    [row] = stored(runtime)
    assert row.state == "failed"
    assert row.attempts == 2
    assert row.last_error == "RuntimeError: the CRM database said no"


@pytest.mark.usefixtures("worker")
def test_a_trigger_without_a_handler_is_kept_as_not_handled(
    client: TestClient, runtime: Runtime
) -> None:
    """N3: acknowledged and kept (the request path does no database work; a worker stores
    it), within the stored notifications' retention, so it can be reprocessed once it has a
    handler."""
    document = sim.envelope(
        "notetaker.media", {"id": "nt-1", "grant_id": "grant-42"}, source="/nylas/notetaker"
    )
    body, headers = signed(document)

    assert client.post(URL, content=body, headers=headers).json()["queued"] == 1

    wait_for(lambda: handled(runtime, 1), what="the notification to be kept")
    [row] = stored(runtime)
    assert (row.type, row.outcome, row.grant_id) == ("notetaker.media", "not_handled", "grant-42")
    assert row.payload == document
