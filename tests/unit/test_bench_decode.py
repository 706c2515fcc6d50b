"""``crmsync bench``'s decode measurement runs, and every row says its baseline (today's
decode). A smoke test: tiny sizes, no timed assertion."""

from __future__ import annotations

import math

from crmsync.bench.decode import (
    BASELINE,
    DecodePlan,
    decode_bodies,
    decode_figures,
    decoders,
    measure_decode,
)
from simulator.traffic import TrafficProfile
from webhooks.routes import decode_notifications

PLAN = DecodePlan(
    rounds=2,
    passes=1,
    messages=10,
    deltas_per_batch=5,
    profile=TrafficProfile(reps=2, contacts_per_rep=5),
)


def test_the_bodies_are_the_ingress_load_and_v2_batches_today_accepts() -> None:
    bodies = decode_bodies(PLAN)

    assert len(bodies["v3"]) == 10
    assert len(bodies["v2"]) == 2
    assert all(len(decode_notifications(body)) == 1 for body in bodies["v3"])
    assert all(len(decode_notifications(body)) == 5 for body in bodies["v2"])


def test_the_decode_measurement_runs_and_says_its_baseline() -> None:
    figures = decode_figures(measure_decode(PLAN))

    candidates = set(decoders()) - {"today"}
    assert {f.key for f in figures} == {
        f"ingress.decode.{name}.{kind}" for name in candidates for kind in ("v3", "v2")
    }
    for figure in figures:
        assert figure.group == "ingress"
        assert figure.unit == "µs"
        assert figure.value is not None
        assert math.isfinite(figure.value)
        assert figure.value > 0
        assert figure.baseline is not None
        assert figure.baseline > 0
        assert figure.baseline_label == BASELINE
        assert figure.ratio is not None
    chosen = [f for f in figures if f.key.startswith("ingress.decode.pydantic")]
    assert all(f.target == "faster than today" and f.met is not None for f in chosen)
