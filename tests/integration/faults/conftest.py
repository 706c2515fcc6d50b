"""Fixtures of the fault tests: the fake Nylas API over HTTP, a PostgreSQL database emptied
around each test, runtimes with quick retries, and real worker threads.

Every fault test takes something real away (a Redis server, a worker process, the database,
the Nylas API) and then checks the promise: nothing acknowledged is lost, nothing is applied
twice. Each prints one ``FIGURES`` line that RELIABILITY.md quotes.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from dramatiq import Broker, Middleware, Worker
from dramatiq.broker import MessageProxy
from starlette.datastructures import Secret

from crmsync.runtime import Runtime
from crmsync.settings import Settings
from crmsync.worker import start_worker, worker_context
from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api
from tests.support.harness import empty_database, settings_for
from tests.support.live_server import serve
from workers.actors.registry import declare_actors
from workers.broker import BrokerOptions, build_broker
from workers.context import WorkerContext

GRANT = "grant-faults-ann"


@dataclass(frozen=True)
class NylasApi:
    """The fake Nylas API's state and the URL the real SDK reaches it at."""

    fake: FakeNylas
    url: str


@pytest.fixture
def nylas_api() -> Iterator[NylasApi]:
    """A Gmail mailbox for :data:`GRANT` behind the fake Nylas API, served over real HTTP."""
    fake = FakeNylas(api_key="faults-nylas-api-key")
    fake.add_mailbox(GRANT, "google", "ann@acme.example")
    with serve(build_nylas_api(fake)) as url:
        yield NylasApi(fake, url)


@pytest.fixture
def postgres_url(postgres_database_url: str) -> Iterator[str]:
    """The session's PostgreSQL database, empty before and after the test."""
    empty_database(postgres_database_url)
    yield postgres_database_url
    empty_database(postgres_database_url)


# Retries quick enough for a test, many enough to outlast a fault of a few seconds: from
# 100 ms doubling to 1 s, 30 times.
PATIENT = BrokerOptions(max_retries=30, min_backoff_ms=100, max_backoff_ms=1_000)


def fault_settings(
    database_url: str, namespace: str, nylas: NylasApi, **overrides: object
) -> Settings:
    """Test settings (see ``settings_for``) whose Nylas API is the fake one."""
    return settings_for(
        database_url,
        namespace,
        nylas_api_uri=nylas.url,
        nylas_api_key=Secret(nylas.fake.api_key),
        **overrides,
    )


MakeRuntime = Callable[[Settings, BrokerOptions], Runtime]


@pytest.fixture
def make_fault_runtime() -> Iterator[MakeRuntime]:
    """Builds runtimes whose broker has the given options; closes them all afterwards."""
    runtimes: list[Runtime] = []

    def make(settings: Settings, options: BrokerOptions) -> Runtime:
        runtime = Runtime.from_settings(settings)
        options = dataclasses.replace(options, namespace=settings.redis_namespace)
        runtime = dataclasses.replace(runtime, broker=build_broker(runtime.broker.client, options))
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


class FailedAttempts(Middleware):
    """Counts the attempts that raised (each one retried or dead-lettered), for the figures."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: object | None = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None:
            with self._lock:
                self.count += 1


class WorkerThreads:
    """Starts real Dramatiq worker threads on runtimes' brokers, and stops them (once)."""

    def __init__(self) -> None:
        self._running: list[Worker] = []

    def __call__(
        self,
        runtime: Runtime,
        *,
        threads: int = 4,
        context: WorkerContext | None = None,
        failures: FailedAttempts | None = None,
    ) -> Worker:
        declare_actors(runtime.broker, context or worker_context(runtime))
        if failures is not None:
            runtime.broker.add_middleware(failures)
        worker = start_worker(runtime, threads=threads, worker_timeout_ms=100)
        self._running.append(worker)
        return worker

    def stop(self, worker: Worker) -> None:
        """Stop ``worker`` as a deploy would: in-memory messages go back on their queues."""
        if worker in self._running:
            self._running.remove(worker)
            worker.stop(timeout=10_000)

    def stop_all(self) -> None:
        for worker in list(self._running):
            self.stop(worker)


@pytest.fixture
def make_workers() -> Iterator[WorkerThreads]:
    """Worker threads for the test, stopped afterwards (before the test's servers go)."""
    threads = WorkerThreads()
    try:
        yield threads
    finally:
        threads.stop_all()
