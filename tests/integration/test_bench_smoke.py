"""``crmsync bench --quick`` keeps working: it runs, and every figure it reports is a number.

A smoke test, not a performance test: the quick loads are too small for their figures to
mean anything, so nothing here compares a figure with a target.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

from tests.support.processes import clean_environment, command
from tests.support.services import POSTGRES_ADMIN_URL, REDIS_URL

EXPECTED_GROUPS = {"ingress", "e2e", "backfill", "matching", "memory"}
SERVICES = ("--redis-url", REDIS_URL, "--postgres-url", POSTGRES_ADMIN_URL)


def bench(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``crmsync bench`` as an operator would, on the test suite's services."""
    return subprocess.run(  # noqa: S603  (our own command)
        [command("crmsync"), "bench", *arguments, *SERVICES],
        env=clean_environment(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_quick_bench_runs_every_measurement_and_writes_numeric_figures(tmp_path: Path) -> None:
    report_path = tmp_path / "bench.json"

    finished = bench("--quick", "--json", str(report_path), cwd=tmp_path)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(report_path.read_text())
    figures = report["figures"]
    assert {f["group"] for f in figures} == EXPECTED_GROUPS
    assert report["quick"] is True
    assert report["machine"]["cpus"] >= 1
    for figure in figures:
        assert figure["status"] == "measured", figure
        assert isinstance(figure["value"], int | float), figure
        assert math.isfinite(figure["value"]), figure
        if figure["baseline"] is not None:
            assert isinstance(figure["ratio"], int | float), figure
    keys = {f["key"] for f in figures}
    assert {"ingress.throughput", "ingress.latency_p99", "ingress.attack_p99"} <= keys
    # Today's ingress decode beside pydantic's, measured in the same run (issue 16).
    decode = [f for f in figures if f["key"].startswith("ingress.decode.")]
    assert {"ingress.decode.pydantic.v3", "ingress.decode.pydantic.v2"} <= {
        f["key"] for f in decode
    }
    assert {f["baseline_label"] for f in decode} == {"today's decode"}
    assert "memory.web_peak_rss" in keys
    assert any(key.startswith("e2e.") and key.endswith(".stored_per_second") for key in keys)
    assert any(key.startswith("matching.") for key in keys)
    assert {"backfill.seconds", "backfill.emails_stored"} <= keys
    assert "ingress" in finished.stdout  # the table was printed


def test_bench_only_runs_the_chosen_measurements(tmp_path: Path) -> None:
    report_path = tmp_path / "bench.json"

    finished = bench("--quick", "--only", "matching", "--json", str(report_path), cwd=tmp_path)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    figures = json.loads(report_path.read_text())["figures"]
    assert {f["group"] for f in figures} == {"matching"}


def test_quick_fairness_measures_one_org_beside_another_s_backfill(tmp_path: Path) -> None:
    report_path = tmp_path / "bench.json"

    finished = bench("--quick", "--only", "fairness", "--json", str(report_path), cwd=tmp_path)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(report_path.read_text())
    figures = {f["key"]: f for f in report["figures"]}
    assert {f["group"] for f in figures.values()} == {"fairness"}
    for figure in figures.values():
        assert figure["status"] == "measured", figure
        assert isinstance(figure["value"], int | float), figure
        assert math.isfinite(figure["value"]), figure
    # B's latencies beside A's backfill, each against B alone measured in the same run.
    for quantile in ("p50", "p95", "p99"):
        latency = figures[f"fairness.b_latency_{quantile}"]
        assert latency["baseline"] > 0, latency
        assert latency["baseline_label"].startswith("B alone"), latency
        assert isinstance(latency["ratio"], int | float), latency
    p99 = figures["fairness.b_latency_p99"]
    assert p99["target"], p99
    assert isinstance(p99["met"], bool), p99
    assert {"fairness.a_scanned_per_second", "fairness.a_backfill_seconds"} <= figures.keys()
    assert report["series"]["fairness"]["a_backfill_progress"]
