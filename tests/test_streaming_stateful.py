"""Days of a price feed drawn by hypothesis, each planned streamed (``stream = true``, partitions of a
few rows, requests spanning them) and in memory from the same rows against the same baseline: the two
plans are the same batch for batch, day after day (values that flip back, rows that leave and return,
quiet days, full feeds between change feeds), and the streamed snapshot holds exactly the day's rows."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from fixtures.settings import feed, write_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from toolkit.feeds import plan_feed
from toolkit.plan_frames import plan_frames
from toolkit.snapshots import SnapshotStore

pytestmark = pytest.mark.slow

SKUS, LISTS = [f"S{i:02d}" for i in range(12)], ["L1", "L2", "L3"]
T0 = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
KEYS = [(s, p) for s in SKUS for p in LISTS]


class PriceDays(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="streamed-days-"))
        policies = "max_items = 4\nfull_file = false\nstream = true\nrows_per_partition = 7\n"
        policies += "max_deactivation_ratio = 1.0\n"
        self.settings = write_settings(
            self.root, feed("prices", "sku_prices", "prices.parquet", policies=policies)
        )
        self.store = SnapshotStore(self.settings.state_dir / "snapshots")
        self.prices: dict[tuple[str, str], int] = {k: 100 + i for i, k in enumerate(KEYS[:20])}
        self.baseline: pl.DataFrame | None = None
        self.day = 0
        self.plan("full")

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def rows(self) -> pl.DataFrame:
        keys = sorted(self.prices)
        return pl.DataFrame(
            {
                "PartNo": [k[0] for k in keys],
                "PriceListCode": [k[1] for k in keys],
                "QuantityBreak": [1] * len(keys),
                "PriceSale": [Decimal(self.prices[k]) / 4 for k in keys],
            },
            schema_overrides={"PriceSale": pl.Decimal(18, 4)},
        )

    def plan(self, kind: str) -> None:
        self.day += 1
        rows = self.rows()
        rows.reverse().write_parquet(self.root / "prices.parquet")  # another row order than in memory
        when = T0 + timedelta(days=self.day)
        streamed = plan_feed(self.settings, "prices", kind=kind, now=when)  # type: ignore[arg-type]
        memory = plan_frames(self.settings, "prices", rows, baseline=self.baseline, kind=kind, now=when)  # type: ignore[arg-type]
        assert [(b.id, b.header, b.item_count) for b in streamed.batches] == [
            (b.id, b.header, b.item_count) for b in memory.batches
        ]
        assert [b.body for b in streamed.batches] == [b.body for b in memory.batches]
        assert (
            streamed.summary.requests == streamed.summary.min_requests or streamed.summary.grouping != "none"
        )
        assert streamed.snapshot is not None
        snapshot = self.store.load(self.store.promote(streamed.snapshot))
        assert snapshot.sort("PartNo", "PriceListCode").equals(rows.select(snapshot.columns))
        self.baseline = rows

    @rule(picks=st.lists(st.sampled_from(KEYS), max_size=6), delta=st.sampled_from([1, -1, 7]))
    def reprice(self, picks: list[tuple[str, str]], delta: int) -> None:
        for k in picks:
            if k in self.prices:
                self.prices[k] = max(1, self.prices[k] + delta)

    @rule(picks=st.lists(st.sampled_from(KEYS), min_size=1, max_size=8))
    def leave_or_return(self, picks: list[tuple[str, str]]) -> None:
        for k in picks:
            if k in self.prices and len(self.prices) > 3:
                del self.prices[k]
            elif k not in self.prices:
                self.prices[k] = 100 + KEYS.index(k)  # returns with the price it had

    @rule(kind=st.sampled_from(["change", "change", "full"]))
    def next_day(self, kind: str) -> None:
        self.plan(kind)


def test_streamed_plans_equal_in_memory_plans_day_after_day() -> None:
    case = PriceDays.TestCase
    case.settings = settings(
        max_examples=30, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    case().runTest()
