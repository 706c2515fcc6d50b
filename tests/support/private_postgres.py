"""A PostgreSQL cluster of one test's own, which the test may crash and start again.

Restarting the suite's shared server would break every other test (and other sessions), so
a fault test that takes PostgreSQL away makes its own cluster with ``initdb`` in a temporary
directory, on a free port, trust authentication, its Unix socket in that directory.
PostgreSQL refuses to run as root: when the suite runs as root, ``initdb`` and ``pg_ctl`` run
as the ``postgres`` OS user (``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.support.processes import free_port
from tests.support.services import wait_for

PG_BIN = Path(os.environ.get("CRMSYNC_TEST_PG_BIN", "/usr/local/bin"))
OS_USER = "postgres"


class PrivatePostgres:
    """One PostgreSQL cluster: :meth:`create`, :meth:`start`, :meth:`crash`, :meth:`remove`."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: that is root's and closed to the postgres user.
        self.directory = Path(tempfile.mkdtemp(prefix="crmsync-pg-"))
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam(OS_USER)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", OS_USER, "--"]

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create(self) -> None:
        """``initdb``: a new cluster with trust authentication for the ``postgres`` role."""
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        # fsync=off only spares the disk: a crash of the server process (what the tests do)
        # loses nothing the OS already holds. synchronous_commit stays on: with it off, the
        # server confirms commits it has not yet written, and a crash loses them.
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")
        wait_for(self._accepts, timeout=20, what=f"PostgreSQL on port {self.port}")

    def crash(self) -> None:
        """Stop the server at once, as a crash would (``-m immediate``: no checkpoint;
        the next start replays the WAL). Every connection is cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop the server if it runs, for clean-up (``-m immediate``: nothing to keep)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def remove(self) -> None:
        """Stop the server and delete the cluster."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=1) as connection:
                connection.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def _run(self, program: str, *arguments: str, check: bool = True) -> None:
        result = subprocess.run(  # noqa: S603  (fixed local binaries)
            [*self._as_user, str(PG_BIN / program), *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}")
