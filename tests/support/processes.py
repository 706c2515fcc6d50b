"""Running crmsync's own commands as real processes, as an operator would."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
# The checkout under test: the console scripts import it first, wherever crmsync is installed.
REPOSITORY = Path(__file__).resolve().parents[2]


def command(name: str) -> str:
    """The path of a console script installed beside this interpreter."""
    return str(BIN / name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def clean_environment() -> dict[str, str]:
    """This process's environment without any crmsync or Nylas setting, importing this
    checkout's code."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRMSYNC_", "NYLAS_")) and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    inherited = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), inherited]))
    return environment


def handled_types(database: Path) -> list[str]:
    """The sorted types of the notifications a SQLite database holds, once handled."""
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        try:
            rows = connection.execute(
                "SELECT type FROM raw_notifications WHERE state != 'pending' ORDER BY type"
            ).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []
    return [row[0] for row in rows]


# What `crmsync demo` stores: a message, its truncated twin, two v2 deltas and a grant expiry;
# its repeated message is a duplicate and is not stored again.
DEMO_TYPES = sorted(["message.created"] * 3 + ["message.created.truncated", "grant.expired"])
# With a simulator the demo also adds a folder (the simulator delivers its folder.created) and
# sends a message filed in it, and a message to each of its two organizations.
SIMULATED_DEMO_TYPES = sorted([*DEMO_TYPES, "folder.created", *["message.created"] * 3])


def run_command(
    name: str, *arguments: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one of crmsync's console scripts to completion, capturing its output as text."""
    return subprocess.run(  # noqa: S603  (our own commands)
        [command(name), *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
