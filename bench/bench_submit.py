"""Benchmark: what the ledger costs a submission, against sending the same batches with no bookkeeping.

    .venv/bin/python bench/bench_submit.py            # 2,000 batches
    .venv/bin/python bench/bench_submit.py --quick    # 300 batches

Contenders, on the same plan and an in-process Connect that answers instantly (so only bookkeeping
is measured; a real Connect allows one request per second at the default budget):

- ``bare``       a loop over the batches calling ``import_items`` (the floor: no crash safety)
- ``submit``     ``runs.submit``: plan saved, every batch recorded sending/accepted in the WAL ledger
- ``wait``       ``runs.wait_for_jobs`` for all jobs (outcomes stored, snapshot promoted)
- ``outcomes``   ``runs.job_outcomes`` over the ledger
- ``lookup``     a lost answer found among 10,000 listed jobs

Results go to bench/results/bench_submit.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent)]
RESULTS = HERE / "results"

from run_fakes import FakeClient, FakeStore, make_plan  # noqa: E402

from toolkit.ledger import Ledger  # noqa: E402
from toolkit.runs import JobLookup, job_outcomes, submit, wait_for_jobs  # noqa: E402


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench(n: int) -> dict[str, Any]:
    plan = make_plan("bench", sizes=(50,) * n)
    bare_client = FakeClient()
    bare, _ = timed(lambda: [bare_client.import_items("onhands", b.body, b.header) for b in plan.batches])
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "ledger.sqlite") as ledger:
        client = FakeClient()
        sub_s, sub = timed(lambda: submit(plan, client, ledger))
        wait_s, outcome = timed(
            lambda: wait_for_jobs(sub, client, ledger, FakeStore(), timeout=60, poll_interval=0)
        )
        out_s, frame = timed(lambda: job_outcomes(ledger))
        assert outcome.succeeded and frame.height == n
        size = sum(p.stat().st_size for p in Path(tmp).rglob("ledger.sqlite*"))
    lookup_s = bench_lookup()
    return {
        "batches": n,
        "bare_s": bare,
        "submit_s": sub_s,
        "wait_s": wait_s,
        "outcomes_s": out_s,
        "lookup_10k_jobs_s": lookup_s,
        "ledger_bytes": size,
        "submit_overhead_ms_per_batch": (sub_s - bare) / n * 1000,
        "submit_vs_bare": sub_s / bare if bare else None,
        "overhead_vs_budget_1rps": (sub_s - bare) / n,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_lookup() -> float:
    plan = make_plan("lookup", sizes=(7,))
    client = FakeClient(faults={10_001: "lost"}, clock=datetime.now(UTC))
    for i in range(10_000):
        client._new_job(b"[]", 3 + i % 3, "Product/ImportOnhands")
    client.calls = 10_000
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "ledger.sqlite") as ledger:
        seconds, sub = timed(lambda: submit(plan, client, ledger, lookup=JobLookup(attempts=1)))
        assert sub.found == 1
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = bench(300 if args.quick else 2000)
    result["python"] = platform.python_version()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_submit.json").write_text(json.dumps(result, indent=2))
    lines = ["| measure | value |", "|---|---|"] + [
        f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in result.items()
    ]
    (RESULTS / "bench_submit.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
