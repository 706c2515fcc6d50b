"""What the fairness benchmark runs: its plan, B's live notifications, A's reps and mailboxes.

Everything here is made before the fake Nylas is forked into its own process
(``crmsync.bench.nylas_process``): the forked copy starts with A's filled mailboxes, and B's
notifications for every load are drawn up front, so the timed run (``crmsync.bench.fairness``)
spends none of its time making them. B's reps
are the e2e reps with the e2e stream's messages; A's are the same generator's with ids, grants
and addresses of A's own, their mailboxes filled with ``simulator.mailbox_fill`` messages
inside the backfill's look-back window.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from crmsync.bench.backfill import LOOKBACK, MARGIN
from crmsync.bench.e2e import PipelinePlan
from simulator.mailbox import FakeNylas
from simulator.mailbox_fill import fill_mailbox
from simulator.traffic import MailboxTraffic, SimMessage, SimRep, TrafficProfile


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


@dataclass(frozen=True, slots=True)
class LiveTraffic:
    """B's notifications for each load, made before the fake is forked."""

    warmup: list[SimMessage]
    before: list[SimMessage]
    contended: list[SimMessage]
    after: list[SimMessage]


def live_traffic(live: MailboxTraffic, plan: FairnessPlan) -> LiveTraffic:
    """B's messages that touch a contact: every notification then has a change to time."""
    matching: Iterator[SimMessage] = (m for m in live.messages() if m.matching)

    def take(count: int) -> list[SimMessage]:
        return list(itertools.islice(matching, count))

    count = plan.live_messages
    return LiveTraffic(take(plan.warmup_messages), take(count), take(count), take(count))


def backfilling_reps(plan: FairnessPlan, now: int) -> list[SimRep]:
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


def fill_mailboxes(fake: FakeNylas, reps: Sequence[SimRep], plan: FairnessPlan, now: int) -> int:
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
