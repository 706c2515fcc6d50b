"""Soak (issue 8): does any process's memory keep growing under steady traffic?

A peak says how big a process gets; only a curve says whether it stops. The Procfile's
stack (uvicorn web, ``dramatiq`` workers, Redis, a PostgreSQL database of the run's own, the
fake Nylas) gets paced message notifications for ``--soak-minutes`` (10 by default), open
loop, at a rate the workers keep up with, so the queues stay short and what the curve shows
is the processes, not a backlog piling up. The stream is the e2e one: Nylas's duplicates and
reordering, and 1% truncated notifications whose message the workers fetch from the fake.

Every ``sample_seconds`` the run reads each process's ``VmRSS`` from ``/proc`` (from the
outside: measuring never changes what the process does), Redis's ``used_memory`` and the
notification backlog. Per process: the RSS after warm-up (minute 1), at the end, the most,
and the growth over the second half, a least-squares slope. Memory is judged bounded when
that slope is under :data:`MAX_SLOPE_MIB_PER_MINUTE` and the end is within
:data:`MAX_END_RISE` of minute 1: a slow leak shows as a slope, a step as the rise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
import uvloop

from crmsync.bench import crm_api, procfs
from crmsync.bench.e2e import handled_notifications, reader_engine
from crmsync.bench.figures import Figure
from crmsync.bench.load import Connection, LoadRun, Request, run_load
from crmsync.bench.services import RedisNamespace
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
from simulator.traffic import MailboxTraffic, TrafficProfile
from workers.queues import all_queue_names

MIB = 1024 * 1024
MAX_SLOPE_MIB_PER_MINUTE = 1.0  # growth over the second half, per process
MAX_END_RISE = 0.10  # the end's RSS over minute 1's
BACKLOG_TARGET_SECONDS = 5.0  # the backlog at the end, in seconds of traffic
DRAIN_POLL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class SoakPlan:
    minutes: float
    rate: float  # notifications POSTed per second (open loop), duplicates included
    sample_seconds: float
    warmup_seconds: float  # the sample at or after this is "minute 1"
    concurrency: int
    duplicate_rate: float
    reorder_rate: float
    profile: TrafficProfile
    worker_processes: int
    worker_threads: int
    drain_timeout_seconds: float

    @property
    def seconds(self) -> float:
        return self.minutes * 60


@dataclass(frozen=True, slots=True)
class SoakSample:
    """What the run read at ``seconds`` after the traffic started."""

    seconds: float
    rss_bytes: dict[str, int]  # process name -> VmRSS
    redis_used_bytes: int
    backlog: int  # notifications queued, fetched by a worker, or waiting to retry
    sent: int  # requests POSTed so far (duplicates included)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "rss_mib": {name: round(size / MIB, 2) for name, size in self.rss_bytes.items()},
            "redis_used_mib": round(self.redis_used_bytes / MIB, 2),
            "backlog": self.backlog,
            "sent": self.sent,
        }


@dataclass(frozen=True, slots=True)
class Growth:
    """One process's resident memory over the soak."""

    name: str
    warmup_bytes: int  # the first sample at or after warm-up ("minute 1")
    end_bytes: int
    max_bytes: int
    slope_mib_per_minute: float  # least squares over the second half

    @property
    def end_rise(self) -> float:
        """The end's RSS over minute 1's, minus one (0.05 is 5% more)."""
        return self.end_bytes / self.warmup_bytes - 1

    @property
    def bounded(self) -> bool:
        return memory_bounded(self.warmup_bytes, self.end_bytes, self.slope_mib_per_minute)


@dataclass(slots=True)
class _Sent:
    """What the generator has handed to the load generator so far."""

    requests: int = 0
    ids: set[str] = field(default_factory=set)  # distinct notification ids

    @property
    def notifications(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class SoakResult:
    plan: SoakPlan
    samples: list[SoakSample]
    after_drain: SoakSample
    drained_seconds: float | None  # from the end of the traffic to an empty backlog
    requests: int
    notifications: int
    handled: int  # notifications the workers handled, counted once the backlog drained
    statuses: dict[int, int]
    growth: list[Growth] = field(default_factory=list)

    @property
    def end(self) -> SoakSample:
        return self.samples[-1]

    @property
    def sent_per_second(self) -> float:
        return self.requests / self.end.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "minutes": self.plan.minutes,
            "rate": self.plan.rate,
            "sample_seconds": self.plan.sample_seconds,
            "samples": [sample.to_json() for sample in self.samples],
            "after_drain": self.after_drain.to_json(),
            "drained_seconds": self.drained_seconds,
        }


def least_squares_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The slope of the least-squares line through the points ``(xs[i], ys[i])``.

    Raises:
        ValueError: fewer than two points, or all at the same ``x``.
    """
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("a slope needs two points or more, as many x as y")
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        raise ValueError("a slope needs points at two different x or more")
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def memory_bounded(
    warmup_bytes: int,
    end_bytes: int,
    slope_mib_per_minute: float,
    *,
    max_slope: float = MAX_SLOPE_MIB_PER_MINUTE,
    max_rise: float = MAX_END_RISE,
) -> bool:
    """No unbounded growth: flat over the second half, and no step up since minute 1.

    Shrinking is fine (the allocator returns memory); only growth counts against it.
    """
    return slope_mib_per_minute < max_slope and end_bytes <= warmup_bytes * (1 + max_rise)


def growth_of(name: str, points: Sequence[tuple[float, int]], warmup_seconds: float) -> Growth:
    """The growth figures of one process from its ``(seconds, RSS bytes)`` samples, in order:
    minute 1 is the first sample at or after ``warmup_seconds``, the second half the samples
    from half the last sample's time on."""
    if not points:
        raise ValueError(f"no samples of {name}")
    warm = next((size for seconds, size in points if seconds >= warmup_seconds), points[-1][1])
    half = points[-1][0] / 2
    second_half = [(seconds, size) for seconds, size in points if seconds >= half]
    slope = least_squares_slope(
        [seconds / 60 for seconds, _ in second_half], [size / MIB for _, size in second_half]
    )
    return Growth(
        name=name,
        warmup_bytes=warm,
        end_bytes=points[-1][1],
        max_bytes=max(size for _, size in points),
        slope_mib_per_minute=slope,
    )


def queue_backlog(client: redis.Redis, namespace: str) -> int:
    """Messages on crmsync's queues not yet acknowledged: waiting, fetched by a worker, or
    waiting out a retry's backoff (the ``.msgs`` hashes, see ``workers.queue_status``)."""
    with client.pipeline(transaction=False) as pipeline:
        for queue in all_queue_names():
            pipeline.hlen(f"{namespace}:{queue}.msgs")
            pipeline.hlen(f"{namespace}:{queue}.DQ.msgs")
        return sum(int(count) for count in pipeline.execute())


def measure_soak(
    context: BenchContext, database_url: str, plan: SoakPlan, progress: Callable[[str], None]
) -> SoakResult:
    """Pace ``plan.rate`` notifications/s through crmsync on ``database_url`` for
    ``plan.minutes``, sampling memory and the backlog; then let the backlog drain."""
    from crmsync.bench.fake_nylas import serve_fake_nylas  # uvicorn in a thread, only here

    traffic = MailboxTraffic(plan.profile, now=int(time.time()))
    fake = FakeNylas(api_key=NYLAS_API_KEY)
    for rep in traffic.reps:
        fake.add_mailbox(rep.grant_id, rep.provider, rep.email)
    namespace = context.namespace("soak")
    engine = reader_engine(database_url)
    try:
        with serve_fake_nylas(fake) as nylas_url:
            environment = crmsync_environment(database_url, namespace, nylas_url=nylas_url)
            with running_stack(
                environment,
                context.log_dir("soak"),
                worker_processes=plan.worker_processes,
                worker_threads=plan.worker_threads,
            ) as stack:
                driver = _Driver(stack, traffic, fake, namespace, plan, progress)
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    result = runner.run(driver.run())
                handled = handled_notifications(engine)
    finally:
        engine.dispose()
        namespace.clean()
    names = list(result.samples[0].rss_bytes)
    growth = [
        growth_of(
            name, [(s.seconds, s.rss_bytes[name]) for s in result.samples], plan.warmup_seconds
        )
        for name in names
    ]
    return SoakResult(
        plan=plan,
        samples=result.samples,
        after_drain=result.after_drain,
        drained_seconds=result.drained_seconds,
        requests=result.sent.requests,
        notifications=result.sent.notifications,
        handled=handled,
        statuses=result.statuses,
        growth=growth,
    )


@dataclass(frozen=True, slots=True)
class _Run:
    samples: list[SoakSample]
    after_drain: SoakSample
    drained_seconds: float | None
    sent: _Sent
    statuses: dict[int, int]


class _Driver:
    """Registers the reps, sends the paced stream and samples, in the benchmark's loop."""

    def __init__(
        self,
        stack: Stack,
        traffic: MailboxTraffic,
        fake: FakeNylas,
        namespace: RedisNamespace,
        plan: SoakPlan,
        progress: Callable[[str], None],
    ) -> None:
        self.stack = stack
        self.traffic = traffic
        self.fake = fake
        self.namespace = namespace
        self.plan = plan
        self.progress = progress
        self.sent = _Sent()
        workers = stack.worker_pids()
        self.pids = {"web": stack.web.pid} | {
            f"worker {number}": pid for number, pid in enumerate(workers, start=1)
        }
        self.client = namespace.client()

    async def run(self) -> _Run:
        setup = Connection("127.0.0.1", self.stack.port)
        try:
            await crm_api.register_all(setup, self.traffic)
            setup.close()
            return await self._soak()
        finally:
            setup.close()
            self.client.close()

    async def _soak(self) -> _Run:
        samples: list[SoakSample] = []
        started = time.perf_counter()
        loading = asyncio.create_task(
            run_load(
                "127.0.0.1",
                self.stack.port,
                self._requests(),
                concurrency=self.plan.concurrency,
                rate=self.plan.rate,
                duration=self.plan.seconds,
            )
        )
        sampling = asyncio.create_task(self._sample_until(started, samples))
        try:
            # A sample that fails (a process exited) stops the traffic instead of waiting
            # out the soak; the sampler otherwise ends a little before the traffic does.
            done, _ = await asyncio.wait((loading, sampling), return_when=asyncio.FIRST_EXCEPTION)
            if sampling in done:
                sampling.result()
            load: LoadRun = await loading
        finally:
            for task in (loading, sampling):
                task.cancel()
            await asyncio.gather(loading, sampling, return_exceptions=True)
        samples.append(await self._sample(started))
        ended = time.perf_counter()
        drained = await self._drain(ended)
        after = await self._sample(started)
        self.progress(f"soak: after the traffic, backlog {after.backlog}, drained in {drained} s")
        return _Run(samples, after, drained, self.sent, load.statuses())

    async def _sample_until(self, started: float, samples: list[SoakSample]) -> None:
        """Sample at 0, ``sample_seconds``, … until the traffic ends (cancelled then)."""
        number = 0
        while (due := number * self.plan.sample_seconds) < self.plan.seconds - 1:
            await asyncio.sleep(max(0.0, started + due - time.perf_counter()))
            sample = await self._sample(started)
            samples.append(sample)
            number += 1
            if number % 6 == 1:  # about once a minute at 10 s
                self.progress(f"soak: {_describe(sample)}")

    async def _sample(self, started: float) -> SoakSample:
        return await asyncio.to_thread(self._read, started)

    def _read(self, started: float) -> SoakSample:
        for process in (self.stack.web, self.stack.workers):
            if process is not None and not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        seconds = time.perf_counter() - started
        rss = {name: procfs.rss_bytes(pid) for name, pid in self.pids.items()}
        used = int(self.client.info("memory")["used_memory"])
        backlog = queue_backlog(self.client, self.namespace.name)
        return SoakSample(seconds, rss, used, backlog, self.sent.requests)

    async def _drain(self, ended: float) -> float | None:
        """Seconds from ``ended`` until the backlog is empty; None if it never was."""
        deadline = ended + self.plan.drain_timeout_seconds
        while time.perf_counter() < deadline:
            if await asyncio.to_thread(queue_backlog, self.client, self.namespace.name) == 0:
                return round(time.perf_counter() - ended, 1)
            await asyncio.sleep(DRAIN_POLL_SECONDS)
        return None

    def _requests(self) -> Iterator[Request]:
        """The endless e2e stream, made as it is sent: 15 KB bodies for ten minutes would
        not fit in memory ahead of time, and the bench process's own growth is not measured."""
        stream = deliveries(
            self.traffic.messages(),
            duplicate_rate=self.plan.duplicate_rate,
            reorder_rate=self.plan.reorder_rate,
            seed=self.plan.profile.seed,
        )
        for delivery in stream:
            message = delivery.message
            if message.truncated:  # the worker will fetch it from the Nylas API
                self.fake.put_message(message.grant_id, message.message)
            self.sent.requests += 1
            self.sent.ids.add(message.notification_id)
            yield notification_request(signed_body(delivery.document(), WEBHOOK_SECRET))


def _describe(sample: SoakSample) -> str:
    rss = ", ".join(f"{name} {size / MIB:.1f}" for name, size in sample.rss_bytes.items())
    return (
        f"{sample.seconds:4.0f} s: RSS MiB {rss}; Redis {sample.redis_used_bytes / MIB:.1f} MiB; "
        f"backlog {sample.backlog}; sent {sample.sent:,}"
    )


def soak_figures(result: SoakResult) -> list[Figure]:
    plan = result.plan
    figures: list[Figure] = []
    for growth in result.growth:
        key = growth.name.replace(" ", "")
        figures += [
            Figure(
                key=f"soak.{key}.rss_end",
                group="soak",
                label=f"soak: {growth.name} RSS at the end",
                unit="MiB",
                value=growth.end_bytes / MIB,
                baseline=growth.warmup_bytes / MIB,
                baseline_label="minute 1",
                target=f"<= {1 + MAX_END_RISE:.0%} of minute 1",
                met=growth.end_bytes <= growth.warmup_bytes * (1 + MAX_END_RISE),
                note=f"max {growth.max_bytes / MIB:.1f} MiB",
            ),
            Figure(
                key=f"soak.{key}.rss_slope",
                group="soak",
                label=f"soak: {growth.name} RSS growth, second half",
                unit="MiB/min",
                value=growth.slope_mib_per_minute,
                target=f"< {MAX_SLOPE_MIB_PER_MINUTE:g} MiB/min",
                met=growth.slope_mib_per_minute < MAX_SLOPE_MIB_PER_MINUTE,
            ),
        ]
    bounded = sum(growth.bounded for growth in result.growth)
    start, end = result.samples[0], result.end
    backlog_target = plan.rate * BACKLOG_TARGET_SECONDS
    # After the drain, so that the bodies of queued notifications do not count: what is
    # left is what the traffic added for good (the dedupe keys, until they expire).
    drained = result.after_drain
    per_notification = (drained.redis_used_bytes - start.redis_used_bytes) / max(
        result.notifications, 1
    )
    figures += [
        Figure(
            key="soak.memory_bounded",
            group="soak",
            label=f"soak: processes without unbounded growth ({plan.minutes:g} min)",
            unit=f"of {len(result.growth)}",
            value=float(bounded),
            target="all",
            met=bounded == len(result.growth),
            note=f"bounded: second-half slope < {MAX_SLOPE_MIB_PER_MINUTE:g} MiB/min and end "
            f"within {MAX_END_RISE:.0%} of minute 1",
        ),
        Figure(
            key="soak.redis_used_memory",
            group="soak",
            label="soak: Redis used_memory once drained",
            unit="MiB",
            value=drained.redis_used_bytes / MIB,
            baseline=start.redis_used_bytes / MIB,
            baseline_label="at the start",
            note=f"the whole Redis; {per_notification:.0f} bytes more per notification "
            f"({result.notifications:,} dedupe keys, kept CRMSYNC_DEDUPE_TTL_SECONDS); "
            f"max {max(s.redis_used_bytes for s in result.samples) / MIB:.1f} MiB with the "
            "backlog's bodies",
        ),
        Figure(
            key="soak.sent_per_second",
            group="soak",
            label=f"soak: notifications sent/s (paced at {plan.rate:g}/s)",
            unit="req/s",
            value=result.sent_per_second,
            baseline=plan.rate,
            baseline_label="planned",
            note=f"{result.requests:,} requests, {result.notifications:,} notifications "
            f"(the rest repeats); answers {result.statuses}",
        ),
        Figure(
            key="soak.backlog_end",
            group="soak",
            label="soak: backlog at the end of the traffic",
            unit="messages",
            value=float(end.backlog),
            target=f"<= {backlog_target:,.0f} ({BACKLOG_TARGET_SECONDS:g} s of traffic)",
            met=end.backlog <= backlog_target,
            note=f"max {max(s.backlog for s in result.samples)}; drained "
            + (
                f"{result.drained_seconds} s later"
                if result.drained_seconds is not None
                else "never"
            )
            + f"; {result.handled:,} of {result.notifications:,} notifications handled",
        ),
    ]
    return figures
