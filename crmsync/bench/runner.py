"""``crmsync bench``: which measurements to run, in what size, and the report they make.

A full run takes minutes; ``--quick`` takes seconds and keeps every measurement working
(the test suite runs it) with loads too small for its figures to mean much. Each
measurement that breaks is reported as failed and the others still run; whatever happens,
the run's Redis keys, databases and files are removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crmsync.bench import services
from crmsync.bench.attack import AttackPlan, attack_figures, measure_attack
from crmsync.bench.backfill import BackfillPlan, backfill_figures, measure_backfill
from crmsync.bench.decode import DecodePlan, decode_figures, measure_decode
from crmsync.bench.e2e import PipelinePlan, PipelineResult, measure_pipeline, pipeline_figures
from crmsync.bench.fairness import measure_fairness
from crmsync.bench.fairness_figures import fairness_figures
from crmsync.bench.fairness_workload import FairnessPlan
from crmsync.bench.figures import DEFAULT_GROUPS, Figure, FigureStatus, failed
from crmsync.bench.ingress import IngressPlan, IngressResult, ingress_figures, measure_ingress
from crmsync.bench.machine import describe_machine
from crmsync.bench.matching import MatchingPlan, matching_figures, measure_matching
from crmsync.bench.processes import PROCFILE_WORKER_PROCESSES, PROCFILE_WORKER_THREADS
from crmsync.bench.soak import SoakPlan, measure_soak, soak_figures
from crmsync.bench.stack import BenchContext
from simulator.traffic import TrafficProfile

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BenchOptions:
    quick: bool = False
    concurrency: int = 32
    duration: float | None = None
    only: frozenset[str] = DEFAULT_GROUPS
    soak_minutes: float = 10.0
    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class BenchPlan:
    ingress: IngressPlan
    attack: AttackPlan
    decode: DecodePlan
    e2e_databases: tuple[str, ...]
    pipeline: PipelinePlan
    backfill: BackfillPlan
    matching: MatchingPlan
    fairness: FairnessPlan
    soak: SoakPlan


def plan_for(options: BenchOptions) -> BenchPlan:
    """The sizes of a full run, or of a ``--quick`` one."""
    quick = options.quick
    profile = TrafficProfile(reps=4, contacts_per_rep=500 if quick else 2_000)
    duration = options.duration or (1.0 if quick else 10.0)
    soak_seconds = options.soak_minutes * 60
    return BenchPlan(
        ingress=IngressPlan(
            concurrency=options.concurrency,
            warmup=0.3 if quick else 2.0,
            duration=duration,
            templates=200,
            duplicate_rate=0.02,
            profile=profile,
        ),
        attack=AttackPlan(
            rate=200.0,
            concurrency=8,
            warmup=0.3 if quick else 2.0,
            duration=duration,
            profile=profile,
            attackers=(1,) if quick else (1, 8),
            rounds=1 if quick else 3,
        ),
        # The ingress load's 200 notifications, and v2 batches of 5 of the same messages.
        decode=DecodePlan(
            rounds=3 if quick else 15,
            passes=1 if quick else 5,
            messages=50 if quick else 200,
            deltas_per_batch=5,
            profile=profile,
        ),
        # Quick runs cover both backends once: e2e on PostgreSQL, matching on SQLite.
        e2e_databases=("postgresql",) if quick else ("postgresql", "sqlite"),
        pipeline=PipelinePlan(
            notifications=100 if quick else 5_000,
            paced_seconds=0.5 if quick else 10.0,
            concurrency=options.concurrency,
            duplicate_rate=0.02,
            reorder_rate=0.05,
            profile=profile,
            worker_processes=PROCFILE_WORKER_PROCESSES,
            worker_threads=PROCFILE_WORKER_THREADS,
            direct_batch=500,
            timeout_seconds=60.0 if quick else 600.0,
        ),
        backfill=BackfillPlan(
            messages=1_000 if quick else 10_000,
            contacts_in_mail=40,
            contact_share=0.3,
            profile=profile,
            worker_processes=PROCFILE_WORKER_PROCESSES,
            worker_threads=PROCFILE_WORKER_THREADS,
            poll_seconds=0.05,
            timeout_seconds=60.0 if quick else 300.0,
        ),
        matching=MatchingPlan(
            database="sqlite" if quick else "postgresql",
            sizes=(1_000, 5_000) if quick else (1_000, 100_000),
            messages=100 if quick else 2_000,
            rounds=1 if quick else 3,
            profile=profile,
        ),
        fairness=FairnessPlan(
            # The sizes: A backfills 50 reps of 2,000 messages while B's reps
            # receive 20 notifications/s; long enough for a p99 of 400 latencies.
            live_rate=20.0,
            live_seconds=1.5 if quick else 20.0,
            warmup_messages=8 if quick else 20,
            backfill_reps=2 if quick else 50,
            backfill_messages=50 if quick else 2_000,
            contacts_in_mail=40,
            contact_share=0.3,
            profile=profile,
            concurrency=8,
            duplicate_rate=0.02,
            reorder_rate=0.05,
            worker_processes=PROCFILE_WORKER_PROCESSES,
            worker_threads=PROCFILE_WORKER_THREADS,
            sample_seconds=0.25 if quick else 1.0,
            timeout_seconds=60.0 if quick else 180.0,
            # Then B alone again, if A's backfill is done by then (the run stays near 4 min).
            backfill_timeout_seconds=30.0 if quick else 120.0,
        ),
        soak=SoakPlan(
            minutes=options.soak_minutes,
            # The e2e burst handles about 850 notifications/s on PostgreSQL (BENCHMARKS.md):
            # 200/s keeps every process busy and leaves the workers room, so the queues
            # stay short and flat and what grows is the processes, not a backlog.
            rate=200.0,
            # Every 10 s; at least 6 samples in a short soak, so a half still has a slope.
            sample_seconds=min(10.0, soak_seconds / 6),
            warmup_seconds=min(60.0, soak_seconds / 2),
            concurrency=8,
            duplicate_rate=0.02,
            reorder_rate=0.05,
            profile=profile,
            worker_processes=PROCFILE_WORKER_PROCESSES,
            worker_threads=PROCFILE_WORKER_THREADS,
            drain_timeout_seconds=120.0,
        ),
    )


@dataclass
class BenchReport:
    """What a run measured, with the machine and the plan, as written to ``--json``."""

    options: BenchOptions
    started_at: datetime
    machine: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    series: dict[str, Any] = field(default_factory=dict)  # e.g. the soak's samples

    @property
    def ok(self) -> bool:
        return all(f.status is not FigureStatus.FAILED for f in self.figures)

    def shown(self) -> list[Figure]:
        return [f for f in self.figures if f.group in self.options.only]

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": "crmsync bench",
            "quick": self.options.quick,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "options": {
                "concurrency": self.options.concurrency,
                "soak_minutes": self.options.soak_minutes,
                "duration": self.options.duration,
                "only": sorted(self.options.only),
            },
            "machine": self.machine,
            "figures": [f.to_json() for f in self.shown()],
            **({"series": self.series} if self.series else {}),
        }


def run_bench(options: BenchOptions, progress: Callable[[str], None]) -> BenchReport:
    """Run the measurements ``options.only`` asks for (``memory`` needs ingress and e2e)."""
    plan = plan_for(options)
    report = BenchReport(options, datetime.now(UTC))
    started = time.perf_counter()
    wanted = set(options.only)
    if "memory" in wanted:
        wanted |= {"ingress", "e2e"}
    report.machine = describe_machine(_service_versions(options))
    report.machine["load_average"] = [round(load, 2) for load in os.getloadavg()]
    ingress: IngressResult | None = None
    pipelines: list[PipelineResult] = []
    with _run_directory() as run_dir:
        context = BenchContext(
            run_dir, uuid.uuid4().hex[:10], options.redis_url, options.postgres_url
        )
        step = _Steps(context, report, progress)
        if "ingress" in wanted:
            with step("ingress", "bare Starlette, then POST /webhooks/nylas"):
                ingress = measure_ingress(context, plan.ingress)
                report.figures += ingress_figures(ingress, plan.ingress)
            with step("ingress-attack", "signed notifications beside looping hostile bodies"):
                attacked = measure_attack(context, plan.attack)
                report.figures += attack_figures(attacked, plan.attack)
            with step("ingress-decode", "today's body decode beside pydantic's and msgspec's"):
                report.figures += decode_figures(measure_decode(plan.decode))
        if "e2e" in wanted:
            for database in plan.e2e_databases:
                with step(f"e2e-{database}", f"{plan.pipeline.notifications:,} notifications"):
                    with _database(context, database, "e2e") as url:
                        result = measure_pipeline(context, database, url, plan.pipeline)
                    pipelines.append(result)
                    report.figures += pipeline_figures(result)
        if "backfill" in wanted:
            messages = f"{plan.backfill.messages:,} messages of one rep"
            with (
                step("backfill", f"{messages}, connected through hosted OAuth"),
                _database(context, "postgresql", "backfill") as url,
            ):
                backfill = measure_backfill(context, "postgresql", url, plan.backfill)
                report.figures += backfill_figures(backfill)
        if "matching" in wanted:
            sizes = " and ".join(f"{size:,}" for size in plan.matching.sizes)
            with (
                step("matching", f"{sizes} contacts, {plan.matching.database}"),
                _database(context, plan.matching.database, "matching") as url,
            ):
                report.figures += matching_figures(measure_matching(url, plan.matching))
        if "fairness" in wanted:
            fairness = plan.fairness
            with (
                step(
                    "fairness",
                    f"org A backfills {fairness.backfill_reps} reps of "
                    f"{fairness.backfill_messages:,} messages beside org B's "
                    f"{fairness.live_rate:g} notifications/s, against B alone",
                ),
                _database(context, "postgresql", "fairness") as url,
            ):
                fair = measure_fairness(context, url, fairness)
                report.figures += fairness_figures(fair)
                report.series["fairness"] = fair.to_json()
        if "soak" in wanted:
            soak = plan.soak
            with (
                step(
                    "soak",
                    f"{soak.minutes:g} min at {soak.rate:g} notifications/s, "
                    f"memory every {soak.sample_seconds:g} s",
                ),
                _database(context, "postgresql", "soak") as url,
            ):
                soaked = measure_soak(context, url, soak, progress)
                report.figures += soak_figures(soaked)
                report.series["soak"] = soaked.to_json()
        report.figures += _memory_figures(ingress, pipelines)
    report.elapsed_seconds = time.perf_counter() - started
    return report


class _Steps:
    """Runs each measurement as a step: announced, timed, and, if it breaks, reported as a
    failed figure with the end of its processes' logs, without stopping the others."""

    def __init__(
        self, context: BenchContext, report: BenchReport, progress: Callable[[str], None]
    ) -> None:
        self._context = context
        self._report = report
        self._progress = progress

    @contextlib.contextmanager
    def __call__(self, name: str, what: str) -> Iterator[None]:
        self._progress(f"{name}: {what}")
        started = time.perf_counter()
        try:
            yield
        except Exception as error:
            group = name.split("-", 1)[0]
            self._report.figures.append(failed(group, error, what=name.replace("-", ".")))
            self._progress(f"{name}: failed: {type(error).__name__}: {error}")
            _show_logs(self._context.run_dir / name, self._progress)
        else:
            self._progress(f"{name}: done in {time.perf_counter() - started:.1f} s")


def _memory_figures(ingress: IngressResult | None, pipelines: list[PipelineResult]) -> list[Figure]:
    figures: list[Figure] = []
    if ingress is not None:
        figures.append(
            Figure(
                key="memory.web_peak_rss",
                group="memory",
                label="memory: web process peak RSS (ingress load)",
                unit="MiB",
                value=ingress.real.peak_rss_bytes / MIB,
                baseline=ingress.bare.peak_rss_bytes / MIB,
                baseline_label="bare Starlette",
            )
        )
    for result in pipelines[:1]:
        figures.append(
            Figure(
                key="memory.worker_peak_rss",
                group="memory",
                label=f"memory: worker process peak RSS (e2e load, {result.database})",
                unit="MiB",
                value=result.worker_peak_rss_bytes / MIB,
                note="the largest of the dramatiq worker processes",
            )
        )
    return figures


def _show_logs(log_dir: Path, progress: Callable[[str], None], lines: int = 15) -> None:
    """The end of each process log of a failed measurement (the run directory is removed)."""
    for log in sorted(log_dir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        progress(f"--- last lines of {log.name} ---\n" + "\n".join(tail))


@contextlib.contextmanager
def _database(context: BenchContext, database: str, phase: str) -> Iterator[str]:
    """A migrated database of the run's own: a new PostgreSQL database, or a SQLite file."""
    if database == "sqlite":
        url = services.sqlite_url(context.run_dir, phase)
        services.migrate(url)
        yield url
        return
    name = f"crmsync_bench_{context.token}_{phase}"
    with services.postgres_database(context.postgres_admin_url, name) as url:
        services.migrate(url)
        yield url


@contextlib.contextmanager
def _run_directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="crmsync-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _service_versions(options: BenchOptions) -> dict[str, str]:
    versions: dict[str, str] = {}
    for name, probe, url in (
        ("redis", services.redis_version, options.redis_url),
        ("postgresql", services.postgres_version, options.postgres_url),
    ):
        try:
            versions[name] = probe(url)
        except Exception as error:
            versions[name] = f"unreachable: {type(error).__name__}"
    return versions
