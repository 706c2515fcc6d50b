"""Ingress under attack: signed notifications while an attacker loops the worst bodies it
can send without authenticating, beside the same signed load with no attacker.

Both halves run against one web process (the Procfile's uvicorn, the real Redis), at the
same paced rate, so the only difference is the attacker. The attacker's bodies are the two
that cost the ingress the most before authentication: 4 MiB of empty gzip members (once
quadratic to decompress), and a small gzip body that inflates to just the size limit, both
with a well-formed wrong signature. The attacker is one keep-alive connection sending the
next body, the two in turn, as soon as the last is answered, in a thread of its own (blocking
sockets), so it does not share the load generator's event loop.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvloop

from crmsync.bench.figures import Figure
from crmsync.bench.ingress import ingress_requests
from crmsync.bench.load import LoadRun, Request, run_load
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
    duration: float
    attackers: int
    profile: TrafficProfile


@dataclass(slots=True)
class AttackResult:
    quiet: LoadRun
    attacked: LoadRun
    attack_answers: Counter[int] = field(default_factory=Counter)


def attack_bodies() -> list[bytes]:
    """The worst pre-authentication bodies: many empty members, and a bomb to the limit."""
    member = gzip.compress(b"", 9)
    return [
        member * ((BODY_LIMIT - 100) // len(member)),
        gzip.compress(b" " * BODY_LIMIT, 9),
    ]


class Attacker(threading.Thread):
    """Posts the bodies in turn on one connection until stopped; counts the answers."""

    def __init__(self, port: int, bodies: list[bytes], answers: Counter[int]) -> None:
        super().__init__(name="bench-attacker", daemon=True)
        self.port = port
        self.bodies = bodies
        self.answers = answers
        self.stopping = threading.Event()

    def run(self) -> None:
        headers = {"Content-Encoding": "gzip", "X-Nylas-Signature": WRONG_SIGNATURE}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            for body in itertools.cycle(self.bodies):
                if self.stopping.is_set():
                    break
                connection.request("POST", "/webhooks/nylas", body, headers)
                response = connection.getresponse()
                response.read()
                self.answers[response.status] += 1
        except OSError:
            self.answers[0] += 1  # the server went away: the run is ending
        finally:
            connection.close()


def measure_attack(context: BenchContext, plan: AttackPlan) -> AttackResult:
    traffic = MailboxTraffic(plan.profile, now=1_800_000_000)
    templates = [StampedBody(m.notification, WEBHOOK_SECRET) for m in traffic.messages(200)]
    namespace = context.namespace("attack")
    environment = crmsync_environment(sqlite_url(context.run_dir, "attack"), namespace)
    answers: Counter[int] = Counter()
    try:
        with (
            running_stack(environment, context.log_dir("attack"), name="attack") as stack,
            draining_queues(namespace),
        ):
            quiet = _paced(stack.port, _requests(templates, context, "quiet"), plan)
            attackers = [
                Attacker(stack.port, attack_bodies(), answers) for _ in range(plan.attackers)
            ]
            for attacker in attackers:
                attacker.start()
            try:
                attacked = _paced(stack.port, _requests(templates, context, "attacked"), plan)
            finally:
                for attacker in attackers:
                    attacker.stopping.set()
                for attacker in attackers:
                    attacker.join(timeout=60)
    finally:
        namespace.clean()
    return AttackResult(quiet=quiet, attacked=attacked, attack_answers=answers)


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
    quiet, attacked = result.quiet.latency_ms(0.99), result.attacked.latency_ms(0.99)
    statuses = result.attacked.statuses()
    attack_statuses = dict(result.attack_answers)
    sent = sum(attack_statuses.values())
    return [
        Figure(
            key="ingress.attack_p99",
            group="ingress",
            label="ingress under attack: signed p99",
            unit="ms",
            value=attacked,
            baseline=quiet,
            baseline_label="same load, no attacker",
            target=f"<= {TARGET_RATIO:g}x without",
            met=attacked <= TARGET_RATIO * quiet and set(statuses) <= {200},
            note=f"{plan.rate:g} signed notifications/s; {plan.attackers} attacker(s) looping "
            f"4 MiB of empty gzip members and a gzip bomb to the limit in turn: {sent} attack "
            f"requests answered {attack_statuses}; signed answers {statuses}",
        )
    ]
