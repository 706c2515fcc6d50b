"""Matching cost: the time to find which of a rep's contacts a message touches, by list size.

Rule E2 asks, for every message, whether its From, To or CC holds an address of one of the
rep's contacts. The workers answer with an index lookup per address
(``storage.contacts.contacts_for_addresses``) and the domain's ``match_contacts``; if the
cost grew with the contact list, a rep with 100,000 contacts would slow everyone's mail.
The same kind of messages (the same mix of matching and not) are timed against a rep with few
and a rep with many contacts, in alternating rounds so that drift in the machine hits both.
The database's statistics are refreshed first (``ANALYZE``), as autovacuum would have done on
a live database: right after a bulk load the planner may not use the address index.
Each round runs in one transaction, so what is timed is the lookup and the decision, not
``BEGIN`` and ``COMMIT``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from crmsync.bench.figures import Figure
from crmsync.bench.seeding import seed_rep
from domain.contacts import match_contacts
from domain.messages import MailMessage, parse_message
from domain.organizations import DEFAULT_ORG_ID
from simulator.traffic import MailboxTraffic, TrafficProfile
from storage.contacts import contacts_for_addresses
from storage.engine import create_database_engine, transaction

TARGET_SPREAD = 0.2  # "independent of contact count": within 20%


@dataclass(frozen=True, slots=True)
class MatchingPlan:
    database: str
    sizes: tuple[int, int]
    messages: int
    rounds: int
    profile: TrafficProfile


@dataclass(frozen=True, slots=True)
class MatchingResult:
    database: str
    microseconds: dict[int, float]  # contacts per rep -> median time per message
    matched_share: float


def measure_matching(database_url: str, plan: MatchingPlan) -> MatchingResult:
    engine = create_database_engine(database_url)
    now = datetime.now(UTC)
    try:
        messages: dict[int, list[MailMessage]] = {}
        for size in plan.sizes:
            profile = replace(plan.profile, reps=1, contacts_per_rep=size)
            traffic = MailboxTraffic(profile, now=int(now.timestamp()))
            rep_id = f"bench-matching-{size}"
            seed_rep(engine, traffic.reps[0], rep_id=rep_id, now=now)
            messages[size] = [parse_message(m.message) for m in traffic.messages(plan.messages)]
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        timings: dict[int, list[float]] = {size: [] for size in plan.sizes}
        matched = 0
        for _ in range(plan.rounds):
            for size in plan.sizes:
                seconds, matched = _time_matching(engine, f"bench-matching-{size}", messages[size])
                timings[size].append(seconds / len(messages[size]) * 1e6)
    finally:
        engine.dispose()
    return MatchingResult(
        plan.database,
        {size: statistics.median(values) for size, values in timings.items()},
        matched / plan.messages,
    )


def _time_matching(
    engine: Engine, rep_id: str, messages: Sequence[MailMessage]
) -> tuple[float, int]:
    """Seconds to match every message as a worker does; how many matched."""
    matched = 0
    with transaction(engine) as session:
        started = time.perf_counter()
        for message in messages:
            indexed = contacts_for_addresses(
                session, DEFAULT_ORG_ID, rep_id, message.matching_addresses()
            )
            matched += bool(match_contacts(message, rep_id, [i.contact for i in indexed]))
        elapsed = time.perf_counter() - started
    return elapsed, matched


def matching_figures(result: MatchingResult) -> list[Figure]:
    small, large = sorted(result.microseconds)
    few, many = result.microseconds[small], result.microseconds[large]
    spread = many / few - 1 if few else float("inf")
    db = result.database
    return [
        Figure(
            key=f"matching.{db}.contacts_{large}",
            group="matching",
            label=f"matching {db}: per message, {large:,} contacts",
            unit="µs",
            value=many,
            baseline=few,
            baseline_label=f"{small:,} contacts",
            target=f"within {TARGET_SPREAD:.0%} of {small:,}",
            met=abs(spread) <= TARGET_SPREAD,
            note=f"{result.matched_share:.0%} of the messages match a contact",
        ),
    ]
