"""Streamed plans of a B2B price feed: customer price lists x SKUs, up to 100 million rows.

Two snapshots of customer price rows (10,000 SKUs on every customer's price list; ``--rows
100000000`` is 10,000 customers) are generated once and cached under ``bench/.scale/ROWS`` (ignored
by git): ``base`` and ``cur``, where ``cur`` has 1 % of the rows repriced, 0.5 % removed and 0.5 %
added. Then, each in its own process so that its peak RSS is its own (VmHWM):

- ``first full``: ``plan_streamed(kind="full")`` of ``base`` with no baseline (its snapshot is the
  baseline of the next two);
- ``change``: ``plan_streamed(kind="change")`` of ``cur`` against it;
- ``full``: ``plan_streamed(kind="full")`` of ``cur`` against it;
- ``duckdb`` (the baseline): the same diff in DuckDB over the same files (the baseline snapshot's
  partitions and ``cur``): a full outer join on the key, the added, removed and changed rows written
  into a table, counted.

Reported per plan: wall time, peak RSS, bytes written (plan and snapshot), requests and their lower
bound, and where the time went; the change plan's diff (`toolkit.hashdiff`: hashing the source,
matching its row hashes with the baseline's, reading the rows that differ and diffing them; or, when
a plan goes a partition at a time, partitioning, reading and diffing) beside DuckDB's, as a ratio.
A change plan links the baseline's partition files into its snapshot: bytes written count only the
files it wrote. Plans are deleted after they are measured unless ``--keep``.

Run: ``.venv/bin/python bench/bench_scale.py --rows 100000000`` (about 10 minutes here, 40 GB of
disk while it runs); ``--rows 2000000`` for a quick look. Results in ``bench/results/bench_scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_plan import _rss_mb  # noqa: E402

SKUS = 10_000
KEY = ["PartNo", "PriceListCode", "QuantityBreak"]
CHUNK = 10_000_000
FEED = """
[profiles.bench]
base_url = "https://127.0.0.1:1"
client_id = "bench"
scope = "bench"

[feeds.prices]
entity = "sku_prices"
profile = "bench"
account = 10000
source = "{source}"
[feeds.prices.options]
pick = "all"
[feeds.prices.policies]
max_deactivation_ratio = 0.05
min_rows = 1000
"""


def _size(path: Path, *, linked: bool = False) -> int:
    """Bytes of the files under ``path`` that were written there (or, ``linked``, that are hard links
    of another snapshot's files)."""
    if not path.exists():
        return 0
    stats = [f.stat() for f in path.rglob("*") if f.is_file()]
    return sum(s.st_size for s in stats if (s.st_nlink > 1) == linked)


# --- data --------------------------------------------------------------------------------------
def _rows(start: int, stop: int, skus: int, seed: int) -> pl.LazyFrame:
    """Price rows ``start`` to ``stop``: row i is SKU i % skus on customer i // skus's price list."""
    i = pl.int_range(start, stop, dtype=pl.Int64)
    h = i.hash(seed)
    cents = (h % 10_000_000).cast(pl.Int64).cast(pl.Decimal(18, 2)) / 100
    return pl.LazyFrame().select(
        ("SKU-" + (i % skus).cast(pl.String).str.zfill(6)).alias("PartNo"),
        ("C" + (i // skus).cast(pl.String).str.zfill(6)).alias("PriceListCode"),
        pl.lit(1, pl.Int64).alias("QuantityBreak"),
        cents.cast(pl.Decimal(18, 4)).alias("PriceSale"),
        (cents * 2).cast(pl.Decimal(18, 4)).alias("PriceRecommended"),
        pl.lit(True).alias("IsActive"),
        pl.lit("SEK").alias("CurrencyCode"),
    )


def generate(rows: int, folder: Path) -> Path:
    """base/ and cur/ (chunks of 10M rows), made once per size."""
    done = folder / "done"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "base").mkdir(parents=True)
    (folder / "cur").mkdir()
    skus = min(SKUS, max(rows // 100, 10))
    for n, start in enumerate(range(0, rows, CHUNK)):
        stop = min(start + CHUNK, rows)
        base = _rows(start, stop, skus, seed=1).collect()
        base.write_parquet(folder / "base" / f"{n:03d}.parquet")
        pick = pl.int_range(start, stop).hash(2) % 200
        repriced = pl.when(pl.col("__pick").is_between(1, 2)).then(pl.col("PriceSale") + 1)
        cur = (  # 0.5 % removed, 1 % repriced
            base.with_columns(pick.alias("__pick"))
            .filter(pl.col("__pick") != 0)
            .with_columns(repriced.otherwise("PriceSale").alias("PriceSale"))
            .drop("__pick")
        )
        added = _rows(start, start + (stop - start) // 200, skus, seed=3).with_columns(
            ("NEW-" + pl.col("PartNo").str.slice(4)).alias("PartNo")
        )
        pl.concat([cur, added.collect()]).with_columns(
            pl.col("PriceSale").cast(pl.Decimal(18, 4))
        ).write_parquet(folder / "cur" / f"{n:03d}.parquet")
        del base, cur
        print(f"  generated rows {start:,}-{stop:,}", flush=True)
    done.write_text(datetime.now(UTC).isoformat())
    return folder


# --- tasks (each in its own process) -----------------------------------------------------------
def task_plan(data: Path, which: str, kind: str, baseline: str | None, out: Path) -> dict[str, Any]:
    from toolkit.config import load_settings
    from toolkit.streaming import plan_streamed

    (out).mkdir(parents=True, exist_ok=True)
    toml = out / "norce.toml"
    toml.write_text(FEED.format(source=str(data / which / "*.parquet")))
    settings = load_settings(toml, environ={})
    seen: dict[str, Any] = {}
    start = time.perf_counter()
    plan = plan_streamed(
        settings,
        settings.feed("prices"),
        out=out,
        kind=kind,  # type: ignore[arg-type]
        now=datetime.now(UTC),
        baseline=baseline,
        progress=lambda e: seen.update(e),
    )
    wall = time.perf_counter() - start
    s = plan.summary
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(_rss_mb()),
        "plan_bytes": _size(out / "plan"),
        "snapshot_bytes": _size(out / "snapshot"),
        "snapshot_bytes_linked": _size(out / "snapshot", linked=True),
        "requests": s.requests,
        "min_requests": s.min_requests,
        "items": s.items,
        "added": s.added,
        "changed": s.changed,
        "removed": s.removed,
        "seconds": seen.get("seconds", {}),
        "rows_per_s": round((s.added + s.changed + s.unchanged) / wall),
    }


def task_duckdb(data: Path, snapshot: Path, memory_mb: int | None) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    if memory_mb:  # as much memory as the change plan took: DuckDB spills the rest to disk
        con.execute(f"SET memory_limit = '{memory_mb}MB'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET temp_directory = '{data / 'duckdb.tmp'}'")
    on = " AND ".join(f"b.{k} = c.{k}" for k in KEY)
    fields = ["PriceSale", "PriceRecommended", "IsActive", "CurrencyCode"]
    differs = " OR ".join(f"b.{f} IS DISTINCT FROM c.{f}" for f in fields)
    start = time.perf_counter()
    con.execute(
        f"""
        CREATE TABLE diff AS
        SELECT CASE WHEN b.PartNo IS NULL THEN 'added' WHEN c.PartNo IS NULL THEN 'removed'
                    ELSE 'changed' END AS what, c.*, b.PartNo AS base_part_no
        FROM read_parquet('{snapshot}/part-*.parquet') b
        FULL OUTER JOIN read_parquet('{data}/cur/*.parquet') c ON {on}
        WHERE b.PartNo IS NULL OR c.PartNo IS NULL OR {differs}
        """
    )
    counts = dict(con.execute("SELECT what, count(*) FROM diff GROUP BY what").fetchall())
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(_rss_mb()), "counts": counts}


def _in_process(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--rows", type=int, default=100_000_000)
    p.add_argument("--data", type=Path, default=ROOT / "bench" / ".scale")
    p.add_argument("--keep", action="store_true", help="keep the plans")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where the results go")
    p.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    p.add_argument("--task", help=argparse.SUPPRESS)
    p.add_argument("--kind", help=argparse.SUPPRESS)
    p.add_argument("--which", help=argparse.SUPPRESS)
    p.add_argument("--baseline", help=argparse.SUPPRESS)
    args = p.parse_args()
    data = args.data / str(args.rows)
    if args.task == "plan":
        print(json.dumps(task_plan(data, args.which, args.kind, args.baseline, args.out)))
        return
    if args.task == "duckdb":
        print(json.dumps(task_duckdb(data, Path(args.baseline), args.memory)))
        return
    print(f"data: {args.rows:,} rows per snapshot in {data}", flush=True)
    t = time.perf_counter()
    generate(args.rows, data)
    print(f"  ready in {time.perf_counter() - t:.0f} s", flush=True)
    runs = data / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    report: dict[str, Any] = {"rows": args.rows, "date": datetime.now(UTC).date().isoformat()}
    base_out = runs / "first-full"
    baseline = str(base_out / "snapshot")
    common = ["--rows", str(args.rows), "--data", str(args.data)]

    def plan(which: str, kind: str, out: Path, *extra: str) -> list[str]:
        return ["--task", "plan", "--which", which, "--kind", kind, "--out", str(out), *extra]

    steps = [
        ("first full", plan("base", "full", base_out)),
        ("change", plan("cur", "change", runs / "change", "--baseline", baseline)),
        ("duckdb", ["--task", "duckdb", "--baseline", baseline]),
        ("full", plan("cur", "full", runs / "full", "--baseline", baseline)),
    ]
    for name, task in steps:
        print(f"{name} ...", flush=True)
        report[name] = _in_process(task + common)
        print(json.dumps(report[name]), flush=True)
        if name == "full" and not args.keep:
            shutil.rmtree(runs / "full" / "plan", ignore_errors=True)
        if name == "duckdb":
            memory = str(report["change"]["peak_rss_mb"])
            print("duckdb in the change plan's memory ...", flush=True)
            report["duckdb same memory"] = _in_process([*task, "--memory", memory, *common])
            print(json.dumps(report["duckdb same memory"]), flush=True)
    change, duck = report["change"], report["duckdb"]
    phases = ("partitioning", "hashing", "matching", "reading", "diffing")
    ours = sum(change["seconds"].get(k, 0.0) for k in phases)
    same = report["duckdb same memory"]
    report["diff_ratio"] = {
        "change_plan_diff_s": round(ours, 1),
        "duckdb_diff_s": duck["wall_s"],
        "duckdb_over_ours": round(duck["wall_s"] / ours, 2) if ours else None,
        "duckdb_same_memory_s": same["wall_s"],
        "duckdb_same_memory_over_ours": round(same["wall_s"] / ours, 2) if ours else None,
    }
    if not args.keep:
        shutil.rmtree(runs, ignore_errors=True)
    shutil.rmtree(data / "duckdb.tmp", ignore_errors=True)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_scale.json").write_text(json.dumps(report, indent=1))
    (out / "bench_scale.md").write_text(markdown(report))
    print(markdown(report))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# bench_scale: {r['rows']:,} customer price rows ({r['date']})",
        "",
        "| plan | wall | peak RSS | written | requests (lower bound) | items |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("first full", "change", "full"):
        x = r[name]
        written = (x["plan_bytes"] + x["snapshot_bytes"]) / 1e9
        lines.append(
            f"| {name} | {x['wall_s']:.0f} s | {x['peak_rss_mb'] / 1024:.1f} GB | {written:.1f} GB | "
            f"{x['requests']:,} ({x['min_requests']:,}) | {x['items']:,} |"
        )
    d = r["diff_ratio"]
    lines += [
        "",
        f"Change plan's diff (hash, match, read, diff): {d['change_plan_diff_s']} s; DuckDB's diff of "
        f"the same files: {d['duckdb_diff_s']} s, peak RSS {r['duckdb']['peak_rss_mb'] / 1024:.1f} GB; "
        f"DuckDB / ours = {d['duckdb_over_ours']}. DuckDB limited to the change plan's peak RSS: "
        f"{d['duckdb_same_memory_s']} s (peak RSS {r['duckdb same memory']['peak_rss_mb'] / 1024:.1f} GB); "
        f"DuckDB / ours = {d['duckdb_same_memory_over_ours']}.",
        "",
        "Where the time went (s): "
        + "; ".join(f"{n}: {json.dumps(r[n]['seconds'])}" for n in ("first full", "change", "full")),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
