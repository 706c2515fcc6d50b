"""The ``crmsync bench`` command line: options, progress, the table and the JSON file.

Only argument parsing happens at ``crmsync --help``; the benchmark modules are imported
when the command runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from crmsync.bench.figures import DEFAULT_GROUPS, GROUPS

TABLE_WIDTH = 180


def add_bench_command(commands: Any) -> None:
    """Add ``bench`` to the ``crmsync`` subcommands (an argparse subparsers)."""
    bench = commands.add_parser(
        "bench",
        help="measure ingress, end-to-end, backfill, matching and memory against baselines",
        description="Start crmsync as the Procfile does (uvicorn web, dramatiq workers) on "
        "the local Redis and PostgreSQL, drive it with realistic signed Nylas traffic from "
        "the simulator, and print each figure beside its baseline and target: ingress "
        "against a bare Starlette endpoint, end to end against direct database inserts, "
        "a 10,000-message backfill against paging the fake Nylas alone, matching at two "
        "contact-list sizes, peak memory; with --only fairness, one organization's live "
        "notifications beside another's 50-rep backfill against the first alone; with --only "
        "soak, memory sampled over a 10-minute soak. Every run uses its own Redis "
        "namespace, databases and files, and removes them. Takes a few minutes; --quick "
        "takes seconds, for checking that the command works (its figures mean little).",
    )
    bench.add_argument("--quick", action="store_true", help="tiny loads: seconds, not minutes")
    bench.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    bench.add_argument(
        "--concurrency",
        type=_positive_int,
        default=32,
        help="HTTP connections the load generator keeps open (default 32)",
    )
    bench.add_argument(
        "--duration",
        type=_positive_float,
        metavar="S",
        help="measured seconds of load per ingress server (default 10; 1.5 with --quick)",
    )
    bench.add_argument(
        "--only",
        type=_groups,
        default=DEFAULT_GROUPS,
        metavar="GROUPS",
        help=f"comma-separated, from {','.join(GROUPS)} (default all but fairness, about 2 "
        "minutes, and soak, which takes --soak-minutes by itself; memory runs the ingress and "
        "e2e loads it reads)",
    )
    bench.add_argument(
        "--soak-minutes",
        type=_positive_float,
        default=10.0,
        metavar="N",
        help="how long --only soak paces traffic while sampling memory (default 10)",
    )
    bench.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="Redis to run on (default redis://127.0.0.1:6379/0); keys under a run prefix",
    )
    bench.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL database to connect to for creating (and dropping) the run's own "
        "databases (default postgresql://postgres@127.0.0.1:5432/test)",
    )
    bench.set_defaults(command=_bench)


def _bench(args: argparse.Namespace) -> int:
    from rich.console import Console

    from crmsync.bench.runner import BenchOptions, run_bench
    from crmsync.bench.table import print_table

    options = BenchOptions(
        quick=args.quick,
        concurrency=args.concurrency,
        duration=args.duration,
        only=args.only,
        soak_minutes=args.soak_minutes,
        redis_url=args.redis_url,
        postgres_url=args.postgres_url,
    )
    errors = Console(stderr=True)
    report = run_bench(options, lambda line: errors.print(line, markup=False, highlight=False))
    title = f"crmsync bench{' --quick' if args.quick else ''}: {report.elapsed_seconds:.0f} s"
    console = Console()
    if not console.is_terminal:  # a log or a CI job: wide enough that rows stay on one line
        console = Console(width=TABLE_WIDTH)
    print_table(report.shown(), console, title=title)
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0 if report.ok else 1


def _groups(value: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = chosen - set(GROUPS)
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(
            f"choose from {','.join(GROUPS)}"
            + (f"; unknown: {','.join(sorted(unknown))}" if unknown else "")
        )
    return chosen


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return number
