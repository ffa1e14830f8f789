"""Issue 23 case 3 for every entity, at plan level: when rows that changed different fields share union
requests, no item carries a field it did not change unless with its own value, and never a null.

Half of the items change one field and have no value for the other, the other half the reverse;
``max_extra_requests = 0`` makes the plan group them by the union of their fields. Every value a change
request sends must be the one the item's full feed sends (the source's value), every body must pass
the contract check, and no member is null. The server side is in tests/test_two_systems_e2e.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.canonical import catalog
from fixtures.settings import feed, write_settings

from toolkit.feeds import Plan, plan_feed
from toolkit.sandbox.contract import validate_import
from toolkit.snapshots import SnapshotStore

T0 = datetime(2025, 5, 1, tzinfo=UTC)
# entity -> two nullable fields changed by different items (products: across levels and cultures)
FIELDS = [
    ("products", "EanCode", "Description[sv-SE]"),
    ("products", "Name[en-GB]", "VatRate[Norway]"),
    ("products", "VariantName[sv-SE]", "ErpName[sv-SE]"),
    ("sku_prices", "PriceRecommended", "PriceRuleValue"),
    ("price_lists", "Name", "EndDate"),
    ("onhands", "IncomingValue", "LeadTimeDayCount"),
    ("relations", "DefaultName", "Name[en-GB]"),
    ("competitor_skus", "CompetitorName", "ProductName"),
    ("customers", "FirstName", "LastName"),
    ("companies", "OrganizationNo", "VatNo"),
    ("supplier_products", "ProductName", "EanCode"),
]
IDS = (
    "Code",
    "ManufacturerPartNo",
    "PartNo",
    "RelatedPartNo",
    "RelationTypeCode",
    "PriceListCode",
    "QuantityBreak",
    "WarehouseCode",
    "LocationCode",
    "Source",
    "CompetitorCode",
    "CultureCode",
    "SupplierPartNo",
)


def _value(dtype: pl.DataType, seed: int) -> Any:
    """A valid value of ``dtype`` (digits for strings: EAN codes and names alike)."""
    if dtype == pl.String:
        return f"73100000{seed:05d}"
    if dtype == pl.Date:
        return date(2026, 1, 1) + timedelta(days=seed)
    return Decimal(seed + 1) if isinstance(dtype, pl.Decimal) else seed + 1


def _bumped(column: str, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return pl.col(column) + "1"
    if dtype == pl.Date:
        return pl.col(column) + timedelta(days=1)
    return pl.col(column) + 1


def two_halves(entity: str, first: str, second: str, n: int = 12) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A baseline where one half has a value only for ``first``, the other only for ``second``, and the
    next day's source where each half changes the one field it has."""
    base = catalog(entity, n)
    group = "Code" if entity == "products" else None  # product rows of one Code agree on its columns
    side = (pl.col(group).rank("dense") if group else pl.int_range(pl.len())) % 2 == 0
    seed = pl.col(group).rank("dense").cast(pl.Int64) if group else pl.int_range(pl.len())
    for column, here in ((first, side), (second, ~side)):
        dtype = base.schema[column]
        values = pl.Series([_value(dtype, i) for i in range(n + 1)], dtype=dtype)
        base = base.with_columns(
            pl.when(here)
            .then(seed.map_elements(values.__getitem__, return_dtype=dtype))
            .otherwise(None)
            .alias(column)
        )
    day2 = base.with_columns(_bumped(c, base.schema[c]) for c in (first, second))
    return base, day2


def _leaves(items: list[dict[str, Any]]) -> dict[tuple[Any, ...], Any]:
    """Every scalar a list of items holds, by its path (list elements named by their identity)."""
    out: dict[tuple[Any, ...], Any] = {}

    def walk(doc: Any, path: tuple[Any, ...]) -> None:
        if isinstance(doc, list) and all(isinstance(d, dict) for d in doc) and doc:
            for d in doc:
                names = [k for k in IDS if k in d] or [k for k in ("SalesArea",) if k in d]  # VatRates
                walk(d, (*path, tuple((k, d[k]) for k in names)))
        elif isinstance(doc, dict):
            for k, v in doc.items():
                walk(v, (*path, k))
        else:
            out[path] = doc

    walk(items, ())
    return out


def _plan(root: Path, entity: str, frame: pl.DataFrame, *, kind: str, day: int) -> Plan:
    policies = "max_extra_requests = 0\nmax_deactivation_ratio = 1.0"  # union requests, no guard
    settings = write_settings(root, feed(entity, entity, "src.parquet", policies=policies))
    frame.write_parquet(root / "src.parquet")
    return plan_feed(settings, entity, kind=kind, now=T0 + timedelta(days=day))  # type: ignore[arg-type]


@pytest.mark.parametrize(("entity", "first", "second"), FIELDS, ids=[f"{e}-{a}-{b}" for e, a, b in FIELDS])
def test_union_requests_carry_only_what_each_item_says(
    tmp_path: Path, entity: str, first: str, second: str
) -> None:
    base, day2 = two_halves(entity, first, second)
    day1 = _plan(tmp_path, entity, base, kind="full", day=1)
    assert day1.summary.rejected == 0 and day1.snapshot is not None
    SnapshotStore(tmp_path / "state" / "snapshots").promote(day1.snapshot)
    plan = _plan(tmp_path, entity, day2, kind="change", day=2)
    assert plan.summary.rejected == 0 and plan.summary.grouping.startswith("union"), plan.summary.grouping
    for batch in plan.batches:
        assert validate_import(batch.endpoint, batch.header, batch.items()) == [], batch.header
    whole = _leaves(
        [i for b in _plan(tmp_path / "full", entity, day2, kind="full", day=2).batches for i in b.items()]
    )
    sent = _leaves([i for b in plan.batches for i in b.items()])
    assert [p for p, v in sent.items() if v is None] == []
    assert {p: v for p, v in sent.items() if whole.get(p, "absent") != v} == {}
