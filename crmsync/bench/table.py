"""The benchmark's figures as a rich table: figure, value, baseline, ratio, target, met?"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from crmsync.bench.figures import Figure, FigureStatus


def print_table(figures: Sequence[Figure], console: Console, *, title: str) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_column("met?", justify="center")
    for figure in figures:
        table.add_row(
            figure.label,
            _value(figure),
            _baseline(figure),
            "" if figure.ratio is None else f"{figure.ratio:.2f}",
            figure.target or "",
            _met(figure),
        )
    console.print(table)
    for figure in figures:
        if figure.note and figure.status is not FigureStatus.MEASURED:
            console.print(f"  {figure.label}: {figure.note}", markup=False)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    digits = 2 if abs(value) < 100 else 0
    return f"{value:,.{digits}f} {unit}".strip()


def _value(figure: Figure) -> str:
    if figure.status is FigureStatus.NOT_AVAILABLE:
        return "not available yet"
    if figure.status is FigureStatus.FAILED:
        return "[red]failed[/red]"
    return format_value(figure.value, figure.unit)


def _baseline(figure: Figure) -> str:
    if figure.baseline is None:
        return ""
    label = f" ({figure.baseline_label})" if figure.baseline_label else ""
    return format_value(figure.baseline, figure.unit) + label


def _met(figure: Figure) -> str:
    if figure.met is None:
        return ""
    return "[green]yes[/green]" if figure.met else "[red]no[/red]"
