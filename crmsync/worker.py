"""Worker processes: ``dramatiq crmsync.worker:setup`` (see the Procfile).

Dramatiq's CLI calls :func:`setup`, which builds the broker from the environment, makes it
the global broker, and declares the actors on it, in that order.
"""

from __future__ import annotations

import os
from datetime import timedelta

import dramatiq
from dramatiq import Worker

from crmsync.logs import configure_logging
from crmsync.runtime import Runtime
from crmsync.settings import Settings, SettingsError
from workers.actors.registry import declare_actors
from workers.context import WorkerContext
from workers.maintenance import Maintenance
from workers.nylas_client import NylasGateway


def declare(runtime: Runtime) -> None:
    """Declare crmsync's actors on the runtime's broker."""
    declare_actors(runtime.broker, worker_context(runtime))


def worker_context(runtime: Runtime) -> WorkerContext:
    """The context actors work in: the runtime's database and a Nylas gateway from settings."""
    settings = runtime.settings
    gateway = (
        NylasGateway(str(settings.nylas_api_key), settings.nylas_api_uri)
        if settings.nylas_api_key is not None
        else None
    )
    return WorkerContext(engine=runtime.engine, nylas_gateway=gateway)


def start_maintenance(runtime: Runtime) -> Maintenance:
    """The housekeeping thread of a worker process (change feed retention), started."""
    maintenance = Maintenance(
        worker_context(runtime), timedelta(days=runtime.settings.change_retention_days)
    )
    maintenance.start()
    return maintenance


def start_worker(runtime: Runtime, threads: int, *, worker_timeout_ms: int = 1000) -> Worker:
    """Worker threads in this process consuming every queue of the runtime's broker."""
    worker = Worker(runtime.broker, worker_threads=threads, worker_timeout=worker_timeout_ms)
    worker.start()
    return worker


def setup() -> None:
    """Entry point for ``dramatiq crmsync.worker:setup``."""
    settings = Settings.from_environ(os.environ)
    if settings.embedded:
        raise SettingsError(
            ["REDIS_URL is required for separate worker processes; `crmsync run` runs embedded"]
        )
    configure_logging(settings.log_level)
    runtime = Runtime.from_settings(settings)
    dramatiq.set_broker(runtime.broker)
    declare(runtime)
    start_maintenance(runtime)
