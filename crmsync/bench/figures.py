"""One measured figure beside its baseline and target, as the table and the JSON show it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The measurements, in the order the table shows them (``--only`` takes these names).
GROUPS = ("ingress", "e2e", "backfill", "matching", "memory", "fairness", "soak")
# Those a run makes unless ``--only`` says otherwise: the soak takes ten minutes by itself,
# fairness (one organization's backfill beside another's live mail) about two.
DEFAULT_GROUPS = frozenset(GROUPS) - {"soak", "fairness"}


class FigureStatus(StrEnum):
    MEASURED = "measured"
    NOT_AVAILABLE = "not_available"  # the feature it measures does not exist yet
    FAILED = "failed"  # the measurement broke; ``note`` says how


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure of one run: its value, what it is compared with, and whether it is on target.

    ``ratio`` is ``value / baseline``. ``met`` is None when the figure has no target.
    """

    key: str
    group: str
    label: str
    unit: str
    value: float | None
    baseline: float | None = None
    baseline_label: str | None = None
    target: str | None = None
    met: bool | None = None
    status: FigureStatus = FigureStatus.MEASURED
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline or math.isnan(self.baseline):
            return None
        return self.value / self.baseline

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "group": self.group,
            "label": self.label,
            "unit": self.unit,
            "value": _number(self.value),
            "baseline": _number(self.baseline),
            "baseline_label": self.baseline_label,
            "ratio": _number(self.ratio),
            "target": self.target,
            "met": self.met,
            "status": self.status.value,
            "note": self.note,
        }


def not_available(key: str, group: str, label: str, unit: str, reason: str) -> Figure:
    """A figure the command cannot measure yet: shown, never faked."""
    return Figure(key, group, label, unit, None, status=FigureStatus.NOT_AVAILABLE, note=reason)


def failed(group: str, error: BaseException, *, what: str | None = None) -> Figure:
    """The one figure a measurement that broke leaves: what broke."""
    what = what or group
    return Figure(
        f"{what}.failed",
        group,
        f"{what.replace('.', ' ')}: measurement failed",
        "",
        None,
        status=FigureStatus.FAILED,
        note=f"{type(error).__name__}: {error}",
    )


def _number(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, 4)
