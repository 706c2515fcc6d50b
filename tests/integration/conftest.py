"""Fixtures over the real services: PostgreSQL and SQLite, Redis, Dramatiq worker threads.

Each test session gets its own PostgreSQL database; each test its own SQLite file and its own
Redis key namespace, removed afterwards. Nothing here stands in for Redis or PostgreSQL.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from dramatiq import Worker
from sqlalchemy import make_url
from starlette.testclient import TestClient

from crmsync.app import build_app
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from crmsync.worker import declare, start_worker
from simulator.mailbox import FakeNylas
from simulator.nylas_api import build_nylas_api
from storage.engine import create_database_engine
from storage.migrate import upgrade
from tests.support.calendar_sync import CalendarWorld, open_calendar_world
from tests.support.email_sync import EmailSyncWorld, running_stack
from tests.support.fake_api import RecordedSleeps
from tests.support.harness import empty_database, settings_for
from tests.support.live_server import serve
from tests.support.services import POSTGRES_ADMIN_URL, REDIS_URL, SESSION_TOKEN
from workers.nylas_client import NylasGateway
from workers.nylas_failures import RetryPolicy


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    name = f"crmsync_test_{SESSION_TOKEN}"
    admin = make_url(POSTGRES_ADMIN_URL)
    admin_dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = create_database_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once for the session, copied for each test that needs one:
    migrating (table rebuilds included) costs a fifth of a second, a copy a millisecond."""
    path = tmp_path_factory.mktemp("sqlite-template") / "crmsync.db"
    engine = create_database_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path
) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, then the session's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "crmsync.db"
        shutil.copyfile(migrated_sqlite, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database_url")
    yield url
    empty_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL, for tests that never reach the database."""
    return f"sqlite:///{tmp_path / 'unused.db'}"


@pytest.fixture
def redis_namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    # Only characters that are literal in a Redis glob: a test id's "[sqlite]" would otherwise
    # turn the clean-up pattern below into a character class that matches none of the keys.
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]
    namespace = f"crmsync-test-{SESSION_TOKEN}-{name}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A plain client on the real Redis, for looking at what crmsync wrote."""
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # the suite needs the real Redis; fail loudly if it is not there
    yield client
    client.close()


@pytest.fixture
def make_runtime() -> Iterator[Callable[[Settings], Runtime]]:
    """Builds runtimes and closes them all at the end of the test."""
    runtimes: list[Runtime] = []

    def make(settings: Settings) -> Runtime:
        runtime = Runtime.from_settings(settings)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


@pytest.fixture
def runtime(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Runtime:
    """A runtime on the real Redis and the parametrised database."""
    return make_runtime(settings_for(database_url, redis_namespace))


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[Worker]:
    """Real Dramatiq worker threads consuming the runtime's queues on the real Redis."""
    declare(runtime)
    worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
    yield worker
    worker.stop()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """An HTTP client on the application built over ``runtime``."""
    with TestClient(build_app(runtime=runtime)) as test_client:
        yield test_client


GMAIL_GRANT = "grant-gmail-ann"
MICROSOFT_GRANT = "grant-ms-ben"


@pytest.fixture
def fake_nylas() -> FakeNylas:
    """The fake Nylas API's state: a Gmail and a Microsoft mailbox with their folders."""
    fake = FakeNylas(api_key="test-nylas-api-key")
    fake.add_mailbox(GMAIL_GRANT, "google", "ann@acme.example")
    fake.add_mailbox(MICROSOFT_GRANT, "microsoft", "ben@acme.example")
    return fake


@pytest.fixture
def world(
    database_url: str,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    fake_nylas: FakeNylas,
) -> Iterator[EmailSyncWorld]:
    """crmsync on the real Redis and the parametrised database, its Nylas API the fake one
    served over real HTTP, with real worker threads."""
    with (
        running_stack(database_url, redis_namespace, make_runtime, fake_nylas) as runtime,
        TestClient(build_app(runtime=runtime)) as test_client,
    ):
        yield EmailSyncWorld(test_client, runtime, fake_nylas)


@pytest.fixture
def calendar_world(
    database_url: str, redis_namespace: str, make_runtime: Callable[[Settings], Runtime]
) -> Iterator[CalendarWorld]:
    """A rep with a Google calendar, action items pushed by real workers and a dispatcher
    (``tests.support.calendar_sync``)."""
    with open_calendar_world(database_url, redis_namespace, make_runtime) as world:
        yield world


@pytest.fixture
def sleeps() -> RecordedSleeps:
    """Waits a retry policy chose, recorded instead of slept."""
    return RecordedSleeps()


@pytest.fixture
def policy(sleeps: RecordedSleeps) -> RetryPolicy:
    """A Nylas retry policy that records its waits and never sleeps."""
    return RetryPolicy(max_attempts=4, jitter=0.0, sleep=sleeps)


@pytest.fixture
def base_url(fake: FakeNylas) -> Iterator[str]:
    """The module's ``fake`` Nylas API, served over real HTTP."""
    with serve(build_nylas_api(fake)) as url:
        yield url


@pytest.fixture
def gateway(fake: FakeNylas, base_url: str, policy: RetryPolicy) -> NylasGateway:
    """crmsync's Nylas client on the module's ``fake``, with the recording policy."""
    return NylasGateway(fake.api_key, base_url, timeout_seconds=5, policy=policy)
