"""A streamed change plan diffed on row hashes (toolkit.hashdiff) is the in-memory plan of the same
rows, day after day, and leaves a snapshot that is its baseline patched: partition files linked, the
rows it dropped and added beside them, a partition written whole again once its patch grows. Where
the shortcut could differ (a repeated key, other columns) the plan goes a partition at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from fixtures.settings import feed, write_settings
from test_streaming import T0, prices, same_batches, settings_for

from toolkit.config import Settings
from toolkit.errors import SnapshotError
from toolkit.feeds import plan_feed
from toolkit.plan_frames import plan_frames
from toolkit.plan_model import Plan
from toolkit.planning import fold_totals, hash_totals
from toolkit.rowhash import hash_rows
from toolkit.snapshots import SnapshotStore
from toolkit.sources import read_source
from toolkit.streaming import StreamedSnapshot, plan_streamed

KEY = ["PartNo", "PriceListCode", "QuantityBreak"]


def plan(settings: Settings, rows: pl.DataFrame, out: Path, **kw: Any) -> tuple[Plan, dict[str, float]]:
    """``rows`` shuffled and planned in partitions of about 40 rows; the plan and where its time went."""
    rows.sample(fraction=1.0, shuffle=True, seed=7).write_parquet(settings.path.parent / "prices.parquet")
    seen: dict[str, Any] = {}
    made = plan_streamed(
        settings,
        settings.feed("prices"),
        out=out,
        now=T0,
        rows_per_partition=40,
        progress=seen.update,
        **kw,
    )
    return made, seen["seconds"]


def snapshot_rows(snapshot: StreamedSnapshot) -> pl.DataFrame:
    return pl.concat([snapshot.rows_of(i) for i in range(snapshot.parts)])


def a_few_changes(rows: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Three rows repriced, two gone, two new: a day's change, a few rows in a hundred."""
    rng = np.random.default_rng(seed)
    at = rng.choice(rows.height, 5, replace=False)
    repriced = pl.int_range(pl.len()).is_in(at[:3].tolist())
    day = rows.with_columns(
        pl.when(repriced).then(pl.col("PriceSale") + 1).otherwise("PriceSale").alias("PriceSale")
    )
    day = day.filter(~pl.int_range(pl.len()).is_in(at[3:].tolist()))
    new = prices(2, seed=seed).head(2).with_columns(pl.col("PartNo").str.replace("SKU-", f"NEW{seed}-"))
    return pl.concat([day, new])


def goes_a_partition_at_a_time(
    settings: Settings, day1: pl.DataFrame, day2: pl.DataFrame, tmp_path: Path
) -> None:
    """Day 2's change plan against day 1's snapshot is checked and diffed a partition at a time, and is
    the in-memory plan."""
    made, seconds = plan(
        settings, day2, tmp_path / "day2", kind="change", baseline=tmp_path / "day1" / "snapshot"
    )
    assert "partitioning" in seconds and "hashing" not in seconds
    same_batches(made, plan_frames(settings, "prices", day2, baseline=day1, kind="change", now=T0))


def test_a_change_plan_diffs_on_hashes_and_links_the_baseline(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    day1 = prices(60)
    plan(settings, day1, tmp_path / "day1", kind="full")
    day2 = a_few_changes(day1, seed=2)
    made, seconds = plan(
        settings, day2, tmp_path / "day2", kind="change", baseline=tmp_path / "day1" / "snapshot"
    )
    assert "hashing" in seconds and "partitioning" not in seconds
    same_batches(made, plan_frames(settings, "prices", day2, baseline=day1, kind="change", now=T0))
    assert (made.summary.changed, made.summary.removed, made.summary.added) == (3, 2, 2)
    snap = tmp_path / "day2" / "snapshot"
    linked = [f for f in snap.glob("part-*.parquet") if f.stat().st_nlink > 1]
    assert len(linked) >= 8  # most partitions are the baseline's files, not copies
    assert list(snap.glob("dropped-*.parquet")) and list(snap.glob("delta-part-*.parquet"))
    second = StreamedSnapshot.open(snap)
    for i in range(second.parts):  # a patched partition still reads in key order, its hashes aligned
        rows, hashes = second.rows_of(i), second.hashes_of(i)
        assert rows.select(KEY).equals(rows.select(KEY).sort(KEY))
        again = hash_totals(row_hashes(rows))
        assert again == hash_totals(hashes.frame)
    assert snapshot_rows(second).sort(KEY).equals(day2.select(second.columns).sort(KEY))
    totals = fold_totals([hash_totals(second.hashes_of(i).frame) for i in range(second.parts)])
    assert second.totals == totals and second.rows == day2.height


def row_hashes(rows: pl.DataFrame) -> pl.DataFrame:
    return hash_rows(rows, key=KEY).frame


def test_patched_snapshots_day_after_day_are_the_days_rows(tmp_path: Path) -> None:
    """Values that flip back, rows that leave and return, a quiet day, and a day that reprices one
    key range enough to write its partition whole: each day's plan is the in-memory plan against the
    day before, and the snapshot (patched on patched) holds the day's rows."""
    settings = settings_for(tmp_path)
    days = [prices(60)]
    plan(settings, days[0], tmp_path / "d0", kind="full")
    gone = days[0].filter(pl.col("PartNo") == "SKU-00011")
    flipped = days[0].with_columns(
        pl.when(pl.col("PartNo") == "SKU-00003")
        .then(pl.col("PriceSale") * 2)
        .otherwise("PriceSale")
        .alias("PriceSale")
    )
    days += [
        a_few_changes(days[0], seed=1),
        flipped,  # SKU-00003 doubled, the rest back as on day 0
        days[0].filter(pl.col("PartNo") != "SKU-00011"),  # leaves ...
        days[0].filter(pl.col("PartNo") != "SKU-00011"),  # a quiet day
        pl.concat([days[0].filter(pl.col("PartNo") != "SKU-00011"), gone]),  # ... and returns
        days[0].with_columns(  # a key range repriced: its partition is written whole
            pl.when(pl.col("PartNo") < "SKU-00006")
            .then(pl.col("PriceSale") + 3)
            .otherwise("PriceSale")
            .alias("PriceSale")
        ),
        a_few_changes(days[0], seed=9),
    ]
    for n in range(1, len(days)):
        base = tmp_path / f"d{n - 1}" / "snapshot"
        made, seconds = plan(settings, days[n], tmp_path / f"d{n}", kind="change", baseline=base)
        assert "hashing" in seconds, n
        memory = plan_frames(settings, "prices", days[n], baseline=days[n - 1], kind="change", now=T0)
        same_batches(made, memory)
        snapshot = StreamedSnapshot.open(tmp_path / f"d{n}" / "snapshot")
        assert snapshot_rows(snapshot).sort(KEY).equals(days[n].select(snapshot.columns).sort(KEY)), n
        if n == 4:
            assert made.summary.items == 0 and not made.batches
    whole = tmp_path / "d6" / "snapshot" / "part-00000.parquet"
    assert (
        whole.stat().st_nlink == 1 and not (tmp_path / "d6" / "snapshot" / "dropped-00000.parquet").exists()
    )
    assert (tmp_path / "d6" / "snapshot" / "part-00009.parquet").stat().st_nlink > 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda d: pl.concat([d, d.head(1).with_columns(pl.col("PriceSale") + 5)]), id="key-twice"
        ),
        pytest.param(lambda d: pl.concat([d, d.head(1)]), id="row-twice"),
        pytest.param(
            lambda d: d.with_columns(pl.lit("EUR").alias("CurrencyCode")).head(400), id="new-column"
        ),
    ],
)
def test_a_source_the_shortcut_could_misread_goes_a_partition_at_a_time(tmp_path: Path, change: Any) -> None:
    settings = settings_for(tmp_path)
    day1 = prices(60).drop("CurrencyCode")
    plan(settings, day1, tmp_path / "day1", kind="full")
    day2 = change(day1)
    made, seconds = plan(
        settings, day2, tmp_path / "day2", kind="change", baseline=tmp_path / "day1" / "snapshot"
    )
    assert "partitioning" in seconds
    same_batches(made, plan_frames(settings, "prices", day2, baseline=day1, kind="change", now=T0))


def test_text_with_spaces_to_trim_is_read_again_and_trimmed(tmp_path: Path) -> None:
    """The source is hashed untrimmed (faster): a row whose text has spaces around it hashes unlike
    its baseline row, so it is read again and trimmed, and is unchanged if only the spaces were new."""
    settings = settings_for(tmp_path)
    day1 = prices(60)
    plan(settings, day1, tmp_path / "day1", kind="full")
    at = pl.int_range(pl.len())
    day2 = day1.with_columns(
        pl.when(at < 5).then(" " + pl.col("PartNo") + "\t").otherwise("PartNo").alias("PartNo"),
        pl.when(at == 3).then(pl.col("PriceSale") + 1).otherwise("PriceSale").alias("PriceSale"),
    )
    made, seconds = plan(
        settings, day2, tmp_path / "day2", kind="change", baseline=tmp_path / "day1" / "snapshot"
    )
    assert "hashing" in seconds
    memory = plan_frames(
        settings, "prices", read_source(settings.feed("prices")), baseline=day1, kind="change", now=T0
    )
    same_batches(made, memory)
    assert (made.summary.changed, made.summary.added, made.summary.removed) == (1, 0, 0)
    snapshot = StreamedSnapshot.open(tmp_path / "day2" / "snapshot")
    assert snapshot_rows(snapshot)["PartNo"].str.contains(r"\s").sum() == 0


@pytest.mark.parametrize("checks", ["0123456789abcdef", None])
def test_a_baseline_checked_otherwise_is_checked_again_row_by_row(tmp_path: Path, checks: str | None) -> None:
    """Unchanged rows are not checked again only while the baseline's rows passed the same checks (its
    meta.json says which): after the checks changed, or when it does not say, every row is checked."""
    settings = settings_for(tmp_path)
    day1 = prices(60)
    plan(settings, day1, tmp_path / "day1", kind="full")
    meta_file = tmp_path / "day1" / "snapshot" / "meta.json"
    meta = json.loads(meta_file.read_text())
    assert len(meta["checks"]) == 16
    if checks is None:
        del meta["checks"]
    else:
        meta["checks"] = checks
    meta_file.write_text(json.dumps(meta))
    day2 = a_few_changes(day1, seed=2)
    goes_a_partition_at_a_time(settings, day1, day2, tmp_path)


def test_above_max_hashed_rows_a_change_plan_goes_a_partition_at_a_time(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "max_hashed_rows = 400\n")  # the baseline has 420 rows
    day1 = prices(60)
    plan(settings, day1, tmp_path / "day1", kind="full")
    day2 = a_few_changes(day1, seed=2)
    goes_a_partition_at_a_time(settings, day1, day2, tmp_path)


def test_rows_of_a_source_in_several_files_are_read_again_by_file_and_row(tmp_path: Path) -> None:
    """The rows that differ are read again by _row in their own file; with an empty file among them
    (its rows cannot be told apart by file), by position in the whole source: the same plan."""
    lines = "max_items = 9\nfull_file = false\nmax_deactivation_ratio = 1.0\n"
    toml = (
        feed("prices", "sku_prices", "parts/*.parquet", policies=lines)
        + '[feeds.prices.options]\npick = "all"\n'
    )
    settings = write_settings(tmp_path, toml)
    parts = tmp_path / "parts"
    parts.mkdir()

    def write(rows: pl.DataFrame, empty: bool = False) -> None:
        for f in parts.glob("*.parquet"):
            f.unlink()
        for i, chunk in enumerate(rows.sample(fraction=1.0, shuffle=True, seed=5).iter_slices(150)):
            chunk.write_parquet(parts / f"{i:02d}.parquet")
        if empty:
            rows.clear().write_parquet(parts / "01a.parquet")

    day1 = prices(60)
    write(day1)
    kw: dict[str, Any] = {"now": T0, "rows_per_partition": 40}
    plan_streamed(settings, settings.feed("prices"), out=tmp_path / "day1", kind="full", **kw)
    day2 = a_few_changes(day1, seed=4)
    memory = plan_frames(settings, "prices", day2, baseline=day1, kind="change", now=T0)
    for empty in (False, True):
        write(day2, empty=empty)
        out = tmp_path / f"day2-{empty}"
        made = plan_streamed(
            settings,
            settings.feed("prices"),
            out=out,
            kind="change",
            baseline=tmp_path / "day1" / "snapshot",
            **kw,
        )
        same_batches(made, memory)
        assert isinstance(made.origins, pl.DataFrame) and made.origins.height == 5  # 3 repriced, 2 new
        for source, row, part_no in made.origins.select("_source", "_row", "PartNo").rows():
            assert pl.read_parquet(parts / source)["PartNo"][row - 1] == part_no


def test_a_damaged_patch_is_found_before_the_baseline_is_used(tmp_path: Path) -> None:
    policies = "max_items = 9\nfull_file = false\nstream = true\nrows_per_partition = 40\n"
    policies += "max_deactivation_ratio = 1.0\n"
    settings = write_settings(tmp_path, feed("prices", "sku_prices", "prices.parquet", policies=policies))
    store = SnapshotStore(settings.state_dir / "snapshots")
    day1 = prices(60)
    day1.write_parquet(tmp_path / "prices.parquet")
    first = plan_feed(settings, "prices", kind="full", now=T0)
    assert first.snapshot is not None
    store.promote(first.snapshot)
    a_few_changes(day1, seed=3).write_parquet(tmp_path / "prices.parquet")
    second = plan_feed(settings, "prices", kind="change", now=T0)
    assert second.snapshot is not None
    ref = store.promote(second.snapshot)
    assert (
        store.load(ref)
        .sort(KEY)
        .equals(a_few_changes(day1, seed=3).select(store.load(ref).columns).sort(KEY))
    )
    delta = sorted(ref.path.glob("delta-part-*.parquet"))[0]
    data = bytearray(delta.read_bytes())
    data[len(data) // 2] ^= 0xFF
    delta.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="corrupt"):
        store.baseline("prices")
