"""A Redis server of one test's own, which the test may stop, kill and start again.

The suite's shared Redis must never go down under other tests, so a fault test that takes
Redis away runs its own ``redis-server`` on a free port, persisting to an append-only file
in a directory of its own. Started again on the same port and directory, it reloads that
file: what it acknowledged before it stopped is still there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import redis

from tests.support.processes import free_port
from tests.support.services import wait_for

REDIS_SERVER = "/usr/bin/redis-server"


class PrivateRedis:
    """One ``redis-server`` process with AOF persistence (``appendfsync always``) in ``directory``.

    ``appendfsync always`` is the setting under which a write Redis has answered is on disk,
    which the no-loss promise across a Redis restart relies on (RELIABILITY.md).
    """

    def __init__(self, directory: Path, *, fsync: str = "always") -> None:
        self.directory = directory
        self.port = free_port()
        self.fsync = fsync
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Start the server (again) and wait until it answers PING, its AOF loaded."""
        if self.running:
            raise RuntimeError("this Redis is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        arguments = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.fsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        # Its own session: a signal meant for it never reaches pytest, and vice versa.
        self._process = subprocess.Popen(  # noqa: S603  (a fixed local binary)
            arguments,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._answers, timeout=timeout, what=f"redis-server on port {self.port}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stop the server with ``sig`` (SIGTERM: a clean shutdown; SIGKILL: a crash)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout)
        self._process = None

    def _answers(self) -> bool:
        if not self.running:
            raise AssertionError(
                f"redis-server exited; see {self.directory / 'redis.log'}: {self.log_tail()}"
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:  # refused, or still loading its AOF
            return False
        finally:
            client.close()

    def log_tail(self, lines: int = 20) -> str:
        log = self.directory / "redis.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
