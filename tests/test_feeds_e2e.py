"""Issue 6 acceptance against the real sandbox: a full feed, then change feeds of three successive
snapshots, leave the sandbox catalog equal to the last snapshot (removed items deactivated).

Each day: write the source, ``plan_feed``, send every batch with ``ConnectClient.import_items``, wait
for the jobs, promote the snapshot, then read the catalog back (``frame_from_items``, active items
only) and compare it with the snapshot. The sandbox skips on-hand and price rows of unknown SKUs and
price lists, so those feeds first get their products (and price lists) imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.canonical import catalog
from fixtures.settings import feed, write_settings
from polars.testing import assert_frame_equal

from toolkit.config import Settings
from toolkit.connect import ConnectClient
from toolkit.entities import ENTITIES
from toolkit.feeds import Plan, plan_feed
from toolkit.payloads import build_header, build_items, frame_from_items
from toolkit.snapshots import SnapshotStore

pytestmark = pytest.mark.slow

SECRET = "feeds-e2e-secret-51c2"
# Per entity: the columns changed on days 2-4 (values never become null: the sandbox reads null as
# "absent", like Newtonsoft's default of omitting nulls).
CHANGES = {
    "products": ("StandardPrice", "Name[sv-SE]"),
    "onhands": ("OnhandValue", "LeadTimeDayCount"),
    "sku_prices": ("PriceSale", "IsPriceDiscountable"),
    "price_lists": ("Name", "Warehouses"),
    "relations": ("SortOrder", "DefaultName"),
    "competitor_skus": ("PriceSale", "CompetitorName"),
    "customers": ("FirstName", "EmailAddress"),
    "companies": ("Name", "OrganizationNo"),
    "supplier_products": ("ProductName", "PriceList.CostPurchase"),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(client_secret=SECRET, rate_limit=100_000) as server:
        yield server


def _settings(root: Path, sandbox: Any, entity: str) -> Settings:
    (root / "src").mkdir(parents=True, exist_ok=True)
    policies = f"max_items = {100 if ENTITIES[entity].removal == 'full_feed' else 3}"
    # removed items of entities without IsActive stay pending until the full feed: 3 of 22 on day 4
    policies += "\nmax_deactivation_ratio = 0.2"
    table = feed(entity, entity, f"src/{entity}.parquet", policies=policies)
    return write_settings(root, table, environ=sandbox.environ())


def _send(client: ConnectClient, plan: Plan) -> None:
    jobs = [client.import_items(b.entity, b.body, b.header).job_id for b in plan.batches]
    finished = client.wait_for_jobs(jobs, timeout=60.0, poll_interval=0.05)
    failed = {
        i: [e.message for e in client.job_log(i)] for i, j in finished.items() if not j.succeeded or j.fail
    }
    assert not failed, failed


def _prerequisites(client: ConnectClient, entity: str, frames: list[pl.DataFrame]) -> None:
    """Products for every PartNo (and the price lists) the on-hand / price rows refer to; the
    companies customers link to (Connect links existing companies only)."""
    if entity == "customers":
        codes = pl.concat(f.select(pl.col("CompanyCode").alias("Code")) for f in frames).drop_nulls().unique()
        key = pl.lit("3f2504e0-4f89-11d3-9a0c-0305e82c3301").alias("ApplicationKey")
        _import(client, "companies", codes.with_columns(key))
    if entity not in ("onhands", "sku_prices"):
        return
    parts = pl.concat(f.select("PartNo") for f in frames).unique(maintain_order=True)
    products = parts.select(
        pl.col("PartNo").alias("Code"),
        pl.lit("ACME").alias("ManufacturerCode"),
        pl.col("PartNo").alias("ManufacturerPartNo"),
        "PartNo",
    )
    _import(client, "products", products)
    if entity == "sku_prices":
        codes = pl.concat(f.select(pl.col("PriceListCode").alias("Code")) for f in frames).unique()
        _import(client, "price_lists", codes.with_columns(pl.lit("SEK").alias("CurrencyCode")))


def _import(client: ConnectClient, entity: str, frame: pl.DataFrame) -> None:
    header = build_header(entity, account=10000, fields=frame.columns)
    job = client.import_items(entity, build_items(entity, frame), header).job_id
    assert client.wait_for_jobs([job], timeout=60.0, poll_interval=0.05)[job].succeeded


def _active(entity: str, frame: pl.DataFrame) -> pl.DataFrame:
    if entity == "products":
        return frame.filter(pl.col("Status").ne_missing("Inactive"))
    if "IsActive" in frame.columns:
        return frame.filter(pl.col("IsActive").fill_null(True))
    return frame


def _catalog(sandbox: Any, entity: str, columns: list[str]) -> pl.DataFrame:
    extra = [] if "IsActive" in columns or entity == "products" else ["IsActive"]
    frame = frame_from_items(entity, sandbox.items(entity), columns=[*columns, *extra])
    return _active(entity, frame).select(columns)


def _changed(frame: pl.DataFrame, column: str, row: int) -> pl.DataFrame:
    dtype = frame.schema[column]
    old = frame[column][row]
    if isinstance(dtype, pl.List):
        new = pl.lit(["W9", f"W{row}"], dtype)
    elif dtype == pl.String():
        new = pl.lit(f"{old}~", dtype)
    elif dtype == pl.Boolean():
        new = pl.lit(not old, dtype)
    else:
        new = pl.lit((old or 0) + 2).cast(dtype)
    rows = pl.int_range(pl.len()) == row
    if "ManufacturerPartNo" in frame.columns and ENTITIES["products"].column(column).level == "product":
        rows = pl.col("Code") == frame["Code"][row]  # product-level values: every SKU of the product
    return frame.with_columns(pl.when(rows).then(new).otherwise(pl.col(column)).alias(column))


def _days(entity: str) -> list[tuple[str, pl.DataFrame]]:
    """Day 1 full; days 2-4: one or two changed values, one added and one removed item each."""
    full = catalog(entity, 26)
    if entity == "products":
        full = full.with_columns(pl.col("Name[en-GB]").fill_null("Product"))  # never cleared
    a, b = CHANGES[entity]
    day1 = full.head(20)
    removes = ENTITIES[entity].name != "price_lists"  # price lists cannot be removed at all
    day2 = _changed(pl.concat([day1.tail(-1) if removes else day1, full[20:21]]), a, 0)
    day3 = _changed(_changed(pl.concat([day2.tail(-1) if removes else day2, full[21:22]]), b, 1), a, 2)
    day4 = _changed(pl.concat([day3.tail(-1) if removes else day3, full[22:23]]), b, 3)
    last = "full" if ENTITIES[entity].removal == "full_feed" else "change"
    return [("full", day1), ("change", day2), ("change", day3), (last, day4)]


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_full_then_change_feeds_leave_the_catalog_equal_to_the_snapshot(
    tmp_path: Path, sandbox: Any, entity: str
) -> None:
    sandbox.reset()
    settings = _settings(tmp_path, sandbox, entity)
    store = SnapshotStore(settings.state_dir / "snapshots")
    days = _days(entity)
    key = list(ENTITIES[entity].key)
    with ConnectClient(sandbox.profile(rate_limit_per_minute=100_000)) as client:
        _prerequisites(client, entity, [f for _, f in days])
        for number, (kind, frame) in enumerate(days, start=1):
            frame.write_parquet(tmp_path / "src" / f"{entity}.parquet")
            plan = plan_feed(settings, entity, kind=kind, store=store)  # type: ignore[arg-type]
            assert plan.kind == kind
            if number > 1 and kind == "change":
                assert plan.summary.changed >= 1 and plan.summary.added == 1
            _send(client, plan)
            assert plan.snapshot is not None
            store.promote(plan.snapshot)
            got = _catalog(sandbox, entity, frame.columns)
            # removed items nothing removes yet stay pending in the baseline: each plan counts them all
            left = plan.summary.left_for_full if kind == "change" else 0
            assert got.height == frame.height + left, f"day {number}: {plan.describe()}"
            expected = _active(entity, frame).sort(key)
            if left:  # removed items the change feed leaves for the next full feed are still there
                got = got.join(frame.select(key), on=key, how="semi")
            assert_frame_equal(got.sort(key), expected, check_dtypes=True), f"day {number}"


def test_removed_competitor_prices_stay_pending_until_the_full_feed_removes_them(
    tmp_path: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 22.8: over max_items, the full feed goes as one FullFile request, as only it removes them."""
    from toolkit.cli import main

    sandbox.reset()
    for key, value in sandbox.environ().items():
        monkeypatch.setenv(key, value)
    (tmp_path / "src").mkdir()
    table = feed(
        "rivals",
        "competitor_skus",
        "src/rivals.parquet",
        policies="max_items = 3\nmax_deactivation_ratio = 0.5",
    )
    toml = str(write_settings(tmp_path, table, environ=sandbox.environ()).path)
    base = catalog("competitor_skus", 10)
    gone = base["PartNo"][4]

    def live() -> set[str]:
        return {i["PartNo"] for i in sandbox.items("competitor_skus") if i["IsActive"]}

    def submit(frame: pl.DataFrame, *args: str) -> None:
        frame.write_parquet(tmp_path / "src" / "rivals.parquet")
        assert main(["submit", "rivals", "--yes", "--wait", *args, "--settings", toml]) == 0

    submit(base, "--kind", "full")
    submit(base.filter(pl.col("PartNo") != gone), "--kind", "change")
    submit(base.filter(pl.col("PartNo") != gone), "--kind", "change")  # a quiet day keeps it pending
    capsys.readouterr()
    assert main(["status", "--settings", toml]) == 0
    assert "rivals: 1 removed items stay live until a full feed removes them" in capsys.readouterr().out
    assert gone in live()
    submit(base.filter(pl.col("PartNo") != gone), "--kind", "full")
    assert "sent as one FullFile request of 9 items, over max_items 3" in capsys.readouterr().out
    assert live() == set(base["PartNo"]) - {gone}
    assert main(["status", "--settings", toml]) == 0
    assert "stay live" not in capsys.readouterr().out


@pytest.mark.parametrize("entity", ["onhands", "sku_prices", "customers", "companies"])
@pytest.mark.parametrize("with_is_active", [True, False])
def test_rows_removed_for_a_day_come_back_active_with_their_values(
    tmp_path: Path, sandbox: Any, entity: str, with_is_active: bool
) -> None:
    """Issue 22.7: deactivated on day 2, back on day 3: active again, with the values of day 3."""
    sandbox.reset()
    settings = _settings(tmp_path, sandbox, entity)
    store = SnapshotStore(settings.state_dir / "snapshots")
    key = list(ENTITIES[entity].key)
    day1 = catalog(entity, 20)
    day1 = day1 if with_is_active else day1.drop("IsActive", strict=False)
    away, kept = day1.head(3), day1.tail(-3)
    back = pl.concat([kept, _changed(away, CHANGES[entity][0], 0)])  # one of them changed meanwhile
    with ConnectClient(sandbox.profile(rate_limit_per_minute=100_000)) as client:
        _prerequisites(client, entity, [day1])
        for kind, frame in (("full", day1), ("change", kept), ("change", back)):
            frame.write_parquet(tmp_path / "src" / f"{entity}.parquet")
            plan = plan_feed(settings, entity, kind=kind, store=store)  # type: ignore[arg-type]
            _send(client, plan)
            assert plan.snapshot is not None
            store.promote(plan.snapshot)
            expected = _active(entity, frame).sort(key)
            assert_frame_equal(_catalog(sandbox, entity, frame.columns).sort(key), expected)


@pytest.mark.parametrize(
    ("entity", "shared"), [("customers", "EmailAddress"), ("companies", "OrganizationNo")]
)
def test_a_new_party_sharing_an_email_or_organization_number_is_its_own(
    tmp_path: Path, sandbox: Any, entity: str, shared: str
) -> None:
    """Issue 15.6: the plans list SearchOnlyByCode for Code-keyed parties, so Connect matches by Code only."""
    sandbox.reset()
    settings = _settings(tmp_path, sandbox, entity)
    store = SnapshotStore(settings.state_dir / "snapshots")
    day1 = catalog(entity, 2).drop("CompanyCode", strict=False)
    day2 = pl.concat([day1, day1.head(1).with_columns(pl.lit("NEW-1").alias("Code"))])  # same e-mail / org no
    with ConnectClient(sandbox.profile(rate_limit_per_minute=100_000)) as client:
        for kind, frame in (("full", day1), ("change", day2)):
            frame.write_parquet(tmp_path / "src" / f"{entity}.parquet")
            plan = plan_feed(settings, entity, kind=kind, store=store)  # type: ignore[arg-type]
            assert all(
                "SearchOnlyByCode" in next(iter(v for k, v in b.header.items() if k.endswith("Set")))
                for b in plan.batches
            )
            _send(client, plan)
            assert plan.snapshot is not None
            store.promote(plan.snapshot)
    items = {i["Code"]: i for i in sandbox.items(entity)}
    assert set(items) == set(day2["Code"])
    assert items["NEW-1"][shared] == items[day1["Code"][0]][shared]
