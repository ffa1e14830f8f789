"""Planning from frames in memory (``toolkit.plan_frames``): the rules of a plan, day after day, without
touching the disk.

Settings come from TOML text (``settings_from``), sources and baselines are polars frames, and an audit
hook fails any test of this module that opens, creates or removes a file while it plans (Python's own
module imports aside). That the same frames planned through ``plan_feed`` on disk give the same plan is
checked in tests/test_feeds.py.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.canonical import catalog
from fixtures.settings import PROFILE, feed
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from toolkit.config import Settings, settings_from
from toolkit.errors import CheckFailed, GuardRefused, PlanError
from toolkit.plan_frames import plan_frames
from toolkit.plan_model import Plan

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
NOWHERE = Path("/nonexistent/norce-project")

SETTINGS = settings_from(
    tomllib.loads(
        PROFILE
        + feed("stock", "onhands", "stock.csv")
        + feed("prices", "sku_prices", "prices.csv", policies="max_reject_ratio = 0.5")
        + feed("products", "products", "products.csv")
        + feed("customers", "customers", "customers.csv", account="CRM")
    ),
    path=NOWHERE / "norce.toml",
    root=NOWHERE,
)

_FILE_EVENTS = {"open", "os.mkdir", "os.remove", "os.rename", "os.unlink", "shutil.rmtree", "os.rmdir"}
_touched: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _touched is None or event not in _FILE_EVENTS:
        return
    path = str(args[0]) if args else ""
    if event == "open" and (path.endswith((".py", ".pyc", ".so")) or "/.hypothesis/" in path):
        return  # a module imported for the first time, hypothesis' example database
    _touched.append(f"{event} {path} {args[1:]}")


sys.addaudithook(_audit)  # audit hooks stay for the process; `_touched` switches this one on and off


@pytest.fixture(autouse=True)
def no_disk() -> Iterator[None]:
    global _touched
    _touched = []
    try:
        yield
        assert _touched == [], f"planning in memory touched files: {_touched[:5]}"
    finally:
        _touched = None
    assert not NOWHERE.exists()


def plan(name: str, rows: pl.DataFrame, baseline: pl.DataFrame | None = None, **kw: Any) -> Plan:
    return plan_frames(SETTINGS, name, rows, baseline=baseline, now=T0, **kw)


def items(p: Plan) -> list[dict[str, Any]]:
    return [i for b in p.batches for i in b.items()]


def sent(p: Plan, key: str = "PartNo") -> dict[str, dict[str, Any]]:
    return {i[key]: i for i in items(p)}


def listed(p: Plan) -> set[str]:
    return {f for b in p.batches for f in b.header.get("SkuOnhandFieldsThatAreSet", ())}


STOCK = catalog("onhands", 6).select("PartNo", "WarehouseCode", "LocationCode", "OnhandValue")


def stock(**values: int) -> pl.DataFrame:
    """STOCK with the OnhandValue of the named PartNos replaced (PartNo "-" spelled "_")."""
    new = {k.replace("_", "-"): v for k, v in values.items()}
    return STOCK.with_columns(
        pl.col("PartNo")
        .replace_strict(new, default=pl.col("OnhandValue"), return_dtype=pl.Int64)
        .alias("OnhandValue")
        if new
        else pl.col("OnhandValue")
    )


# --- one day -------------------------------------------------------------------------------------
def test_a_first_plan_is_a_full_feed_of_every_row_without_full_file() -> None:
    p = plan("stock", STOCK)
    assert (p.kind, p.summary.added, p.baseline) == ("full", 6, None)
    assert sorted(sent(p)) == sorted(STOCK["PartNo"])
    assert all(b.header["FullFile"] is False for b in p.batches)


def test_a_change_plan_sends_only_the_changed_item_and_lists_only_its_changed_field() -> None:
    part = STOCK["PartNo"][2]
    today = STOCK.with_columns(
        pl.when(pl.col("PartNo") == part).then(pl.col("OnhandValue") + 40).otherwise(pl.col("OnhandValue"))
    )
    p = plan("stock", today, baseline=STOCK)
    assert (p.kind, p.summary.changed, p.summary.added, p.summary.removed) == ("change", 1, 0, 0)
    assert list(sent(p)) == [part] and sent(p)[part]["OnhandValue"] == today["OnhandValue"][2]
    assert listed(p) == {"OnhandValue"}


def test_a_quiet_day_plans_nothing() -> None:
    p = plan("stock", STOCK, baseline=STOCK)
    assert (p.batches, p.summary.items, p.summary.requests) == ((), 0, 0)


def test_the_same_frames_give_the_same_plan_and_batch_ids() -> None:
    today = STOCK.with_columns(pl.col("OnhandValue") + 1)
    one, two = plan("stock", today, baseline=STOCK), plan("stock", today, baseline=STOCK)
    assert one.id == two.id and [b.id for b in one.batches] == [b.id for b in two.batches]
    assert plan("stock", today, baseline=STOCK.head(5)).id != one.id  # another baseline, another plan


def test_a_rejected_row_holds_its_item_neither_changed_nor_deactivated() -> None:
    prices = catalog("sku_prices", 4)
    today = prices.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit(-5).cast(prices.schema["PriceSale"]))
        .otherwise(pl.col("PriceSale"))
        .alias("PriceSale")
    )
    p = plan("prices", today, baseline=prices)
    assert p.rejected.height == 1 and p.summary.removed == 0 and p.summary.deactivated == 0
    assert items(p) == [] and any("keep their baseline values" in n for n in p.summary.notes)


def test_too_many_rejected_rows_refuse_the_plan() -> None:
    with pytest.raises(CheckFailed):
        plan("stock", STOCK.with_columns(PartNo=pl.lit(None, dtype=pl.String)), baseline=STOCK)


def test_mass_deactivation_is_refused_unless_overridden_with_a_reason() -> None:
    big = catalog("onhands", 100).select(STOCK.columns)
    with pytest.raises(GuardRefused, match="deactivat"):
        plan("stock", big.head(10), baseline=big)
    p = plan(
        "stock", big.head(10), baseline=big, allow_mass_deactivation=True, override_reason="warehouse closed"
    )
    assert p.summary.deactivated == 90 and p.override_reason == "warehouse closed"


def test_a_products_feed_that_does_not_own_the_structure_is_sent_to_plan_feed() -> None:
    texts = catalog("products", 3).select("PartNo", "Name[sv-SE]")
    with pytest.raises(PlanError, match="plan_feed"):
        plan("products", texts)


def test_products_that_own_their_structure_plan_in_memory() -> None:
    products = catalog("products", 4)
    p = plan("products", products)
    assert p.summary.added == 4 and {i["Code"] for i in items(p)} <= set(products["Code"])


def test_customers_keyed_by_code_say_so() -> None:
    p = plan("customers", catalog("customers", 3))
    assert p.summary.added == 3 and all(
        "SearchOnlyByCode" in b.header["CustomerFieldsThatAreSet"] for b in p.batches
    )


# --- day after day --------------------------------------------------------------------------------
def test_a_value_that_flips_back_is_sent_both_ways() -> None:
    part = STOCK["PartNo"][0]
    day2 = STOCK.with_columns(
        pl.when(pl.col("PartNo") == part).then(99).otherwise(pl.col("OnhandValue")).alias("OnhandValue")
    )
    there, back = plan("stock", day2, baseline=STOCK), plan("stock", STOCK, baseline=day2)
    assert sent(there)[part]["OnhandValue"] == 99
    assert sent(back)[part]["OnhandValue"] == STOCK["OnhandValue"][0]


def test_a_row_that_leaves_is_deactivated_and_is_sent_again_when_it_returns() -> None:
    everything = catalog("onhands", 20).select(STOCK.columns)
    gone = everything["PartNo"][3]
    without = everything.filter(pl.col("PartNo") != gone)
    left = plan("stock", without, baseline=everything)
    assert left.summary.removed == 1 and sent(left)[gone]["IsActive"] is False
    back = plan("stock", everything, baseline=without)
    assert back.summary.added == 1 and sent(back)[gone]["OnhandValue"] == everything["OnhandValue"][3]


values = st.lists(st.integers(0, 50), min_size=6, max_size=6)


@hyp_settings(max_examples=40, deadline=None)
@given(yesterday=values, today=values, keep=st.lists(st.booleans(), min_size=6, max_size=6))
def test_a_change_plan_carries_exactly_the_difference(
    yesterday: list[int], today: list[int], keep: list[bool]
) -> None:
    base = STOCK.with_columns(OnhandValue=pl.Series(yesterday, dtype=pl.Int64))
    now = STOCK.with_columns(OnhandValue=pl.Series(today, dtype=pl.Int64)).filter(pl.Series(keep))
    try:
        p = plan("stock", now, baseline=base)
    except GuardRefused:  # most rows gone: the guard's business, tested above
        return
    changed = {
        r["PartNo"]
        for r in now.join(base, on="PartNo").iter_rows(named=True)
        if r["OnhandValue"] != r["OnhandValue_right"]
    }
    removed = set(base["PartNo"]) - set(now["PartNo"])
    out = sent(p)
    assert set(out) == changed | removed
    assert all(out[k]["OnhandValue"] == now.filter(pl.col("PartNo") == k)["OnhandValue"][0] for k in changed)
    assert all(out[k]["IsActive"] is False for k in removed)


def test_in_memory_settings_leave_the_project_untouched() -> None:
    assert isinstance(SETTINGS, Settings) and SETTINGS.state_dir == NOWHERE / "state"


def test_a_plan_reports_its_requests_beside_their_lower_bound() -> None:
    big = catalog("onhands", 25).select(STOCK.columns)
    p = plan("stock", big)
    assert (p.summary.requests, p.summary.min_requests) == (1, 1)
    few = SETTINGS.feed("stock")
    from dataclasses import replace

    tight = replace(few, policies=replace(few.policies, max_items=10))
    q = plan_frames(SETTINGS, tight, big, now=T0)
    assert (q.summary.requests, q.summary.min_requests) == (3, 3)
    # three field sets in a change feed: grouped by field set only within max_extra_requests
    changed = big.with_columns(pl.col("OnhandValue") + 1)
    r = plan_frames(SETTINGS, tight, changed, baseline=big, now=T0)
    assert r.summary.min_requests == 3 and r.summary.requests >= 3
