"""Keeping Python's garbage collector off the ingress's tail latency.

A full (generation 2) collection walks every container object the process holds. A web
process holds a great many that live as long as it does (modules, the app, SQLAlchemy's
metadata, the Nylas SDK, Prometheus registries); under notification load a full collection
came every second or so and paused every request for 70 to 100 ms, which was the ingress's
p99 (BENCHMARKS.md). ``gc.freeze()`` once start-up is done moves those objects out of the
collector's sight, so later collections walk only what requests create. Nothing is leaked:
frozen objects are still freed by reference counting; only cycles among them are never
collected, and start-up objects live for the whole process anyway.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_objects() -> None:
    """Collect once, then freeze what is left; only the first call in a process does it
    (tests build many apps in one process and must not freeze their own garbage)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
