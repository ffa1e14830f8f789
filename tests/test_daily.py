"""submit_all / `norce-feeds submit --all` against the real sandbox: every feed in dependency order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.canonical import catalog
from fixtures.settings import feed, write_settings

from toolkit.cli import EXIT_CHECKS, main
from toolkit.config import Settings
from toolkit.daily import FeedResult, submit_all
from toolkit.errors import CheckFailed
from toolkit.outcomes import Outcome

pytestmark = pytest.mark.slow

FAST = {"timeout": 60.0, "poll_interval": 0.05}
PARTS = ["P1", "P2", "P3"]


def workspace(root: Path, sandbox: Any) -> Settings:
    """stock is listed before the products its rows name: the run must reorder them."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    return write_settings(
        root,
        feed("stock", "onhands", "src/stock.parquet"),
        feed("products", "products", "src/products.parquet"),
        environ=sandbox.environ(),
    )


def write_day(settings: Settings, *, onhand: int, bad_product: bool = False) -> None:
    parts = pl.Series("PartNo", PARTS)
    products = pl.DataFrame(
        {"Code": parts, "ManufacturerCode": "ACME", "ManufacturerPartNo": parts, "PartNo": parts}
    )
    if bad_product:
        no_part = products.head(1).with_columns(pl.lit(None, pl.String).alias("PartNo"))
        products = pl.concat([products, no_part])
    stock = catalog("onhands", 3).with_columns(parts, pl.lit(onhand).alias("OnhandValue"))
    src = settings.path.parent / "src"
    products.write_parquet(src / "products.parquet")
    stock.write_parquet(src / "stock.parquet")


def test_feeds_go_in_dependency_order_and_wait_for_each_group(tmp_path: Path, sandbox_clean: Any) -> None:
    sandbox_clean.configure(rate_limit=100_000)
    settings = workspace(tmp_path, sandbox_clean)
    write_day(settings, onhand=5)
    results = submit_all(settings, **FAST)
    assert [r.feed for r in results] == ["products", "stock"] and all(r.ok for r in results)
    outcomes = [r.result for r in results]
    assert all(isinstance(o, Outcome) and o.promoted for o in outcomes)
    # Had stock gone first, or before the products' job had run, its rows would name unknown SKUs
    # and Connect would skip them as failed items.
    assert [job.fail for o in outcomes for job in o.jobs] == [0, 0]  # type: ignore[union-attr]
    stock = sorted((i["PartNo"], i["OnhandValue"]) for i in sandbox_clean.items("onhands"))
    assert stock == [(p, 5) for p in PARTS]


def test_a_feed_that_fails_does_not_stop_the_others(
    tmp_path: Path, sandbox_clean: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_clean.configure(rate_limit=100_000)
    settings = workspace(tmp_path, sandbox_clean)
    write_day(settings, onhand=5)
    assert all(r.ok for r in submit_all(settings, **FAST))
    write_day(settings, onhand=7, bad_product=True)  # 1 of 4 product rows without PartNo: checks fail
    for key, value in sandbox_clean.environ().items():
        monkeypatch.setenv(key, value)
    assert main(["submit", "--all", "--yes", "--settings", str(settings.path)]) == EXIT_CHECKS
    out = capsys.readouterr()
    assert "products: CheckFailed: " in out.out and "(stock): 1/1 jobs succeeded; baseline is now" in out.out
    assert "the 1 rejected rows, with their reasons: " in out.err
    assert sorted(i["OnhandValue"] for i in sandbox_clean.items("onhands")) == [7, 7, 7]


def test_feed_result_says_what_happened() -> None:
    failed = FeedResult("products", error=CheckFailed("3 of 10 rows rejected"))
    assert not failed.ok and str(failed) == "products: CheckFailed: 3 of 10 rows rejected"
    assert FeedResult("stock").ok and str(FeedResult("stock")) == "stock: nothing sent"
