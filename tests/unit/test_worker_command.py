"""``crmsync worker``: Dramatiq's CLI behind crmsync's own command (the Procfile's workers).

Only what is decided before Dramatiq starts a process is tested here; the process tree and
its JSON lines are tested as the Procfile runs them (tests/integration/test_procfile.py).
"""

from __future__ import annotations

import importlib
import os

import pytest

from crmsync.cli import main
from crmsync.worker_command import SETUP_FUNCTION


def test_the_setup_it_names_is_the_worker_setup() -> None:
    module, _, name = SETUP_FUNCTION.partition(":")

    setup = getattr(importlib.import_module(module), name)

    assert setup.__module__ == "crmsync.worker"
    assert callable(setup)


def test_its_options_are_dramatiqs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["worker", "--help"])

    assert exited.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: crmsync worker")
    assert "--processes" in usage
    assert "--queues" in usage


def test_a_log_file_is_refused_as_it_would_split_the_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["worker", "--processes", "1", "--log-file", "workers.log"])

    assert exited.value.code == 2
    assert "--log-file is not supported" in capsys.readouterr().err


def test_without_redis_it_stops_before_starting_any_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in list(os.environ):
        if key.startswith(("CRMSYNC_", "NYLAS_")) or key in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(key)

    assert main(["worker", "--processes", "1"]) == 2
    assert "REDIS_URL is required for separate worker processes" in capsys.readouterr().err


def test_the_other_commands_still_refuse_arguments_they_do_not_know(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["migrate", "--processes", "1"])

    assert exited.value.code == 2
    assert "unrecognized arguments: --processes 1" in capsys.readouterr().err
