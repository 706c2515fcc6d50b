"""A worker process is killed (SIGKILL) in the middle of a stream of 1,000 notifications.

The Procfile's worker, ``crmsync worker``, runs as a real process on the real
Redis (a namespace of this test's own) and the session's PostgreSQL database. Once 30% of the
emails are stored its whole process group is killed: whatever it had fetched stays in its
in-progress set in Redis. A new worker process is started, as a supervisor would; once the
dead one has been silent for the heartbeat timeout, the new one's liveness timer
(``workers.liveness``) puts its messages back on their queue. The worker runs on the shipped
defaults (heartbeat timeout, maintenance chance): the dead worker's messages must be back
within 30 s of the kill. Every notification ends up stored once, and every raw notification
row is handled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx2
import pytest
import redis

from crmsync.app import build_app
from crmsync.settings import Settings
from tests.integration.faults.conftest import (
    GRANT,
    PATIENT,
    MakeRuntime,
    NylasApi,
    fault_settings,
)
from tests.support.live_server import serve
from tests.support.processes import clean_environment, command
from tests.support.services import REDIS_URL, WEBHOOK_SECRET, wait_for
from tests.support.stream import (
    API_TOKEN,
    NotificationStream,
    backlog,
    emails_stored,
    in_progress,
    ledger_figures,
    message_documents,
    notification_states,
    register_rep,
    retried_notifications,
    wait_until_stored,
)

pytestmark = pytest.mark.faults

NOTIFICATIONS = 1_000
# What RELIABILITY.md promises on the defaults: a killed worker's messages back this soon.
RECOVERY_PROMISE_S = 30


class WorkerProcesses:
    """``crmsync worker`` processes, each the leader of its own process group."""

    def __init__(self, environment: dict[str, str], directory: Path) -> None:
        self.environment = environment
        self.directory = directory
        self.started: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.directory / f"worker-{len(self.started)}.log").open("wb")
        self._logs.append(log)
        process = subprocess.Popen(  # noqa: S603  (our own worker command)
            [
                command("crmsync"),
                "worker",
                "--processes",
                "1",
                "--threads",
                "4",
            ],
            env=self.environment,
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and every child it forked: no clean-up runs anywhere."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        """Kill every worker process group still running: the test is over, and a clean
        shutdown would only add seconds (their Redis keys go with the test's namespace)."""
        for process in self.started:
            if process.poll() is None:
                self.kill(process)
            # Forked children share the group and may outlive their parent.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for log in self._logs:
            log.close()


@pytest.fixture
def worker_processes(
    tmp_path: Path, postgres_url: str, redis_namespace: str, nylas_api: NylasApi
) -> Iterator[WorkerProcesses]:
    environment = {
        **clean_environment(),
        "DATABASE_URL": postgres_url,
        "REDIS_URL": REDIS_URL,
        "CRMSYNC_REDIS_NAMESPACE": redis_namespace,
        "NYLAS_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "CRMSYNC_API_TOKENS": API_TOKEN,
        "NYLAS_API_KEY": nylas_api.fake.api_key,
        "NYLAS_API_URI": nylas_api.url,
        "CRMSYNC_LOG_LEVEL": "WARNING",
    }
    processes = WorkerProcesses(environment, tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


def test_a_worker_killed_mid_stream_loses_nothing_and_doubles_nothing(
    postgres_url: str,
    redis_namespace: str,
    redis_client: redis.Redis,
    nylas_api: NylasApi,
    make_fault_runtime: MakeRuntime,
    worker_processes: WorkerProcesses,
) -> None:
    began = time.monotonic()
    web = make_fault_runtime(fault_settings(postgres_url, redis_namespace, nylas_api), PATIENT)
    engine = web.engine
    documents = message_documents(GRANT, NOTIFICATIONS, prefix="worker-killed")
    heartbeats = f"{redis_namespace}:__heartbeats__"

    first = worker_processes.start()
    wait_for(lambda: redis_client.zcard(heartbeats) > 0, timeout=30, what="the worker to start")
    # The worker process's broker ids, before the web's own broker beats too.
    first_ids = [member.decode() for member in redis_client.zrange(heartbeats, 0, -1)]
    with serve(build_app(runtime=web)) as base_url:
        with httpx2.Client(base_url=base_url) as http:
            register_rep(http, GRANT)
        stream = NotificationStream(base_url, documents, rate=400.0)
        stream.start()
        # Given a worker process a third of the way through the stream,
        wait_for(
            lambda: emails_stored(engine) >= NOTIFICATIONS * 3 // 10,
            timeout=60,
            interval=0.01,
            what="30% of the emails to be stored",
        )
        # when it is killed outright,
        worker_processes.kill(first)
        killed = time.monotonic()
        stored_at_kill = emails_stored(engine)
        in_progress_at_kill = in_progress(redis_client, redis_namespace)
        # and a new one takes its place,
        worker_processes.start()
        # then the dead worker's messages are back on their queues within the promise,
        wait_for(
            lambda: (
                not any(
                    redis_client.scard(key)
                    for worker in first_ids
                    for key in redis_client.scan_iter(f"{redis_namespace}:__acks__.{worker}.*")
                )
            ),
            timeout=RECOVERY_PROMISE_S,
            interval=0.2,
            what=f"the killed worker's messages back within {RECOVERY_PROMISE_S} s",
        )
        requeued_after = time.monotonic() - killed
        stream.join()

    # and everything is stored.
    wait_until_stored(
        lambda: (
            emails_stored(engine) == NOTIFICATIONS
            and notification_states(engine)["processed"] == NOTIFICATIONS
            and backlog(redis_client, redis_namespace) == 0
        ),
        engine,
        redis_client,
        redis_namespace,
        timeout=60,
        interval=0.1,
        what="every notification to be stored once the dead worker's messages are requeued",
    )
    recovered = time.monotonic() - killed
    figures, rows, changes = ledger_figures(
        "worker-killed",
        engine,
        stream.sent_ids,
        stream.acknowledged_ids,
        began,
        stored_at_kill=stored_at_kill,
        in_progress_at_kill=in_progress_at_kill,
        heartbeat_timeout=Settings.worker_heartbeat_timeout_ms / 1000,  # the default
        requeued_after_kill=requeued_after,
        recovered_after_kill=recovered,
        handled_twice=retried_notifications(engine),
    )
    figures.report()
    assert NOTIFICATIONS * 3 // 10 <= stored_at_kill <= NOTIFICATIONS * 6 // 10
    assert in_progress_at_kill > 0  # the kill did strand fetched, unfinished messages
    assert stream.unexpected == []
    assert stream.acknowledged_ids == stream.sent_ids
    assert set(rows) == stream.sent_ids
    assert set(rows.values()) == {1}
    assert set(changes) == stream.sent_ids
    assert set(changes.values()) == {1}
    states = notification_states(engine)
    assert states == {"processed": NOTIFICATIONS}
    assert (figures.lost, figures.duplicated) == (0, 0)
