"""What Linux says about a process in ``/proc``: memory, CPU time, children.

Read from the outside, so measuring a process never changes what it does. ``VmHWM`` is the
kernel's own high-water mark of the resident set: a peak no sampling interval can miss.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _status_kib(pid: int, key: str) -> int:
    for line in (_PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise LookupError(f"/proc/{pid}/status has no {key}")


def peak_rss_bytes(pid: int) -> int:
    """The most memory the process has ever had resident (``VmHWM``)."""
    return _status_kib(pid, "VmHWM") * 1024


def rss_bytes(pid: int) -> int:
    """The memory the process has resident now (``VmRSS``)."""
    return _status_kib(pid, "VmRSS") * 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    stat = (_PROC / str(pid) / "stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct children of a process (e.g. the worker processes of ``dramatiq``)."""
    found: list[int] = []
    for task in (_PROC / str(pid) / "task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:  # the thread ended while we looked
            continue
    return sorted(set(found))


def available() -> bool:
    """Whether this system has a Linux ``/proc`` to read."""
    return (_PROC / "self" / "status").exists()
