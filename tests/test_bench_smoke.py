"""bench/bench_diff.py keeps working: every contender runs on a tiny catalog and finds the same diff."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_diff.py"


@pytest.mark.slow
def test_bench_diff_runs_every_contender_on_a_tiny_catalog(tmp_path: Path) -> None:
    cmd = [sys.executable, str(BENCH), "--rows", "2000", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    report = json.loads((tmp_path / "bench_diff.json").read_text())
    (size,) = report["sizes"]
    assert size["counts_agree"], size["results"]
    assert not [name for name, r in size["results"].items() if "error" in r]
    assert size["results"]["diff_frames"]["counts"] == {
        "added": 10,
        "removed": 10,
        "changed": 20,
        "unchanged": 1970,
    }
    assert (tmp_path / "bench_diff.md").read_text().startswith("# bench_diff")


@pytest.mark.slow
def test_bench_scale_plans_a_small_price_feed_and_agrees_with_duckdb(tmp_path: Path) -> None:
    scale = BENCH.with_name("bench_scale.py")
    cmd = [
        sys.executable,
        str(scale),
        "--rows",
        "40000",
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    report = json.loads((tmp_path / "bench_scale.json").read_text())
    change, duck = report["change"], report["duckdb"]
    assert duck["counts"] == {
        "added": change["added"],
        "changed": change["changed"],
        "removed": change["removed"],
    }
    assert change["added"] == 200 and 300 < change["changed"] < 500 and 140 < change["removed"] < 260
    assert report["first full"]["requests"] == report["first full"]["min_requests"] == 8
    assert report["diff_ratio"]["duckdb_over_ours"] is not None
    assert (tmp_path / "bench_scale.md").read_text().startswith("# bench_scale")
