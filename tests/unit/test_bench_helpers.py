"""The pure parts of ``crmsync bench``: percentiles, windows, figures, the ingress request
stream, the backfill's expected result, the ``--only`` option and the soak's growth rule."""

from __future__ import annotations

import argparse
import math

import pytest

from crmsync.bench.backfill import BackfillResult, Paging, backfill_figures, count_matching
from crmsync.bench.command import _groups
from crmsync.bench.figures import DEFAULT_GROUPS, Figure, FigureStatus, failed, not_available
from crmsync.bench.ingress import ingress_requests
from crmsync.bench.load import LoadRun, Sample, percentile
from crmsync.bench.soak import MIB, growth_of, least_squares_slope, memory_bounded
from domain.signatures import nylas_signature
from simulator.delivery import StampedBody
from simulator.mailbox_fill import generate_messages
from simulator.traffic import MailboxTraffic, TrafficProfile
from workers.grant_limits import GrantLimits


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


def test_the_backfill_expects_the_messages_that_touch_a_contact_of_the_rep() -> None:
    rep = MailboxTraffic(TrafficProfile(reps=1, contacts_per_rep=50), now=1_700_000_000).reps[0]
    contact = rep.contacts[0].addresses[0]
    to_contact, upper_case, strangers_only = generate_messages(
        rep.grant_id,
        3,
        own_email=rep.email,
        contacts=[contact],
        start=0,
        end=10,
        inbox_folder="INBOX",
        sent_folder="SENT",
        strangers=[],
    )
    upper_case["to"] = [{"email": contact.upper()}]
    upper_case["from"] = [{"email": rep.email}]
    strangers_only.update(to=[{"email": "someone@else.example"}], cc=[])
    strangers_only["from"] = [{"email": rep.email}]
    strangers_only["bcc"] = [{"email": contact}]  # blind copies never match (E2)

    assert count_matching(rep, [to_contact, upper_case, strangers_only]) == 2


def _backfill_result(*, stored: int, expected: int, messages: int = 10_000) -> BackfillResult:
    return BackfillResult(
        database="postgresql",
        mailbox=messages,
        seconds=20.0,
        scanned=messages,
        stored=stored,
        expected=expected,
        in_window=messages,
        pages=60,
        windows=30,
        message_calls=60,
        other_calls=1,
        paging=Paging(seconds=0.5, pages=60, messages=messages),
        limits=GrantLimits(),
    )


def test_a_correct_backfill_gives_measured_figures_against_its_target() -> None:
    figures = backfill_figures(_backfill_result(stored=3_000, expected=3_000))

    assert all(f.status is FigureStatus.MEASURED for f in figures)
    seconds = next(f for f in figures if f.key == "backfill.seconds")
    assert (seconds.value, seconds.baseline, seconds.target, seconds.met) == (
        20.0,
        0.5,
        "< 15 s",
        False,
    )
    assert "61 Nylas calls" in seconds.note


def test_a_backfill_that_stored_another_number_of_emails_is_a_failed_row() -> None:
    figures = backfill_figures(_backfill_result(stored=2_999, expected=3_000, messages=1_000))

    wrong = [f for f in figures if f.status is FigureStatus.FAILED]
    assert [f.key for f in wrong] == ["backfill.wrong_result"]
    assert "stored 2999 emails, expected 3000" in wrong[0].note
    assert next(f for f in figures if f.key == "backfill.seconds").target is None  # 1,000


def test_only_defaults_leave_out_the_ten_minute_soak_but_accept_it() -> None:
    assert "soak" not in DEFAULT_GROUPS
    assert _groups("soak") == {"soak"}


def test_the_least_squares_slope_fits_a_line_through_noise() -> None:
    xs = [0.0, 1.0, 2.0, 3.0, 4.0]
    ys = [10.0, 12.5, 13.5, 16.5, 18.0]  # about 10 + 2x

    assert least_squares_slope(xs, ys) == pytest.approx(2.0)
    assert least_squares_slope(xs, [7.0] * 5) == 0.0


@pytest.mark.parametrize(("xs", "ys"), [([1.0], [1.0]), ([2.0, 2.0], [1.0, 3.0]), ([1.0], [])])
def test_a_slope_needs_two_distinct_points(xs: list[float], ys: list[float]) -> None:
    with pytest.raises(ValueError, match="slope"):
        least_squares_slope(xs, ys)


@pytest.mark.parametrize(
    ("warmup_mib", "end_mib", "slope", "bounded"),
    [
        (100, 104, 0.2, True),  # flat, a little above minute 1
        (100, 90, -0.5, True),  # shrinking is fine
        (100, 110, 0.0, True),  # exactly 10% more is still within
        (100, 111, 0.0, False),  # a step up since minute 1
        (100, 104, 1.0, False),  # a slow leak: 1 MiB/min is not under the limit
    ],
)
def test_memory_is_bounded_when_flat_over_the_second_half_and_near_minute_one(
    warmup_mib: int, end_mib: int, slope: float, bounded: bool
) -> None:
    assert memory_bounded(warmup_mib * MIB, end_mib * MIB, slope) is bounded


def test_growth_takes_minute_one_after_warm_up_and_fits_the_second_half() -> None:
    # Start-up growth in the first minute, then 0.5 MiB a minute: a slow leak.
    points = [(0.0, 80 * MIB), (30.0, 95 * MIB)] + [
        (60.0 * minute, int((100 + 0.5 * (minute - 1)) * MIB)) for minute in range(1, 11)
    ]

    growth = growth_of("web", points, warmup_seconds=60.0)

    assert (growth.warmup_bytes, growth.end_bytes) == (100 * MIB, int(104.5 * MIB))
    assert growth.max_bytes == int(104.5 * MIB)
    assert growth.slope_mib_per_minute == pytest.approx(0.5, abs=0.01)
    assert growth.end_rise == pytest.approx(0.045, abs=0.001)
    assert growth.bounded  # under 1 MiB/min and within 10% over ten minutes


def test_growth_of_a_leaking_process_is_not_bounded() -> None:
    points = [(60.0 * minute, (100 + 3 * minute) * MIB) for minute in range(11)]

    growth = growth_of("worker 1", points, warmup_seconds=60.0)

    assert growth.slope_mib_per_minute == pytest.approx(3.0)
    assert not growth.bounded
