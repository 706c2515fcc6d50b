"""What strangers write reaches the operator's terminal as characters, never as instructions.

A handler fails with an exception message an outsider chose (an email subject, a subscriber's
answer end up in such messages): Rich markup in it, a clear-screen and a window title. The
notification is dead-lettered through the real app, Redis and worker threads, and then
``crmsync dlq show``, ``dlq list`` and ``status`` print it: the markup literally, the escape
sequences stripped, and every command succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import crmsync.operator_context
from crmsync.app import build_app
from crmsync.cli import main
from crmsync.runtime import Runtime
from crmsync.settings import Settings
from crmsync.worker import declare, start_worker
from domain.triggers import WorkKind
from simulator import notifications as sim
from storage.engine import create_database_engine
from storage.migrate import upgrade
from tests.support.harness import operator_environment, queue_lengths, settings_for
from tests.support.nylas import signed
from tests.support.services import wait_for
from workers.actors.handled import Handled
from workers.actors.notifications import HANDLERS

HOSTILE = (
    "[/bold] subject [red]URGENT[/red] [link=https://evil.example/]invoice[/link] "
    "\x1b[2J\x1b[1;31mNYLAS API KEY EXPIRED\x1b]0;pwned\x07 end"
)
LITERAL = "[/bold] subject [red]URGENT[/red] [link=https://evil.example/]invoice[/link] "
STRIPPED_TAIL = "NYLAS API KEY EXPIRED end"


@pytest.fixture
def run_operator(
    tmp_path: Path,
    redis_namespace: str,
    make_runtime: Callable[[Settings], Runtime],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., tuple[int, str, str]]:
    """One grant notification dead-lettered with the hostile error; runs ``crmsync`` commands."""
    url = f"sqlite:///{tmp_path / 'crmsync.db'}"
    engine = create_database_engine(url)
    upgrade(engine)
    engine.dispose()
    runtime = make_runtime(settings_for(url, redis_namespace))
    for name, value in operator_environment(runtime.settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, for the assertions
    monkeypatch.setattr(crmsync.operator_context, "configure_logging", lambda level: None)

    def broken(context: object, notification: object) -> Handled:
        raise RuntimeError(HOSTILE)

    monkeypatch.setitem(HANDLERS, WorkKind.GRANTS, broken)
    declare(runtime)
    worker = start_worker(runtime, threads=2, worker_timeout_ms=100)
    try:
        with TestClient(build_app(runtime=runtime)) as http:
            body, headers = signed(sim.grant_expired("grant-1"))
            assert http.post("/webhooks/nylas", content=body, headers=headers).status_code == 200
        wait_for(
            lambda: (
                queue_lengths(runtime.broker.client, redis_namespace)["notifications.grants.XQ"]
                == 1
            ),
            what="the notification to be dead-lettered",
        )
    finally:
        worker.stop()
    capsys.readouterr()

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def assert_literal(output: str) -> None:
    assert LITERAL in output
    assert STRIPPED_TAIL in output
    assert "\x1b" not in output
    assert "\x07" not in output
    assert "pwned" not in output


def test_dlq_show_prints_a_hostile_error_literally_without_escapes(
    run_operator: Callable[..., tuple[int, str, str]],
) -> None:
    code, listed, _ = run_operator("dlq", "list")
    assert code == 0
    assert_literal(listed)
    [message_id] = [row.split()[1] for row in listed.splitlines() if "handle_grants" in row]

    code, out, err = run_operator("dlq", "show", message_id)

    assert code == 0, err
    assert_literal(out)
    assert f"error: RuntimeError: {LITERAL}" in out


def test_status_prints_a_hostile_error_literally_without_escapes(
    run_operator: Callable[..., tuple[int, str, str]],
) -> None:
    code, out, err = run_operator("status")

    assert code == 0, err
    assert_literal(out)
