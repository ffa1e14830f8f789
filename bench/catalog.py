"""Generated product catalogs for the diff benchmark: a baseline and a shuffled, edited current.

The current snapshot differs from the baseline as a daily export does: 1 % of the rows changed in
one to three columns, 0.5 % removed, 0.5 % added, and every row shuffled. Generation is vectorised
(numpy + polars), so 1,000,000 rows take a few seconds.

Examples
--------
>>> base, cur = make_catalogs(1_000, seed=1)
>>> base.height, cur.height, base.width
(1000, 1000, 25)
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pyarrow as pa

MONEY = pl.Decimal(18, 4)
RATE = pl.Decimal(9, 4)
KEY = "PartNo"

_WORDS = pl.Series(
    "steel oak linen wool cotton cordless compact deluxe classic outdoor indoor smart eco "
    "premium basic heavy light mini maxi pro kit set pack blue red green black white grey "
    "drill lamp chair table sofa shelf hook bolt screw glove boot jacket kettle pan knife".split()
)
_CATEGORIES = pl.Series([f"C{i:04d}" for i in range(400)])
_STATUSES = pl.Series(["Active", "Active", "Active", "Inactive", "Expiring", "ComingSoon"])


def _words(rng: np.random.Generator, n: int, count: int) -> pl.Series:
    cols = [_WORDS.gather(rng.integers(0, len(_WORDS), n)) for _ in range(count)]
    return pl.select(pl.concat_str(cols, separator=" ")).to_series()


def _with_nulls(s: pl.Series, rng: np.random.Generator, share: float) -> pl.Series:
    return pl.select(pl.when(pl.lit(rng.random(len(s)) < share)).then(None).otherwise(s)).to_series()


def _decimal(rng: np.random.Generator, n: int, high: int, dtype: pl.DataType) -> pl.Series:
    scaled = pl.Series(rng.integers(0, high * 10_000, n)).cast(pl.Decimal(38, 4)) / 10_000
    return scaled.cast(dtype)


def _categories(rng: np.random.Generator, n: int) -> pl.Series:
    offsets = np.concatenate([[0], np.cumsum(rng.integers(0, 4, n))]).astype(np.int32)
    values = _CATEGORIES.gather(rng.integers(0, len(_CATEGORIES), int(offsets[-1]))).to_arrow()
    return pl.Series(pa.ListArray.from_arrays(pa.array(offsets), values)).cast(pl.List(pl.String))


def make_frame(n: int, *, seed: int, start: int = 0) -> pl.DataFrame:
    """A products frame of ``n`` SKUs (25 columns: text, decimals, lists, dates, booleans, nulls)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(start, start + n)
    part = pl.Series(ids).cast(pl.String)
    desc = _words(rng, n, 24)
    day0 = dt.date(2020, 1, 1)
    return pl.DataFrame(
        {
            KEY: "SKU-" + part.str.zfill(9),
            "Code": "P-" + pl.Series(ids // 3).cast(pl.String).str.zfill(8),
            "ManufacturerCode": pl.Series(rng.integers(0, 500, n)).cast(pl.String),
            "ManufacturerName": _words(rng, n, 2),
            "Categories": _categories(rng, n),
            "MainImage": "https://img.example.com/" + part + ".jpg",
            "Name[sv-SE]": _words(rng, n, 4),
            "Name[en-GB]": _with_nulls(_words(rng, n, 4), rng, 0.2),
            "Description[sv-SE]": desc,
            "Description[en-GB]": _with_nulls(desc.str.to_uppercase(), rng, 0.5),
            "Title[sv-SE]": _with_nulls(_words(rng, n, 6), rng, 0.3),
            "ManufacturerPartNo": "M" + part,
            "SortOrderValue": pl.Series(rng.integers(0, 1000, n), dtype=pl.Int64),
            "IsDangerousGoods": pl.Series(rng.random(n) < 0.02),
            "VariantName[sv-SE]": _with_nulls(_words(rng, n, 2), rng, 0.4),
            "Status": _STATUSES.gather(rng.integers(0, len(_STATUSES), n)),
            "Type": pl.Series(np.where(rng.random(n) < 0.9, "Standard", "Bundle")),
            "EanCode": _with_nulls(pl.Series(rng.integers(10**12, 10**13, n)).cast(pl.String), rng, 0.1),
            "IsBuyable": pl.Series(rng.random(n) < 0.95),
            "ActualWeight": _with_nulls(_decimal(rng, n, 50, RATE), rng, 0.2),
            "StandardPrice": _decimal(rng, n, 20_000, MONEY),
            "VatRate[Sweden]": pl.Series(np.where(rng.random(n) < 0.9, 25, 12)).cast(RATE),
            "StartDate": pl.Series(rng.integers(0, 1500, n) + (day0 - dt.date(1970, 1, 1)).days)
            .cast(pl.Int32)
            .cast(pl.Date),
            "StopDate": _with_nulls(pl.Series(np.full(n, 21915, dtype=np.int32)).cast(pl.Date), rng, 0.9),
            "Comment[sv-SE]": _with_nulls(_words(rng, n, 3), rng, 0.8),
        }
    )


def _mutate(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return pl.when(col.is_null()).then(pl.lit("new")).otherwise(col + "~")
    if dtype == pl.Boolean:
        return col.not_().fill_null(True)
    if isinstance(dtype, pl.List):
        return col.fill_null([]).list.concat(pl.lit(["CNEW"]))
    if isinstance(dtype, pl.Decimal | pl.Int64):
        return (col.fill_null(0) + 1).cast(dtype)
    if dtype == pl.Date:
        return col.fill_null(dt.date(2024, 1, 1)) + dt.timedelta(days=1)
    raise TypeError(dtype)


def make_catalogs(n: int, *, seed: int = 42) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A baseline of ``n`` rows and a current with 1 % changed, 0.5 % removed, 0.5 % added, shuffled."""
    rng = np.random.default_rng(seed)
    base = make_frame(n, seed=seed)
    n_rm, n_ch = n // 200, n // 100
    order = rng.permutation(n)
    changed, kept = order[n_rm : n_rm + n_ch], order[n_rm:]
    columns = [c for c in base.columns if c != KEY]
    scores = rng.random((n_ch, len(columns)))
    ranks = scores.argsort(axis=1).argsort(axis=1)
    touched = ranks < rng.integers(1, 4, n_ch)[:, None]
    cur = base
    for j, name in enumerate(columns):
        mask = np.zeros(n, dtype=bool)
        mask[changed[touched[:, j]]] = True
        expr = pl.when(pl.lit(pl.Series(mask))).then(_mutate(pl.col(name), base.schema[name]))
        cur = cur.with_columns(expr.otherwise(pl.col(name)).alias(name))
    added = make_frame(n // 200, seed=seed + 1, start=n)
    cur = pl.concat([cur[np.sort(kept)], added])
    return base, cur[rng.permutation(cur.height)]
