"""The Procfile's processes: `uvicorn --factory` web and `dramatiq` workers, apart, on Redis.

The production shape: settings only from the environment, the web process and the worker
process sharing nothing but Redis and the database, and Nylas a process of its own (`crmsync
simulator`, as the README's walk-through runs it). Notifications signed with either secret of
a rotation pair are stored: the demo signs with the old one, the simulator with the new one.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crmsync.simulated_nylas import SIMULATOR_API_KEY
from simulator.hosted_auth import DEFAULT_CLIENT_ID
from tests.support.processes import (
    SIMULATED_DEMO_TYPES,
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


def test_web_worker_and_simulator_processes_run_the_demo_signed_with_either_secret(
    tmp_path: Path, redis_namespace: str, processes: list[subprocess.Popen[str]]
) -> None:
    database = tmp_path / "crmsync.db"
    port, simulator_port = free_port(), free_port()
    environment = {
        **clean_environment(),
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": REDIS_URL,
        "CRMSYNC_REDIS_NAMESPACE": redis_namespace,
        "NYLAS_WEBHOOK_SECRETS": "new-secret, old-secret",
        "CRMSYNC_API_TOKENS": "token",
        "NYLAS_API_URI": f"http://127.0.0.1:{simulator_port}",
        "NYLAS_API_KEY": SIMULATOR_API_KEY,
        "NYLAS_CLIENT_ID": DEFAULT_CLIENT_ID,
        "CRMSYNC_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }

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
    webhook_url = f"http://127.0.0.1:{port}/webhooks/nylas"
    start(
        command("crmsync"), "simulator", "--port", str(simulator_port), "--webhook-url", webhook_url
    )
    start(command("uvicorn"), "--factory", "crmsync.app:build_app", "--port", str(port))
    start(command("dramatiq"), "crmsync.worker:setup", "--processes", "1", "--threads", "2")
    wait_for(lambda: listening(port) and listening(simulator_port), what="web and simulator")

    # The demo finds the simulator through NYLAS_API_URI, as `--simulator` would name it.
    url = f"http://127.0.0.1:{port}"
    demo = run_command("crmsync", "demo", "--url", url, "--secret", "old-secret", env=environment)

    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "200  folder.created" in demo.stdout
    assert "delivered by the simulator" in demo.stdout
    assert "emails stored for demo-rep (GET /v1/emails?rep_id=demo-rep): 5" in demo.stdout
    assert "'The proposal, filed under Proposals'  ['Proposals']" in demo.stdout
    assert "backfill done: 3 messages scanned, 3 stored" in demo.stdout
    wait_for(
        lambda: handled_types(database) == SIMULATED_DEMO_TYPES, what="the worker to store them"
    )
