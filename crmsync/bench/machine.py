"""What a benchmark ran on: figures mean little without the machine and the versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "crmsync", "uvicorn", "uvloop", "httptools", "starlette", "dramatiq", "redis",
    "sqlalchemy", "sqlmodel", "psycopg", "orjson",
)  # fmt: skip


def describe_machine(service_versions: dict[str, str]) -> dict[str, Any]:
    """CPU, memory, OS, Python, the packages that matter, and the services' versions."""
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": _cpuinfo("model name"),
        "memory_bytes": _meminfo_bytes("MemTotal"),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "services": service_versions,
    }


def _cpuinfo(key: str) -> str | None:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def _meminfo_bytes(key: str) -> int | None:
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
