"""End to end: message notifications through web, Redis, worker processes and a database.

For one database: crmsync's web process and ``dramatiq`` workers (the Procfile's shape) with
the fake Nylas API; reps and contacts registered through the CRM API; then

1. a burst: N notifications (with Nylas's duplicates and reordering) as fast as the ingress
   takes them, until every notification is handled and every matching email's
   ``email.stored`` change has been read from ``/v1/changes``. Throughput is counted from
   the first POST to that moment;
2. a paced run at half the burst's rate, so the latency from a POST to its change being
   readable is what a client sees when the pipeline keeps up, not the burst's backlog;
3. with the processes stopped, the same emails inserted directly (the storage limit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import uvloop
from sqlalchemy import Engine, create_engine, func
from sqlmodel import Session, col, select

from crmsync.bench import crm_api, procfs
from crmsync.bench.crm_api import FeedFollower, email_key
from crmsync.bench.direct import DirectResult, measure_direct_inserts
from crmsync.bench.figures import Figure
from crmsync.bench.load import Connection, LoadRun, Request, percentile, run_load
from crmsync.bench.stack import (
    NYLAS_API_KEY,
    WEBHOOK_SECRET,
    BenchContext,
    Stack,
    crmsync_environment,
    running_stack,
)
from crmsync.bench.webhook import notification_request
from simulator.delivery import deliveries, signed_body
from simulator.mailbox import FakeNylas
from simulator.traffic import MailboxTraffic, SimMessage, TrafficProfile
from storage.engine import normalise_url
from storage.tables import NotificationState, RawNotification

STORED_TARGET_PER_SECOND = 2_000.0
# Issue 8: POST to feed under a second at p99, paced at half the burst's rate.
PACED_P99_TARGET_MS = 1_000.0
PACED_SHARE = 0.5
COUNT_INTERVAL_SECONDS = 0.1  # how often the handled notifications are counted
HANDLED_STATES = (NotificationState.PROCESSED.value, NotificationState.RECEIVED.value)


@dataclass(frozen=True, slots=True)
class PipelinePlan:
    notifications: int
    paced_seconds: float
    concurrency: int
    duplicate_rate: float
    reorder_rate: float
    profile: TrafficProfile
    worker_processes: int
    worker_threads: int
    direct_batch: int
    timeout_seconds: float


@dataclass(frozen=True, slots=True)
class Phase:
    """One load of notifications and how the pipeline got through it."""

    notifications: int
    emails: int
    processed_seconds: float
    stored_seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    rate: float | None = None

    @property
    def processed_per_second(self) -> float:
        return self.notifications / self.processed_seconds

    @property
    def stored_per_second(self) -> float:
        return self.emails / self.stored_seconds

    def latency_ms(self, quantile: float) -> float:
        return percentile(self.latencies, quantile) * 1000


@dataclass(frozen=True, slots=True)
class PipelineResult:
    database: str
    burst: Phase
    paced: Phase
    direct: DirectResult
    web_peak_rss_bytes: int
    worker_peak_rss_bytes: int


class PipelineStalled(Exception):
    """Raised when the pipeline does not finish a load within the plan's timeout."""


def measure_pipeline(
    context: BenchContext, database: str, database_url: str, plan: PipelinePlan
) -> PipelineResult:
    """Run the burst and the paced load through crmsync on ``database_url``, then the
    direct inserts on the same database."""
    from crmsync.bench.fake_nylas import serve_fake_nylas  # uvicorn in a thread, only here

    traffic = MailboxTraffic(plan.profile, now=int(time.time()))
    fake = FakeNylas(api_key=NYLAS_API_KEY)
    for rep in traffic.reps:
        fake.add_mailbox(rep.grant_id, rep.provider, rep.email)
    namespace = context.namespace(f"e2e-{database}")
    engine = reader_engine(database_url)
    try:
        with serve_fake_nylas(fake) as nylas_url:
            environment = crmsync_environment(database_url, namespace, nylas_url=nylas_url)
            with running_stack(
                environment,
                context.log_dir(f"e2e-{database}"),
                worker_processes=plan.worker_processes,
                worker_threads=plan.worker_threads,
            ) as stack:
                driver = _Driver(stack, traffic, fake, engine, plan)
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    burst, paced = runner.run(driver.run())
                web_rss = procfs.peak_rss_bytes(stack.web.pid)
                worker_rss = max(
                    (procfs.peak_rss_bytes(pid) for pid in stack.worker_pids()), default=0
                )
    finally:
        engine.dispose()
        namespace.clean()
    direct = measure_direct_inserts(
        database_url, traffic.reps, driver.burst_messages, batch=plan.direct_batch
    )
    return PipelineResult(database, burst, paced, direct, web_rss, worker_rss)


class _Driver:
    """Sends the loads and watches the feed, in the benchmark's event loop."""

    def __init__(
        self,
        stack: Stack,
        traffic: MailboxTraffic,
        fake: FakeNylas,
        engine: Engine,
        plan: PipelinePlan,
    ) -> None:
        self.stack = stack
        self.traffic = traffic
        self.fake = fake
        self.engine = engine
        self.plan = plan
        self.burst_messages: list[SimMessage] = []
        self._following: asyncio.Task[None] | None = None

    async def run(self) -> tuple[Phase, Phase]:
        setup = Connection("127.0.0.1", self.stack.port)
        feed = Connection("127.0.0.1", self.stack.port)
        try:
            await crm_api.register_all(setup, self.traffic)
            follower = await FeedFollower.from_head(feed)
            following = self._following = asyncio.create_task(follower.follow())
            try:
                # Warm-up: one matching email per rep fills each grant's folder cache.
                await self._phase(follower, self._warmup_messages(), rate=None)
                self.burst_messages = list(self.traffic.messages(self.plan.notifications))
                burst = await self._phase(follower, self.burst_messages, rate=None)
                rate = max(1.0, PACED_SHARE * burst.processed_per_second)
                count = max(20, int(rate * self.plan.paced_seconds))
                paced = await self._phase(follower, list(self.traffic.messages(count)), rate=rate)
            finally:
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
        finally:
            setup.close()
            feed.close()
        return burst, paced

    def _warmup_messages(self) -> list[SimMessage]:
        wanted = {rep.rep_id for rep in self.traffic.reps}
        found: list[SimMessage] = []
        for message in self.traffic.messages():
            if message.matching and message.rep_id in wanted:
                wanted.discard(message.rep_id)
                found.append(message)
            if not wanted:
                return found
        raise AssertionError("unreachable: the message stream is endless")

    async def _phase(
        self, follower: FeedFollower, messages: Sequence[SimMessage], *, rate: float | None
    ) -> Phase:
        for message in messages:
            if message.truncated:  # the worker will fetch it from the Nylas API
                self.fake.put_message(message.grant_id, message.message)
        requests = list(self._requests(messages))
        expected = {email_key(m) for m in messages if m.matching}
        handled_before = await asyncio.to_thread(handled_notifications, self.engine)
        load = await run_load(
            "127.0.0.1", self.stack.port, requests, concurrency=self.plan.concurrency, rate=rate
        )
        processed_at = await self._until_done(follower, expected, handled_before + len(messages))
        return _phase_of(load, follower, expected, len(messages), processed_at, rate)

    def _requests(self, messages: Sequence[SimMessage]) -> Iterable[Request]:
        stream = deliveries(
            messages,
            duplicate_rate=self.plan.duplicate_rate,
            reorder_rate=self.plan.reorder_rate,
            seed=self.plan.profile.seed,
        )
        for delivery in stream:
            signed = signed_body(delivery.document(), WEBHOOK_SECRET)
            yield notification_request(signed, tag=email_key(delivery.message))

    async def _until_done(self, follower: FeedFollower, expected: set[str], handled: int) -> float:
        """Wait until ``handled`` notifications are handled and every expected change was
        read; when the last notification was seen handled (``perf_counter``)."""
        deadline = time.perf_counter() + self.plan.timeout_seconds
        processed_at: float | None = None
        counted_at = 0.0
        while time.perf_counter() < deadline:
            if self._following is not None and self._following.done():
                self._following.result()  # the feed reader broke: say why, do not wait
                raise PipelineStalled("the change feed reader stopped")
            now = time.perf_counter()
            if processed_at is None and now - counted_at >= COUNT_INTERVAL_SECONDS:
                counted_at = now
                if await asyncio.to_thread(handled_notifications, self.engine) >= handled:
                    processed_at = time.perf_counter()
            if processed_at is not None and follower.has_all(expected):
                return processed_at
            await asyncio.sleep(0.02)
        missing = len([key for key in expected if key not in follower.seen])
        raise PipelineStalled(
            f"after {self.plan.timeout_seconds:.0f} s: {missing} of {len(expected)} emails not "
            f"in the feed; notifications handled: {processed_at is not None}"
        )


def _phase_of(
    load: LoadRun,
    follower: FeedFollower,
    expected: set[str],
    notifications: int,
    processed_at: float,
    rate: float | None,
) -> Phase:
    posted: dict[str, float] = {}
    for sample in load.samples:
        if sample.tag is not None:
            posted[sample.tag] = min(sample.start, posted.get(sample.tag, sample.start))
    first = min(s.start for s in load.samples)
    stored_at = max((follower.seen[key] for key in expected), default=processed_at)
    return Phase(
        notifications=notifications,
        emails=len(expected),
        processed_seconds=max(processed_at, stored_at) - first,
        stored_seconds=stored_at - first,
        latencies=[follower.seen[key] - posted[key] for key in expected],
        statuses=load.statuses() if load.samples else {},
        rate=rate,
    )


def reader_engine(database_url: str) -> Engine:
    """An engine for counting only. crmsync's own SQLite engine opens every transaction
    with ``BEGIN IMMEDIATE`` (the write lock); polling through it would slow the writers."""
    return create_engine(normalise_url(database_url))


def handled_notifications(engine: Engine) -> int:
    """How many notifications the workers have handled so far."""
    query = (
        select(func.count())
        .select_from(RawNotification)
        .where(col(RawNotification.state).in_(HANDLED_STATES))
    )
    with Session(engine) as session:
        return int(session.exec(query).one())


def pipeline_figures(result: PipelineResult) -> list[Figure]:
    db = result.database
    burst, paced, direct = result.burst, result.paced, result.direct
    on_target_db = db == "postgresql"
    return [
        Figure(
            key=f"e2e.{db}.stored_per_second",
            group="e2e",
            label=f"e2e {db}: emails stored/s",
            unit="emails/s",
            value=burst.stored_per_second,
            baseline=direct.batched_per_second,
            baseline_label=f"direct set-based inserts, {direct.batch} per transaction",
            target=f">= {STORED_TARGET_PER_SECOND:,.0f}/s" if on_target_db else None,
            met=burst.stored_per_second >= STORED_TARGET_PER_SECOND if on_target_db else None,
            note=f"{burst.emails} of {burst.notifications} notifications match; "
            f"answers {burst.statuses}",
        ),
        Figure(
            key=f"e2e.{db}.processed_per_second",
            group="e2e",
            label=f"e2e {db}: notifications processed/s",
            unit="notif/s",
            value=burst.processed_per_second,
        ),
        Figure(
            key=f"e2e.{db}.latency_p50",
            group="e2e",
            label=f"e2e {db}: POST to feed p50 (paced)",
            unit="ms",
            value=paced.latency_ms(0.5),
            baseline=burst.latency_ms(0.5),
            baseline_label="burst",
            note=f"paced at {paced.rate or 0:.0f} notifications/s, half the burst's rate",
        ),
        Figure(
            key=f"e2e.{db}.latency_p99",
            group="e2e",
            label=f"e2e {db}: POST to feed p99 (paced)",
            unit="ms",
            value=paced.latency_ms(0.99),
            baseline=burst.latency_ms(0.99),
            baseline_label="burst",
            target=f"< {PACED_P99_TARGET_MS:,.0f} ms" if on_target_db else None,
            met=paced.latency_ms(0.99) < PACED_P99_TARGET_MS if on_target_db else None,
        ),
        Figure(
            key=f"e2e.{db}.direct_batched_per_second",
            group="e2e",
            label=f"e2e {db}: direct set-based inserts, {direct.batch} per transaction",
            unit="emails/s",
            value=direct.batched_per_second,
            baseline=direct.per_transaction_per_second,
            baseline_label="1 per transaction",
            note="the storage limit: emails, links and changes as the workers write a batch",
        ),
    ]
