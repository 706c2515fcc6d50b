"""The fairness benchmark's results and figures: organization B's POST-to-feed latency beside
organization A's backfill, against B alone in the same run (``crmsync.bench.fairness``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmsync.bench.e2e import Phase
from crmsync.bench.figures import Figure
from crmsync.bench.load import percentile
from domain.backfill import BackfillState

TARGET_RATIO = 2.0  # B's p99 beside A's backfill, over B's p99 alone
ACTIVE_STATES = (BackfillState.PENDING.value, BackfillState.RUNNING.value)


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """One organization's backfills as the database holds them at ``at`` (``perf_counter``)."""

    at: float
    states: dict[str, int]
    scanned: int
    stored: int

    @property
    def active(self) -> int:
        return sum(self.states.get(state, 0) for state in ACTIVE_STATES)

    @property
    def done(self) -> int:
        return self.states.get(BackfillState.DONE.value, 0)


@dataclass(frozen=True, slots=True)
class FairnessResult:
    before: Phase  # B alone, before A's backfill
    contended: Phase  # B beside A's backfill
    after: Phase | None  # B alone once A's backfill was done; None: it was not, in time
    live_seconds: float  # planned seconds of B's paced traffic in each load
    backfill_reps: int
    backfill_messages: int  # in all of A's mailboxes
    connect_seconds: float  # connecting A's reps, first connect to last callback
    started_seconds: float  # last callback to every one of A's backfills started
    window: tuple[BackfillProgress, BackfillProgress]  # A's, at B's first POST and last read
    samples: list[BackfillProgress]  # A's, from B's first POST until A was done (or not)
    backfill_seconds: float | None  # A's first connect to every backfill done
    # The machine's 1-minute load average at the end of each of B's loads (this run's own
    # threads included: 50 backfills make it high), for reading the JSON of a shared machine.
    load_averages: dict[str, float]

    @property
    def alone_latencies(self) -> list[float]:
        return self.before.latencies + (self.after.latencies if self.after else [])

    def alone_ms(self, quantile: float) -> float:
        return percentile(self.alone_latencies, quantile) * 1000

    @property
    def window_seconds(self) -> float:
        return self.window[1].at - self.window[0].at

    @property
    def backfill_per_second(self) -> float:
        """A's messages scanned per second over B's window."""
        return (self.window[1].scanned - self.window[0].scanned) / max(self.window_seconds, 1e-9)

    @property
    def backfill_finished_after(self) -> float | None:
        """Seconds into B's window when none of A's backfills was left running, if so."""
        start = self.window[0].at
        return next((s.at - start for s in self.samples if s.active == 0), None)

    @property
    def contended_throughout(self) -> bool:
        """Whether A's backfill ran through all of B's paced traffic."""
        finished = self.backfill_finished_after
        return finished is None or finished >= self.live_seconds

    def to_json(self) -> dict[str, Any]:
        start = self.window[0].at
        return {
            "b_alone_before_p99_ms": self.before.latency_ms(0.99),
            "b_alone_after_p99_ms": self.after.latency_ms(0.99) if self.after else None,
            "load_average_after_each_load": self.load_averages,
            "a_backfill_progress": [
                {
                    "s": round(s.at - start, 2),
                    "scanned": s.scanned,
                    "stored": s.stored,
                    "active": s.active,
                    "done": s.done,
                }
                for s in self.samples
            ],
        }


def fairness_figures(result: FairnessResult) -> list[Figure]:
    finished = result.backfill_finished_after
    if finished is None or result.contended_throughout:
        throughout = "A's backfill ran through all of B's traffic"
    else:
        throughout = (
            f"A's backfill finished {finished:.1f} s into B's {result.live_seconds:g} s of "
            "traffic: the rest of the window was B alone"
        )
    figures = [_latency_figure(result, quantile, throughout) for quantile in (0.5, 0.95, 0.99)]
    start, end = result.window
    done_in = (
        "not all done"
        if result.backfill_seconds is None
        else f"all done {result.backfill_seconds:.1f} s after the first connect"
    )
    figures += [
        Figure(
            key="fairness.a_scanned_per_second",
            group="fairness",
            label="fairness: org A backfill messages scanned/s, during B's traffic",
            unit="msg/s",
            value=result.backfill_per_second,
            note=f"{end.scanned - start.scanned:,} messages over {result.window_seconds:.1f} s; "
            f"{end.scanned:,} of {result.backfill_messages:,} scanned and {end.done} of "
            f"{result.backfill_reps} backfills done at its end; {throughout}",
        ),
        Figure(
            key="fairness.a_backfill_seconds",
            group="fairness",
            label=f"fairness: org A backfill, {result.backfill_messages:,} messages of "
            f"{result.backfill_reps} reps, first connect to all done",
            unit="s",
            value=result.backfill_seconds,
            note=f"{result.backfill_reps} reps connected in {result.connect_seconds:.1f} s "
            f"(hosted OAuth), every backfill started {result.started_seconds:.1f} s later; "
            f"{done_in}; states {result.samples[-1].states}",
        ),
    ]
    return figures


def _latency_figure(result: FairnessResult, quantile: float, throughout: str) -> Figure:
    """B's POST-to-feed latency at ``quantile`` beside A's backfill, against B alone; the
    p99 carries the issue's target."""
    before, contended, after = result.before, result.contended, result.after
    name = f"p{round(quantile * 100)}"
    value, baseline = contended.latency_ms(quantile), result.alone_ms(quantile)
    on_target = quantile == 0.99
    alone = f"{before.latency_ms(quantile):,.0f} ms before" + (
        f", {after.latency_ms(quantile):,.0f} ms after"
        if after
        else "; none after: A's backfill was not done in time"
    )
    return Figure(
        key=f"fairness.b_latency_{name}",
        group="fairness",
        label=f"fairness: org B POST to feed {name}, beside org A's "
        f"{result.backfill_reps}-rep backfill",
        unit="ms",
        value=value,
        baseline=baseline,
        baseline_label="B alone, before and after" if after else "B alone, before",
        target=f"<= {TARGET_RATIO:g}x B alone" if on_target else None,
        met=value <= TARGET_RATIO * baseline if on_target else None,
        note=f"B alone {alone}; {contended.emails} emails per load at "
        f"{contended.rate or 0:.0f} notifications/s, answers {contended.statuses} beside A; "
        f"{throughout}",
    )
