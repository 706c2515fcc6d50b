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

This module is the run itself; its plan and the mail it drives are made in
``crmsync.bench.fairness_workload``, what it does in one organization (calls, consent, reading
the backfills) is ``crmsync.bench.orgs``, and its results and figures are
``crmsync.bench.fairness_figures``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence

import uvloop
from sqlalchemy import Engine

from crmsync.bench import crm_api
from crmsync.bench.crm_api import FeedFollower
from crmsync.bench.e2e import Phase, reader_engine
from crmsync.bench.e2e import _Driver as PipelineDriver
from crmsync.bench.fairness_figures import BackfillProgress, FairnessResult
from crmsync.bench.fairness_workload import (
    FairnessPlan,
    LiveTraffic,
    backfilling_reps,
    fill_mailboxes,
    live_traffic,
)
from crmsync.bench.load import Connection
from crmsync.bench.nylas_process import NylasProcess, nylas_process
from crmsync.bench.orgs import OrgConnection, backfill_progress, connect_rep
from crmsync.bench.processes import free_port
from crmsync.bench.stack import NYLAS_API_KEY, BenchContext, connecting_environment, running_stack
from domain.backfill import BackfillState
from simulator.mailbox import FakeNylas
from simulator.traffic import MailboxTraffic, SimMessage, SimRep

BACKFILLING_ORG = "bench-org-a"
LIVE_ORG = "bench-org-b"
ORG_NAMES = {BACKFILLING_ORG: "A (backfilling)", LIVE_ORG: "B (live mail)"}
SETTLE_POLL_SECONDS = 0.1
SETUP_CONNECTIONS = 4  # registering and connecting A's reps, a few at a time


class BackfillsStalled(Exception):
    """Raised when an organization's backfills do not settle or start within the timeout."""


def measure_fairness(
    context: BenchContext, database_url: str, plan: FairnessPlan
) -> FairnessResult:
    """B's POST-to-feed latency alone and beside A's backfill, on ``database_url``."""
    now = int(time.time())
    live = MailboxTraffic(plan.profile, now=now)
    traffic = live_traffic(live, plan)
    backfilling = backfilling_reps(plan, now)
    fake = FakeNylas(api_key=NYLAS_API_KEY)
    for rep in live.reps:
        fake.add_mailbox(rep.grant_id, rep.provider, rep.email)
    mailbox = fill_mailboxes(fake, backfilling, plan, now)
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
        traffic: LiveTraffic,
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
        await self._for_each_backfilling_rep(connect_rep)
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
