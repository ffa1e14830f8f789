"""Plan feeds on generated catalogs: full-feed serialization rate and a whole change-feed plan.

Catalogs of 1,000,000 SKUs (``--quick``: 100,000): products (the diff benchmark's 25-column catalog,
made valid: SKU enums, product-level columns equal within a product), on-hands and SKU prices. The
current snapshot has 1 % of rows changed in 1-3 columns, 0.5 % added, 0.5 % removed, rows shuffled.
Every scenario runs in its own process, so its peak RSS is its own:

- ``serialize``: the full feed's items encoded and cut into request bodies (``batches.make_batches``
  over one group of every row: polars structs -> ``json_encode`` -> bodies), items/s;
- ``naive`` (the baseline, same frame): ``to_dicts`` then per-item dict building (nesting products by
  hand) and ``json.dumps`` per item, joined into bodies of 5,000 items;
- ``change plan``: ``plan_feed(kind="change")`` end to end against a promoted baseline: read the source
  Parquet, validate, load the baseline, diff, build and serialize the batches (until ``plan_feed``
  returns); the new snapshot is written in the background meanwhile, and the time until it is on disk
  (``plan.snapshot``) is reported beside it.
- ``full plan``: the same for ``kind="full"`` (for reference).

Targets at 1M: change plan < 5 s; full-feed serialization >= 500,000 items/s.
Run: ``.venv/bin/python bench/bench_plan.py [--quick] [--rows N]``; results in
``bench/results/bench_plan.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from toolkit.entities import ENTITIES, VALUE_ENUMS, split_qualified  # noqa: E402

ENTITY_NAMES = ("products", "onhands", "sku_prices")
TASKS = ("serialize", "naive", "change-plan", "full-plan")


def _rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss it does not inherit the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- catalogs ----------------------------------------------------------------------------------
def _valid_products(frame: pl.DataFrame) -> pl.DataFrame:
    """The diff benchmark's catalog made valid for checks: enum names, one value per product."""
    ent = ENTITIES["products"]
    product_cols = [c for c in frame.columns if ent.column(c).level == "product" and c != "Code"]
    return frame.with_columns(
        pl.col("Status").replace({"ComingSoon": "Coming"}),
        pl.col("Type").replace({"Bundle": "ErpStandard"}),
        *(pl.col(c).sort_by("PartNo").first().over("Code") for c in product_cols),
    )


def _mutated(
    base: pl.DataFrame, key: list[str], changes: dict[str, pl.Expr], added: pl.DataFrame, seed: int
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = base.height
    order = rng.permutation(n)
    removed, changed = order[: n // 200], order[n // 200 : n // 200 + n // 100]
    cols = list(changes)
    pick = rng.integers(0, len(cols), (len(changed), 3))
    count = rng.integers(1, 4, len(changed))
    cur = base
    for j, name in enumerate(cols):
        rows = changed[((pick == j) & (np.arange(3) < count[:, None])).any(axis=1)]
        mask = pl.Series(np.isin(np.arange(n), rows))
        cur = cur.with_columns(pl.when(pl.lit(mask)).then(changes[name]).otherwise(pl.col(name)).alias(name))
    keep = pl.Series(~np.isin(np.arange(n), removed))
    cur = pl.concat([cur.filter(keep), added])
    return cur[rng.permutation(cur.height)]


def make_stock(n: int, *, seed: int, start: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    i = np.arange(start, start + n)
    return pl.DataFrame(
        {
            "PartNo": "SKU-" + pl.Series(i // 4).cast(pl.String).str.zfill(9),
            "WarehouseCode": pl.Series(["W1", "W2"])[i % 2],
            "LocationCode": pl.Series(["A", "B"])[i // 2 % 2],
            "OnhandValue": pl.Series(rng.integers(0, 500, n)),
            "IncomingValue": pl.Series(rng.integers(0, 50, n)).scatter(
                np.flatnonzero(rng.random(n) < 0.6), None
            ),
            "NextDeliveryDate": pl.Series(np.full(n, 20000, np.int32)).cast(pl.Date),
            "LeadTimeDayCount": pl.Series(rng.integers(1, 30, n)),
            "IsActive": pl.Series(rng.random(n) > 0.01),
        }
    )


def make_prices(n: int, *, seed: int, start: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    i = np.arange(start, start + n)
    money = pl.Decimal(18, 4)
    price = pl.Series(rng.integers(1000, 5_000_000, n)).cast(pl.Decimal(38, 4)) / 100
    return pl.DataFrame(
        {
            "PartNo": "SKU-" + pl.Series(i // 4).cast(pl.String).str.zfill(9),
            "PriceListCode": pl.Series(["SE", "NO"])[i % 2],
            "QuantityBreak": pl.Series(i // 2 % 2 * 9 + 1),
            "PriceSale": price.cast(money),
            "CostPurchase": (price * 0.4).cast(money),
            "PriceRecommended": pl.select(
                pl.when(pl.lit(pl.Series(rng.random(n) < 0.3)))
                .then(None)
                .otherwise(pl.lit((price * 1.1).cast(money)))
            ).to_series(),
            "IsActive": pl.Series(rng.random(n) > 0.01),
            "PriceRule": pl.Series(np.where(rng.random(n) < 0.1, "FixedPrice", ""), dtype=pl.String).replace(
                "", None
            ),
            "CurrencyCode": pl.Series(["SEK", "NOK"])[i % 2],
        }
    )


def make_catalogs(entity: str, n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    if entity == "products":
        import catalog

        base, cur = catalog.make_catalogs(n)
        return _valid_products(base), _valid_products(cur)
    make = make_stock if entity == "onhands" else make_prices
    base = make(n, seed=1)
    changes = (
        {
            "OnhandValue": pl.col("OnhandValue") + 1,
            "LeadTimeDayCount": pl.col("LeadTimeDayCount") + 1,
            "IsActive": ~pl.col("IsActive"),
        }
        if entity == "onhands"
        else {
            "PriceSale": pl.col("PriceSale") + 1,
            "CostPurchase": pl.col("CostPurchase") + 1,
            "IsActive": ~pl.col("IsActive"),
        }
    )
    return base, _mutated(base, list(ENTITIES[entity].key), changes, make(n // 200, seed=2, start=n), 3)


# --- scenarios (each in a child process) --------------------------------------------------------
def run_serialize(entity: str, path: Path) -> dict[str, Any]:
    from toolkit.batches import Group, make_batches
    from toolkit.config import Policies

    frame = pl.read_parquet(path)
    t, cpu = time.perf_counter(), time.process_time()
    batches = make_batches(ENTITIES[entity], [Group(frame, None)], account=10000, policies=Policies())
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    items = sum(b.item_count for b in batches)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "items": items,
        "batches": len(batches),
        "bytes": sum(b.size for b in batches),
        "rows": frame.height,
    }


def _plain(entity: str, row: dict[str, Any]) -> dict[str, Any]:
    ent = ENTITIES[entity]
    out: dict[str, Any] = {}
    for name, v in row.items():
        if v is None:
            continue
        col = ent.column(name)
        if col.values:
            v = VALUE_ENUMS[col.values][v].value
        elif isinstance(v, Decimal):
            v = float(v)
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out[name] = v
    return out


def _naive_product(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ent = ENTITIES["products"]
    products: dict[str, dict[str, Any]] = {}
    for row in rows:
        levels: dict[str, dict[str, Any]] = {"product": {}, "variant": {}, "sku": {}}
        for name, v in _plain("products", row).items():
            base, qual = split_qualified(name)
            col = ent.column(name)
            level = levels[col.level]
            if col.qualifier == "culture":
                cultures = level.setdefault("Cultures", {})
                cultures.setdefault(qual, {"CultureCode": qual})[col.field or base] = v
            elif col.qualifier == "sales_area":
                level.setdefault("VatRates", []).append({"SalesArea": 1, "Rate": v})
            elif name == "Categories":
                level[name] = [{"Code": c} for c in v]
            elif name == "MainImage":
                level[name] = {"Url": v, "ExternalCode": v, "FileTypeName": "MainImage"}
            else:
                level[name] = v
        for level in levels.values():
            if "Cultures" in level:
                level["Cultures"] = list(level["Cultures"].values())
        product = products.setdefault(row["Code"], {**levels["product"], "Variants": {}})
        variant = product["Variants"].setdefault(row["ManufacturerPartNo"], {**levels["variant"], "Skus": []})
        variant["Skus"].append(levels["sku"])
    for p in products.values():
        p["Variants"] = list(p["Variants"].values())
    return list(products.values())


def run_naive(entity: str, path: Path) -> dict[str, Any]:
    frame = pl.read_parquet(path)
    t, cpu = time.perf_counter(), time.process_time()
    rows = frame.to_dicts()
    items = _naive_product(rows) if entity == "products" else [_plain(entity, r) for r in rows]
    texts = [json.dumps(i, separators=(",", ":"), ensure_ascii=False) for i in items]
    bodies = [("[" + ",".join(texts[i : i + 5000]) + "]").encode() for i in range(0, len(texts), 5000)]
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "items": len(items),
        "batches": len(bodies),
        "bytes": sum(len(b) for b in bodies),
        "rows": frame.height,
    }


def run_plan(kind: str, entity: str, directory: Path) -> dict[str, Any]:
    from toolkit.config import load_settings
    from toolkit.feeds import plan_feed
    from toolkit.snapshots import SnapshotStore

    (directory / "norce.toml").write_text(f"""
[profiles.sandbox]
base_url = "http://127.0.0.1:9"
client_id = "sandbox"
scope = "sandbox"
[feeds.bench]
entity = "{entity}"
account = "ERP"
source = "{entity}_cur.parquet"
[feeds.bench.policies]
max_reject_ratio = 0.5
""")
    # warm: in a notebook or a long-lived process these are loaded once, not per plan
    import pandera.backends.polars.builtin_checks  # noqa: F401

    import toolkit.checks
    import toolkit.diff
    import toolkit.planning
    import toolkit.sources  # noqa: F401

    settings = load_settings(directory / "norce.toml", environ={})
    store = SnapshotStore(settings.state_dir / "snapshots")
    base = pl.read_parquet(directory / f"{entity}_base.parquet")
    key = list(ENTITIES[entity].key)
    store.promote(store.save("bench", base, kind="full", key=key))  # the baseline, its row hashes cached
    del base
    t, cpu = time.perf_counter(), time.process_time()
    plan = plan_feed(settings, "bench", kind=kind)  # type: ignore[arg-type]  # a fresh store, as a new run has
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    assert plan.snapshot is not None  # the snapshot is written in the background: wait for it
    durable = time.perf_counter() - t
    s = plan.summary
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "snapshot_seconds": durable,
        "items": s.items,
        "batches": s.batches,
        "bytes": s.bytes,
        "added": s.added,
        "changed": s.changed,
        "removed": s.removed,
        "rejected": s.rejected,
    }


def child(task: str, entity: str, path: Path) -> None:
    base = _rss_mb()
    runner = {"serialize": run_serialize, "naive": run_naive}.get(task)
    result = runner(entity, path) if runner else run_plan(task.split("-")[0], entity, path)
    print(json.dumps({**result, "base_rss_mb": base, "peak_rss_mb": _rss_mb()}))


def measure(task: str, entity: str, path: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", task, entity, str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        return {"task": task, "entity": entity, "error": proc.stderr.strip().splitlines()[-1]}
    r: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"task": task, "entity": entity, **r, "items_per_s": r["items"] / r["seconds"]}


# --- report ------------------------------------------------------------------------------------
def report(results: list[dict[str, Any]], rows: int) -> str:
    lines = [
        f"# bench_plan: {rows:,} rows per catalog",
        "",
        "| entity | scenario | wall s | CPU s | items | items/s | rows/s | batches | MB | peak RSS MB "
        "| RSS growth MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['entity']} | {r['task']} | error: {r['error']} | | | | | | | | |")
            continue
        # rows: source rows serialized (for products, SKUs; its items are products)
        per_row = f"{r['rows'] / r['seconds']:,.0f}" if "rows" in r else ""
        lines.append(
            f"| {r['entity']} | {r['task']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | "
            f"{r['items']:,} | {r['items_per_s']:,.0f} | {per_row} | {r['batches']} | "
            f"{r['bytes'] / 2**20:.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['peak_rss_mb'] - r['base_rss_mb']:.0f} |"
        )
    lines.append("")
    ok = {(r["entity"], r["task"]): r for r in results if "error" not in r}
    for e in ENTITY_NAMES:
        fast, slow = ok.get((e, "serialize")), ok.get((e, "naive"))
        if fast and slow:
            lines.append(
                f"- {e}: serialization {fast['items_per_s']:,.0f} items/s (target >= 500,000; "
                f"{fast['rows'] / fast['seconds']:,.0f} source rows/s), "
                f"{slow['seconds'] / fast['seconds']:.1f}x faster than the naive baseline "
                f"({slow['cpu_seconds'] / fast['cpu_seconds']:.1f}x in CPU time); "
                f"peak RSS {fast['peak_rss_mb']:.0f} vs {slow['peak_rss_mb']:.0f} MB"
            )
        plan = ok.get((e, "change-plan"))
        if plan:
            lines.append(
                f"- {e}: whole change-feed plan {plan['seconds']:.2f} s wall, "
                f"{plan['cpu_seconds']:.2f} s CPU (target < 5 s at 1M): "
                f"{plan['added']:,} added, {plan['changed']:,} changed, {plan['removed']:,} "
                f"removed -> {plan['batches']} batches; the new snapshot, written in the "
                f"background, on disk at {plan['snapshot_seconds']:.2f} s"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--entities", default=",".join(ENTITY_NAMES))
    parser.add_argument(
        "--tasks", default=",".join(TASKS), help="scenarios to run (naive takes minutes at 1M)"
    )
    parser.add_argument("--child", nargs=3, metavar=("TASK", "ENTITY", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return 0
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for entity in args.entities.split(","):
            base, cur = make_catalogs(entity, rows)
            base.write_parquet(d / f"{entity}_base.parquet")
            cur.write_parquet(d / f"{entity}_cur.parquet")
            del base, cur
            tasks = args.tasks.split(",")
            for task in tasks:
                on_file = task in ("serialize", "naive")
                results.append(measure(task, entity, d / f"{entity}_base.parquet" if on_file else d))
            print(json.dumps(results[-len(tasks) :], default=str)[:600], flush=True)
    text = report(results, rows)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_plan.json").write_text(json.dumps({"rows": rows, "results": results}, indent=2))
    (out / "bench_plan.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
