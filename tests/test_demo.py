"""The demo: its expectations and summary on small inputs, and its whole pipeline on a subset (slow).

The slow tests run ``python -m toolkit.demo`` for days 1, 2 and 4 of four feeds (price lists, ERP
products, prices, stock) into a temporary directory, once per module, and read what it wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from toolkit.daily import feed_groups
from toolkit.demo.catalog import CatalogCheck, check_catalog
from toolkit.demo.days import FeedDay
from toolkit.demo.report import DemoRun, render_summary, surprises
from toolkit.demo.workspace import ROOT, Workspace, read_manifest

SECRET = "demo-test-secret-7f3a1c"
FEEDS = ("price-lists", "products-erp", "prices", "stock")


# --- expectations and summary, on made-up results ------------------------------------------------
def _fd(
    day: int,
    feed: str,
    source: str,
    *,
    kind: str = "change",
    items: int = 5,
    refused: bool = False,
    errors: dict[str, tuple[str, str]] | None = None,
    rejected_rows: tuple[int, ...] = (),
    statuses: tuple[str, ...] = ("Succeeded",),
) -> FeedDay:
    plan = (
        {}
        if refused
        else {
            "kind": kind,
            "items": items,
            "added": 1,
            "changed": items - 1,
            "removed": 0,
            "batches": len(statuses),
        }
    )
    preview = {
        "kind": "auto",
        "refused": refused,
        "plan": plan,
        "verdict": "guard refused: would deactivate 45%" if refused else "ok",
    }
    submit = (
        {}
        if refused
        else {
            "job_ids": list(range(len(statuses))),
            "promoted": "snap",
            "statuses": {str(i): s for i, s in enumerate(statuses)},
        }
    )
    n = len(rejected_rows)
    rejected = pl.DataFrame(
        {
            "_source": ["f.csv"] * n,
            "_row": [str(r) for r in rejected_rows],
            "key": ["A|B|1"] * n,
            "reason": ["bad"] * n,
        }
    )
    return FeedDay(day, feed, "onhands", Path(source), preview, submit, errors or {}, rejected, 1.0)


def _run(feed_days: list[FeedDay], catalog: list[CatalogCheck] | None = None) -> DemoRun:
    manifest = {
        "days": {
            "day1": {"changes": {}},
            "day4": {"changes": {"stock_truncated_to": 0.5, "bad_price_rows": ["x"]}},
        },
        "bad_price_rows": [{"row": 7}, {"row": 9}],
    }
    catalog = catalog if catalog is not None else [CatalogCheck("stock", "onhands", "snap", 3, 3)]
    return DemoRun((1, 4), feed_days, catalog, {}, manifest, 61.0, "now", "https://x", 2, 60, "out")


def _as_expected() -> list[FeedDay]:
    return [
        _fd(1, "stock", "d/erp_stock.csv", kind="full"),
        _fd(1, "prices", "d/erp_prices.csv", kind="full"),
        _fd(
            4,
            "stock",
            "d/erp_stock.csv",
            refused=True,
            errors={"submit": ("GuardRefused", "no")},
            rejected_rows=(1614,),
        ),
        _fd(4, "prices", "d/erp_prices.csv", rejected_rows=(7, 9)),
    ]


def test_a_run_as_the_manifest_says_has_no_surprises_and_a_summary() -> None:
    run = _run(_as_expected())
    assert surprises(run) == []
    text = render_summary(run, [])
    assert "**as expected** (exit 0)" in text and "1 min 1 s" in text
    assert "## Day 1 (?): full feeds" in text and "## Day 4 (?): change feeds" in text
    assert "| stock | onhands | - | **refused by the guard** |" in text
    assert "**prices**: 2 rejected rows held back (the valid rows were sent)" in text
    assert "**stock**: 1 rejected rows held back (nothing was sent)" in text
    assert "Result: **passed**" in text


@pytest.mark.parametrize(
    ("change", "wanted"),
    [
        (lambda fds: fds.__setitem__(2, _fd(4, "stock", "d/erp_stock.csv")), "expected the guard to refuse"),
        (
            lambda fds: fds.__setitem__(0, _fd(1, "stock", "d/erp_stock.csv")),
            "a change feed, expected a full",
        ),
        (
            lambda fds: fds.__setitem__(3, _fd(4, "prices", "d/erp_prices.csv", rejected_rows=(7,))),
            "bad price rows not rejected: [9]",
        ),
        (
            lambda fds: fds.__setitem__(
                1, _fd(1, "prices", "d/erp_prices.csv", kind="full", statuses=("Failed",))
            ),
            "day 1, feed prices: Failed",
        ),
        (
            lambda fds: fds.append(_fd(4, "x", "d/x.csv", errors={"submit": ("JobTimeout", "slow")})),
            "submit notebook failed: JobTimeout: slow",
        ),
        (
            lambda fds: fds.append(_fd(4, "x", "d/x.csv", rejected_rows=(3,))),
            "1 rows rejected, expected none",
        ),
    ],
)
def test_what_the_manifest_does_not_say_is_a_surprise(change: Any, wanted: str) -> None:
    feed_days = _as_expected()
    change(feed_days)
    found = surprises(_run(feed_days))
    assert len(found) == 1 and wanted in found[0], found


def test_a_failed_catalog_check_and_deactivated_rejected_rows_are_surprises() -> None:
    bad = CatalogCheck("stock", "onhands", "snap", 3, 3, changed=2, changed_fields=("OnhandValue",))
    run = _run(_as_expected(), [bad])
    run = replace(run, deactivated={(4, "prices"): ["A|B|1"]})
    found = surprises(run)
    assert found[0].startswith("day 4, feed prices: 1 rows the checks rejected had their item deactivated")
    assert found[1] == "catalog check, feed stock: NOT equal: 2 different; fields OnhandValue"
    assert "Result: **FAILED**" in render_summary(run, found)


def test_the_status_after_the_run_is_shown_and_anything_left_unfinished_is_a_surprise() -> None:
    from datetime import UTC, datetime, timedelta

    from toolkit.status import STATUS_SCHEMA

    def status(**stock: Any) -> pl.DataFrame:
        at = datetime(2025, 3, 6, 8, tzinfo=UTC)
        rows = [
            {
                "feed": "prices",
                "baseline": "s1",
                "baseline_rows": 9,
                "promoted_at": at,
                "last_full_at": at - timedelta(days=3),
                "next_kind": "change",
            },
            {"feed": "stock", "baseline": "s2", "next_kind": "change", **stock},
        ]
        return pl.DataFrame(rows, schema=STATUS_SCHEMA)

    clean = replace(_run(_as_expected()), status=status())
    assert surprises(clean) == []
    text = render_summary(clean, [])
    assert "## Where the feeds stand" in text and "norce-feeds status --settings out/norce.toml" in text
    assert "| prices | s1 | 9 | 2025-03-06 08:00 | 2025-03-03 08:00 | change |  |" in text
    broken = "snapshot 's2' of feed 'stock': file is corrupt"
    left = replace(
        clean, status=status(open_plan="p9", open_state="sending", locked_by="host:1:2", problem=broken)
    )
    assert surprises(left) == [
        f"status, feed stock: {broken}",
        "status, feed stock: plan p9 left sending",
        "status, feed stock: its lock is still held by host:1:2",
    ]


def test_the_catalog_check_compares_baselines_with_the_items_read_back(tmp_path: Path) -> None:
    from toolkit.config import load_settings
    from toolkit.payloads import build_items
    from toolkit.snapshots import SnapshotStore

    (tmp_path / "norce.toml").write_text(
        '[settings]\nstate_dir = "state"\n[profiles.sandbox]\n'
        'base_url = "http://127.0.0.1:9"\nclient_id = "x"\nscope = "x"\n'
        '[feeds.stock]\nentity = "onhands"\nsource = "s.csv"\n'
    )
    settings = load_settings(tmp_path / "norce.toml", environ={})
    base = pl.DataFrame(
        {
            "PartNo": ["A", "B", "C"],
            "WarehouseCode": ["W"] * 3,
            "LocationCode": ["L"] * 3,
            "OnhandValue": [1, 2, 3],
            "NextDeliveryDate": [None, None, "2025-03-09"],
        },
        schema_overrides={"NextDeliveryDate": pl.Date},
    )
    store = SnapshotStore(settings.state_dir / "snapshots")
    store.promote(store.save("stock", base))
    held = base.with_columns(pl.col("NextDeliveryDate").fill_null(pl.date(2025, 3, 1)))  # cleared, kept
    (check,) = check_catalog(settings, ["stock"], lambda entity: build_items(entity, held))
    assert check.passed and check.kept == 2 and check.kept_fields == ("NextDeliveryDate",)
    wrong = held.with_columns(pl.col("OnhandValue") + 1)
    (check,) = check_catalog(settings, ["stock"], lambda entity: build_items(entity, wrong.head(2)))
    assert not check.passed and (check.missing, check.changed) == (1, 2)
    assert check.describe() == "NOT equal: 1 missing; 2 different; fields NextDeliveryDate, OnhandValue"


def test_feeds_go_in_dependency_order_and_each_day_has_its_files() -> None:
    from toolkit.config import load_settings

    settings = load_settings(ROOT / "norce.toml", environ={})
    groups = feed_groups(settings, list(settings.feeds))
    first = {settings.feed(f).entity for f in groups[0]}
    assert first == {"products", "price_lists", "companies"}
    assert {settings.feed(f).entity for g in groups[1:] for f in g} >= {"sku_prices", "onhands", "customers"}
    days = read_manifest()["days"]
    for day in days:
        for feed in settings.feeds.values():
            assert (ROOT / "data" / "sample" / day / Path(feed.source).name).is_file()


# --- the pipeline, end to end (slow) ---------------------------------------------------------------
@dataclass(frozen=True)
class Demo:
    out: Path
    code: int
    output: str
    summary: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    out = tmp_path_factory.mktemp("demo") / "out"
    env = {**os.environ, "NORCE_SANDBOX_CLIENT_SECRET": SECRET}
    command = [
        sys.executable,
        "-m",
        "toolkit.demo",
        "--days",
        "1,2,4",
        "--feeds",
        ",".join(FEEDS),
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    summary = (out / "summary.md").read_text() if (out / "summary.md").is_file() else ""
    yield Demo(out, proc.returncode, proc.stdout + proc.stderr, summary)


def _table(summary: str, day: int) -> dict[str, list[str]]:
    section = summary.split(f"## Day {day} ")[1].split("\n## ")[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells] for cells in rows[1:]}


@pytest.mark.slow
def test_the_demo_exits_0(demo: Demo) -> None:
    assert demo.code == 0, demo.output[-3000:]


@pytest.mark.slow
def test_the_demo_summary_shows_full_then_change_feeds_with_far_fewer_items(demo: Demo) -> None:
    day1, day2 = _table(demo.summary, 1), _table(demo.summary, 2)
    assert set(day1) == set(FEEDS) == set(day2)
    assert all(row[2] == "full" for row in day1.values()), day1
    assert all(row[2] == "change" for row in day2.values()), day2
    for feed in ("prices", "stock"):
        full, change = int(day1[feed][3]), int(day2[feed][3])
        assert 0 < change < full / 4, (feed, full, change)
    assert "1 Succeeded" in day1["stock"][8] and day1["stock"][11] == "promoted"


@pytest.mark.slow
def test_day_4_refuses_stock_and_lists_the_bad_price_rows(demo: Demo) -> None:
    day4 = _table(demo.summary, 4)
    assert "refused by the guard" in day4["stock"][3] and day4["stock"][11] == "kept"
    assert "would deactivate" in demo.summary and "GuardRefused" in demo.summary
    bad = read_manifest()["bad_price_rows"]
    listed = demo.summary.split("**prices**: ")[1].split("\n\n")[1]
    for row in bad:
        assert re.search(rf"\| erp_prices\.csv \| {row['row']} \|", listed), row
    assert int(day4["prices"][3]) > 0 and "Succeeded" in day4["prices"][8]  # the valid rows went out


@pytest.mark.slow
def test_the_catalog_check_passes_and_everything_is_written(demo: Demo) -> None:
    assert "## Catalog check" in demo.summary and "Result: **passed**" in demo.summary, demo.output[-3000:]
    assert "## Where the feeds stand" in demo.summary and "| stock | " in demo.summary.split("stand")[-1]
    ws = Workspace(demo.out)
    assert (demo.out / "notebooks" / "day4" / "01-preview-feed-prices.ipynb").is_file()
    assert (demo.out / "notebooks" / "day2" / "02-submit-feed-stock.ipynb").is_file()
    assert (ws.charts / "jobs_per_day.svg").is_file() and (ws.charts / "jobs_per_day.png").is_file()
    assert str(ws.summary_path) in demo.output and "make lab" in demo.output
    assert "token endpoint 3 a minute, burst 20, as Connect" in demo.output


@pytest.mark.slow
def test_no_secret_in_anything_the_demo_wrote(demo: Demo) -> None:
    assert SECRET not in demo.output
    for path in demo.out.rglob("*"):
        if path.is_file() and path.suffix in {".ipynb", ".md", ".json", ".csv", ".toml"}:
            assert SECRET not in path.read_text(errors="replace"), path


@pytest.mark.slow
def test_the_demo_plans_spend_at_most_5_percent_more_requests_than_the_lower_bound(demo: Demo) -> None:
    line = next(x for x in demo.summary.splitlines() if x.startswith("- Requests: "))
    sent, floor = (int(n) for n in re.findall(r"(\d+) sent by the plans, lower bound (\d+)", line)[0])
    assert 0 < floor <= sent <= floor * 1.05, line
