"""Read + map + validate SKU price rows (sku_prices) from CSV and from Parquet.

The generated file has 1,000,000 rows (``--quick``: 100,000) of an ERP price export: Swedish column
names mapped by the feed, ``1``/``0`` booleans, about 0.1 % bad rows (negative prices, unknown
currencies, text in a price column, duplicated keys). Each scenario runs in its own process so its
peak RSS is its own:

- ``toolkit``: ``read_source`` (mapping and canonical casts) then ``checks.validate``;
- ``pandas`` (the baseline): ``pandas.read_csv`` (pyarrow engine, text kept as text) /
  ``read_parquet`` (pyarrow dtypes), rename, ``to_numeric`` casts and a plain pandas validation of the
  same rules (not null, unique key, ranges, currency, length) that only marks rows, without reasons.

Reported per scenario: rows/s for read + validate, the validation's share of that time, peak RSS,
the frame's ``estimated_size`` and peak RSS over the frame (both absolute and above the RSS the
process had after its imports), and the ratio toolkit / pandas. Targets: >= 1,000,000 rows/s from
Parquet, validation no slower than reading, peak RSS <= 3x the frame.

Run: ``.venv/bin/python bench/bench_sources.py [--quick] [--rows N] [--repeat K]``. Results go to
``bench/results/bench_sources.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAPPING = {
    "Artikelnr": "PartNo",
    "Prislista": "PriceListCode",
    "Antal": "QuantityBreak",
    "Pris": "PriceSale",
    "Inpris": "CostPurchase",
    "Styckkostnad": "CostUnit",
    "Rekpris": "PriceRecommended",
    "Aktiv": "IsActive",
    "Valuta": "CurrencyCode",
}
MONEY = ["PriceSale", "CostPurchase", "CostUnit", "PriceRecommended"]
MAPPING_MONEY = ["Pris", "Inpris", "Styckkostnad", "Rekpris"]
CURRENCIES = ["SEK", "NOK", "DKK", "EUR"]


def make_prices(rows: int, *, seed: int = 7) -> pl.DataFrame:
    """An ERP price export with about 0.1 % bad rows (Swedish headers, text values)."""
    rng = np.random.default_rng(seed)
    i = np.arange(rows)
    lists = i % 4  # key: (i // 8, list i % 4, quantity break 1 or 10) is unique
    price = np.round(rng.uniform(10, 5000, rows), 2)
    frame = pl.DataFrame(
        {
            "Artikelnr": pl.Series(i // 8).cast(pl.String),
            "Prislista": pl.Series(["SE-BAS", "NO-BAS", "DK-BAS", "FI-BAS"])[lists],
            "Antal": pl.Series(i // 4 % 2 * 9 + 1),
            "Pris": price,
            "Inpris": np.round(price * 0.4, 2),
            "Styckkostnad": np.round(price * 0.45, 2),
            "Rekpris": np.round(price * 1.1, 2),
            "Aktiv": (rng.random(rows) > 0.05).astype(np.int8),
            "Valuta": pl.Series(CURRENCIES)[lists],
        }
    )
    frame = frame.with_columns(
        ("A" + pl.col("Artikelnr").str.zfill(7)).alias("Artikelnr"), pl.col(*MAPPING_MONEY).cast(pl.String)
    )
    bad = pl.int_range(rows) % 1000
    key = ("Artikelnr", "Prislista", "Antal")  # row 4 of each 1000 repeats the key of row 3
    return frame.with_columns(
        pl.when(bad == 1)
        .then(pl.lit("-1.00"))
        .when(bad == 2)
        .then(pl.lit("gratis"))
        .otherwise(pl.col("Pris"))
        .alias("Pris"),
        pl.when(bad == 3).then(pl.lit("SEKK")).otherwise(pl.col("Valuta")).alias("Valuta"),
        *(pl.when(bad == 4).then(pl.col(c).shift(1)).otherwise(pl.col(c)).alias(c) for c in key),
    )


def write_files(rows: int, directory: Path) -> dict[str, Path]:
    frame = make_prices(rows)
    csv, parquet = directory / "prices.csv", directory / "prices.parquet"
    frame.write_csv(csv)
    frame.head(100).write_csv(directory / "head-prices.csv")
    typed = frame.with_columns(
        pl.col(*MAPPING_MONEY).cast(pl.Decimal(18, 4), strict=False), pl.col("Aktiv").cast(pl.Boolean)
    )
    typed.write_parquet(parquet)
    typed.head(100).write_parquet(directory / "head-prices.parquet")
    return {"csv": csv, "parquet": parquet}


# --- scenarios (each in a child process) -----------------------------------------------------------
def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_toolkit(path: Path, fmt: str) -> dict[str, Any]:
    from toolkit.checks import validate
    from toolkit.config import Feed, Policies
    from toolkit.sources import read_source

    feed = Feed(
        name="bench",
        entity="sku_prices",
        profile="x",
        account=None,
        source=str(path),
        format=fmt,
        mapping=MAPPING,
    )  # type: ignore[arg-type]
    warm = path.with_name(f"head-{path.name}")  # import and compile on 100 rows before measuring
    validate("sku_prices", read_source(feed, path=warm), policies=Policies(max_reject_ratio=1))
    base = _rss_mb()
    t0 = time.perf_counter()
    frame = read_source(feed, path=path)
    t1 = time.perf_counter()
    result = validate("sku_prices", frame, policies=Policies(max_reject_ratio=0.05))
    t2 = time.perf_counter()
    return {
        "read_s": t1 - t0,
        "validate_s": t2 - t1,
        "rows": frame.height,
        "valid": result.summary["valid"],
        "problems": result.rejected.height,
        "frame_mb": frame.estimated_size("mb"),
        "base_rss_mb": base,
        "peak_rss_mb": _rss_mb(),
    }


def run_pandas(path: Path, fmt: str) -> dict[str, Any]:
    import pandas as pd

    base = _rss_mb()
    t0 = time.perf_counter()
    if fmt == "csv":  # text kept as text, then parsed, so that bad values can be reported
        df = pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")
    else:
        df = pd.read_parquet(path, dtype_backend="pyarrow")
    df = df.rename(columns=MAPPING)
    bad_parse = pd.Series(False, index=df.index)
    for col in MONEY:
        if fmt == "csv":
            raw = df[col].str.strip()
            raw = raw.mask(raw == "")
            df[col] = pd.to_numeric(raw, errors="coerce")
            bad_parse |= df[col].isna() & raw.notna()
    df["QuantityBreak"] = pd.to_numeric(df["QuantityBreak"], errors="coerce").astype("Int64")
    df["IsActive"] = df["IsActive"].astype(str).str.lower().isin(["1", "true"])
    t1 = time.perf_counter()
    key = ["PartNo", "PriceListCode", "QuantityBreak"]
    bad = bad_parse | df[key].isna().any(axis=1) | df.duplicated(key, keep=False)
    for col in MONEY:
        bad |= df[col] < 0
    bad |= ~df["CurrencyCode"].isin(CURRENCIES) | (df["PartNo"].str.len() > 50)
    valid = df[~bad]
    t2 = time.perf_counter()
    return {
        "read_s": t1 - t0,
        "validate_s": t2 - t1,
        "rows": len(df),
        "valid": len(valid),
        "problems": int(bad.sum()),
        "frame_mb": df.memory_usage(deep=True).sum() / 2**20,
        "base_rss_mb": base,
        "peak_rss_mb": _rss_mb(),
    }


def child(kind: str, fmt: str, path: Path, repeat: int) -> None:
    runner = run_toolkit if kind == "toolkit" else run_pandas
    runs = [runner(path, fmt) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["read_s"] + r["validate_s"])
    # ru_maxrss only grows: the first run's base is the RSS before any frame was read
    best |= {"base_rss_mb": runs[0]["base_rss_mb"], "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
    print(json.dumps(best))


def measure(kind: str, fmt: str, path: Path, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, fmt, str(path), "--repeat", str(repeat)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    r: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    total = r["read_s"] + r["validate_s"]
    r |= {
        "scenario": kind,
        "format": fmt,
        "rows_per_s": r["rows"] / total,
        "validate_share": r["validate_s"] / total,
        "rss_over_frame": r["peak_rss_mb"] / r["frame_mb"],
        "rss_growth_over_frame": (r["peak_rss_mb"] - r["base_rss_mb"]) / r["frame_mb"],
    }
    return r


def report(results: list[dict[str, Any]], rows: int) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"# bench_sources: read + map + validate {rows:,} sku_prices rows",
        "",
        f"{os.cpu_count()} CPUs, load average {load} (best of the runs; noisy when loaded)",
        "",
        "| format | scenario | rows/s | read s | validate s | validation share | frame MB | "
        "peak RSS MB | RSS/frame | (RSS-base)/frame |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['format']} | {r['scenario']} | {r['rows_per_s']:,.0f} | {r['read_s']:.3f} | "
            f"{r['validate_s']:.3f} | {r['validate_share']:.0%} | {r['frame_mb']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r['rss_over_frame']:.1f}x | "
            f"{r['rss_growth_over_frame']:.1f}x |"
        )
    lines.append("")
    for fmt in ("csv", "parquet"):
        tk, pd_ = (
            next(r for r in results if r["format"] == fmt and r["scenario"] == s)
            for s in ("toolkit", "pandas")
        )
        lines.append(
            f"- {fmt}: toolkit is {tk['rows_per_s'] / pd_['rows_per_s']:.1f}x the pandas "
            f"baseline's rows/s; validation {tk['validate_s'] / tk['read_s']:.2f}x the read "
            f"time; {tk['problems']} problems found, {tk['valid']:,} rows valid"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=5, help="runs per scenario; the fastest counts")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]), args.repeat)
        return 0
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(rows, Path(tmp))
        results = [
            measure(kind, fmt, files[fmt], args.repeat)
            for fmt in ("csv", "parquet")
            for kind in ("toolkit", "pandas")
        ]
    text = report(results, rows)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_sources.json").write_text(json.dumps({"rows": rows, "results": results}, indent=2))
    (out / "bench_sources.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
