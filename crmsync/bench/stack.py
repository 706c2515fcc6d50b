"""crmsync as production runs it, for one benchmark: web and worker processes on Redis.

The environment is the one the Procfile's processes read (``DATABASE_URL``, ``REDIS_URL``,
``NYLAS_*``, ``CRMSYNC_*``), with a Redis namespace and database of the run's own, and the
fake Nylas API as the Nylas the workers call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from crmsync.bench import processes, procfs
from crmsync.bench.processes import Process
from crmsync.bench.services import RedisNamespace

WEBHOOK_SECRET = "crmsync-bench-webhook-secret"  # noqa: S105  (the run's own, thrown away)
API_TOKEN = "crmsync-bench-api-token"  # noqa: S105
NYLAS_API_KEY = "crmsync-bench-nylas-key"


@dataclass(frozen=True, slots=True)
class BenchContext:
    """Where one benchmark run keeps its files and reaches its services."""

    run_dir: Path
    token: str
    redis_url: str
    postgres_admin_url: str

    def namespace(self, phase: str) -> RedisNamespace:
        """The Redis key prefix of one phase of the run."""
        return RedisNamespace(self.redis_url, f"crmsync-bench-{self.token}-{phase}")

    def log_dir(self, phase: str) -> Path:
        path = self.run_dir / phase
        path.mkdir(parents=True, exist_ok=True)
        return path


def crmsync_environment(
    database_url: str, namespace: RedisNamespace, *, nylas_url: str | None = None
) -> dict[str, str]:
    """The settings crmsync's processes read, for this run's database and namespace."""
    settings = {
        "DATABASE_URL": database_url,
        "REDIS_URL": namespace.url,
        "CRMSYNC_REDIS_NAMESPACE": namespace.name,
        "NYLAS_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "CRMSYNC_API_TOKENS": API_TOKEN,
        "NYLAS_API_KEY": NYLAS_API_KEY,
    }
    if nylas_url is not None:
        settings["NYLAS_API_URI"] = nylas_url
    return processes.child_environment(settings)


def connecting_environment(
    database_url: str, namespace: RedisNamespace, *, nylas_url: str, client_id: str, port: int
) -> dict[str, str]:
    """:func:`crmsync_environment` for a stack whose reps connect through hosted OAuth: the
    fake's application, and crmsync's own address (``port``) for the callback URL the fake
    redirects the browser to."""
    return {
        **crmsync_environment(database_url, namespace, nylas_url=nylas_url),
        "NYLAS_CLIENT_ID": client_id,
        "CRMSYNC_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }


@dataclass(frozen=True, slots=True)
class Stack:
    """A running web process and, when asked for, its workers."""

    web: Process
    port: int
    workers: Process | None

    def worker_pids(self) -> list[int]:
        """The worker processes ``dramatiq`` forked (not its supervising process)."""
        return [] if self.workers is None else procfs.children(self.workers.pid)


@contextmanager
def running_stack(
    environment: dict[str, str],
    log_dir: Path,
    *,
    factory: str = "crmsync.app:build_app",
    name: str = "web",
    worker_processes: int = 0,
    worker_threads: int = processes.PROCFILE_WORKER_THREADS,
    port: int | None = None,
) -> Iterator[Stack]:
    """Start the web process (and ``worker_processes`` workers), stop them after the block.

    ``port`` is for a caller whose environment must name the web's own address (hosted
    OAuth's callback URL); a free one is chosen otherwise.
    """
    with ExitStack() as started:
        port = port or processes.free_port()
        web = processes.start_web(name, factory, port, environment, log_dir)
        started.callback(web.stop)
        workers = None
        if worker_processes:
            workers = processes.start_workers(
                environment, log_dir, processes=worker_processes, threads=worker_threads
            )
            started.callback(workers.stop)
        processes.wait_listening(web, port)
        if workers is not None:
            processes.wait_workers(workers, worker_processes)
        yield Stack(web, port, workers)
