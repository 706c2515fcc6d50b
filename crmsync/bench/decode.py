"""Decode: the ingress's body decode beside pydantic's and msgspec's, in one process, one run.

Issue 16 item 4: the ingress moves to the chosen model library (pydantic) only if that
decodes the Nylas envelope faster than today's ``decode_notifications``. Both decode the same
bodies: the ingress load's own (signed ``message.created`` notifications with a full message
object, 2 to 50 KB) and v2 batches of a few deltas. Every candidate is first checked to make
exactly today's notifications from each body, or the measurement fails. Then each decodes
all the bodies, in turn, in rounds whose order rotates, so that the machine's drift falls on
all alike; a figure is the median over the rounds of microseconds per body. The process's
objects are frozen out of the collector first, as the web process freezes its own.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from crmsync.bench.decoders import (
    Decoder,
    decode_pydantic_union,
    decode_pydantic_values,
    msgspec_decoder,
)
from crmsync.bench.figures import Figure
from crmsync.bench.stack import WEBHOOK_SECRET
from simulator import notifications as sim
from simulator.delivery import StampedBody
from simulator.traffic import MailboxTraffic, TrafficProfile
from webhooks.routes import decode_notifications

TODAY = "today"
# The candidates, their labels, and whether they are the chosen library (with its target).
CANDIDATES: dict[str, tuple[str, bool]] = {
    "pydantic": ("pydantic validate_json, union of models", True),
    "pydantic_values": ("pydantic from_json, then models", True),
    "msgspec": ("msgspec decode, then today's checks", False),
}
BODY_KINDS = {"v3": "v3 message.created", "v2": "v2 batch"}
BASELINE = "today's decode"


@dataclass(frozen=True, slots=True)
class DecodePlan:
    rounds: int
    passes: int  # times each decoder goes through the bodies in one timing
    messages: int
    deltas_per_batch: int
    profile: TrafficProfile


@dataclass(frozen=True, slots=True)
class DecodeResult:
    plan: DecodePlan
    # body kind -> decoder name -> median µs per body
    microseconds: dict[str, dict[str, float]]
    mean_body_bytes: dict[str, float]
    decoders: tuple[str, ...]


def decode_bodies(plan: DecodePlan) -> dict[str, list[bytes]]:
    """The bodies to decode: the ingress load's notifications and v2 batches of the same
    messages (a v2 delta carries the ids and the thread, never the message)."""
    traffic = MailboxTraffic(plan.profile, now=1_800_000_000)
    messages = list(traffic.messages(plan.messages))
    v3 = [
        StampedBody(m.notification, WEBHOOK_SECRET).stamp(f"decode-{n:06d}").body
        for n, m in enumerate(messages)
    ]
    deltas = [
        sim.v2_delta(
            "message.created",
            m.grant_id,
            m.message_id,
            date=m.message["date"],
            attributes={"thread_id": m.message["thread_id"], "received_date": m.message["date"]},
        )
        for m in messages
    ]
    size = plan.deltas_per_batch
    v2 = [
        sim.encode(sim.v2_body(*deltas[start : start + size]))
        for start in range(0, len(deltas) - size + 1, size)
    ]
    return {"v3": v3, "v2": v2}


def decoders() -> dict[str, Decoder]:
    """Today's decode and each candidate that can run here (msgspec is not a dependency)."""
    chosen: dict[str, Decoder] = {
        TODAY: decode_notifications,
        "pydantic": decode_pydantic_union,
        "pydantic_values": decode_pydantic_values,
    }
    msgspec = msgspec_decoder()
    if msgspec is not None:
        chosen["msgspec"] = msgspec
    return chosen


def measure_decode(plan: DecodePlan) -> DecodeResult:
    bodies = decode_bodies(plan)
    chosen = decoders()
    for kind, items in bodies.items():
        _check_alike(kind, items, chosen)
    microseconds: dict[str, dict[str, float]] = {}
    # As the web process does once started (crmsync/collector.py): what the bench process
    # holds by now (the load's samples) is kept out of the collections the decoders cause.
    gc.collect()
    gc.freeze()
    try:
        for kind, items in bodies.items():
            timings: dict[str, list[float]] = {name: [] for name in chosen}
            names = list(chosen)
            for number in range(plan.rounds):
                turn = number % len(names)
                for name in names[turn:] + names[:turn]:
                    timings[name].append(_time(chosen[name], items, plan.passes))
            microseconds[kind] = {name: statistics.median(t) for name, t in timings.items()}
    finally:
        gc.unfreeze()
    return DecodeResult(
        plan=plan,
        microseconds=microseconds,
        mean_body_bytes={kind: statistics.fmean(map(len, b)) for kind, b in bodies.items()},
        decoders=tuple(chosen),
    )


def _check_alike(kind: str, bodies: Sequence[bytes], chosen: dict[str, Decoder]) -> None:
    """Raise unless every candidate makes today's notifications from every body."""
    for number, body in enumerate(bodies):
        expected = chosen[TODAY](body)
        for name, decode in chosen.items():
            if decode(body) != expected:
                raise AssertionError(f"{name} decodes {kind} body {number} unlike today")


def _time(decode: Decoder, bodies: Sequence[bytes], passes: int) -> float:
    """Microseconds per body for ``decode`` over ``passes`` passes through ``bodies``."""
    gc.collect()
    started = time.perf_counter()
    for _ in range(passes):
        for body in bodies:
            decode(body)
    return (time.perf_counter() - started) / (passes * len(bodies)) * 1e6


def decode_figures(result: DecodeResult) -> list[Figure]:
    figures: list[Figure] = []
    plan = result.plan
    for kind, kind_label in BODY_KINDS.items():
        times = result.microseconds[kind]
        today = times[TODAY]
        shape = f"mean {result.mean_body_bytes[kind] / 1024:.1f} KB"
        if kind == "v2":
            shape = f"{plan.deltas_per_batch} deltas, {shape}"
        for name, (label, chosen) in CANDIDATES.items():
            if name not in times:
                continue
            faster = times[name] < today
            figures.append(
                Figure(
                    key=f"ingress.decode.{name}.{kind}",
                    group="ingress",
                    label=f"ingress decode {kind_label}: {label}",
                    unit="µs",
                    value=times[name],
                    baseline=today,
                    baseline_label=BASELINE,
                    target="faster than today" if chosen else None,
                    met=faster if chosen else None,
                    note=f"per body ({shape}); median of {plan.rounds} rounds of "
                    f"{plan.passes} passes in the bench process; today's is orjson.loads, "
                    "the depth check and parse_document",
                )
            )
    return figures
