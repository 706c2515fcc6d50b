"""The Procfile's processes: `uvicorn --factory` web and `dramatiq` workers, apart, on Redis.

The production shape: settings only from the environment, the web process and the worker
process sharing nothing but Redis and the database. Notifications signed with either secret
of a rotation pair are stored.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import (
    DEMO_TYPES,
    clean_environment,
    command,
    free_port,
    handled_types,
    listening,
    run_command,
)
from tests.support.services import REDIS_URL, wait_for
from workers.queues import DELIVERY_QUEUE, all_queue_names

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile"


def consumed_queues(process_type: str) -> list[str]:
    """The queues the Procfile's ``process_type`` line names after ``--queues``."""
    lines = dict(line.split(":", 1) for line in PROCFILE.read_text().splitlines() if line.strip())
    arguments = shlex.split(lines[process_type])
    named = arguments[arguments.index("--queues") + 1 :]
    return named[: next((i for i, a in enumerate(named) if a.startswith("-")), None)]


def test_deliveries_have_a_process_type_of_their_own_and_every_queue_a_consumer() -> None:
    # A slow subscriber holds a delivery thread for up to a whole attempt: never a thread of
    # the worker that handles notifications. Together the two consume every queue, once.
    worker, deliveries = consumed_queues("worker"), consumed_queues("deliveries")

    assert deliveries == [DELIVERY_QUEUE.queue_name]
    assert sorted(worker + deliveries) == sorted(all_queue_names())


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_web_and_worker_processes_store_notifications_signed_with_either_secret(
    tmp_path: Path, redis_namespace: str, processes: list[subprocess.Popen[str]]
) -> None:
    database = tmp_path / "crmsync.db"
    environment = {
        **clean_environment(),
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": REDIS_URL,
        "CRMSYNC_REDIS_NAMESPACE": redis_namespace,
        "NYLAS_WEBHOOK_SECRETS": "new-secret, old-secret",
        "CRMSYNC_API_TOKENS": "token",
        "NYLAS_API_KEY": "key",
    }
    port = free_port()

    def start(*arguments: str) -> None:
        processes.append(
            subprocess.Popen(  # noqa: S603  (our own commands)
                arguments,
                env=environment,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )

    migrate = run_command("crmsync", "migrate", env=environment)
    assert migrate.returncode == 0, migrate.stderr
    start(command("uvicorn"), "--factory", "crmsync.app:build_app", "--port", str(port))
    start(command("dramatiq"), "crmsync.worker:setup", "--processes", "1", "--threads", "2")
    wait_for(lambda: listening(port), what="the web process to listen")

    url = f"http://127.0.0.1:{port}"
    demo = run_command("crmsync", "demo", "--url", url, "--secret", "old-secret", env=environment)

    assert demo.returncode == 0, demo.stdout + demo.stderr
    wait_for(lambda: handled_types(database) == DEMO_TYPES, what="the worker to store them")
