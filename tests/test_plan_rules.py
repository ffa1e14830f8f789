"""The planning rules that keep a live shop safe over days: who deactivates, when FullFile is sent,
what a rejected row holds back, returning items, pending removals, moves and values never cleared.

Each test plans real files through ``plan_feed`` (no server); what Connect does with the requests is
checked against the sandbox in tests/test_feeds_e2e.py and tests/test_contract_plans.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.canonical import catalog
from fixtures.settings import PROFILE, feed
from fixtures.settings import write_settings as settings_with

from toolkit.config import Settings, load_settings
from toolkit.entities import ENTITIES, UnitOfMeasurementType
from toolkit.errors import ConfigError
from toolkit.feeds import Plan, plan_feed
from toolkit.snapshots import SnapshotStore

T0 = datetime.now(UTC)


def one_feed(root: Path, entity: str, policies: str = "") -> Settings:
    (root / "src").mkdir(parents=True, exist_ok=True)
    return settings_with(root, feed(entity, entity, f"src/{entity}.parquet", policies=policies))


def plan_day(settings: Settings, name: str, frame: pl.DataFrame, **kw: Any) -> Plan:
    source = settings.feeds[name].source_path
    frame.write_parquet(source)
    return plan_feed(settings, name, now=T0, **kw)


def accept(settings: Settings, plan: Plan) -> Plan:
    assert plan.snapshot is not None
    SnapshotStore(settings.state_dir / "snapshots").promote(plan.snapshot)
    return plan


def items(plan: Plan) -> list[dict[str, Any]]:
    return [i for b in plan.batches for i in b.items()]


def skus(plan: Plan) -> list[dict[str, Any]]:
    return [s for p in items(plan) for v in p.get("Variants", ()) for s in v.get("Skus", ())]


def listed(plan: Plan, name: str) -> set[str]:
    return {f for b in plan.batches for f in b.header.get(name, ())}


# --- a first full feed, and a full feed that cannot tell what FullFile would deactivate -------------
def test_a_first_full_feed_sends_no_full_file_unless_asked(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "onhands")
    auto = plan_day(settings, "onhands", catalog("onhands", 10))
    assert auto.summary.kind == "full" and not any(b.header.get("FullFile") for b in auto.batches)
    assert any(n.startswith("first full feed: sent without FullFile") for n in auto.summary.notes)
    asked = plan_day(settings, "onhands", catalog("onhands", 10), kind="full")
    assert not any(b.header.get("FullFile") for b in asked.batches)  # asked, but nothing bounds it
    assert any("neither a baseline nor a min_rows policy" in n for n in asked.summary.notes)
    overridden = plan_day(
        settings,
        "onhands",
        catalog("onhands", 10),
        kind="full",
        allow_mass_deactivation=True,
        override_reason="first load of a new shop",
    )
    assert all(b.header.get("FullFile") is True for b in overridden.batches)
    bounded = one_feed(tmp_path / "bounded", "onhands", "min_rows = 8")
    assert all(
        b.header.get("FullFile") is True
        for b in plan_day(bounded, "onhands", catalog("onhands", 10), kind="full").batches
    )


def test_a_rejected_row_without_its_key_holds_removals_and_full_file(tmp_path: Path) -> None:
    """A row whose PartNo did not survive could be any item of its warehouse: nothing is deactivated."""
    settings = one_feed(tmp_path, "onhands", "max_reject_ratio = 0.5")
    base = catalog("onhands", 10)
    accept(settings, plan_day(settings, "onhands", base, kind="full"))
    day2 = base.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("PartNo")).alias("PartNo")
    ).filter(pl.int_range(pl.len()) != 7)
    plan = plan_day(settings, "onhands", day2, kind="full")
    s = plan.summary
    assert s.rejected == 1 and (s.deactivated, s.left_for_full) == (0, 0)
    assert not any(b.header.get("FullFile") for b in plan.batches)
    assert any("FullFile off: rejected rows without a complete key" in n for n in s.notes)
    snapshot = SnapshotStore(settings.state_dir / "snapshots").load(plan.snapshot)
    assert set(base["PartNo"]) <= set(snapshot["PartNo"])  # both held as Norce has them


def test_a_first_full_feed_with_a_rejected_row_sends_no_full_file(tmp_path: Path) -> None:
    """No baseline holds the rejected row's item, so FullFile would deactivate it."""
    settings = one_feed(tmp_path, "onhands", "max_reject_ratio = 0.5\nmin_rows = 5")
    base = catalog("onhands", 10)
    too_big = pl.when(pl.int_range(pl.len()) == 2).then(2**40).otherwise(pl.col("LeadTimeDayCount"))
    bad = base.with_columns(too_big.alias("LeadTimeDayCount"))  # outside Connect's int: rejected
    plan = plan_day(settings, "onhands", bad, kind="full")
    assert plan.summary.rejected == 1 and not any(b.header.get("FullFile") for b in plan.batches)
    assert (
        "FullFile off: with no baseline, the items of rejected rows would be deactivated"
        in plan.summary.notes
    )
    assert all(b.header.get("FullFile") for b in plan_day(settings, "onhands", base, kind="full").batches)


def test_a_rejected_row_with_part_of_its_key_holds_only_what_it_could_be(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "companies", "max_reject_ratio = 0.5\nmax_deactivation_ratio = 0.5")
    base = catalog("companies", 6)
    accept(settings, plan_day(settings, "companies", base, kind="full"))
    day2 = base.filter(pl.col("Code") != base["Code"][5])
    plan = plan_day(settings, "companies", day2)
    assert plan.summary.deactivated == 1  # no rejected row: the removal goes out
    gone = [i for i in items(plan) if i.get("IsActive") is False]
    assert [i["Code"] for i in gone] == [base["Code"][5]]


# --- two systems feed one entity: only the one that owns the status deactivates ---------------------
def two_product_feeds(root: Path, **policies: str) -> Settings:
    (root / "src").mkdir(parents=True, exist_ok=True)
    return settings_with(
        root,
        feed("erp", "products", "src/erp.parquet", policies=policies.get("erp", "")),
        feed("pim", "products", "src/pim.parquet", account="PIM", policies=policies.get("pim", "")),
    )


IDENTITY = ["Code", "ManufacturerCode", "ManufacturerPartNo", "PartNo"]


def test_a_pim_feed_beside_the_erp_never_deactivates_nor_sends_full_file(tmp_path: Path) -> None:
    settings = two_product_feeds(tmp_path, pim="max_deactivation_ratio = 1.0")
    erp = catalog("products", 8)
    pim = erp.select(*IDENTITY, "Name[sv-SE]", "Description[sv-SE]")
    accept(settings, plan_day(settings, "erp", erp.select(*IDENTITY, "Status", "StandardPrice"), kind="full"))
    accept(settings, plan_day(settings, "pim", pim, kind="full"))
    # the PIM has no texts yet for two SKUs the ERP added: its weekly full feed must not touch them
    plan = plan_day(settings, "pim", pim.head(6), kind="full")
    assert not any(b.header.get("FullFile") for b in plan.batches)
    assert "Status" not in listed(plan, "SkuFieldsThatAreSet")
    assert all("Status" not in s for s in skus(plan))
    assert plan.summary.deactivated == 0
    assert any("removed items left to another products feed (erp)" in n for n in plan.summary.notes)
    change = plan_day(settings, "pim", pim.head(6))
    assert change.summary.deactivated == 0 and all("Status" not in s for s in skus(change))


def test_the_erp_beside_a_pim_deactivates_what_leaves_it(tmp_path: Path) -> None:
    settings = two_product_feeds(tmp_path, erp="max_deactivation_ratio = 0.5")
    erp = catalog("products", 8).select(*IDENTITY, "Status", "StandardPrice")
    accept(settings, plan_day(settings, "erp", erp, kind="full"))
    plan = plan_day(settings, "erp", erp.head(7))
    assert plan.summary.deactivated == 1
    assert [s for s in skus(plan) if s.get("Status") == 5] == [{"PartNo": erp["PartNo"][7], "Status": 5}]


def test_deactivate_always_names_the_owner_that_lacks_the_column(tmp_path: Path) -> None:
    settings = two_product_feeds(tmp_path, erp='deactivate = "always"\nmax_deactivation_ratio = 0.5')
    erp = catalog("products", 8).select(*IDENTITY, "StandardPrice")
    accept(settings, plan_day(settings, "erp", erp, kind="full"))
    assert plan_day(settings, "erp", erp.head(7)).summary.deactivated == 1
    pim = erp.select(*IDENTITY)
    accept(settings, plan_day(settings, "pim", pim, kind="full"))
    plan = plan_day(settings, "pim", pim.head(7))
    assert plan.summary.deactivated == 0
    assert any("left to feed erp" in n for n in plan.summary.notes)


# --- items that return, values that flip back --------------------------------------------------------
def test_an_item_that_returns_is_sent_active(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "companies", "max_deactivation_ratio = 0.5")
    base = catalog("companies", 6).drop("IsActive")
    accept(settings, plan_day(settings, "companies", base, kind="full"))
    gone = base["Code"][2]
    day2 = accept(settings, plan_day(settings, "companies", base.filter(pl.col("Code") != gone)))
    assert next(i for i in items(day2) if i["Code"] == gone)["IsActive"] is False
    day3 = plan_day(settings, "companies", base)
    back = [i for i in items(day3) if i["Code"] == gone]
    assert len(back) == 1 and back[0]["IsActive"] is True and back[0]["Name"] == base["Name"][2]
    assert "IsActive" in listed(day3, "CompanyFieldsThatAreSet")


def test_a_value_that_flips_back_is_sent_back(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "onhands")
    base = catalog("onhands", 6)
    accept(settings, plan_day(settings, "onhands", base, kind="full"))
    bumped = base.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(99).otherwise(pl.col("OnhandValue")).alias("OnhandValue")
    )
    day2 = accept(settings, plan_day(settings, "onhands", bumped))
    assert [i["OnhandValue"] for i in items(day2)] == [99]
    day3 = plan_day(settings, "onhands", base)
    assert [i["OnhandValue"] for i in items(day3)] == [base["OnhandValue"][1]]
    assert plan_day(settings, "onhands", base).batches != ()  # day 3 not accepted yet: still to send


# --- removals a change feed cannot send: pending until one whole FullFile request -------------------
def test_competitor_removals_stay_pending_until_a_whole_full_file_request(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "competitor_skus", "max_deactivation_ratio = 0.5\nmax_items = 2")
    base = catalog("competitor_skus", 6)
    accept(settings, plan_day(settings, "competitor_skus", base, kind="full"))
    left = base.filter(pl.col("PartNo") != base["PartNo"][4])
    day2 = accept(settings, plan_day(settings, "competitor_skus", left))
    assert (day2.summary.left_for_full, day2.batches) == (1, ())
    store = SnapshotStore(settings.state_dir / "snapshots")
    assert base["PartNo"][4] in store.load(day2.snapshot)["PartNo"].to_list()  # kept as pending
    quiet = accept(settings, plan_day(settings, "competitor_skus", left))  # a quiet day forgets nothing
    assert quiet.batches == () and base["PartNo"][4] in store.load(quiet.snapshot)["PartNo"].to_list()
    full = plan_day(settings, "competitor_skus", left, kind="full")
    assert len(full.batches) == 1 and full.batches[0].header.get("FullFile") is True  # one request
    assert sorted(i["PartNo"] for i in items(full)) == sorted(left["PartNo"])
    assert base["PartNo"][4] not in store.load(full.snapshot)["PartNo"].to_list()


# --- settings the contract needs ---------------------------------------------------------------------
def test_companies_without_an_application_key_stop_with_the_setting_to_add(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    toml = PROFILE.replace('application_key = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"\n', "")
    (tmp_path / "norce.toml").write_text(toml + feed("companies", "companies", "src/companies.parquet"))
    settings = load_settings(tmp_path / "norce.toml", environ={})
    with pytest.raises(ConfigError, match=r"ApplicationKey.*application_key = "):
        plan_day(settings, "companies", catalog("companies", 3))


def test_a_company_carries_the_profiles_application_key(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "companies")
    plan = plan_day(settings, "companies", catalog("companies", 3), kind="full")
    assert {i["ApplicationKey"] for i in items(plan)} == {"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}
    assert "ApplicationKey" not in listed(plan, "CompanyFieldsThatAreSet")  # an identity, not a field


def test_a_values_table_maps_source_codes_to_the_contract_enum(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    table = '[feeds.supplier_products.values.UnitOfMeasurementCode]\nst = "Pieces"\nkg = "Kilograms"\n'
    settings = settings_with(
        tmp_path,
        feed("supplier_products", "supplier_products", "src/supplier.csv", policies="max_reject_ratio = 0.5")
        + table,
    )
    csv = "SupplierPartNo,ProductName,UnitOfMeasurementCode\nS1,Hammer,st\nS2,Nails,kg\nS3,Rope,m\n"
    (tmp_path / "src" / "supplier.csv").write_text(csv)
    plan = plan_feed(settings, "supplier_products", now=T0, kind="full")
    sent = {i["SupplierPartNo"]: i["UnitOfMeasurementCode"] for i in items(plan)}
    assert sent == {"S1": UnitOfMeasurementType.Pieces, "S2": UnitOfMeasurementType.Kilograms}  # as numbers
    assert plan.summary.rejected == 1  # "m" is no UnitOfMeasurementType: rejected with its reason, not sent


# --- non-nullable members: never null, never listed for an item that lacks them ---------------------
def _non_nullable_listed_but_absent(plan: Plan) -> list[tuple[str, str]]:
    lacking = []
    for b in plan.batches:
        for sku in (s for p in b.items() for v in p.get("Variants", ()) for s in v.get("Skus", ())):
            for field in b.header.get("SkuFieldsThatAreSet", ()):
                column = ENTITIES["products"].column(field)
                if not column.nullable and sku.get(field) is None:
                    lacking.append((sku["PartNo"], field))
    return lacking


def test_no_request_lists_a_non_nullable_field_an_item_lacks(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "products")
    base = catalog("products", 12).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(None).otherwise(pl.col("Status")).alias("Status")
    )
    plan = plan_day(settings, "products", base, kind="full")
    assert _non_nullable_listed_but_absent(plan) == []
    sent = {s["PartNo"]: s.get("Status") for s in skus(plan)}
    assert {p for p, status in sent.items() if status is not None} == set(
        base.filter(pl.col("Status").is_not_null())["PartNo"]
    )
    assert all(None not in s.values() or "Status" not in s for s in skus(plan))


def test_a_cleared_non_nullable_value_is_kept_and_noted_not_sent_as_null(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "onhands")
    base = catalog("onhands", 4)
    accept(settings, plan_day(settings, "onhands", base, kind="full"))
    day2 = base.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("OnhandValue")).alias("OnhandValue")
    )
    plan = plan_day(settings, "onhands", day2)
    assert all(i.get("OnhandValue") is not None for i in items(plan) if "OnhandValue" in i)
    assert any("OnhandValue" in n for n in plan.summary.notes)


def test_union_requests_never_send_null_for_an_unchanged_value(tmp_path: Path) -> None:
    """Rows that changed different fields share a request: the others' values go as they are, not null."""
    settings = one_feed(tmp_path, "onhands", "max_extra_requests = 0")  # group by the union of fields
    base = catalog("onhands", 40).with_columns(pl.col("IncomingValue").fill_null(1))
    accept(settings, plan_day(settings, "onhands", base, kind="full"))
    row = pl.int_range(pl.len())
    day2 = base.with_columns(
        pl.when(row % 2 == 0).then(pl.col("OnhandValue") + 1).otherwise("OnhandValue"),
        pl.when(row % 2 == 1).then(pl.col("IncomingValue") + 1).otherwise("IncomingValue"),
    )
    plan = plan_day(settings, "onhands", day2)
    assert plan.summary.grouping.startswith("union")
    assert all(v is not None for i in items(plan) for v in i.values())
    before = {r["PartNo"]: r for r in base.iter_rows(named=True)}
    for item in items(plan):
        for field in ("OnhandValue", "IncomingValue"):
            if field in item and item[field] == before[item["PartNo"]][field]:
                continue  # an unchanged value sent as it is
            assert field not in item or item[field] == before[item["PartNo"]][field] + 1


# --- a SKU moved to another variant or product is sent whole at its new place -----------------------
def test_a_sku_moved_to_another_variant_is_sent_whole_with_skus_listed(tmp_path: Path) -> None:
    settings = one_feed(tmp_path, "products")
    base = catalog("products", 8)
    accept(settings, plan_day(settings, "products", base, kind="full"))
    moved = base["PartNo"][1]
    mpn = pl.when(pl.col("PartNo") == moved).then(pl.lit("P1-GREEN-0")).otherwise("ManufacturerPartNo")
    day2 = base.with_columns(mpn.alias("ManufacturerPartNo"))
    plan = plan_day(settings, "products", day2)
    assert any(n.startswith("moved 1 SKUs") for n in plan.summary.notes)
    (batch,) = [b for b in plan.batches if any(s["PartNo"] == moved for s in skus_of(b))]
    (product,) = batch.items()
    (variant,) = product["Variants"]
    assert variant["ManufacturerPartNo"] == "P1-GREEN-0" and [s["PartNo"] for s in variant["Skus"]] == [moved]
    assert "Skus" in batch.header["VariantFieldsThatAreSet"]
    assert {"Status", "StandardPrice"} <= set(batch.header["SkuFieldsThatAreSet"])  # sent whole
    assert variant["Skus"][0]["StandardPrice"] == {"PriceSale": float(base["StandardPrice"][1])}


def skus_of(batch: Any) -> list[dict[str, Any]]:
    return [s for p in batch.items() for v in p.get("Variants", ()) for s in v.get("Skus", ())]
