"""The --huge case of bench_diff: a 20,000,000-row price snapshot (SKU x price list), streamed.

The snapshots are written in chunks (10 files per side, never all in memory), with 1 % of the rows
changed in 1-3 price columns, 0.5 % removed, 0.5 % added, rows shuffled within each chunk and the
chunks in another order. Only the bounded-memory contender runs (``partitioned``): a whole in-memory
diff of two such snapshots would hold about twice the ``memory_mb`` reported here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

MONEY = pl.Decimal(18, 4)
KEY = ["PartNo", "PriceListCode", "QuantityBreak"]
PRICES = [
    "PriceSale",
    "CostPurchase",
    "CostUnit",
    "PriceRecommended",
    "PricePrevious",
    "PriceCatalog",
    "PriceRuleValue",
]
LISTS = pl.Series([f"PL-{c}" for c in ("SE", "NO", "DK", "FI", "DE", "B2B", "VIP", "OUT", "EMP", "WEB")])


def price_chunk(skus: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """One price row per SKU and price list (10 per SKU), quantity break 1."""
    n = len(skus) * len(LISTS)
    sku = pl.Series(np.repeat(skus, len(LISTS))).cast(pl.String).str.zfill(9)
    money = {
        c: (pl.Series(rng.integers(0, 10**8, n)).cast(pl.Decimal(38, 4)) / 10_000).cast(MONEY) for c in PRICES
    }
    return pl.DataFrame(
        {
            "PartNo": "SKU-" + sku,
            "PriceListCode": pl.concat([LISTS] * len(skus)),
            "QuantityBreak": pl.Series(np.ones(n, dtype=np.int64)),
            **money,
            "IsPriceDiscountable": pl.Series(rng.random(n) < 0.8),
            "IsActive": pl.Series(rng.random(n) < 0.99),
            "PriceRule": pl.Series(np.where(rng.random(n) < 0.9, "Fixed", "Discount")),
            "CurrencyCode": pl.Series(np.where(rng.random(n) < 0.7, "SEK", "EUR")),
        }
    )


def _edit(chunk: pl.DataFrame, added: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    n = chunk.height
    order = rng.permutation(n)
    removed, changed = order[: n // 200], order[n // 200 : n // 200 + n // 100]
    out = chunk
    for name in PRICES[:6]:
        mask = np.zeros(n, dtype=bool)
        mask[changed[rng.random(len(changed)) < 0.33]] = True
        bump = (pl.col(name) + 1).cast(MONEY)
        out = out.with_columns(pl.when(pl.lit(pl.Series(mask))).then(bump).otherwise(pl.col(name)))
    keep = np.ones(n, dtype=bool)
    keep[removed] = False
    out = pl.concat([out.filter(pl.Series(keep)), added])
    return out[rng.permutation(out.height)]


def prepare_huge(folder: Path, *, rows: int, chunks: int = 10) -> dict[str, Any]:
    meta_path = folder / "meta.json"
    if meta_path.exists():
        return dict(json.loads(meta_path.read_text()))
    rng = np.random.default_rng(7)
    skus_per_chunk = rows // chunks // len(LISTS)
    memory = 0
    for side in ("base", "cur"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    for i in range(chunks):
        base = price_chunk(np.arange(i * skus_per_chunk, (i + 1) * skus_per_chunk), rng)
        start = chunks * skus_per_chunk + i * skus_per_chunk // 200
        added = price_chunk(np.arange(start, start + skus_per_chunk // 200), rng)
        cur = _edit(base, added, rng)
        base.write_parquet(folder / "base" / f"{i:03d}.parquet", compression="zstd")
        cur.write_parquet(folder / "cur" / f"{chunks - 1 - i:03d}.parquet", compression="zstd")
        memory += base.estimated_size() + cur.estimated_size()
    meta = {
        "rows": rows,
        "columns": 14,
        "key": KEY,
        "memory_mb": memory / 2**20,
        "file_mb": sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 2**20,
    }
    meta_path.write_text(json.dumps(meta))
    return meta


def run_huge(data: Path, *, parts: int, rows: int = 20_000_000) -> dict[str, Any]:
    from bench_diff import contend

    folder = data / f"prices-{rows}"
    meta = prepare_huge(folder, rows=rows)
    paths = {"base": folder / "base" / "*.parquet", "cur": folder / "cur" / "*.parquet"}
    result = contend("partitioned", folder, meta, parts, paths=paths)
    return {**meta, "parts": parts, "results": {"partitioned": result}}
