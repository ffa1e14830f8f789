"""Issue 23 cases 5-7: products fed by two systems.

5. A variant is ``ManufacturerCode`` + ``ManufacturerPartNo``: ACME 1001 and BETA 1001 are two.
6. A partial products file (``PartNo`` plus prices) updates just those fields of SKUs that exist,
   located where the feed that owns the structure placed them; never FullFile, never a deactivation.
7. A feed told ``owns_structure = false`` (a PIM) never moves SKUs nor sends FullFile: the ERP's
   structure stays, whatever the PIM's stale file says.

Plan-level tests plan real files (no server); the ones marked slow send every day to a sandbox, each
body checked against the vendored contract first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.settings import feed, write_settings

from toolkit.checks import validate
from toolkit.config import Policies, Settings
from toolkit.connect import ConnectClient
from toolkit.errors import ConfigError
from toolkit.feeds import Plan, plan_feed
from toolkit.sandbox.contract import validate_import
from toolkit.snapshots import SnapshotStore

T0 = datetime(2025, 5, 1, 6, tzinfo=UTC)
IDENTITY = ["Code", "ManufacturerCode", "ManufacturerPartNo", "PartNo"]


def erp_rows() -> pl.DataFrame:
    """Two brands' variant 1001 (ACME's in P1, BETA's in P2) and BETA 1002 in P2."""
    return pl.DataFrame(
        {
            "Code": ["P1", "P1", "P2", "P2"],
            "ManufacturerCode": ["ACME", "ACME", "BETA", "BETA"],
            "ManufacturerPartNo": ["1001", "1001", "1001", "1002"],
            "PartNo": ["A1", "A2", "B1", "B2"],
            "Status": ["Active"] * 4,
            "EanCode": ["7310000000011", "7310000000028", "7310000000035", None],
            "StandardPrice": [100.0, 110.0, 200.0, 210.0],
        }
    )


def pim_rows(erp: pl.DataFrame) -> pl.DataFrame:
    return erp.select(*IDENTITY).with_columns(
        pl.concat_str(pl.lit("Name of "), "Code").alias("Name[sv-SE]"),
        pl.concat_str(pl.lit("Variant "), "ManufacturerPartNo").alias("VariantName[sv-SE]"),
    )


def settings_with(root: Path, *feeds: str, environ: dict[str, str] | None = None) -> Settings:
    (root / "src").mkdir(parents=True, exist_ok=True)
    return write_settings(root, *feeds, environ=environ)


def erp_feed(policies: str = "min_rows = 1\nmax_deactivation_ratio = 1.0") -> str:
    return feed("erp", "products", "src/erp.parquet", policies=policies)


def other_feed(name: str, *, extra: str = "") -> str:
    guard = "max_deactivation_ratio = 1.0"
    table = feed(name, "products", f"src/{name}.parquet", account="PIM", policies=guard)
    return table.replace(f"[feeds.{name}.policies]", f"{extra}[feeds.{name}.policies]")


def plan_day(
    settings: Settings, name: str, frame: pl.DataFrame, *, kind: str = "change", day: int = 1
) -> Plan:
    frame.write_parquet(settings.feeds[name].source_path)
    store = SnapshotStore(settings.state_dir / "snapshots")
    return plan_feed(settings, name, kind=kind, store=store, now=T0 + timedelta(days=day))  # type: ignore[arg-type]


def accept(settings: Settings, plan: Plan) -> Plan:
    assert plan.snapshot is not None
    SnapshotStore(settings.state_dir / "snapshots").promote(plan.snapshot)
    return plan


def skus(plan: Plan) -> dict[str, tuple[Any, ...]]:
    """PartNo -> (Code, ManufacturerCode, ManufacturerPartNo, the SKU object) over every batch."""
    products = [p for b in plan.batches for p in b.items()]
    return {
        s["PartNo"]: (p.get("Code"), p.get("ManufacturerCode"), v.get("ManufacturerPartNo"), s)
        for p in products
        for v in p.get("Variants", ())
        for s in v.get("Skus", ())
    }


def listed(plan: Plan, name: str) -> set[str]:
    return {f for b in plan.batches for f in b.header.get(name, ())}


# --- 5. two brands, one part number ----------------------------------------------------------------
def test_two_brands_with_one_part_number_are_two_variants(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, erp_feed())
    plan = plan_day(settings, "erp", erp_rows(), kind="full")
    assert plan.summary.rejected == 0 and plan.summary.items == 2
    placed = {p: s[:3] for p, s in skus(plan).items()}
    assert placed == {
        "A1": ("P1", "ACME", "1001"),
        "A2": ("P1", "ACME", "1001"),
        "B1": ("P2", "BETA", "1001"),
        "B2": ("P2", "BETA", "1002"),
    }


def test_skus_of_one_brands_variant_still_agree_on_their_product(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, erp_feed("max_reject_ratio = 1.0"))
    rows = erp_rows().with_columns(
        pl.when(pl.col("PartNo") == "A2").then(pl.lit("P3")).otherwise("Code").alias("Code")
    )
    plan = plan_day(settings, "erp", rows, kind="full")
    reasons = set(plan.rejected["reason"])
    assert sorted(set(plan.rejected["_row"])) == [1, 2]
    assert "the SKUs of variant ACME/1001 disagree on Code; all of them are held back" in reasons


def test_without_a_manufacturer_code_the_part_number_alone_is_the_variant() -> None:
    rows = (
        erp_rows()
        .head(3)
        .select(*IDENTITY)
        .with_row_index("_row", offset=1)
        .with_columns(pl.lit("erp").alias("_source"))
    )
    result = validate(
        "products",
        rows.with_columns(pl.col("_row").cast(pl.Int64)).drop("ManufacturerCode"),
        policies=Policies(max_reject_ratio=1.0),
    )
    assert sorted(set(result.rejected["_row"])) == [1, 2, 3]  # 1001 in P1 and P2: one variant, two products
    assert validate("products", rows.with_columns(pl.col("_row").cast(pl.Int64))).rejected.is_empty()


# --- 6. a price-only products file ------------------------------------------------------------------
def price_feed_settings(root: Path) -> Settings:
    settings = settings_with(root, erp_feed(), other_feed("prices"))
    accept(settings, plan_day(settings, "erp", erp_rows(), kind="full"))
    return settings


PRICES = pl.DataFrame({"PartNo": ["A1", "B2", "NEW9"], "StandardPrice": [99.0, 205.0, 5.0]})


@pytest.mark.parametrize("kind", ["change", "full"])
def test_a_price_only_file_updates_the_price_of_skus_where_the_structure_has_them(
    tmp_path: Path, kind: str
) -> None:
    settings = price_feed_settings(tmp_path)
    plan = plan_day(settings, "prices", PRICES, kind=kind)
    a1, b2 = ({"PartNo": p, "StandardPrice": {"PriceSale": v}} for p, v in (("A1", 99.0), ("B2", 205.0)))
    assert skus(plan) == {"A1": ("P1", "ACME", "1001", a1), "B2": ("P2", "BETA", "1002", b2)}
    assert listed(plan, "SkuFieldsThatAreSet") == {"StandardPrice"}
    assert listed(plan, "ProductFieldsThatAreSet") == {"Variants"}  # no Code: it only locates
    assert not any(b.header.get("FullFile") for b in plan.batches)
    assert any("1 SKUs not in Norce's structure as feed erp sent it" in n for n in plan.summary.notes)
    for batch in plan.batches:
        assert validate_import(batch.endpoint, batch.header, batch.items()) == []


def test_a_price_file_without_manufacturer_part_numbers_plans_and_never_deactivates(tmp_path: Path) -> None:
    settings = price_feed_settings(tmp_path)
    with_codes = PRICES.with_columns(pl.Series("Code", ["P1", "P2", "P9"]))
    accept(settings, plan_day(settings, "prices", with_codes, kind="full"))
    for kind in ("change", "full"):  # A1 leaves the price file: nothing deactivated, no FullFile
        plan = plan_day(settings, "prices", with_codes.tail(2), kind=kind, day=2)
        assert plan.summary.deactivated == 0 and "Status" not in listed(plan, "SkuFieldsThatAreSet")
        assert not any(b.header.get("FullFile") for b in plan.batches)
    assert set(skus(plan)) == {"B2"}


def test_a_price_only_file_without_a_structure_to_locate_by_is_refused_with_what_to_add(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path, other_feed("prices"))
    with pytest.raises(
        ConfigError,
        match=r"'prices': the source has no ManufacturerCode, "
        r"ManufacturerPartNo.*add those columns",
    ):
        plan_day(settings, "prices", PRICES)


# --- 7. a feed that does not own the structure -------------------------------------------------------
def pim_settings(root: Path, environ: dict[str, str] | None = None) -> Settings:
    pim = other_feed("pim", extra="owns_structure = false\n")
    return settings_with(root, erp_feed(), pim, environ=environ)


def moved_to_p3(erp: pl.DataFrame) -> pl.DataFrame:
    """The ERP moves A2 to a new product P3 (variant ACME 1003)."""
    is_a2 = pl.col("PartNo") == "A2"
    return erp.with_columns(
        pl.when(is_a2).then(pl.lit("P3")).otherwise("Code").alias("Code"),
        pl.when(is_a2).then(pl.lit("1003")).otherwise("ManufacturerPartNo").alias("ManufacturerPartNo"),
    )


def test_owns_structure_is_a_feed_setting(tmp_path: Path) -> None:
    settings = pim_settings(tmp_path)
    assert settings.feeds["erp"].owns_structure and not settings.feeds["pim"].owns_structure
    with pytest.raises(ConfigError, match="key 'owns_structure': expected true or false, found str 'no'"):
        settings_with(tmp_path / "bad", other_feed("pim", extra='owns_structure = "no"\n'))


def test_a_pim_that_does_not_own_the_structure_never_moves_skus(tmp_path: Path) -> None:
    settings = pim_settings(tmp_path)
    erp, pim = erp_rows(), pim_rows(erp_rows())
    accept(settings, plan_day(settings, "erp", erp, kind="full"))
    accept(settings, plan_day(settings, "pim", pim, kind="full"))
    accept(settings, plan_day(settings, "erp", moved_to_p3(erp), kind="full", day=2))
    full = plan_day(settings, "pim", pim, kind="full", day=2)  # its weekly full feed, not updated
    assert "A2" not in skus(full) and set(skus(full)) == {"A1", "B1", "B2"}
    left = "1 SKUs placed differently than in Norce's structure: left to the structure's owner"
    assert left in full.summary.notes
    assert not any(b.header.get("FullFile") for b in full.batches)
    assert "Code" not in listed(full, "ProductFieldsThatAreSet")
    accept(settings, full)
    renamed = pim.with_columns(pl.lit("New name").alias("Name[sv-SE]"))
    change = plan_day(settings, "pim", renamed, day=3)  # P1's name changes, A2 still under P1 in the PIM
    assert set(skus(change)) == {"A1", "B1", "B2"}
    caught_up = plan_day(settings, "pim", moved_to_p3(renamed), day=3)  # the PIM places A2 as the ERP did
    assert skus(caught_up)["A2"][:3] == ("P3", "ACME", "1003")
    (p3,) = [p for b in caught_up.batches for p in b.items() if p["Code"] == "P3"]
    assert p3["Cultures"] == [{"CultureCode": "sv-SE", "Name": "New name"}]  # sent whole, unsent before


# --- against the sandbox ------------------------------------------------------------------------------
def run_day(
    settings: Settings,
    client: ConnectClient,
    name: str,
    frame: pl.DataFrame,
    *,
    kind: str = "change",
    day: int = 1,
) -> Plan:
    """Plan ``frame`` as feed ``name``'s source, send it (each body contract-checked first), promote it."""
    plan = plan_day(settings, name, frame, kind=kind, day=day)
    for batch in plan.batches:
        assert validate_import(batch.endpoint, batch.header, batch.items()) == [], batch.header
    jobs = [client.import_items(b.entity, b.body, b.header).job_id for b in plan.batches]
    finished = client.wait_for_jobs(jobs, timeout=60.0, poll_interval=0.05)
    failed = {
        i: [e.message for e in client.job_log(i)] for i, j in finished.items() if not j.succeeded or j.fail
    }
    assert not failed, failed
    return accept(settings, plan)


def catalog(sandbox: Any) -> dict[str, tuple[Any, ...]]:
    """PartNo -> (Code, ManufacturerCode, ManufacturerPartNo, Status, StandardPrice, EanCode)."""
    return {
        s["PartNo"]: (
            p["Code"],
            p.get("ManufacturerCode"),
            v["ManufacturerPartNo"],
            s.get("Status"),
            s.get("StandardPrice"),
            s.get("EanCode"),
        )
        for p in sandbox.items("products")
        for v in p["Variants"]
        for s in v["Skus"]
    }


def names(sandbox: Any) -> dict[str, str]:
    return {p["Code"]: c["Name"] for p in sandbox.items("products") for c in p.get("Cultures") or []}


@pytest.mark.slow
def test_sandbox_two_brands_one_part_number_and_a_price_only_file(tmp_path: Path, sandbox_clean: Any) -> None:
    settings = settings_with(tmp_path, erp_feed(), other_feed("prices"), environ=sandbox_clean.environ())
    with ConnectClient(sandbox_clean.profile(rate_limit_per_minute=100_000)) as client:
        run_day(settings, client, "erp", erp_rows(), kind="full")
        assert catalog(sandbox_clean) == {
            "A1": ("P1", "ACME", "1001", 1, 100.0, "7310000000011"),
            "A2": ("P1", "ACME", "1001", 1, 110.0, "7310000000028"),
            "B1": ("P2", "BETA", "1001", 1, 200.0, "7310000000035"),
            "B2": ("P2", "BETA", "1002", 1, 210.0, None),
        }
        run_day(settings, client, "prices", PRICES, kind="full")
        run_day(settings, client, "prices", PRICES.with_columns(pl.col("StandardPrice") + 1).head(1), day=2)
    got = catalog(sandbox_clean)
    assert got["A1"] == ("P1", "ACME", "1001", 1, 100.0, "7310000000011")  # the price feed dropped A1
    assert got["B2"] == ("P2", "BETA", "1002", 1, 205.0, None)  # only the price changed
    assert got["A2"][4] == 110.0 and "NEW9" not in got


@pytest.mark.slow
def test_sandbox_a_stale_pim_full_feed_leaves_the_erps_structure(tmp_path: Path, sandbox_clean: Any) -> None:
    settings = pim_settings(tmp_path, sandbox_clean.environ())
    erp = erp_rows().filter(pl.col("PartNo") != "B1")  # one brand per part number: case 7 alone
    pim = pim_rows(erp)
    with ConnectClient(sandbox_clean.profile(rate_limit_per_minute=100_000)) as client:
        run_day(settings, client, "erp", erp, kind="full")
        run_day(settings, client, "pim", pim, kind="full")
        run_day(settings, client, "erp", moved_to_p3(erp), kind="full", day=2)
        run_day(settings, client, "pim", pim, kind="full", day=2)  # the same day, not updated
        assert catalog(sandbox_clean)["A2"][:4] == ("P3", "ACME", "1003", 1)
        renamed = pim.with_columns(pl.lit("New name").alias("Name[sv-SE]"))
        run_day(settings, client, "pim", renamed, day=3)
        assert catalog(sandbox_clean)["A2"][:4] == ("P3", "ACME", "1003", 1)
        assert names(sandbox_clean)["P1"] == "New name"
        run_day(settings, client, "pim", moved_to_p3(renamed), day=4)  # the PIM catches up
    assert catalog(sandbox_clean)["A2"][:4] == ("P3", "ACME", "1003", 1)
    assert names(sandbox_clean)["P3"] == "New name"
    assert {s[3] for s in catalog(sandbox_clean).values()} == {1}  # nothing deactivated
