"""A streamed plan (toolkit.streaming: a partition at a time, bodies written as cut) is the plan the
in-memory core makes of the same rows: the same batches, in the same order, with the same ids."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from fixtures.settings import feed, write_settings

from toolkit.config import Settings
from toolkit.errors import CheckFailed, GuardRefused, PlanError
from toolkit.plan_frames import plan_frames
from toolkit.plan_model import Plan, load_plan
from toolkit.streaming import StreamedSnapshot, plan_streamed

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
LISTS = [f"B2B-{c:03d}" for c in range(7)]


def prices(skus: int, seed: int = 1) -> pl.DataFrame:
    """Customer price rows: every SKU on every price list, some with a quantity break."""
    rng = np.random.default_rng(seed)
    n = skus * len(LISTS)
    return pl.DataFrame(
        {
            "PartNo": [f"SKU-{i:05d}" for i in range(skus) for _ in LISTS],
            "PriceListCode": LISTS * skus,
            "QuantityBreak": pl.Series(np.where(rng.random(n) < 0.2, 10, 1), dtype=pl.Int64),
            "PriceSale": [Decimal(int(v)) / 100 for v in rng.integers(100, 100_000, n)],
            "PriceRecommended": [None if v < 0.3 else Decimal(int(v * 1000)) for v in rng.random(n)],
            "IsActive": pl.Series(rng.random(n) < 0.97),
            "CurrencyCode": ["SEK"] * n,
        },
        schema_overrides={"PriceSale": pl.Decimal(18, 4), "PriceRecommended": pl.Decimal(18, 4)},
    )


def next_day(rows: pl.DataFrame, seed: int) -> pl.DataFrame:
    """1 in 10 rows repriced, 1 in 25 gone, new SKUs on two lists, one price cleared."""
    rng = np.random.default_rng(seed)
    picked = pl.Series(rng.random(rows.height))
    repriced = pl.when(picked < 0.1).then(pl.col("PriceSale") + 1).otherwise("PriceSale")
    cleared = pl.when(picked.is_between(0.1, 0.11)).then(None).otherwise("PriceRecommended")
    day = rows.with_columns(repriced.alias("PriceSale"), cleared.alias("PriceRecommended"))
    day = day.filter(pl.Series(rng.random(rows.height) >= 0.04))
    new = prices(6, seed=seed).with_columns(pl.col("PartNo").str.replace("SKU-", "NEW-"))
    return pl.concat([day, new.filter(pl.col("PriceListCode").is_in(LISTS[:2]))])


def settings_for(tmp_path: Path, policies: str = "") -> Settings:
    lines = "max_items = 9\nfull_file = false\nmax_deactivation_ratio = 1.0\nmax_reject_ratio = 0.5\n"
    return write_settings(tmp_path, feed("prices", "sku_prices", "prices.parquet", policies=lines + policies))


def streamed(settings: Settings, rows: pl.DataFrame, out: Path, **kw: Any) -> Plan:
    """``rows`` shuffled (a streamed plan must not depend on the source's order), then planned in
    partitions of about 40 rows."""
    source = settings.path.parent / "prices.parquet"
    rows.sample(fraction=1.0, shuffle=True, seed=3).write_parquet(source)
    return plan_streamed(settings, settings.feed("prices"), out=out, now=T0, rows_per_partition=40, **kw)


def same_batches(streamed_plan: Plan, memory: Plan) -> None:
    assert [(b.index, b.id, b.header, b.item_count) for b in streamed_plan.batches] == [
        (b.index, b.id, b.header, b.item_count) for b in memory.batches
    ]
    assert [b.body for b in streamed_plan.batches] == [b.body for b in memory.batches]
    assert streamed_plan.summary.min_requests == memory.summary.min_requests
    s, m = streamed_plan.summary.as_dict(), memory.summary.as_dict()
    assert {k: v for k, v in s.items() if k != "reason"} == {k: v for k, v in m.items() if k != "reason"}


def test_a_streamed_full_plan_is_the_in_memory_plan_byte_for_byte(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    day1 = prices(60)
    plan = streamed(settings, day1, tmp_path / "day1", kind="full")
    memory = plan_frames(settings, "prices", day1, kind="full", now=T0)
    snapshot = StreamedSnapshot.open(tmp_path / "day1" / "snapshot")
    assert snapshot.parts >= 8  # 420 rows in partitions of about 40: requests run across them
    assert len(plan.batches) == 47 and plan.summary.items == day1.height
    same_batches(plan, memory)
    # the bodies are on disk, not in memory: the plan on disk is the plan
    assert all(b.data is None and b.file is not None for b in plan.batches)
    loaded = load_plan(tmp_path / "day1" / "plan")
    assert [(b.id, b.body) for b in loaded.batches] == [(b.id, b.body) for b in memory.batches]


@pytest.mark.parametrize("kind", ["change", "full"])
def test_a_streamed_plan_against_a_streamed_baseline_is_the_in_memory_plan(tmp_path: Path, kind: str) -> None:
    settings = settings_for(tmp_path)
    day1 = prices(60)
    streamed(settings, day1, tmp_path / "day1", kind="full")
    day2 = next_day(day1, seed=2)
    plan = streamed(settings, day2, tmp_path / "day2", kind=kind, baseline=tmp_path / "day1" / "snapshot")
    memory = plan_frames(settings, "prices", day2, baseline=day1, kind=kind, now=T0)
    s = plan.summary
    assert s.added == 12 and s.removed > 0 and s.changed > 0 and s.deactivated > 0
    assert "values cleared in the source are sent as null (PriceRecommended)" in s.notes
    same_batches(plan, memory)
    assert plan.origins is not None and plan.origins.height == s.added + s.changed


def test_rejected_rows_are_held_alike_even_without_a_key(tmp_path: Path) -> None:
    """A bad price keeps its item's baseline row; a row without a PartNo could stand for any removed
    row with its price list and quantity break, in any partition: those are held too, as in memory."""
    settings = settings_for(tmp_path)
    day1 = prices(60)
    streamed(settings, day1, tmp_path / "day1", kind="full")
    day2 = next_day(day1, seed=5)
    bad = day2.with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(-pl.col("PriceSale"))
        .otherwise("PriceSale")
        .alias("PriceSale")
    )
    one = streamed(settings, bad, tmp_path / "bad", kind="change", baseline=tmp_path / "day1" / "snapshot")
    same_batches(one, plan_frames(settings, "prices", bad, baseline=day1, kind="change", now=T0))
    assert one.summary.rejected == 1 and one.rejected.height == 1
    keyless = pl.concat([bad, bad.head(1).with_columns(pl.lit(None, pl.String).alias("PartNo"))])
    plan = streamed(
        settings, keyless, tmp_path / "keyless", kind="change", baseline=tmp_path / "day1" / "snapshot"
    )
    memory = plan_frames(settings, "prices", keyless, baseline=day1, kind="change", now=T0)
    same_batches(plan, memory)
    assert plan.summary.rejected == 2 and 0 < plan.summary.removed < one.summary.removed


def test_the_next_plan_partitions_by_the_baselines_bounds_and_reads_one_partition_of_it(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    day1 = prices(60)
    streamed(settings, day1, tmp_path / "day1", kind="full")
    first = StreamedSnapshot.open(tmp_path / "day1" / "snapshot")
    streamed(settings, next_day(day1, 2), tmp_path / "day2", kind="change", baseline=first.path)
    second = StreamedSnapshot.open(tmp_path / "day2" / "snapshot")
    assert second.bounds == first.bounds and second.column == "PartNo"
    for i in range(second.parts):  # each partition holds its key range, sorted by the key
        rows = second.rows_of(i)
        assert rows["PartNo"].is_sorted() or rows.height < 2
        if i:
            assert rows.is_empty() or rows["PartNo"].min() >= second.bounds[i - 1]  # type: ignore[operator]


def test_a_streamed_plan_refuses_as_the_in_memory_one_does(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "")
    day1 = prices(60)
    streamed(settings, day1, tmp_path / "day1", kind="full")
    base = tmp_path / "day1" / "snapshot"
    strict = write_settings(
        tmp_path / "strict",
        feed("prices", "sku_prices", "prices.parquet", policies="max_items = 9\nfull_file = false\n"),
    )
    with pytest.raises(GuardRefused, match="would deactivate"):  # half the items gone
        streamed(strict, day1.head(200), tmp_path / "cut", kind="change", baseline=base)
    many_bad = day1.with_columns(-pl.col("PriceSale"))
    with pytest.raises(CheckFailed, match="rows rejected"):  # every row rejected, over max_reject_ratio
        streamed(strict, many_bad, tmp_path / "bad", kind="change", baseline=base)
    products = write_settings(tmp_path / "p", feed("p", "products", "p.parquet"))
    with pytest.raises(PlanError, match="a streamed plan takes"):
        plan_streamed(products, products.feed("p"), out=tmp_path / "p", kind="full", now=T0)


def test_partitions_are_balanced_even_for_an_export_sorted_by_customer() -> None:
    """A price export sorted by price list, then SKU: a sample taken at a fixed stride would see a few
    SKUs only (and make a few huge partitions); the bounds cut it into even partitions."""
    from toolkit.streaming import sample_bounds

    skus, lists = 1000, 1024  # a stride of rows / (partitions * 64) = 1000 rows would see one SKU
    rows = pl.LazyFrame({"i": range(skus * lists)}).select(
        ("SKU-" + (pl.col("i") % skus).cast(pl.String).str.zfill(5)).alias("PartNo"),
        ("C" + (pl.col("i") // skus).cast(pl.String).str.zfill(4)).alias("PriceListCode"),
    )
    bounds = sample_bounds(rows, "PartNo", skus * lists, 64_000, feed="prices")
    assert len(bounds) == 15
    sizes = rows.select(pl.sum_horizontal(pl.col("PartNo") >= b for b in bounds).alias("part")).collect()
    counts = sizes["part"].value_counts()["count"]
    assert counts.len() == 16 and counts.max() <= 2 * 64_000  # type: ignore[operator]


def test_a_baseline_partitioned_by_another_key_is_cut_again_not_misread(tmp_path: Path) -> None:
    """Partitions of another key would pair rows wrongly: plan_streamed refuses such a baseline, and
    plan_feed cuts it again by the feed's key (so an unchanged source plans nothing)."""
    from toolkit.feeds import plan_feed
    from toolkit.snapshots import SnapshotStore

    def settings_keyed(key: str) -> Settings:
        lines = "max_items = 9\nfull_file = false\nstream = true\nrows_per_partition = 40\n"
        table = feed("prices", "sku_prices", "prices.parquet", policies=lines)
        return write_settings(
            tmp_path, table.replace('source = "prices.parquet"\n', f'source = "prices.parquet"\n{key}')
        )

    day1 = prices(60)
    day1.write_parquet(tmp_path / "prices.parquet")
    first = settings_keyed("")
    plan = plan_feed(first, "prices", kind="full", now=T0)
    assert plan.snapshot is not None
    SnapshotStore(first.state_dir / "snapshots").promote(plan.snapshot)
    other = settings_keyed('key = ["PriceListCode", "PartNo", "QuantityBreak"]\n')
    with pytest.raises(PlanError, match="partitioned by"):
        plan_streamed(
            other,
            other.feed("prices"),
            out=tmp_path / "x",
            kind="change",
            now=T0,
            baseline=plan.snapshot.path,
        )
    again = plan_feed(other, "prices", kind="change", now=T0)
    assert again.summary.unchanged == day1.height and not again.batches


def test_a_feed_that_outgrew_its_partitions_is_cut_again(tmp_path: Path) -> None:
    """Bounds come from the baseline; once its partitions hold more than twice rows_per_partition (the
    feed grew, or the setting shrank), the next plan cuts the baseline again, and plans the same."""
    from toolkit.feeds import plan_feed
    from toolkit.snapshots import SnapshotStore

    def settings_sized(rows: int) -> Settings:
        lines = f"max_items = 9\nfull_file = false\nstream = true\nrows_per_partition = {rows}\n"
        return write_settings(tmp_path, feed("prices", "sku_prices", "prices.parquet", policies=lines))

    day1 = prices(60)
    day1.write_parquet(tmp_path / "prices.parquet")
    store = SnapshotStore(settings_sized(40).state_dir / "snapshots")
    plan = plan_feed(settings_sized(40), "prices", kind="full", now=T0)
    assert plan.snapshot is not None
    store.promote(plan.snapshot)
    assert StreamedSnapshot.open(plan.snapshot.path).parts <= 12
    day2 = next_day(day1, seed=4)
    day2.write_parquet(tmp_path / "prices.parquet")
    small = settings_sized(10)
    again = plan_feed(small, "prices", kind="change", now=T0)
    assert again.snapshot is not None and StreamedSnapshot.open(again.snapshot.path).parts >= 30
    same_batches(again, plan_frames(small, "prices", day2, baseline=day1, kind="change", now=T0))


def test_an_empty_source_is_refused_as_in_memory(tmp_path: Path) -> None:
    """A header-only export deactivates everything: the guard refuses it, streamed or not."""
    settings = settings_for(tmp_path)
    streamed(settings, prices(60), tmp_path / "day1", kind="full")
    with pytest.raises(GuardRefused, match="no data rows"):
        streamed(
            settings,
            prices(60).clear(),
            tmp_path / "empty",
            kind="change",
            baseline=tmp_path / "day1" / "snapshot",
        )
    with pytest.raises(GuardRefused, match="no valid rows"):
        streamed(settings, prices(60).clear(), tmp_path / "first", kind="full")


def test_fields_some_items_lack_go_in_requests_of_their_own_alike(tmp_path: Path) -> None:
    """CostPurchase and IsPriceDiscountable cannot be sent as null: items lacking them go without them,
    the others get requests of their own listing them, in the same order and cut the same way."""
    settings = settings_for(tmp_path)
    day1 = prices(60).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0)
        .then(None)
        .otherwise(pl.col("PriceSale"))
        .alias("CostPurchase"),
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(None).otherwise(True).alias("IsPriceDiscountable"),
    )
    plan = streamed(settings, day1, tmp_path / "day1", kind="full")
    memory = plan_frames(settings, "prices", day1, kind="full", now=T0)
    lists = {tuple(b.header["SkuPriceListFieldsThatAreSet"]) for b in memory.batches}
    assert len(lists) >= 3  # the main request and at least two of their own
    same_batches(plan, memory)
