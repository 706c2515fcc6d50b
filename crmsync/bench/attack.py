"""Ingress under attack: signed notifications while an attacker loops the worst bodies it
can send without authenticating, beside the same signed load with no attacker.

Both halves run against one web process (the Procfile's uvicorn, the real Redis), at the
same paced rate, so the only difference is the attacker. The attacker's bodies are the two
that cost the ingress the most before authentication: 4 MiB of empty gzip members (once
quadratic to decompress), and a small gzip body that inflates to just the size limit, both
with a well-formed wrong signature. The attacker is one keep-alive connection sending the
next body, the two in turn, as soon as the last is answered, in a process of its own, so it
shares neither the load generator's event loop nor its interpreter lock.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import itertools
import multiprocessing
import queue
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventLike

import uvloop

from crmsync.bench.figures import Figure
from crmsync.bench.ingress import ingress_requests
from crmsync.bench.load import LoadRun, Request, percentile, run_load
from crmsync.bench.services import draining_queues, sqlite_url
from crmsync.bench.stack import WEBHOOK_SECRET, BenchContext, crmsync_environment, running_stack
from simulator.delivery import StampedBody
from simulator.traffic import MailboxTraffic, TrafficProfile

BODY_LIMIT = 4 * 1024 * 1024  # the default CRMSYNC_MAX_BODY_BYTES
TARGET_RATIO = 2.0
WRONG_SIGNATURE = "0" * 64


@dataclass(frozen=True, slots=True)
class AttackPlan:
    rate: float
    concurrency: int
    warmup: float
    duration: float  # of each part, split over the rounds
    profile: TrafficProfile
    # The attacked parts: one client (the figure with the target), then a crowd of clients,
    # each a connection of its own (a figure for information: how the pace holds up).
    attackers: tuple[int, ...] = (1, 8)
    # The quiet and attacked parts alternate this many times, and each part's figure is over
    # all its windows: drift in the machine's load then falls on every part alike.
    rounds: int = 3


@dataclass(slots=True)
class AttackedPart:
    """The signed load's answers beside ``attackers`` attacking clients, and theirs."""

    attackers: int
    runs: list[LoadRun] = field(default_factory=list)
    answers: Counter[int] = field(default_factory=Counter)


@dataclass(slots=True)
class AttackResult:
    quiet: list[LoadRun] = field(default_factory=list)
    attacked: list[AttackedPart] = field(default_factory=list)


def pooled_latency_ms(runs: list[LoadRun], quantile: float) -> float:
    """The latency at ``quantile`` over the measured answers of every run, in milliseconds."""
    return percentile([s.latency for run in runs for s in run.measured()], quantile) * 1000


def pooled_statuses(runs: list[LoadRun]) -> dict[int, int]:
    counts: Counter[int] = Counter()
    for run in runs:
        counts.update(run.statuses())
    return dict(counts)


def attack_bodies() -> list[bytes]:
    """The worst pre-authentication bodies: many empty members, and a bomb to the limit."""
    member = gzip.compress(b"", 9)
    return [
        member * ((BODY_LIMIT - 100) // len(member)),
        gzip.compress(b" " * BODY_LIMIT, 9),
    ]


def attack(
    port: int, ready: EventLike, stopping: EventLike, answers: Queue[dict[int, int]]
) -> None:
    """Post the attack bodies in turn on one connection until ``stopping``; put the count of
    each answer's status on ``answers``. Runs in a process of its own (see :class:`Attacker`),
    and sets ``ready`` once its bodies are made, so that making them is not measured."""
    counted: Counter[int] = Counter()
    headers = {"Content-Encoding": "gzip", "X-Nylas-Signature": WRONG_SIGNATURE}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    bodies = attack_bodies()
    ready.set()
    try:
        for body in itertools.cycle(bodies):
            if stopping.is_set():
                break
            connection.request("POST", "/webhooks/nylas", body, headers)
            response = connection.getresponse()
            response.read()
            counted[response.status] += 1
    except OSError:
        counted[0] += 1  # the server went away: the run is ending
    finally:
        connection.close()
        answers.put(dict(counted))


class Attacker:
    """One attacking client in a process of its own: a thread of the bench's process would
    share its interpreter lock with the load generator, and the signed requests' latency
    would then measure the bench, not the ingress."""

    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready = context.Event()
        self._stopping = context.Event()
        self._answers: Queue[dict[int, int]] = context.Queue()
        self._process = context.Process(
            target=attack,
            args=(port, self._ready, self._stopping, self._answers),
            name="bench-attacker",
        )

    def start(self) -> None:
        """Start the process; return once it is about to send its first body."""
        self._process.start()
        if not self._ready.wait(timeout=120):
            raise RuntimeError("the bench's attacker process did not start")

    def stop(self, answers: Counter[int]) -> None:
        """Stop attacking; add the answers it got to ``answers``."""
        self._stopping.set()
        try:
            answers.update(self._answers.get(timeout=60))
        except queue.Empty:
            answers[0] += 1
        self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.kill()


def measure_attack(context: BenchContext, plan: AttackPlan) -> AttackResult:
    traffic = MailboxTraffic(plan.profile, now=1_800_000_000)
    templates = [StampedBody(m.notification, WEBHOOK_SECRET) for m in traffic.messages(200)]
    namespace = context.namespace("attack")
    environment = crmsync_environment(sqlite_url(context.run_dir, "attack"), namespace)
    result = AttackResult(attacked=[AttackedPart(count) for count in plan.attackers])
    round_plan = replace(plan, duration=plan.duration / plan.rounds)
    try:
        with (
            running_stack(environment, context.log_dir("attack"), name="attack") as stack,
            draining_queues(namespace),
        ):
            for number in range(plan.rounds):
                quiet = _requests(templates, context, f"quiet-{number}")
                result.quiet.append(_paced(stack.port, quiet, round_plan))
                for part in result.attacked:
                    _attacked_round(stack.port, templates, context, round_plan, part, number)
    finally:
        namespace.clean()
    return result


def _attacked_round(
    port: int,
    templates: list[StampedBody],
    context: BenchContext,
    plan: AttackPlan,
    part: AttackedPart,
    number: int,
) -> None:
    attackers = [Attacker(port) for _ in range(part.attackers)]
    for attacker in attackers:
        attacker.start()
    try:
        signed = _requests(templates, context, f"attacked-{part.attackers}-{number}")
        part.runs.append(_paced(port, signed, plan))
    finally:
        for attacker in attackers:
            attacker.stop(part.answers)


def _requests(templates: list[StampedBody], context: BenchContext, name: str) -> Iterator[Request]:
    return ingress_requests(
        templates, prefix=f"{context.token}-attack-{name}", duplicate_rate=0.0, seed=7
    )


def _paced(port: int, requests: Iterator[Request], plan: AttackPlan) -> LoadRun:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(
            run_load(
                "127.0.0.1",
                port,
                requests,
                concurrency=plan.concurrency,
                duration=plan.duration,
                warmup=plan.warmup,
                rate=plan.rate,
            )
        )


def attack_figures(result: AttackResult, plan: AttackPlan) -> list[Figure]:
    """The first attacked part against the target; the others for information."""
    quiet = pooled_latency_ms(result.quiet, 0.99)
    figures = []
    for index, part in enumerate(result.attacked):
        attacked = pooled_latency_ms(part.runs, 0.99)
        statuses = pooled_statuses(part.runs)
        attack_statuses = dict(part.answers)
        targeted = index == 0
        who = "one attacking client" if part.attackers == 1 else f"{part.attackers} clients"
        figures.append(
            Figure(
                key="ingress.attack_p99" if targeted else f"ingress.attack_p99_{part.attackers}",
                group="ingress",
                label=f"ingress under attack ({who}): signed p99",
                unit="ms",
                value=attacked,
                baseline=quiet,
                baseline_label="same load, no attacker",
                target=f"<= {TARGET_RATIO:g}x without" if targeted else None,
                met=(attacked <= TARGET_RATIO * quiet and set(statuses) <= {200})
                if targeted
                else None,
                note=f"{plan.rate:g} signed notifications/s in {plan.rounds} alternating rounds; "
                f"{part.attackers} attacking process(es), each one connection looping 4 MiB of "
                f"empty gzip members and a gzip bomb to the limit in turn: "
                f"{sum(attack_statuses.values())} attack requests answered {attack_statuses}; "
                f"signed answers {statuses}",
            )
        )
    return figures
