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
