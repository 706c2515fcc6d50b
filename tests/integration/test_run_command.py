"""The README's run path: `crmsync run` on the embedded defaults stores a signed sample.

Runs the real command in a fresh folder with no configuration at all, sends it the demo
notifications with `crmsync demo`, and reads the SQLite file it created.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from alembic.script import ScriptDirectory

from storage.migrate import alembic_config
from tests.support.processes import (
    SIMULATED_DEMO_TYPES,
    clean_environment,
    command,
    free_port,
    handled_types,
    listening,
    run_command,
)
from tests.support.services import wait_for

CRMSYNC = command("crmsync")


def test_run_on_embedded_defaults_stores_signed_samples(tmp_path: Path) -> None:
    port = free_port()
    environment = clean_environment()
    server = subprocess.Popen(  # noqa: S603  (our own command)
        [CRMSYNC, "run", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: listening(port) or server.poll() is not None, what="crmsync to listen")
        assert server.poll() is None, "crmsync run exited at start-up"

        demo = run_command(
            "crmsync", "demo", "--url", f"http://127.0.0.1:{port}", env=environment, cwd=tmp_path
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        lines = demo.stdout.splitlines()
        assert lines[0].startswith("201  PUT /v1/reps/demo-rep")
        assert sum(line.startswith("200  message.created") for line in lines) == 4
        assert any(line.startswith("200  v2 deltas (2)") for line in lines)
        assert any(line.startswith("200  grant.expired") for line in lines)
        # The built-in Nylas simulator completed the truncated and v2 messages over HTTP, and
        # delivered the folder.created of the label the demo added, to this same crmsync.
        assert "200  folder.created" in demo.stdout
        assert "delivered by the simulator" in demo.stdout
        assert "emails stored for demo-rep (GET /v1/emails?rep_id=demo-rep): 5" in demo.stdout
        assert "'The proposal, filed under Proposals'  ['Proposals']" in demo.stdout

        database = tmp_path / "crmsync.db"
        wait_for(
            lambda: handled_types(database) == SIMULATED_DEMO_TYPES,
            what="the samples to be stored",
        )
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)

    assert server.returncode == 0, output
    assert "listening on" in output
    assert "embedded broker" in output
    assert "crmsync-dev-webhook-secret" not in output


def test_migrate_command_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    environment = {**clean_environment(), "DATABASE_URL": url}

    result = run_command("crmsync", "migrate", env=environment)

    assert result.returncode == 0, result.stderr
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"revision {head}" in result.stdout
    # Alembic's context lines once, as JSON lines like every other.
    announced = [line for line in result.stderr.splitlines() if "Context impl" in line]
    assert len(announced) == 1
    assert announced[0].startswith("{")


def test_missing_required_settings_stop_start_up_naming_them(tmp_path: Path) -> None:
    environment = clean_environment()
    environment["REDIS_URL"] = "redis://127.0.0.1:6379/0"

    result = run_command("crmsync", "run", env=environment, cwd=tmp_path)

    assert result.returncode == 2
    for name in ("NYLAS_WEBHOOK_SECRETS", "CRMSYNC_API_TOKENS", "NYLAS_API_KEY"):
        assert name in result.stderr
