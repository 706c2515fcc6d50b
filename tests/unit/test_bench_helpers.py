"""The pure parts of ``crmsync bench``: percentiles, windows, figures, the ingress request
stream and the ``--only`` option."""

from __future__ import annotations

import argparse
import math

import pytest

from crmsync.bench.command import _groups
from crmsync.bench.figures import Figure, FigureStatus, failed, not_available
from crmsync.bench.ingress import ingress_requests
from crmsync.bench.load import LoadRun, Sample, percentile
from domain.signatures import nylas_signature
from simulator.delivery import StampedBody
from simulator.traffic import MailboxTraffic, TrafficProfile


@pytest.mark.parametrize(
    ("quantile", "expected"),
    [(0.0, 1.0), (0.5, 50.0), (0.99, 99.0), (1.0, 100.0)],
)
def test_percentile_is_nearest_rank(quantile: float, expected: float) -> None:
    values = [float(v) for v in range(100, 0, -1)]

    assert percentile(values, quantile) == expected


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 0.5))


def test_a_run_measures_only_the_answers_inside_its_window() -> None:
    run = LoadRun(
        samples=[
            Sample(start=0.0, end=0.5, status=200),  # warm-up
            Sample(start=1.0, end=1.01, status=200),
            Sample(start=1.5, end=1.53, status=200),
            Sample(start=2.0, end=2.02, status=503),
            Sample(start=2.9, end=3.5, status=200),  # after the window
        ],
        started=0.0,
        window_start=1.0,
        window_end=3.0,
    )

    assert run.throughput() == 1.0  # two 200s in two seconds
    assert run.statuses() == {200: 2, 503: 1}
    assert run.latency_ms(0.5) == pytest.approx(20.0)
    assert run.elapsed_seconds == 3.0


def test_a_figure_reports_its_ratio_and_json() -> None:
    figure = Figure("k", "ingress", "label", "req/s", 50.0, 200.0, "bare", ">= 50%", False)

    assert figure.ratio == 0.25
    document = figure.to_json()
    assert document["ratio"] == 0.25
    assert document["status"] == "measured"
    assert document["met"] is False


def test_a_figure_without_baseline_or_value_has_no_ratio() -> None:
    assert Figure("k", "g", "l", "u", 1.0).ratio is None
    assert Figure("k", "g", "l", "u", None, 2.0).ratio is None
    assert Figure("k", "g", "l", "u", math.nan).to_json()["value"] is None


def test_unavailable_and_failed_figures_say_why_and_carry_no_value() -> None:
    skipped = not_available("backfill.x", "backfill", "backfill", "s", "no API yet")
    broken = failed("e2e", RuntimeError("stalled"), what="e2e.sqlite")

    assert (skipped.status, skipped.value, skipped.note) == (
        FigureStatus.NOT_AVAILABLE,
        None,
        "no API yet",
    )
    assert broken.key == "e2e.sqlite.failed"
    assert broken.status is FigureStatus.FAILED
    assert broken.note == "RuntimeError: stalled"


def test_ingress_requests_are_signed_fresh_ids_with_retries_at_the_chosen_rate() -> None:
    traffic = MailboxTraffic(TrafficProfile(reps=2, contacts_per_rep=10), now=1_800_000_000)
    templates = [StampedBody(m.notification, "secret") for m in traffic.messages(5)]
    stream = ingress_requests(templates, prefix="run", duplicate_rate=0.1, seed=3)

    requests = [next(stream) for _ in range(2000)]

    signatures = [dict(r.headers)["X-Nylas-Signature"] for r in requests]
    assert all(
        s == nylas_signature(r.body, b"secret") for s, r in zip(signatures, requests, strict=True)
    )
    distinct = len({r.body for r in requests})
    assert 1 - distinct / len(requests) == pytest.approx(0.1, abs=0.03)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("ingress", {"ingress"}), ("e2e, memory", {"e2e", "memory"})],
)
def test_only_takes_known_groups(value: str, expected: set[str]) -> None:
    assert _groups(value) == expected


@pytest.mark.parametrize("value", ["", "ingres", "ingress,disk"])
def test_only_refuses_unknown_groups(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _groups(value)
