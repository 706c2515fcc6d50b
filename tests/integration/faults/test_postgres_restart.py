"""PostgreSQL crashes and comes back in the middle of a stream of notifications.

A private PostgreSQL cluster (``initdb`` in a temporary directory) holds crmsync's tables;
the shared server is never touched. Real worker threads store emails from a stream of
signed notifications; partway through, the server is stopped at once (``pg_ctl stop -m
immediate``: every connection cut, no checkpoint, as a crash) and started again a couple of
seconds later, replaying its WAL. The ingress never needs the database, so Nylas sees only
200s; the actors that fail meanwhile are retried by Dramatiq with backoff, and the engine's
``pool_pre_ping`` replaces the dead pooled connections. Nothing is lost, nothing doubled.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import pytest
import redis

from crmsync.app import build_app
from storage.engine import create_database_engine
from storage.migrate import upgrade
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
from tests.support.private_postgres import PrivatePostgres
from tests.support.services import wait_for
from tests.support.stream import (
    NotificationStream,
    backlog,
    emails_stored,
    ledger_figures,
    message_documents,
    notification_states,
    register_rep,
    wait_until_stored,
)

pytestmark = pytest.mark.faults

NOTIFICATIONS = 300
OUTAGE_SECONDS = 2.0


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A migrated PostgreSQL cluster of this test's own, removed afterwards."""
    cluster = PrivatePostgres()
    try:
        cluster.create()
        cluster.start()
        engine = create_database_engine(cluster.url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield cluster
    finally:
        cluster.remove()


def test_a_postgres_crash_mid_stream_is_retried_to_completion(
    private_postgres: PrivatePostgres,
    redis_namespace: str,
    redis_client: redis.Redis,
    nylas_api: NylasApi,
    make_fault_runtime: MakeRuntime,
    make_workers: WorkerThreads,
) -> None:
    began = time.monotonic()
    settings = fault_settings(private_postgres.url, redis_namespace, nylas_api)
    web, workers = (make_fault_runtime(settings, PATIENT) for _ in range(2))
    failures = FailedAttempts()
    make_workers(workers, failures=failures)
    documents = message_documents(GRANT, NOTIFICATIONS, prefix="postgres-crash")

    with serve(build_app(runtime=web)) as base_url:
        with httpx2.Client(base_url=base_url) as http:
            register_rep(http, GRANT)
        stream = NotificationStream(base_url, documents, rate=150.0)
        stream.start()
        # Given workers a third of the way through the stream,
        wait_for(
            lambda: emails_stored(workers.engine) >= NOTIFICATIONS // 3,
            timeout=60,
            interval=0.01,
            what="a third of the emails to be stored",
        )
        stored_at_crash = emails_stored(workers.engine)
        # when PostgreSQL crashes and starts again a little later,
        private_postgres.crash()
        crashed = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        private_postgres.start()
        restarted = time.monotonic()
        stream.join()

    # then the failed work is retried until every notification is stored.
    wait_until_stored(
        lambda: (
            emails_stored(workers.engine) == NOTIFICATIONS
            and notification_states(workers.engine)["processed"] == NOTIFICATIONS
            and backlog(redis_client, redis_namespace) == 0
        ),
        workers.engine,
        redis_client,
        redis_namespace,
        timeout=60,
        interval=0.1,
        what="every notification to be stored after the restart",
    )
    recovered = time.monotonic() - restarted
    figures, rows, changes = ledger_figures(
        "postgres-crash",
        workers.engine,
        stream.sent_ids,
        stream.acknowledged_ids,
        began,
        stored_at_crash=stored_at_crash,
        outage=restarted - crashed,
        recovered_after_restart=recovered,
        failed_attempts=failures.count,
    )
    figures.report()
    assert stream.unexpected == []
    assert set(stream.statuses) == {200}  # the ingress never needs the database
    assert stream.acknowledged_ids == stream.sent_ids
    assert set(rows) == stream.sent_ids
    assert set(rows.values()) == {1}
    assert set(changes) == stream.sent_ids
    assert set(changes.values()) == {1}
    assert notification_states(workers.engine) == {"processed": NOTIFICATIONS}
    assert (figures.lost, figures.duplicated) == (0, 0)
