"""The processes a benchmark measures, started as the Procfile starts them.

Web processes run ``uvicorn --factory`` with the Procfile's settings (uvloop, httptools, no
access log, one worker); workers run ``crmsync worker``. Each gets only the
environment the benchmark gives it (no crmsync or Nylas setting leaks in from the shell) and
writes its output to a log file, shown when it fails to start.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crmsync.bench import procfs

# What the Procfile's `web` line passes to uvicorn besides the app, host and port.
PROCFILE_WEB_OPTIONS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")
PROCFILE_WORKER_PROCESSES = 2
PROCFILE_WORKER_THREADS = 64
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0


class ProcessFailed(Exception):
    """Raised when a benchmarked process exits or does not start listening in time."""


@dataclass
class Process:
    """A started process, its log, and how to stop it."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (a graceful stop, as a platform would), then SIGKILL after a while."""
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def child_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without crmsync's or Nylas's settings, plus ``settings``."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRMSYNC_", "NYLAS_")) and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    return {**inherited, **settings}


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_web(
    name: str, factory: str, port: int, environment: Mapping[str, str], log_dir: Path
) -> Process:
    """``uvicorn --factory FACTORY`` on 127.0.0.1:PORT with the Procfile's options."""
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", factory,
        "--host", "127.0.0.1", "--port", str(port), *PROCFILE_WEB_OPTIONS,
    ]  # fmt: skip
    return _start(name, argv, environment, log_dir)


def start_workers(
    environment: Mapping[str, str],
    log_dir: Path,
    *,
    processes: int = PROCFILE_WORKER_PROCESSES,
    threads: int = PROCFILE_WORKER_THREADS,
) -> Process:
    """``crmsync worker`` with the Procfile's processes and threads."""
    argv = [
        sys.executable, "-m", "crmsync", "worker",
        "--processes", str(processes), "--threads", str(threads),
    ]  # fmt: skip
    return _start("worker", argv, environment, log_dir)


def wait_listening(process: Process, port: int, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Block until ``port`` accepts connections.

    Raises:
        ProcessFailed: the process exited first, or the port stayed closed for ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise ProcessFailed(f"{process.name} exited:\n{process.log_tail()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise ProcessFailed(f"{process.name} did not listen on {port}:\n{process.log_tail()}")


def wait_workers(process: Process, count: int, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Block until ``dramatiq`` has forked its ``count`` worker processes.

    Raises:
        ProcessFailed: it exited first, or did not fork them within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise ProcessFailed(f"{process.name} exited:\n{process.log_tail()}")
        if len(procfs.children(process.pid)) >= count:
            return
        time.sleep(0.05)
    raise ProcessFailed(f"{process.name} started no workers:\n{process.log_tail()}")


def _start(name: str, argv: list[str], environment: Mapping[str, str], log_dir: Path) -> Process:
    log = log_dir / f"{name}.log"
    with log.open("ab") as output:
        popen = subprocess.Popen(  # noqa: S603  (our own interpreter and modules)
            argv, env=dict(environment), stdout=output, stderr=subprocess.STDOUT, cwd=log_dir
        )
    return Process(name, popen, log)
