"""Redis goes away while notifications arrive, and comes back from its append-only file.

A private ``redis-server`` (AOF, ``appendfsync always``) carries the queues; the web app runs
under uvicorn and real worker threads store emails in PostgreSQL. Partway through a stream
of signed ``message.created`` notifications Redis stops, shut down cleanly or killed: the
ingress must answer 503 with ``Retry-After`` (so Nylas delivers again) and never 200 for
what it could not queue. Redis is started again on the same port and directory; the sender
delivers the refused notifications again, the workers reconnect and drain. Every
acknowledged notification is then stored exactly once.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path

import httpx2
import pytest
import redis

from crmsync.app import build_app
from crmsync.runtime import Runtime
from tests.integration.faults.conftest import (
    GRANT,
    PATIENT,
    FailedAttempts,
    MakeRuntime,
    NylasApi,
    WorkerThreads,
    fault_settings,
)
from tests.support.live_server import serve
from tests.support.private_redis import PrivateRedis
from tests.support.services import wait_for
from tests.support.stream import (
    NotificationStream,
    backlog,
    deliver,
    describe,
    emails_stored,
    in_progress,
    ledger_figures,
    message_documents,
    message_id_of,
    notification_states,
    register_rep,
    wait_until_stored,
)

pytestmark = pytest.mark.faults

NOTIFICATIONS = 300
OUTAGE_SECONDS = 2.0
NAMESPACE = "crmsync-faults"
MESSAGES = "notifications.messages"
# Normal recovery takes under ~10 s: consumers reconnect after 3 s, acknowledgements that
# failed are retried after 5 s. Work still missing after this is stranded (see below).
SELF_HEAL_SECONDS = 20.0
# The workers that replace stranded ones presume their predecessors dead after 2 s.
REPLACEMENT = dataclasses.replace(PATIENT, heartbeat_timeout_ms=2_000, maintenance_chance=100_000)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["clean-shutdown", "crash"])
def test_notifications_acknowledged_around_a_redis_restart_are_stored_once(
    stop: signal.Signals,
    tmp_path: Path,
    postgres_url: str,
    nylas_api: NylasApi,
    make_fault_runtime: MakeRuntime,
    make_workers: WorkerThreads,
) -> None:
    began = time.monotonic()
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        settings = fault_settings(postgres_url, NAMESPACE, nylas_api, redis_url=server.url)
        web, workers = (make_fault_runtime(settings, PATIENT) for _ in range(2))
        failures = FailedAttempts()
        worker = make_workers(workers, failures=failures)
        documents = message_documents(GRANT, NOTIFICATIONS, prefix="redis-outage")

        with serve(build_app(runtime=web)) as base_url:
            with httpx2.Client(base_url=base_url) as http:
                register_rep(http, GRANT)
            stream = NotificationStream(base_url, documents, rate=100.0, retry_pause=0.5)
            stream.start()
            # Given a third of the stream acknowledged,
            wait_for(lambda: len(stream.acknowledged) >= NOTIFICATIONS // 3, what="a third")
            acknowledged_before = len(stream.acknowledged)
            # when Redis stops (SIGTERM: a clean shutdown; SIGKILL: a crash, no chance to
            # flush anything) for a while and then starts again from its AOF,
            server.stop(stop)
            time.sleep(OUTAGE_SECONDS)
            server.start()
            restarted = time.monotonic()
            stream.join()

        # then the workers drain everything that was acknowledged.
        client = redis.Redis.from_url(server.url)
        try:
            acknowledged = len(stream.acknowledged)
            stranded = 0
            try:
                wait_for(
                    lambda: _drained(workers, client, acknowledged),
                    timeout=SELF_HEAL_SECONDS,
                    interval=0.1,
                    what="the workers to store every acknowledged notification",
                )
            except AssertionError:
                # A fetch whose answer was lost as Redis went down leaves its messages in this
                # live worker's in-progress set, where nothing looks for them until the worker
                # is gone: the runbook restarts the workers after a Redis restart.
                stranded = acknowledged - emails_stored(workers.engine)
                assert stranded > 0, describe(workers.engine, client, NAMESPACE)
                assert in_progress(client, NAMESPACE) == backlog(client, NAMESPACE) == stranded
                make_workers.stop(worker)
                make_workers(make_fault_runtime(settings, REPLACEMENT))
                wait_for(
                    lambda: _drained(workers, client, acknowledged),
                    timeout=30,
                    interval=0.1,
                    what="restarted workers to store the stranded notifications",
                )
        except AssertionError as error:
            where = describe(workers.engine, client, NAMESPACE)
            raise AssertionError(f"{error}: {where}") from None
        finally:
            client.close()
        recovered = time.monotonic() - restarted
    finally:
        make_workers.stop_all()  # while their Redis is still there to say goodbye to
        server.stop(signal.SIGKILL)

    figures, rows, changes = ledger_figures(
        f"redis-outage-{stop.name}",
        workers.engine,
        stream.sent_ids,
        stream.acknowledged_ids,
        began,
        acknowledged_before_outage=acknowledged_before,
        refused_503=stream.count(503),
        requests=stream.requests,
        outage=OUTAGE_SECONDS,
        recovered_after_restart=recovered,
        stranded_until_worker_restart=stranded,
        failed_attempts=failures.count,
    )
    figures.report()
    # and the ingress said 503 with Retry-After while Redis was away, never 200 or 500,
    assert stream.count(503) > 0
    assert stream.refused_without_retry_after == 0
    assert stream.unexpected == []
    assert set(stream.statuses) == {200, 503}
    # Nylas's retries got every notification in,
    assert stream.acknowledged_ids == stream.sent_ids
    # and each acknowledged one is stored exactly once: one row, one change record.
    assert set(rows) == stream.acknowledged_ids
    assert set(rows.values()) == {1}
    assert set(changes) == stream.acknowledged_ids
    assert set(changes.values()) == {1}
    assert (figures.lost, figures.duplicated) == (0, 0)


def _drained(
    runtime: Runtime, client: redis.Redis, expected: int, namespace: str = NAMESPACE
) -> bool:
    states = notification_states(runtime.engine)
    return (
        emails_stored(runtime.engine) == expected
        and states["processed"] == expected
        and sum(states.values()) == expected
        and backlog(client, namespace) == 0
    )


def test_messages_whose_fetch_answer_was_lost_wait_for_a_worker_restart(
    postgres_url: str,
    redis_namespace: str,
    redis_client: redis.Redis,
    nylas_api: NylasApi,
    make_fault_runtime: MakeRuntime,
    make_workers: WorkerThreads,
) -> None:
    """The rare case the test above meets when Redis goes down just after a fetch, made
    certain: the fetch runs (its messages move to this worker's in-progress set) but its
    answer never reaches the worker. Nothing is lost, but nothing handles those messages
    while that worker lives; once it is restarted they come back after the heartbeat
    timeout of the dead broker id."""
    began = time.monotonic()
    settings = fault_settings(postgres_url, redis_namespace, nylas_api)
    workers = make_fault_runtime(settings, PATIENT)
    documents = message_documents(GRANT, 20, prefix="lost-fetch")
    deliver(workers, documents)
    # Given a fetch by the worker's broker whose answer is thrown away,
    lost = workers.broker.do_fetch(MESSAGES, 2)
    assert len(lost) == 2
    # when its worker handles everything else,
    worker = make_workers(workers)
    wait_until_stored(
        lambda: emails_stored(workers.engine) == 18 and backlog(redis_client, redis_namespace) == 2,
        workers.engine,
        redis_client,
        redis_namespace,
        timeout=30,
        what="the other 18 to be stored",
    )
    # then the two stay in its in-progress set while it lives,
    time.sleep(2.0)
    assert emails_stored(workers.engine) == 18
    assert in_progress(redis_client, redis_namespace) == 2
    # and come back once it is replaced.
    make_workers.stop(worker)
    restarted = time.monotonic()
    make_workers(make_fault_runtime(settings, REPLACEMENT))
    wait_until_stored(
        lambda: _drained(workers, redis_client, 20, redis_namespace),
        workers.engine,
        redis_client,
        redis_namespace,
        timeout=30,
        what="the stranded two to be stored after the restart",
    )
    figures, rows, changes = ledger_figures(
        "lost-fetch-answer",
        workers.engine,
        {message_id_of(d) for d in documents},
        {message_id_of(d) for d in documents},
        began,
        stranded=len(lost),
        heartbeat_timeout=REPLACEMENT.heartbeat_timeout_ms / 1000,
        recovered_after_worker_restart=time.monotonic() - restarted,
    )
    figures.report()
    assert set(rows.values()) == {1}
    assert set(changes.values()) == {1}
    assert (figures.stored, figures.lost, figures.duplicated) == (20, 0, 0)
