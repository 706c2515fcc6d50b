"""Measuring one call's cost in memory and time, for tests that prove an attack stays cheap."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def measured(call: Callable[[], T]) -> tuple[T, int, float]:
    """What ``call`` returned, the peak bytes Python allocated while it ran, and its duration."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = call()
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak, elapsed
