"""Ingress: ``POST /webhooks/nylas`` beside a bare Starlette endpoint, same uvicorn, same load.

Both servers get the same stream of signed, realistic message notifications over the same
number of keep-alive connections, one after the other. The real ingress verifies, parses,
deduplicates and enqueues each on the real Redis; no workers run, so the queues are emptied
as the run goes (see :func:`~crmsync.bench.services.draining_queues`). A share of the
requests repeat an earlier notification id, as Nylas's retries do, and are answered as
duplicates.
"""

from __future__ import annotations

import asyncio
import random
import resource
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import redis
import uvloop

from crmsync.bench import procfs
from crmsync.bench.figures import Figure
from crmsync.bench.load import LoadRun, Request, run_load
from crmsync.bench.services import draining_queues, sqlite_url
from crmsync.bench.stack import WEBHOOK_SECRET, BenchContext, crmsync_environment, running_stack
from crmsync.bench.webhook import notification_request
from simulator.delivery import StampedBody
from simulator.traffic import MailboxTraffic, TrafficProfile

BARE_FACTORY = "crmsync.bench.bare_app:build_bare_app"
THROUGHPUT_TARGET_SHARE = 0.5
P99_TARGET_MS = 10.0


@dataclass(frozen=True, slots=True)
class IngressPlan:
    concurrency: int
    warmup: float
    duration: float
    templates: int
    duplicate_rate: float
    profile: TrafficProfile


@dataclass(frozen=True, slots=True)
class ServerRun:
    """One server under the load: the samples and what the run cost each process."""

    load: LoadRun
    server_cpu_seconds: float
    client_cpu_seconds: float
    redis_cpu_seconds: float
    peak_rss_bytes: int


@dataclass(frozen=True, slots=True)
class IngressResult:
    bare: ServerRun
    real: ServerRun


def ingress_requests(
    templates: list[StampedBody], *, prefix: str, duplicate_rate: float, seed: int
) -> Iterator[Request]:
    """An endless stream of signed notification requests, each with a fresh id except for
    retries (``duplicate_rate``), which repeat one of the last few ids."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible load, not a secret)
    recent: deque[tuple[str, StampedBody]] = deque(maxlen=16)
    number = 0
    while True:
        if recent and rng.random() < duplicate_rate:
            notification_id, template = rng.choice(recent)
        else:
            notification_id = f"{prefix}-{number:010d}"
            template = templates[number % len(templates)]
            recent.append((notification_id, template))
            number += 1
        yield notification_request(template.stamp(notification_id))


def measure_ingress(context: BenchContext, plan: IngressPlan) -> IngressResult:
    """Load the bare endpoint, then the real ingress, with the same requests."""
    traffic = MailboxTraffic(plan.profile, now=1_800_000_000)
    templates = [StampedBody(m.notification, WEBHOOK_SECRET) for m in traffic.messages(200)]
    namespace = context.namespace("ingress")
    environment = crmsync_environment(sqlite_url(context.run_dir, "ingress"), namespace)
    log_dir = context.log_dir("ingress")
    results: dict[str, ServerRun] = {}
    try:
        for name, factory in (("bare", BARE_FACTORY), ("real", "crmsync.app:build_app")):
            requests = ingress_requests(
                templates,
                prefix=f"{context.token}-{name}",
                duplicate_rate=plan.duplicate_rate,
                seed=plan.profile.seed,
            )
            with (
                running_stack(environment, log_dir, factory=factory, name=name) as stack,
                draining_queues(namespace),
            ):
                results[name] = _load_server(
                    stack.web.pid, stack.port, requests, plan, namespace.url
                )
    finally:
        namespace.clean()
    return IngressResult(bare=results["bare"], real=results["real"])


def _load_server(
    pid: int, port: int, requests: Iterator[Request], plan: IngressPlan, redis_url: str
) -> ServerRun:
    server_before = procfs.cpu_seconds(pid)
    client_before = _own_cpu_seconds()
    redis_before = _redis_cpu_seconds(redis_url)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        load = runner.run(
            run_load(
                "127.0.0.1",
                port,
                requests,
                concurrency=plan.concurrency,
                duration=plan.duration,
                warmup=plan.warmup,
            )
        )
    return ServerRun(
        load=load,
        server_cpu_seconds=procfs.cpu_seconds(pid) - server_before,
        client_cpu_seconds=_own_cpu_seconds() - client_before,
        redis_cpu_seconds=_redis_cpu_seconds(redis_url) - redis_before,
        peak_rss_bytes=procfs.peak_rss_bytes(pid),
    )


def ingress_figures(result: IngressResult, plan: IngressPlan) -> list[Figure]:
    bare, real = result.bare.load, result.real.load
    share = real.throughput() / bare.throughput() if bare.throughput() else 0.0
    p99 = real.latency_ms(0.99)
    statuses = real.statuses()
    baseline = "bare Starlette"
    return [
        Figure(
            key="ingress.throughput",
            group="ingress",
            label="ingress: notifications/s",
            unit="req/s",
            value=real.throughput(),
            baseline=bare.throughput(),
            baseline_label=baseline,
            target=f">= {THROUGHPUT_TARGET_SHARE:.0%} of bare",
            met=share >= THROUGHPUT_TARGET_SHARE,
            note=f"{plan.concurrency} connections, 1 uvicorn worker; "
            + _cost_note(result.real, real),
        ),
        Figure(
            key="ingress.latency_p50",
            group="ingress",
            label="ingress: latency p50",
            unit="ms",
            value=real.latency_ms(0.5),
            baseline=bare.latency_ms(0.5),
            baseline_label=baseline,
        ),
        Figure(
            key="ingress.latency_p99",
            group="ingress",
            label="ingress: latency p99",
            unit="ms",
            value=p99,
            baseline=bare.latency_ms(0.99),
            baseline_label=baseline,
            target=f"< {P99_TARGET_MS:.0f} ms at {plan.concurrency} connections",
            met=p99 < P99_TARGET_MS,
        ),
        Figure(
            key="ingress.cpu_per_request",
            group="ingress",
            label="ingress: server CPU per request",
            unit="µs",
            value=_cpu_per_request(result.real),
            baseline=_cpu_per_request(result.bare),
            baseline_label=baseline,
            note="steadier than throughput on a busy machine: what each request costs",
        ),
        Figure(
            key="ingress.errors",
            group="ingress",
            label="ingress: answers other than 200",
            unit="req",
            value=float(sum(n for status, n in statuses.items() if status != 200)),
            target="0",
            met=set(statuses) <= {200},
            note=f"answers {statuses}; bare {bare.statuses()}",
        ),
    ]


def _cpu_per_request(run: ServerRun) -> float:
    return run.server_cpu_seconds / max(len(run.load.samples), 1) * 1e6


def _cost_note(run: ServerRun, load: LoadRun) -> str:
    seconds = load.elapsed_seconds
    return (
        f"CPU busy over the run: server {run.server_cpu_seconds / seconds:.0%}, "
        f"load generator {run.client_cpu_seconds / seconds:.0%}, "
        f"redis {run.redis_cpu_seconds / seconds:.0%} of one core"
    )


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _redis_cpu_seconds(url: str) -> float:
    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        client.close()
