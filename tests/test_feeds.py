"""feeds: change feeds carry only changed fields, full feeds guarded, batches within limits, plans on disk."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from fixtures.canonical import catalog
from fixtures.settings import feed
from fixtures.settings import write_settings as settings_with

from toolkit.cli import EXIT_CHECKS, EXIT_GUARD, EXIT_OK, main
from toolkit.config import Settings
from toolkit.entities import ENTITIES
from toolkit.errors import GuardRefused, PlanError
from toolkit.feeds import Plan, plan_feed
from toolkit.ledger import Ledger
from toolkit.payloads import build_header, identity_columns
from toolkit.rowhash import hash_rows
from toolkit.snapshots import SnapshotStore
from toolkit.status import feed_status

T0 = datetime.now(UTC)
ERP = 10000


def write_settings(root: Path, entity: str, policies: str = "") -> Settings:
    (root / "src").mkdir(parents=True, exist_ok=True)
    return settings_with(root, feed(entity, entity, f"src/{entity}.parquet", policies=policies))


def plan_day(settings: Settings, entity: str, frame: pl.DataFrame, **kw: Any) -> Plan:
    frame.write_parquet(settings.path.parent / "src" / f"{entity}.parquet")
    return plan_feed(settings, entity, now=kw.pop("now", T0), **kw)


def accept(settings: Settings, plan: Plan) -> None:
    assert plan.snapshot is not None
    SnapshotStore(settings.state_dir / "snapshots").promote(plan.snapshot)


# Per entity: two changed columns and the field lists each one alone must produce.
CHANGES: dict[str, tuple[str, str, dict[str, list[str]], dict[str, list[str]]]] = {
    "products": (
        "StandardPrice",
        "Name[sv-SE]",
        {
            "ProductFieldsThatAreSet": ["Variants"],
            "VariantFieldsThatAreSet": ["Skus"],
            "SkuFieldsThatAreSet": ["StandardPrice"],
            "SkuPriceListFieldsThatAreSet": ["PriceSale"],
        },
        # the items carry Variants[].Skus[] to identify the product: their flags are listed
        {
            "ProductFieldsThatAreSet": ["Variants", "Cultures"],
            "ProductCultureFieldsThatAreSet": ["Name"],
            "VariantFieldsThatAreSet": ["Skus"],
        },
    ),
    "onhands": (
        "OnhandValue",
        "LeadTimeDayCount",
        {"SkuOnhandFieldsThatAreSet": ["OnhandValue"]},
        {"SkuOnhandFieldsThatAreSet": ["LeadTimeDayCount"]},
    ),
    "sku_prices": (
        "PriceSale",
        "IsPriceDiscountable",
        {"SkuPriceListFieldsThatAreSet": ["PriceSale"]},
        {"SkuPriceListFieldsThatAreSet": ["IsPriceDiscountable"]},
    ),
    "price_lists": (
        "Name",
        "Warehouses",
        {"PriceListFieldsThatAreSet": ["Name"]},
        {"PriceListFieldsThatAreSet": ["Warehouses"]},
    ),
    "relations": (
        "SortOrder",
        "Name[sv-SE]",
        {"RelationFieldsThatAreSet": ["SortOrder"]},
        {"RelationFieldsThatAreSet": ["Cultures"], "RelationCultureFieldsThatAreSet": ["Name"]},
    ),
    "competitor_skus": (
        "ProductName",
        "CompetitorName",
        {"CompetitorSkuFieldsThatAreSet": ["ProductName"]},
        {"CompetitorSkuFieldsThatAreSet": ["CompetitorName"]},
    ),
    # keyed by Code: SearchOnlyByCode, so Connect never matches by e-mail or organization number
    "customers": (
        "FirstName",
        "CompanyCode",
        {"CustomerFieldsThatAreSet": ["FirstName", "SearchOnlyByCode"]},
        {"CustomerFieldsThatAreSet": ["SearchOnlyByCode", "Companies"]},
    ),
    "companies": (
        "Name",
        "VatNo",
        {"CompanyFieldsThatAreSet": ["Name", "SearchOnlyByCode"]},
        {"CompanyFieldsThatAreSet": ["SearchOnlyByCode", "VatNo"]},
    ),
    "supplier_products": (
        "ProductName",
        "OnHand.Value",
        {"FieldsThatAreSet": ["ProductName"]},
        {"OnhandFieldsThatAreSet": ["Value"]},
    ),
}
MEMBERS = {"Name[sv-SE]": "Cultures", "CompanyCode": "Companies", "OnHand.Value": "OnHand"}


def _new_value(frame: pl.DataFrame, column: str, row: int) -> pl.Expr:
    dtype = frame.schema[column]
    old = frame[column][row]
    if isinstance(dtype, pl.List):
        return pl.lit(["W9"], dtype)
    if dtype == pl.String():
        return pl.lit(f"{old}-new", dtype)
    if dtype == pl.Boolean():
        return pl.lit(not old, dtype)
    return pl.lit((old or 0) + 1).cast(dtype)


def _change(frame: pl.DataFrame, column: str, rows: list[int]) -> pl.DataFrame:
    idx = pl.int_range(pl.len())
    return frame.with_columns(
        pl.when(idx.is_in(rows))
        .then(_new_value(frame, column, rows[0]))
        .otherwise(pl.col(column))
        .alias(column)
    )


def _lists(header: dict[str, Any]) -> dict[str, list[str]]:
    return {k: v for k, v in header.items() if k.endswith("FieldsThatAreSet")}


def _product_rows(frame: pl.DataFrame, code: str) -> list[int]:
    return frame.with_row_index().filter(pl.col("Code") == code)["index"].to_list()


def _check_members(entity: str, item: dict[str, Any], column: str) -> None:
    """The item carries identity members and the changed column's member, nothing else."""
    if entity == "products":
        if column == "StandardPrice":
            assert set(item) == {"Code", "ManufacturerCode", "Variants"}
            (variant,) = item["Variants"]
            assert set(variant) == {"ManufacturerPartNo", "Skus"}
            assert all(set(s) == {"PartNo", "StandardPrice"} for s in variant["Skus"])
            assert all(isinstance(s["StandardPrice"]["PriceSale"], float) for s in variant["Skus"])
        else:
            assert set(item) == {"Code", "ManufacturerCode", "Cultures", "Variants"}
            assert all(set(s) == {"PartNo"} for v in item["Variants"] for s in v["Skus"])
        return
    identity = set(identity_columns(ENTITIES[entity]))
    member = MEMBERS.get(column, column)
    delta = {"IsCompanyListDelta"} if member == "Companies" else set()  # company links sent as a delta
    assert set(item) == identity | {member} | delta, item


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_change_feed_headers_list_exactly_the_changed_fields(tmp_path: Path, entity: str) -> None:
    settings = write_settings(tmp_path, entity, "max_extra_requests = 1.0")
    base = catalog(entity, 24)
    accept(settings, plan_day(settings, entity, base, kind="full"))
    a, b, lists_a, lists_b = CHANGES[entity]
    second = [2] if entity == "supplier_products" else [1]  # S2 rows have no warehouse for OnHand.Value
    rows_a, rows_b = (
        ([0], second)
        if entity != "products"
        else (_product_rows(base, "P1-0")[:1], _product_rows(base, "P1-1"))
    )
    day2 = _change(_change(base, a, rows_a), b, rows_b)
    plan = plan_day(settings, entity, day2, kind="change")
    assert plan.summary.changed == len(rows_a) + len(rows_b)
    assert plan.summary.added == plan.summary.removed == 0
    by_lists = {orjson.dumps(_lists(batch.header)): batch for batch in plan.batches}
    assert len(plan.batches) == 2
    for column, lists in ((a, lists_a), (b, lists_b)):
        batch = by_lists[orjson.dumps(lists)]
        if ENTITIES[entity].has_full_file:
            assert batch.header["FullFile"] is False
        assert batch.header["AccountId"] == ERP
        for item in batch.items():
            _check_members(entity, item, column)


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_added_and_removed_items(tmp_path: Path, entity: str) -> None:
    settings = write_settings(tmp_path, entity)
    full = catalog(entity, 40)
    base, extra = full.head(36), full.tail(4)
    accept(settings, plan_day(settings, entity, base, kind="full"))
    day2 = pl.concat([base.tail(-2), extra.head(2)])
    plan = plan_day(settings, entity, day2)
    s = plan.summary
    assert (s.kind, s.added, s.removed, s.changed) == ("change", 2, 2, 0)
    ent = ENTITIES[entity]
    added = plan.batches[0]
    # added items are sent active where the feed owns the deactivation field but the source lacks it
    active = ["IsActive"] if ent.removal == "is_active" and "IsActive" not in day2.columns else []
    active = ["OnHand.IsActive", "PriceList.IsActive"] if entity == "supplier_products" else active
    flags = ["SearchOnlyByCode"] if entity in ("customers", "companies") else []
    columns = [*day2.columns, *active]
    if entity == "supplier_products":  # S2 lacks GrossWeight and VatCode: its own request
        columns = (
            [c for c in columns if c not in ("GrossWeight", "VatCode")]
            if added.item_count == 1 and added.items()[0]["SupplierPartNo"].startswith("S2")
            else columns
        )
    assert added.header == build_header(ent, account=ERP, fields=columns, flags=flags)
    if entity == "price_lists":  # no IsActive nor FullFile: removed lists are ended by their EndDate
        assert (s.deactivated, s.left_for_full) == (2, 0)
        ended = next(
            b
            for b in plan.batches
            if b.header.get("PriceListFieldsThatAreSet") == ["EndDate"] and b.items()[0].get("EndDate")
        )
        assert [i["Code"] for i in ended.items()] == sorted(base["Code"].head(2))  # in key order
        return
    if ent.removal == "full_feed":
        assert (s.deactivated, s.left_for_full) == (0, 2)
        assert sum(b.item_count for b in plan.batches) == 2
        assert "removed items stay" in s.notes[0]
        return
    assert (s.deactivated, s.left_for_full) == (2, 0)
    gone = plan.batches[-1]
    column, value = ("Status", 5) if entity == "products" else ("IsActive", False)
    lists = _lists(gone.header)
    assert column in next(iter(lists.values())) or lists.get("SkuFieldsThatAreSet") == ["Status"]
    items = gone.items()
    if entity == "products":
        skus = [s for p in items for v in p["Variants"] for s in v["Skus"]]
        assert skus == [{"PartNo": p, "Status": 5} for p in sorted(base["PartNo"].head(2))]
    else:
        assert all(set(i) == {*identity_columns(ent), column} and i[column] is value for i in items)


@pytest.mark.parametrize("kind", ["change", "full"])
def test_rejected_rows_neither_change_nor_deactivate_their_items(tmp_path: Path, kind: str) -> None:
    """A bad price row for a known item keeps the item as Norce has it: loses nothing, sends nothing."""
    settings = write_settings(tmp_path, "sku_prices", "max_reject_ratio = 0.5")
    base = catalog("sku_prices", 20)
    accept(settings, plan_day(settings, "sku_prices", base, kind="full"))
    bad_key = base.row(3, named=True)
    fourth = pl.int_range(pl.len()) == 3
    negative = pl.when(fourth).then(-pl.col("PriceSale")).otherwise("PriceSale")
    day2 = base.with_columns(negative.alias("PriceSale"))
    plan = plan_day(settings, "sku_prices", day2, kind=kind)
    s = plan.summary
    assert (s.rejected, s.removed, s.deactivated, s.changed) == (1, 0, 0, 0)
    assert any("keep their baseline values" in n for n in s.notes)
    key = ENTITIES["sku_prices"].key
    if kind == "change":
        assert plan.batches == ()
    assert plan.snapshot is not None
    snapshot = SnapshotStore(settings.state_dir / "snapshots").load(plan.snapshot)
    kept = snapshot.filter(*(pl.col(k) == bad_key[k] for k in key))
    assert kept["PriceSale"].to_list() == [bad_key["PriceSale"]]
    # the row hashes cached with the snapshot (valid rows + held ones) are the snapshot's own
    cached = SnapshotStore(settings.state_dir / "snapshots").row_hashes(plan.snapshot, key=list(key))
    assert cached.frame.equals(hash_rows(snapshot, key=list(key)).frame)


@pytest.mark.parametrize("kind", ["change", "full"])
def test_guard_refuses_a_truncated_source(tmp_path: Path, kind: str) -> None:
    settings = write_settings(tmp_path, "onhands")
    base = catalog("onhands", 20)
    accept(settings, plan_day(settings, "onhands", base, kind="full"))
    with pytest.raises(GuardRefused, match=r"deactivate 6 of 20 baseline items \(30.0%\)") as err:
        plan_day(settings, "onhands", base.head(14), kind=kind)
    assert err.value.counts["deactivating"] == 6
    plan = plan_day(
        settings,
        "onhands",
        base.head(14),
        kind=kind,
        allow_mass_deactivation=True,
        override_reason="warehouse W1 closed",
    )
    assert plan.allow_mass_deactivation and plan.override_reason == "warehouse W1 closed"
    assert plan.summary.deactivated == 6
    loaded = Plan.load(plan.save(tmp_path / "plan"))
    assert loaded.override_reason == "warehouse W1 closed" and loaded.allow_mass_deactivation


def test_guard_counts_items_left_for_a_full_feed(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "competitor_skus")
    base = catalog("competitor_skus", 10)
    accept(settings, plan_day(settings, "competitor_skus", base, kind="full"))
    with pytest.raises(GuardRefused, match="3 of 10"):
        plan_day(settings, "competitor_skus", base.head(7), kind="change")


def test_guard_refuses_an_empty_source(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "onhands")
    with pytest.raises(GuardRefused, match="no valid rows"):
        plan_day(settings, "onhands", catalog("onhands", 4).clear())


class SlowStore(SnapshotStore):  # type: ignore[misc,valid-type]
    """A store whose snapshot writes wait for ``release`` (and fail when ``fail`` is set)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.release, self.fail = threading.Event(), False

    def save(self, *args: Any, **kwargs: Any) -> Any:
        assert self.release.wait(10)
        if self.fail:
            raise OSError(28, "No space left on device")
        return super().save(*args, **kwargs)


def test_plan_returns_while_its_snapshot_is_written(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "onhands")
    store = SlowStore(settings.state_dir / "snapshots")
    plan = plan_day(settings, "onhands", catalog("onhands", 6), store=store)
    # ready to preview, the snapshot still being written
    assert isinstance(plan.saving, Future) and not plan.saving.done()
    assert plan.summary.added == 6 and plan.preview(1)[0]["items"]
    assert store.history("onhands") == []
    store.release.set()
    assert plan.snapshot is not None and plan.snapshot.rows == 6  # waits for the write
    assert [r.id for r in store.history("onhands")] == [plan.snapshot.id]


def test_a_failed_snapshot_write_stops_the_plan_before_anything_is_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = write_settings(tmp_path, "onhands")
    store = SlowStore(settings.state_dir / "snapshots")
    plan = plan_day(settings, "onhands", catalog("onhands", 6), store=store)
    store.fail = True
    with caplog.at_level("WARNING", logger="toolkit.planning"):
        store.release.set()
        said = "feed 'onhands': the new snapshot could not be written"
        deadline = time.monotonic() + 10  # the worker logs just after the write fails
        while said not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    assert said in caplog.text  # said at once, without anyone asking for the snapshot
    with pytest.raises(OSError, match="No space left"):
        _ = plan.snapshot
    with pytest.raises(OSError, match="No space left"):
        plan.save(tmp_path / "plan")
    ledger = Ledger(settings.state_dir / "ledger.sqlite")
    with pytest.raises(OSError, match="No space left"):
        ledger.record_plan(plan)
    assert ledger.plans() == []


def test_a_refused_plan_writes_no_snapshot(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "onhands")
    base = catalog("onhands", 20)
    accept(settings, plan_day(settings, "onhands", base, kind="full"))
    store = SnapshotStore(settings.state_dir / "snapshots")
    before = store.history("onhands")
    with pytest.raises(GuardRefused):
        plan_day(settings, "onhands", base.head(10))
    assert store.history("onhands") == before


def test_kind_auto(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "onhands", 'full_every = "7d"')
    base = catalog("onhands", 10)
    first = plan_day(settings, "onhands", base)
    assert (first.kind, first.summary.reason) == ("full", "no baseline yet")
    accept(settings, first)
    assert plan_day(settings, "onhands", base, now=T0 + timedelta(days=3)).kind == "change"
    later = plan_day(settings, "onhands", base, now=T0 + timedelta(days=8))
    assert later.kind == "full" and "full_every" in later.summary.reason


def test_full_feed_file_scopes(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "onhands", "max_items = 6\nmin_rows = 10")  # bounds a first FullFile
    two_locations = catalog("onhands", 12).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(pl.lit("L1"))
        .otherwise(pl.lit("L2"))
        .alias("LocationCode")
    )
    plan = plan_day(settings, "onhands", two_locations, kind="full")
    assert [b.header["FullFile"] for b in plan.batches] == [True, True]
    assert [{i["LocationCode"] for i in b.items()} for b in plan.batches] == [{"L1"}, {"L2"}]
    # L1 (5 rows left) fits one batch of 5: FullFile deactivates A-0; L2 (6 rows) is sent without it
    settings = write_settings(tmp_path / "mixed", "onhands", "max_items = 5")
    accept(settings, plan_day(settings, "onhands", two_locations, kind="full"))
    plan = plan_day(settings, "onhands", two_locations.tail(-1), kind="full")
    assert [b.header["FullFile"] for b in plan.batches] == [True, False, False]
    assert (plan.summary.deactivated, plan.summary.left_for_full) == (1, 0)
    # no scope fits: no FullFile at all, and the removed item is deactivated explicitly
    settings = write_settings(tmp_path / "big", "onhands", "max_items = 4")
    accept(settings, plan_day(settings, "onhands", two_locations, kind="full"))
    plan = plan_day(settings, "onhands", two_locations.tail(-1), kind="full")
    assert not any(b.header["FullFile"] for b in plan.batches)
    gone = plan.batches[-1]
    assert gone.items() == [{"PartNo": "A-0", "WarehouseCode": "W1", "LocationCode": "L1", "IsActive": False}]
    assert "FullFile off" in plan.summary.notes[0]


def test_batches_within_limits_and_stable(tmp_path: Path) -> None:
    settings = write_settings(tmp_path / "a", "sku_prices", "max_items = 7\nmax_bytes = 900")
    frame = catalog("sku_prices", 60)
    plan = plan_day(settings, "sku_prices", frame, kind="full")
    # every item sent; the prices some rows lack go in requests of their own
    keys = {(i["PartNo"], i["PriceListCode"], i["QuantityBreak"]) for b in plan.batches for i in b.items()}
    assert len(keys) == 60
    assert all(b.item_count <= 7 and b.size <= 900 for b in plan.batches)
    assert any(b.size > 700 for b in plan.batches)
    again = plan_day(
        write_settings(tmp_path / "b", "sku_prices", "max_items = 7\nmax_bytes = 900"),
        "sku_prices",
        frame,
        kind="full",
    )
    assert [b.id for b in again.batches] == [b.id for b in plan.batches] and again.id == plan.id
    small = write_settings(tmp_path / "c", "sku_prices", "max_bytes = 100")
    with pytest.raises(PlanError, match="more than max_bytes"):
        plan_day(small, "sku_prices", frame, kind="full")


def test_union_headers_when_grouping_costs_requests(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "onhands")
    base = catalog("onhands", 20)
    accept(settings, plan_day(settings, "onhands", base, kind="full"))
    day2 = _change(_change(base, "OnhandValue", [0]), "LeadTimeDayCount", [1])
    plan = plan_day(settings, "onhands", day2)
    (batch,) = plan.batches
    assert batch.header["SkuOnhandFieldsThatAreSet"] == ["OnhandValue", "LeadTimeDayCount"]
    assert plan.summary.grouping.startswith("union")


def test_save_load_preview_and_tampering(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "products", "max_items = 2")
    plan = plan_day(settings, "products", catalog("products", 8), kind="full")
    directory = plan.save(tmp_path / "plan")
    loaded = Plan.load(directory)
    assert loaded.batches == plan.batches and loaded.summary == plan.summary
    assert (loaded.id, loaded.snapshot, loaded.created) == (plan.id, plan.snapshot, plan.created)
    preview = plan.preview(1)
    assert preview[0]["header"] == plan.batches[0].header and len(preview[0]["items"]) == 1
    body = next(p for p in (directory / "batches").iterdir() if b"99.5" in p.read_bytes())
    body.write_bytes(body.read_bytes().replace(b"99.5", b"9.95"))
    with pytest.raises(PlanError, match="does not match its hash"):
        Plan.load(directory)
    body.unlink()
    with pytest.raises(PlanError, match="missing"):
        Plan.load(directory)


def test_cli_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = write_settings(tmp_path, "onhands")
    base = catalog("onhands", 10)
    base.write_parquet(tmp_path / "src" / "onhands.parquet")
    out = tmp_path / "out"
    assert main(["plan", "onhands", "--settings", str(settings.path), "--out", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "full feed of onhands" in printed and "10 SkuOnhand items in 1 request," in printed
    assert Plan.load(out).summary.items == 10
    accept(settings, Plan.load(out))
    base.head(5).write_parquet(tmp_path / "src" / "onhands.parquet")
    assert main(["plan", "onhands", "--settings", str(settings.path), "--kind", "change"]) == EXIT_GUARD
    assert "deactivate 5 of 10" in capsys.readouterr().err
    blank = pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise("PartNo")
    bad = base.with_columns(blank.alias("PartNo"))
    bad.write_parquet(tmp_path / "src" / "onhands.parquet")
    assert main(["plan", "onhands", "--settings", str(settings.path)]) == EXIT_CHECKS
    err = capsys.readouterr().err
    assert "3 of 10 rows rejected" in err and "the 3 rejected rows, with their reasons: " in err
    kept = pl.read_csv(err.strip().rsplit(": ", 1)[1])
    assert kept.height == 3 and kept["reason"].str.contains("PartNo is empty").all()


def test_cli_plan_when_the_snapshot_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolkit.snapshots

    settings = write_settings(tmp_path, "onhands")
    catalog("onhands", 10).write_parquet(tmp_path / "src" / "onhands.parquet")

    def full_disk(data: Any, path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(toolkit.snapshots, "_write_parquet", full_disk)
    out = tmp_path / "out"
    assert main(["plan", "onhands", "--settings", str(settings.path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: feed 'onhands': the new snapshot could not be written in ")
    assert "No space left on device" in err and "Traceback" not in err
    assert not (out / "manifest.json").exists()


def test_source_override_and_preview(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "companies")
    other = tmp_path / "other.parquet"
    catalog("companies", 3).write_parquet(other)
    plan = plan_feed(settings, "companies", source=other, now=T0)
    assert plan.summary.items == 3 and plan.kind == "full" and plan.created == T0
    (batch,) = plan.preview(2)
    assert batch["endpoint"] == "Customer/ImportCompanies" and len(batch["items"]) == 2
    assert "companies" in repr(plan) and "body" not in repr(plan.batches[0])


def test_cleared_values_are_sent_as_null_and_noted(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "sku_prices")
    base = catalog("sku_prices", 10).with_columns(
        pl.lit(Decimal("9.5")).cast(pl.Decimal(18, 4)).alias("PricePrevious")
    )
    accept(settings, plan_day(settings, "sku_prices", base, kind="full"))
    first = pl.int_range(pl.len()) == 0
    day2 = base.with_columns(pl.when(first).then(None).otherwise("PricePrevious").alias("PricePrevious"))
    plan = plan_day(settings, "sku_prices", day2)
    assert plan.summary.changed == 1
    assert any("cleared in the source are sent as null (PricePrevious)" in n for n in plan.summary.notes)
    (item,) = plan.batches[0].items()
    assert item["PricePrevious"] is None


def test_status_says_where_each_feed_stands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = write_settings(tmp_path, "onhands", 'full_every = "7d"')
    (fresh,) = feed_status(settings, now=T0).rows(named=True)
    assert (fresh["baseline"], fresh["next_kind"], fresh["why"]) == (None, "full", "no baseline yet")
    plan = plan_day(settings, "onhands", catalog("onhands", 10))
    accept(settings, plan)
    day2, day9 = (feed_status(settings, now=T0 + timedelta(days=d)).row(0, named=True) for d in (1, 9))
    assert (day2["baseline"], day2["baseline_rows"], day2["next_kind"]) == (plan.snapshot.id, 10, "change")
    assert day2["last_full_at"] is not None and " old (full_every 7 d)" in day2["why"]
    assert day9["next_kind"] == "full" and day9["open_plan"] is None and day9["locked_by"] is None

    toml = str(settings.path)
    with Ledger(settings.state_dir / "ledger.sqlite") as ledger, ledger.lock("onhands") as holder:
        ledger.record_plan(plan_day(settings, "onhands", catalog("onhands", 11)))
        sending = ledger.plans("onhands")[-1]
        ledger.set_plan_state(sending.id, "sending")
        row = feed_status(settings).row(0, named=True)
        assert (row["open_plan"], row["open_state"], row["locked_by"]) == (sending.id, "sending", holder)
        assert main(["status", "--settings", toml]) == EXIT_OK
    printed = capsys.readouterr().out
    assert f"| {sending.id} (sending) |" in printed and "run `norce-feeds resume FEED` for onhands" in printed

    plan.snapshot.path.write_bytes(b"not parquet")  # the baseline's file, broken
    assert feed_status(settings)["problem"].str.contains("corrupt|content hash").to_list() == [True]
    assert main(["status", "--settings", toml]) == EXIT_CHECKS
    assert "onhands: " in capsys.readouterr().err
    assert main(["status", "--feed", "stock", "--settings", toml]) == 2


def test_cli_plan_all_in_dependency_order_past_a_failing_feed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = write_settings(tmp_path, "onhands")
    with settings.path.open("a") as toml:  # listed after the on-hand feed whose rows name its SKUs
        toml.write(feed("products", "products", "src/products.parquet", account="PIM"))
    catalog("onhands", 10).write_parquet(tmp_path / "src" / "onhands.parquet")
    products, path = catalog("products", 4), tmp_path / "src" / "products.parquet"
    products.with_columns(pl.lit(None, pl.String).alias("PartNo")).write_parquet(path)
    toml_path = str(settings.path)
    assert main(["plan", "--all", "--settings", toml_path]) == EXIT_CHECKS
    out, err = capsys.readouterr()
    assert "products: CheckFailed: " in err and "the 4 rejected rows, with their reasons" in err
    assert "full feed of onhands" in out  # planned although the products before it failed
    products.write_parquet(path)
    assert main(["plan", "--all", "--settings", toml_path]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.index("feed of products") < out.index("feed of onhands")
    assert main(["plan", "--all", "onhands", "--settings", toml_path]) == 2
    assert "--all runs every feed: not with FEED" in capsys.readouterr().err


@pytest.mark.parametrize("entity", ["onhands", "sku_prices", "products", "customers"])
def test_plan_frames_in_memory_is_plan_feed_on_disk(tmp_path: Path, entity: str) -> None:
    """The pure core behind both: the same frames give the same batches (ids, headers, bodies)."""
    from toolkit.plan_frames import plan_frames

    settings = write_settings(tmp_path, entity)
    day1, day2 = catalog(entity, 12), catalog(entity, 12).slice(1)  # day 2: the first row gone
    first = plan_day(settings, entity, day1)
    accept(settings, first)
    second = plan_day(settings, entity, day2, allow_mass_deactivation=True, override_reason="test")
    memory = [
        plan_frames(settings, entity, day1, now=T0),
        plan_frames(
            settings,
            entity,
            day2,
            baseline=day1,
            now=T0,
            allow_mass_deactivation=True,
            override_reason="test",
        ),
    ]
    assert second.summary.removed == 1 and second.batches  # day 2 sends something
    for disk, mem in zip([first, second], memory, strict=True):
        assert (mem.kind, mem.summary.added, mem.summary.removed) == (
            disk.kind,
            disk.summary.added,
            disk.summary.removed,
        )
        assert [(b.id, b.header, b.body) for b in mem.batches] == [
            (b.id, b.header, b.body) for b in disk.batches
        ]


def test_planning_tells_each_step_and_the_bar_shows_them(tmp_path: Path) -> None:
    import io

    from toolkit.progress import ProgressBar

    settings = write_settings(tmp_path, "onhands")
    events: list[dict[str, Any]] = []
    out = io.StringIO()
    bar = ProgressBar(file=out)
    plan_day(settings, "onhands", catalog("onhands", 2000), progress=lambda e: (events.append(e), bar(e)))
    assert [e["step"] for e in events] == [1, 2, 3, 4, 5] and {e["event"] for e in events} == {"plan"}
    assert [e["what"].split()[0] for e in events] == ["reading", "checking", "diffing", "making", "1"]
    assert "checking 2,000 rows" in events[1]["what"] and "onhands planning" in out.getvalue()
