"""The Procfile's processes: `uvicorn --factory` web and `crmsync worker` workers, apart, on Redis.

The production shape: settings only from the environment, the web process and the worker
process sharing nothing but Redis and the database, and Nylas a process of its own (`crmsync
simulator`, as the README's walk-through runs it). Notifications signed with either secret of
a rotation pair are stored: the demo signs with the old one, the simulator with the new one.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
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


def procfile_arguments(process_type: str) -> list[str]:
    """The Procfile's ``process_type`` command line, split as a shell splits it."""
    lines = dict(line.split(":", 1) for line in PROCFILE.read_text().splitlines() if line.strip())
    return shlex.split(lines[process_type])


def consumed_queues(process_type: str) -> list[str]:
    """The queues the Procfile's ``process_type`` line names after ``--queues``."""
    arguments = procfile_arguments(process_type)
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
    start(command("crmsync"), "worker", "--processes", "1", "--threads", "2")
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


# The keys of every line crmsync logs (crmsync.logs.JsonFormatter).
LOG_KEYS = {"time", "level", "logger", "message"}


def test_every_line_of_the_worker_process_tree_is_a_json_log_line(
    tmp_path: Path, redis_namespace: str, processes: list[subprocess.Popen[str]]
) -> None:
    # Dramatiq's supervisor logs on its own (booting, signals, dead workers), not through
    # crmsync's setup, which only its worker processes run.
    environment = {
        **clean_environment(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'crmsync.db'}",
        "REDIS_URL": REDIS_URL,
        "CRMSYNC_REDIS_NAMESPACE": redis_namespace,
        "NYLAS_WEBHOOK_SECRETS": "secret",
        "CRMSYNC_API_TOKENS": "token",
        "NYLAS_API_KEY": "key",
    }
    assert run_command("crmsync", "migrate", env=environment).returncode == 0
    program, *arguments = procfile_arguments("worker")
    arguments = with_option(with_option(arguments, "--processes", "1"), "--threads", "2")
    worker = subprocess.Popen(  # noqa: S603  (the Procfile's own command)
        [command(program), *arguments],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    processes.append(worker)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout or ()), daemon=True)
    reader.start()

    def logged(text: str) -> bool:
        return any(text in line for line in list(lines))

    wait_for(lambda: logged("ready for action"), what="the worker process to start")
    worker.send_signal(signal.SIGTERM)
    wait_for(lambda: logged("Stopping worker process"), what="the worker process to stop")
    os.killpg(worker.pid, signal.SIGKILL)  # the rest of a graceful stop takes seconds
    worker.wait(timeout=10)
    reader.join(timeout=10)

    written = [line for line in lines if line.strip()]
    assert [line for line in written if log_entry(line) is None] == []
    entries = [entry for line in written if (entry := log_entry(line))]
    supervisor = [e["message"] for e in entries if e["logger"] == "dramatiq.MainProcess"]
    assert any("booting up" in message for message in supervisor), supervisor
    assert any("Sending signal 'SIGTERM'" in message for message in supervisor), supervisor


def log_entry(line: str) -> dict[str, Any] | None:
    """The JSON object of a line crmsync logs, or None for any other line."""
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) and entry.keys() >= LOG_KEYS else None


def with_option(arguments: list[str], option: str, value: str) -> list[str]:
    """``arguments`` with ``option``'s value replaced by ``value``."""
    at = arguments.index(option)
    return [*arguments[: at + 1], value, *arguments[at + 2 :]]
