"""Fairness between organizations: one organization's backfill beside another's live mail.

The issue: "organization A backfills 50 reps of 2,000 messages while organization B receives
paced live notifications; B's POST-to-feed p99 stays within 2x of B alone."

One stack as the Procfile runs it (web, worker processes, a PostgreSQL database of the run's
own) and the fake Nylas serving every mailbox from a process of its own (paging 50 mailboxes
is real work, and it must not share the interpreter of the client that times B). Two
organizations, created with ``PUT /v1/orgs/{id}`` under the run's admin token; every CRM
call for one carries its ``Crmsync-Org`` header. In one run:

1. A's reps and contacts registered without mailboxes; B's reps (the e2e reps) with theirs,
   and the backfill that registering B's contacts starts, left to finish.
2. **B alone, before**: a short warm-up, then B's live notifications paced open loop (the e2e
   stream's messages that touch a contact, so each has a latency; Nylas's duplicates and
   reordering), each timed from when its ``POST /webhooks/nylas`` was due to when its
   ``email.stored`` change was read in B's feed (e2e's driver and feed reader).
3. **B beside A's backfill**: A connects its reps through hosted OAuth (as the backfill
   measurement connects its rep); once every one of A's backfills has started, B receives
   the same traffic again (new messages), timed the same way, while A's backfill progress is
   read from the database every second.
4. **B alone, after**: once A's backfill is done, B's traffic a third time.

The baseline is B alone before and after, pooled: on a shared machine the load of other
work moves within minutes, and bracketing the contended load charges neither side with the
drift. Whether A's backfill kept running through all of B's traffic is checked and said: a
backfill that finished early would leave part of B's window uncontended.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import uvloop
from sqlalchemy import Engine, func, select
from sqlmodel import col

from api.callers import ORG_HEADER
from crmsync.bench import crm_api
from crmsync.bench.backfill import LOOKBACK, MARGIN, ConnectRefused, _consent
from crmsync.bench.crm_api import FeedFollower
from crmsync.bench.e2e import Phase, PipelinePlan, reader_engine
from crmsync.bench.e2e import _Driver as PipelineDriver
from crmsync.bench.fairness_figures import (
    BackfillProgress,
    FairnessResult,
)
from crmsync.bench.load import Connection, Request
from crmsync.bench.nylas_process import NylasProcess, nylas_process
from crmsync.bench.processes import free_port
from crmsync.bench.stack import NYLAS_API_KEY, BenchContext, connecting_environment, running_stack
from domain.backfill import BackfillState
from simulator.mailbox import FakeNylas
from simulator.mailbox_fill import fill_mailbox
from simulator.traffic import MailboxTraffic, SimMessage, SimRep, TrafficProfile
from storage.tables import BackfillRow

BACKFILLING_ORG = "bench-org-a"
LIVE_ORG = "bench-org-b"
ORG_NAMES = {BACKFILLING_ORG: "A (backfilling)", LIVE_ORG: "B (live mail)"}
SETTLE_POLL_SECONDS = 0.1
SETUP_CONNECTIONS = 4  # registering and connecting A's reps, a few at a time


@dataclass(frozen=True, slots=True)
class FairnessPlan:
    live_rate: float  # B's notifications per second
    live_seconds: float  # of paced traffic in each of B's loads
    warmup_messages: int
    backfill_reps: int  # A's
    backfill_messages: int  # in each of A's mailboxes
    contacts_in_mail: int  # how many of each A rep's contacts its mail is with
    contact_share: float
    profile: TrafficProfile  # B's reps and traffic (the e2e reps); A's contacts per rep
    concurrency: int
    duplicate_rate: float
    reorder_rate: float
    worker_processes: int
    worker_threads: int
    sample_seconds: float  # how often A's backfill progress is read
    timeout_seconds: float  # for each of B's loads, and for backfills to settle or start
    backfill_timeout_seconds: float  # for A's backfill to finish once B's traffic is over

    @property
    def live_messages(self) -> int:
        return max(10, round(self.live_rate * self.live_seconds))

    def pipeline(self) -> PipelinePlan:
        """The e2e driver's plan for B's loads (only its sending and waiting parts apply)."""
        return PipelinePlan(
            notifications=self.live_messages,
            paced_seconds=self.live_seconds,
            concurrency=self.concurrency,
            duplicate_rate=self.duplicate_rate,
            reorder_rate=self.reorder_rate,
            profile=self.profile,
            worker_processes=self.worker_processes,
            worker_threads=self.worker_threads,
            direct_batch=0,
            timeout_seconds=self.timeout_seconds,
        )


class BackfillsStalled(Exception):
    """Raised when an organization's backfills do not settle or start within the timeout."""


class OrgConnection(Connection):
    """A connection whose requests act in one organization: the admin token's
    ``Crmsync-Org`` header on each, so :mod:`crmsync.bench.crm_api` works unchanged."""

    def __init__(self, host: str, port: int, org_id: str) -> None:
        super().__init__(host, port)
        self.org_id = org_id

    async def send(self, request: Request) -> tuple[int, bytes]:
        headers = (*request.headers, (ORG_HEADER, self.org_id))
        return await super().send(replace(request, headers=headers))


@dataclass(frozen=True, slots=True)
class _LiveTraffic:
    """B's notifications for each load, made before the fake is forked."""

    warmup: list[SimMessage]
    before: list[SimMessage]
    contended: list[SimMessage]
    after: list[SimMessage]


def measure_fairness(
    context: BenchContext, database_url: str, plan: FairnessPlan
) -> FairnessResult:
    """B's POST-to-feed latency alone and beside A's backfill, on ``database_url``."""
    now = int(time.time())
    live = MailboxTraffic(plan.profile, now=now)
    traffic = _live_traffic(live, plan)
    backfilling = _backfilling_reps(plan, now)
    fake = FakeNylas(api_key=NYLAS_API_KEY)
    for rep in live.reps:
        fake.add_mailbox(rep.grant_id, rep.provider, rep.email)
    mailbox = _fill_mailboxes(fake, backfilling, plan, now)
    namespace = context.namespace("fairness")
    engine = reader_engine(database_url)
    port = free_port()
    try:
        with nylas_process(fake) as nylas:  # forked first: no thread nor loop running yet
            # Hosted OAuth for A's reps, as the backfill measurement connects its rep.
            environment = connecting_environment(
                database_url, namespace, nylas_url=nylas.url, client_id=fake.client_id, port=port
            )
            with running_stack(
                environment,
                context.log_dir("fairness"),
                worker_processes=plan.worker_processes,
                worker_threads=plan.worker_threads,
                port=port,
            ) as stack:
                driver = PipelineDriver(stack, live, fake, engine, plan.pipeline())
                run = _Run(driver, nylas, engine, live, backfilling, traffic, plan)
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    result = runner.run(run.run(mailbox))
    finally:
        engine.dispose()
        namespace.clean()
    return result


def _live_traffic(live: MailboxTraffic, plan: FairnessPlan) -> _LiveTraffic:
    """B's messages that touch a contact: every notification then has a change to time."""
    matching: Iterator[SimMessage] = (m for m in live.messages() if m.matching)

    def take(count: int) -> list[SimMessage]:
        return list(itertools.islice(matching, count))

    count = plan.live_messages
    return _LiveTraffic(take(plan.warmup_messages), take(count), take(count), take(count))


def _backfilling_reps(plan: FairnessPlan, now: int) -> list[SimRep]:
    """A's reps: the generator's reps with ids, grants and addresses of A's own."""
    profile = replace(plan.profile, reps=plan.backfill_reps, seed=plan.profile.seed + 1)
    return [
        replace(
            rep,
            rep_id=f"bench-a-rep-{index:03d}",
            grant_id=f"bench-a-grant-{index:03d}-{rep.provider}",
            email=f"rep{index}@org-a.example",
        )
        for index, rep in enumerate(MailboxTraffic(profile, now=now).reps)
    ]


def _fill_mailboxes(fake: FakeNylas, reps: Sequence[SimRep], plan: FairnessPlan, now: int) -> int:
    """Each of A's mailboxes, dated inside the look-back window; how many messages in all."""
    start = now - int((LOOKBACK - MARGIN).total_seconds())
    end = now - int(MARGIN.total_seconds())
    total = 0
    for index, rep in enumerate(reps):
        fake.add_mailbox(rep.grant_id, rep.provider, rep.email)
        in_mail = [contact.addresses[0] for contact in rep.contacts[: plan.contacts_in_mail]]
        total += len(
            fill_mailbox(
                fake,
                rep.grant_id,
                plan.backfill_messages,
                contacts=in_mail,
                start=start,
                end=end,
                contact_share=plan.contact_share,
                seed=plan.profile.seed + index,
            )
        )
    return total


class _Run:
    """Registers both organizations, times B alone, connects A, times B again, and again
    once A is done."""

    def __init__(
        self,
        driver: PipelineDriver,
        nylas: NylasProcess,
        engine: Engine,
        live: MailboxTraffic,
        backfilling: list[SimRep],
        traffic: _LiveTraffic,
        plan: FairnessPlan,
    ) -> None:
        self.driver = driver
        self.nylas = nylas
        self.engine = engine
        self.live = live
        self.backfilling = backfilling
        self.traffic = traffic
        self.plan = plan
        self.port = driver.stack.port

    async def run(self, mailbox: int) -> FairnessResult:
        await self._register()
        feed = OrgConnection("127.0.0.1", self.port, LIVE_ORG)
        try:
            follower = await FeedFollower.from_head(feed)
            following = self.driver._following = asyncio.create_task(follower.follow())
            try:
                return await self._measure(follower, mailbox)
            finally:
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
        finally:
            feed.close()

    async def _register(self) -> None:
        """Both organizations, A's reps without mailboxes, B's with theirs; then B's
        backfill (its contacts were new to a connected mailbox) left to finish."""
        admin = Connection("127.0.0.1", self.port)
        as_b = OrgConnection("127.0.0.1", self.port, LIVE_ORG)
        try:
            for org_id, name in ORG_NAMES.items():
                await crm_api.call(admin, "PUT", f"/v1/orgs/{org_id}", {"name": name})
            await self._for_each_backfilling_rep(
                lambda api, rep: crm_api.register(api, rep, sync_from=None, with_grant=False)
            )
            await crm_api.register_all(as_b, self.live)
        finally:
            admin.close()
            as_b.close()
        if await self._until(LIVE_ORG, lambda p: p.active == 0) is None:
            raise BackfillsStalled(f"{LIVE_ORG}'s backfills did not finish")

    async def _measure(self, follower: FeedFollower, mailbox: int) -> FairnessResult:
        plan, traffic, reps = self.plan, self.traffic, len(self.backfilling)
        loads: dict[str, float] = {}
        await self._load(follower, traffic.warmup, rate=None)
        before = await self._load(follower, traffic.before, rate=plan.live_rate)
        loads["before"] = os.getloadavg()[0]
        connecting = time.perf_counter()
        await self._for_each_backfilling_rep(_connect)
        connected = time.perf_counter()
        every_one_started = await self._until(
            BACKFILLING_ORG,
            lambda p: (
                sum(p.states.values()) >= reps and p.states.get(BackfillState.PENDING.value, 0) == 0
            ),
        )
        if every_one_started is None:
            raise BackfillsStalled(f"{BACKFILLING_ORG}'s {reps} backfills did not all start")
        started = time.perf_counter()
        samples = [await self._progress(BACKFILLING_ORG)]
        sampling = asyncio.create_task(self._sample(samples))
        try:
            contended = await self._load(follower, traffic.contended, rate=plan.live_rate)
            window = (samples[0], await self._progress(BACKFILLING_ORG))
            loads["contended"] = os.getloadavg()[0]
            finished = await self._until(
                BACKFILLING_ORG, lambda p: p.active == 0, plan.backfill_timeout_seconds
            )
        finally:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
        samples = sorted([*samples, window[1], *([finished] if finished else [])], key=_at)
        after = None
        if finished is not None:
            after = await self._load(follower, traffic.after, rate=plan.live_rate)
            loads["after"] = os.getloadavg()[0]
        return FairnessResult(
            before=before,
            contended=contended,
            after=after,
            live_seconds=plan.live_seconds,
            backfill_reps=reps,
            backfill_messages=mailbox,
            connect_seconds=connected - connecting,
            started_seconds=started - connected,
            window=window,
            samples=samples,
            backfill_seconds=None if finished is None else finished.at - connecting,
            load_averages={name: round(load, 2) for name, load in loads.items()},
        )

    async def _load(
        self, follower: FeedFollower, messages: list[SimMessage], *, rate: float | None
    ) -> Phase:
        """One of B's loads through the e2e driver, its truncated messages in the fake first."""
        self.nylas.put_messages((m.grant_id, m.message) for m in messages if m.truncated)
        return await self.driver._phase(follower, messages, rate=rate)

    async def _for_each_backfilling_rep(
        self, work: Callable[[Connection, SimRep], Awaitable[None]]
    ) -> None:
        """``work`` for each of A's reps, on a few connections at once, acting in A."""

        async def one_connection(reps: Sequence[SimRep]) -> None:
            api = OrgConnection("127.0.0.1", self.port, BACKFILLING_ORG)
            try:
                for rep in reps:
                    await work(api, rep)
            finally:
                api.close()

        shares = [self.backfilling[i::SETUP_CONNECTIONS] for i in range(SETUP_CONNECTIONS)]
        await asyncio.gather(*(one_connection(share) for share in shares if share))

    async def _sample(self, samples: list[BackfillProgress]) -> None:
        while True:
            await asyncio.sleep(self.plan.sample_seconds)
            samples.append(await self._progress(BACKFILLING_ORG))

    async def _progress(self, org_id: str) -> BackfillProgress:
        return await asyncio.to_thread(backfill_progress, self.engine, org_id)

    async def _until(
        self,
        org_id: str,
        ready: Callable[[BackfillProgress], bool],
        timeout: float | None = None,
    ) -> BackfillProgress | None:
        """The organization's backfills once ``ready``; None if they were not in time."""
        deadline = time.perf_counter() + (timeout or self.plan.timeout_seconds)
        progress = await self._progress(org_id)
        while not ready(progress):
            if time.perf_counter() >= deadline:
                return None
            await asyncio.sleep(SETTLE_POLL_SECONDS)
            progress = await self._progress(org_id)
        return progress


def _at(progress: BackfillProgress) -> float:
    return progress.at


async def _connect(api: Connection, rep: SimRep) -> None:
    """Connect ``rep`` through hosted OAuth: the connect URL (in its organization), consent at
    the fake, and the callback on a connection of its own, as the rep's browser follows it."""
    connect = await crm_api.call(api, "POST", f"/v1/reps/{rep.rep_id}/connect", {})
    callback = await asyncio.to_thread(_consent, str(connect["url"]))
    browser = Connection(api.host, api.port)
    try:
        status, answer = await browser.send(Request("GET", callback))
    finally:
        browser.close()
    if status != 200:
        raise ConnectRefused(f"callback for {rep.rep_id} answered {status}: {answer[:300]!r}")


def backfill_progress(engine: Engine, org_id: str) -> BackfillProgress:
    """The organization's backfills by state, and the messages they scanned and stored."""
    query = (
        select(
            col(BackfillRow.state),
            func.count(),
            func.coalesce(func.sum(col(BackfillRow.scanned)), 0),
            func.coalesce(func.sum(col(BackfillRow.stored)), 0),
        )
        .where(col(BackfillRow.org_id) == org_id)
        .group_by(col(BackfillRow.state))
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return BackfillProgress(
        at=time.perf_counter(),
        states={str(state): int(count) for state, count, _, _ in rows},
        scanned=sum(int(scanned) for _, _, scanned, _ in rows),
        stored=sum(int(stored) for _, _, _, stored in rows),
    )
