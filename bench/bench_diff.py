"""Benchmark: diffing two catalog snapshots, diff_frames against pandas and DuckDB, side by side.

    .venv/bin/python bench/bench_diff.py            # 100,000 and 1,000,000 SKUs
    .venv/bin/python bench/bench_diff.py --quick    # 100,000 SKUs
    .venv/bin/python bench/bench_diff.py --huge     # + a 20,000,000-row price snapshot, streamed

Each contender runs in a fresh subprocess (so its peak RSS is its own) on the same two Parquet files:

- ``pandas_default`` pandas as usually written: ``read_parquet`` with default dtypes (Decimal, date and
                  list values are Python objects; lists made tuples to compare), merge (outer, indicator),
                  a per-column ``==`` with null handling
- ``pandas``      the same with pyarrow dtypes and list columns joined to strings by pyarrow first (the
                  fastest pandas I could write; it favours pandas)
- ``duckdb``      one SQL full outer join with ``IS DISTINCT FROM`` per column, results fetched to Arrow
- ``read``        just reading both files with polars (the floor)
- ``diff_frames`` toolkit.diff.diff_frames on two ``scan_parquet``
- ``stored``      the current file against the baseline stored in a SnapshotStore (verified, cached row
                  hashes; only removed and changed baseline rows are kept, read a few row groups at a time)
- ``partitioned`` toolkit.diff.diff_partitioned (key hash partitions, streaming engine), bounded memory

Results go to bench/results/bench_diff.{json,md}; every contender must find the same counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
RESULTS = HERE / "results"
CONTENDERS = ("pandas_default", "pandas", "duckdb", "read", "diff_frames", "stored", "partitioned")


# --- contenders (each runs in its own process) --------------------------------------------------


def run_pandas(base: Path, cur: Path, key: list[str], _: Path) -> dict[str, int]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def load(path: Path) -> pd.DataFrame:
        table = pq.read_table(path)
        for i, f in enumerate(table.schema):
            if pa.types.is_list(f.type) or pa.types.is_large_list(f.type):
                joined = pc.binary_join(table[f.name].cast(pa.list_(pa.string())), "\x1f")
                table = table.set_column(i, f.name, joined)
        return table.to_pandas(types_mapper=pd.ArrowDtype)

    def differs(x: pd.Series, y: pd.Series) -> pd.Series:  # arrow dtypes: == gives <NA> on nulls
        return (x != y).fillna(False) | (x.isna() != y.isna())

    return _pandas_diff(load(base), load(cur), key, differs)


def run_pandas_default(base: Path, cur: Path, key: list[str], _: Path) -> dict[str, int]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    def load(path: Path) -> pd.DataFrame:
        frame = pd.read_parquet(path)
        lists = [
            f.name for f in pq.read_schema(path) if pa.types.is_large_list(f.type) or pa.types.is_list(f.type)
        ]
        for name in lists:  # numpy arrays do not compare as values: make them tuples
            frame[name] = frame[name].map(lambda v: None if v is None else tuple(v))
        return frame

    def differs(x: pd.Series, y: pd.Series) -> pd.Series:  # numpy dtypes: NaN != NaN
        return ~((x == y) | (x.isna() & y.isna()))

    return _pandas_diff(load(base), load(cur), key, differs)


def _pandas_diff(b: Any, c: Any, key: list[str], differs: Any) -> dict[str, int]:
    """The merge-based diff both pandas baselines share; ``differs`` compares one column pair."""
    import pandas as pd

    cols = [x for x in b.columns if x not in key]
    m = b.merge(c, on=key, how="outer", suffixes=("_b", "_c"), indicator=True)
    both = m[m["_merge"] == "both"]
    masks = pd.DataFrame(
        {col: differs(both[col + "_b"], both[col + "_c"]).to_numpy(dtype=bool) for col in cols}
    )
    hit = masks.any(axis=1).to_numpy()
    changed = both[hit].copy()
    changed["changed_fields"] = masks[hit].dot(pd.Index([f"{x}\x1f" for x in cols])).to_numpy()
    added, removed = m[m["_merge"] == "right_only"], m[m["_merge"] == "left_only"]
    return {
        "added": len(added),
        "removed": len(removed),
        "changed": len(changed),
        "unchanged": len(both) - len(changed),
    }


def run_duckdb(base: Path, cur: Path, key: list[str], _: Path) -> dict[str, int]:
    import duckdb
    import pyarrow.parquet as pq

    names = pq.read_schema(base).names
    cols = [x for x in names if x not in key]
    q = lambda x: '"' + x.replace('"', '""') + '"'  # noqa: E731
    on = " AND ".join(f"b.{q(k)} = c.{q(k)}" for k in key)
    distinct = [f"b.{q(x)} IS DISTINCT FROM c.{q(x)}" for x in cols]
    fields = ", ".join(f"CASE WHEN {d} THEN '{x}' END" for d, x in zip(distinct, cols, strict=True))
    sql = f"""
        SELECT CASE WHEN b.{q(key[0])} IS NULL THEN 'added'
                    WHEN c.{q(key[0])} IS NULL THEN 'removed' ELSE 'changed' END AS kind,
               {", ".join(f"COALESCE(c.{q(k)}, b.{q(k)}) AS {q(k)}" for k in key)},
               {", ".join(f"c.{q(x)} AS {q('c_' + x)}, b.{q(x)} AS {q('b_' + x)}" for x in cols)},
               list_filter([{fields}], lambda f: f IS NOT NULL) AS changed_fields
        FROM read_parquet('{base}') b FULL OUTER JOIN read_parquet('{cur}') c ON {on}
        WHERE b.{q(key[0])} IS NULL OR c.{q(key[0])} IS NULL OR {" OR ".join(distinct)}
    """
    out = duckdb.connect().sql(sql).to_arrow_table()  # a relation hands Arrow over without a copy
    found = Counter(out["kind"].to_pylist())
    rows = pq.read_metadata(base).num_rows
    counts = {k: found.get(k, 0) for k in ("added", "removed", "changed")}
    return {**counts, "unchanged": rows - counts["removed"] - counts["changed"]}


def run_read(base: Path, cur: Path, key: list[str], _: Path) -> dict[str, int]:
    import polars as pl

    b, c = pl.read_parquet(base), pl.read_parquet(cur)
    return {"rows": b.height + c.height}


def run_diff_frames(base: Path, cur: Path, key: list[str], _: Path) -> dict[str, int]:
    import polars as pl

    from toolkit.diff import diff_frames

    return diff_frames(pl.scan_parquet(base), pl.scan_parquet(cur), key=key).counts


def run_stored(base: Path, cur: Path, key: list[str], store_dir: Path) -> dict[str, int]:
    import polars as pl

    from toolkit.snapshots import SnapshotStore

    store = SnapshotStore(store_dir)
    ref = store.baseline("bench")
    assert ref is not None
    return store.diff(ref, pl.scan_parquet(cur), key=key).counts


def run_partitioned(base: Path, cur: Path, key: list[str], _: Path, parts: int = 4) -> dict[str, int]:
    import polars as pl

    from toolkit.diff import diff_partitioned

    return diff_partitioned(pl.scan_parquet(base), pl.scan_parquet(cur), key=key, parts=parts).counts


def measure(name: str, base: Path, cur: Path, key: list[str], store: Path, parts: int) -> None:
    run = globals()[f"run_{name}"]
    run_args: list[Any] = [base, cur, key, store] + ([parts] if name == "partitioned" else [])
    _warm_imports(name)
    before = resource.getrusage(resource.RUSAGE_SELF)
    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    counts = run(*run_args)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "peak_rss_mb": _peak_rss_mb(),
                "import_rss_mb": rss0,
                "counts": counts,
            }
        )
    )


def _peak_rss_mb() -> float:
    # VmHWM belongs to this process image; ru_maxrss would include the parent's peak before exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_imports(name: str) -> None:
    # Imports are not what is measured: load each contender's libraries before the clock starts.
    if name.startswith("pandas"):
        import pandas  # noqa: F401
        import pyarrow.parquet
    elif name == "duckdb":
        import duckdb  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    else:
        import toolkit.diff
        import toolkit.snapshots  # noqa: F401


# --- orchestration ----------------------------------------------------------------------------


def prepare(rows: int, folder: Path) -> dict[str, Any]:
    """Write the catalogs (reused when present) and store the baseline; return sizes."""
    from catalog import KEY, make_catalogs

    from toolkit.snapshots import ROW_GROUP_ROWS

    meta_path = folder / "meta.json"
    if meta_path.exists():
        meta = dict(json.loads(meta_path.read_text()))
        if meta.get("snapshot_row_group_rows") != ROW_GROUP_ROWS:  # stored by an older layout
            _store_baseline(folder)
            meta_path.write_text(json.dumps({**meta, "snapshot_row_group_rows": ROW_GROUP_ROWS}))
        return meta
    folder.mkdir(parents=True, exist_ok=True)
    base, cur = make_catalogs(rows, seed=42)
    base.write_parquet(folder / "base.parquet", compression="zstd")
    cur.write_parquet(folder / "cur.parquet", compression="zstd")
    _store_baseline(folder)
    meta = {
        "rows": rows,
        "columns": base.width,
        "key": [KEY],
        "snapshot_row_group_rows": ROW_GROUP_ROWS,
        "memory_mb": (base.estimated_size() + cur.estimated_size()) / 2**20,
        "file_mb": sum((folder / f).stat().st_size for f in ("base.parquet", "cur.parquet")) / 2**20,
    }
    meta_path.write_text(json.dumps(meta))
    return meta


def _store_baseline(folder: Path) -> None:
    import shutil

    import polars as pl
    from catalog import KEY

    from toolkit.snapshots import SnapshotStore

    shutil.rmtree(folder / "store", ignore_errors=True)
    store = SnapshotStore(folder / "store")
    store.promote(store.save("bench", pl.read_parquet(folder / "base.parquet"), key=KEY))


def contend(
    name: str, folder: Path, meta: dict[str, Any], parts: int, *, paths: dict[str, Path] | None = None
) -> dict[str, Any]:
    files = paths or {"base": folder / "base.parquet", "cur": folder / "cur.parquet"}
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--contender",
        name,
        "--base",
        str(files["base"]),
        "--cur",
        str(files["cur"]),
        "--store",
        str(folder / "store"),
        "--key",
        ",".join(meta["key"]),
        "--parts",
        str(parts),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the least wall time (the machine may be shared: the minimum is the signal)."""
    done = [r for r in runs if "wall_s" in r]
    return min(done, key=lambda r: r["wall_s"]) if done else runs[0]


def run_size(rows: int, names: tuple[str, ...], parts: int, data: Path, repeat: int) -> dict[str, Any]:
    folder = data / f"catalog-{rows}"
    meta = prepare(rows, folder)
    # Rounds of every contender in turn, so a machine that speeds up or slows down meanwhile
    # weighs on all of them alike (a shared machine's pace drifts by 20 % over minutes).
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(repeat):
        for name in names:
            runs[name].append(contend(name, folder, meta, parts))
    results = {name: best_of(runs[name]) for name in names}
    diffs = [r["counts"] for n, r in results.items() if "counts" in r and n != "read"]
    return {**meta, "results": results, "counts_agree": all(d == diffs[0] for d in diffs)}


def ratios(size: dict[str, Any]) -> dict[str, float]:
    r = size["results"]

    def wall(name: str) -> float:
        return float(r[name]["wall_s"]) if "wall_s" in r.get(name, {}) else float("nan")

    def cpu(name: str) -> float:
        return float(r[name]["cpu_s"]) if "cpu_s" in r.get(name, {}) else float("nan")

    pairs = [
        ("pandas_default", "diff_frames"),
        ("pandas", "diff_frames"),
        ("duckdb", "diff_frames"),
        ("diff_frames", "read"),
        ("duckdb", "stored"),
    ]
    return {
        **{f"{a} / {b} (wall)": wall(a) / wall(b) for a, b in pairs},
        **{f"{a} / {b} (cpu)": cpu(a) / cpu(b) for a, b in pairs},
        "diff_frames peak RSS / in-memory size": r.get("diff_frames", {}).get("peak_rss_mb", 0)
        / size["memory_mb"],
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# bench_diff ({report['machine']})", ""]
    for size in report["sizes"]:
        lines += [
            f"## {size['rows']:,} rows x {size['columns']} columns "
            f"(in memory {size['memory_mb']:.0f} MB, files {size['file_mb']:.0f} MB; "
            f"counts agree: {size['counts_agree']})",
            "",
            "| contender | wall s | cpu s | peak RSS MB | RSS after imports MB | counts |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for name, r in size["results"].items():
            if "error" in r:
                lines.append(f"| {name} | error: {r['error']} | | | | |")
                continue
            lines.append(
                f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                f"{r['peak_rss_mb']:.0f} | {r['import_rss_mb']:.0f} | {r['counts']} |"
            )
        lines += [""] + [f"- {k}: {v:.2f}" for k, v in ratios(size).items()] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100,000 rows only")
    p.add_argument("--huge", action="store_true", help="add the 20M-row price snapshot (streamed)")
    p.add_argument("--rows", type=int, nargs="*", help="explicit sizes (overrides the defaults)")
    p.add_argument("--only", help="comma-separated contenders")
    p.add_argument("--parts", type=int, default=4, help="partitions for the partitioned contender")
    p.add_argument("--repeat", type=int, default=1, help="rounds of all contenders; the fastest run is kept")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--contender", help=argparse.SUPPRESS)
    p.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--cur", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--key", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.contender:
        measure(args.contender, args.base, args.cur, args.key.split(","), args.store, args.parts)
        return 0
    sizes = args.rows or ([100_000] if args.quick else [100_000, 1_000_000])
    names = tuple(args.only.split(",")) if args.only else CONTENDERS
    data = args.out / "data"
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "sizes": [],
    }
    for rows in sizes:
        report["sizes"].append(run_size(rows, names, args.parts, data, args.repeat))
        print(markdown({**report, "sizes": report["sizes"][-1:]}), flush=True)
    if args.huge:
        from bench_huge import run_huge

        report["huge"] = run_huge(data, parts=max(args.parts, 8))
        print(json.dumps(report["huge"], indent=1), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_diff.json").write_text(json.dumps(report, indent=1))
    (args.out / "bench_diff.md").write_text(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
