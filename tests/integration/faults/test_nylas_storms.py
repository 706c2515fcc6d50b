"""429 and 503 storms from the Nylas API while truncated notifications need their messages.

Each ``message.created.truncated`` notification is completed by fetching the message through
the real ``nylas`` SDK from the fake Nylas API, which serves injected faults first. A short
storm (429 with ``Retry-After``, then 503s) slows the work down: 429s are retried through the
queue after the delay Nylas asked for, 503s are retried in-process and then by Dramatiq; all
of it completes. A storm long enough to spend every retry sends the messages to the dead
letters; once it is over, ``crmsync dlq replay`` (the function the CLI runs) completes them.
Either way every message is stored once.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import crmsync.operator_context
from crmsync.cli import main
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
from tests.support.harness import operator_environment, queue_lengths
from tests.support.services import wait_for
from tests.support.stream import (
    backlog,
    deliver,
    emails_stored,
    ledger_figures,
    message_documents,
    message_id_of,
    notification_states,
    wait_until_stored,
)
from workers.broker import BrokerOptions
from workers.context import WorkerContext
from workers.nylas_client import NylasGateway
from workers.nylas_failures import RetryPolicy

pytestmark = pytest.mark.faults

MESSAGES = "notifications.messages"
FETCH = "/messages/"  # GET /v3/grants/{grant}/messages/{id}, the fetch of a truncated message
# Two HTTP attempts per fetch, quick backoff; a Retry-After over half a second is handed to
# the queue (dramatiq.Retry) rather than slept in a worker thread.
QUICK = RetryPolicy(
    max_attempts=2,
    backoff_initial_seconds=0.05,
    backoff_max_seconds=0.2,
    jitter=0.0,
    max_retry_after_seconds=0.5,
)


def _context(runtime: Runtime, nylas: NylasApi) -> WorkerContext:
    gateway = NylasGateway(nylas.fake.api_key, nylas.url, timeout_seconds=5, policy=QUICK)
    return WorkerContext(engine=runtime.engine, nylas_gateway=gateway)


def _truncated(nylas: NylasApi, count: int, prefix: str) -> list[dict[str, Any]]:
    """Truncated notifications whose whole messages are in the fake mailbox."""
    documents = message_documents(GRANT, count, prefix=prefix, truncated=True)
    for document in documents:
        whole = {**document["data"]["object"], "body": "<p>the whole message</p>"}
        nylas.fake.put_message(GRANT, whole)
    return documents


def _all_stored(runtime: Runtime, expected: int) -> bool:
    namespace = runtime.settings.redis_namespace
    return (
        emails_stored(runtime.engine) == expected
        and notification_states(runtime.engine)["processed"] == expected
        and backlog(runtime.broker.client, namespace) == 0
    )


def test_a_passing_storm_of_429s_and_503s_slows_work_that_then_completes(
    postgres_url: str,
    redis_namespace: str,
    nylas_api: NylasApi,
    make_fault_runtime: MakeRuntime,
    make_workers: WorkerThreads,
) -> None:
    began = time.monotonic()
    count, rate_limited, unavailable = 30, 30, 40
    runtime = make_fault_runtime(fault_settings(postgres_url, redis_namespace, nylas_api), PATIENT)
    documents = _truncated(nylas_api, count, "short-storm")
    # Given a storm on the message fetches: 429s asking for a second's wait, then 503s,
    fake = nylas_api.fake
    fake.inject(429, path_contains=FETCH, times=rate_limited, retry_after=1, error_type="rate")
    fake.inject(503, path_contains=FETCH, times=unavailable)

    # when the notifications arrive and workers handle them,
    deliver(runtime, documents)
    failures = FailedAttempts()
    make_workers(runtime, context=_context(runtime, nylas_api), failures=failures)

    # then the storm is weathered and every message is stored once.
    wait_until_stored(
        lambda: _all_stored(runtime, count),
        runtime.engine,
        runtime.broker.client,
        redis_namespace,
        timeout=60,
        interval=0.1,
        what="every message to be stored",
    )
    fetches = len(fake.requests_to(FETCH))
    figures, rows, changes = ledger_figures(
        "nylas-short-storm",
        runtime.engine,
        {message_id_of(d) for d in documents},
        {message_id_of(d) for d in documents},
        began,
        served_429=rate_limited,
        served_503=unavailable,
        fetches=fetches,
        failed_attempts=failures.count,
    )
    figures.report()
    assert fake.pending_faults == 0
    # One successful fetch per message on top of the faults: nothing was fetched twice.
    assert fetches == count + rate_limited + unavailable
    assert set(rows) == {message_id_of(d) for d in documents}
    assert set(rows.values()) == {1}
    assert set(changes.values()) == {1}
    assert len(changes) == count
    assert queue_lengths(runtime.broker.client, redis_namespace)[MESSAGES + ".XQ"] == 0
    assert (figures.lost, figures.duplicated) == (0, 0)


def test_a_storm_that_outlasts_the_retries_dead_letters_and_a_replay_completes(
    postgres_url: str,
    redis_namespace: str,
    nylas_api: NylasApi,
    make_fault_runtime: MakeRuntime,
    make_workers: WorkerThreads,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    count, max_retries = 20, 2
    options = BrokerOptions(max_retries=max_retries, min_backoff_ms=100, max_backoff_ms=400)
    runtime = make_fault_runtime(fault_settings(postgres_url, redis_namespace, nylas_api), options)
    documents = _truncated(nylas_api, count, "long-storm")
    # Given a storm of exactly as many 503s as every attempt of every message will meet
    # (1 + max_retries attempts, each of QUICK's 2 HTTP tries),
    storm = count * (1 + max_retries) * QUICK.max_attempts
    fake = nylas_api.fake
    fake.inject(503, path_contains=FETCH, times=storm)
    deliver(runtime, documents)
    make_workers(runtime, context=_context(runtime, nylas_api))

    # when it outlasts the retries, every message lands in the dead letters,
    client = runtime.broker.client
    wait_for(
        lambda: queue_lengths(client, redis_namespace)[MESSAGES + ".XQ"] == count,
        timeout=60,
        interval=0.1,
        what="every message to be dead-lettered",
    )
    dead_lettered = time.monotonic()
    assert fake.pending_faults == 0  # the storm is over exactly as the last retry failed
    assert emails_stored(runtime.engine) == 0
    assert notification_states(runtime.engine) == {"failed": count}

    # and once the storm is over an operator replays them (the function `crmsync` runs),
    for name, value in operator_environment(runtime.settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(crmsync.operator_context, "configure_logging", lambda level: None)
    assert main(["dlq", "replay", "--queue", MESSAGES, "--operator", "faults", "--json"]) == 0
    replay = json.loads(capsys.readouterr().out)

    # then each message is stored exactly once.
    wait_until_stored(
        lambda: _all_stored(runtime, count),
        runtime.engine,
        runtime.broker.client,
        redis_namespace,
        timeout=60,
        interval=0.1,
        what="every message to be stored",
    )
    figures, rows, changes = ledger_figures(
        "nylas-long-storm",
        runtime.engine,
        {message_id_of(d) for d in documents},
        {message_id_of(d) for d in documents},
        began,
        served_503=storm,
        dead_lettered=count,
        replayed=replay["count"],
        recovered_after_storm=time.monotonic() - dead_lettered,
    )
    figures.report()
    assert replay == {"action": "replay", "matched": count, "count": count}
    assert queue_lengths(client, redis_namespace)[MESSAGES + ".XQ"] == 0
    assert len(fake.requests_to(FETCH)) == storm + count
    assert set(rows) == {message_id_of(d) for d in documents}
    assert set(rows.values()) == {1}
    assert set(changes.values()) == {1}
    assert (figures.lost, figures.duplicated) == (0, 0)
