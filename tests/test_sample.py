"""The sample shop: deterministic, the promised size and shape, real-world file formats, a broken day 4,
and every feed of norce.toml loads and checks it."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from toolkit.checks import CheckResult, validate
from toolkit.config import Settings, load_settings
from toolkit.entities import SYSTEM_ACCOUNTS, get_entity
from toolkit.sample import DAYS, generate_sample
from toolkit.sample.__main__ import main
from toolkit.sources import read_source

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
IDENTITY = {"PartNo", "Code", "ManufacturerCode", "ManufacturerPartNo"}


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


@cache
def _settings() -> Settings:
    return load_settings(ROOT / "norce.toml")


@cache
def _read(feed: str, day: str) -> pl.DataFrame:
    f = _settings().feed(feed)
    return read_source(f, path=SAMPLE / day / Path(f.source).name)


@cache
def _check(feed: str, day: str) -> CheckResult:
    f = _settings().feed(feed)
    return validate(f.entity, _read(feed, day), policies=f.policies, products=_read("products-erp", day))


@cache
def _manifest() -> dict[str, Any]:
    return json.loads((SAMPLE / "manifest.json").read_text(encoding="utf-8"))


def _erp_rows(day: str, name: str) -> list[list[str]]:
    text = (SAMPLE / day / name).read_bytes().decode("cp1252")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


# --- the generator ---------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", seed=3, skus=150)
    generate_sample(tmp_path / "b", seed=3, skus=150)
    generate_sample(tmp_path / "c", seed=4, skus=150)
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert a == b
    assert a != c
    assert {f.split("/")[0] for f in a} == {*DAYS, "manifest.json"}


def test_cli_writes_the_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--seed", "7", "--skus", "80"]) == 0
    assert "80 skus" in capsys.readouterr().out
    assert len(list((tmp_path / "day4").iterdir())) == 10


@pytest.mark.slow
def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    generate_sample(tmp_path, seed=7)
    assert _files(tmp_path) == _files(SAMPLE), "regenerate: python -m toolkit.sample --out data/sample"


# --- what the shop holds ---------------------------------------------------------------------------


def test_counts_are_as_promised() -> None:
    counts = _manifest()["counts"]
    assert counts["skus"] == 2000
    assert 550 <= counts["products"] <= 650
    assert counts["variants"] > counts["products"]
    assert (counts["companies"], counts["customers"]) == (150, 400)
    assert (counts["price_lists"], counts["warehouses"]) == (3, 2)


def test_files_agree_with_the_manifest() -> None:
    erp = _read("products-erp", "day1")
    assert erp.height == 2000 and erp["Code"].n_unique() == _manifest()["counts"]["products"]
    stock = _read("stock", "day1")
    locations = stock.select("WarehouseCode", "LocationCode").unique().sort("WarehouseCode", "LocationCode")
    assert locations.rows() == [("OSLO", "MAIN"), ("STHLM", "A1"), ("STHLM", "A2")]
    assert sorted(_read("price-lists", "day1")["CurrencyCode"]) == ["NOK", "SEK", "SEK"]
    prices = _read("prices", "day1")
    assert set(prices.filter(pl.col("PriceListCode") == "SE-B2B")["QuantityBreak"]) == {1, 10, 50}
    assert _read("companies", "day1").height == 150 and _read("customers", "day1").height == 400


def test_variant_clusters_and_both_cultures() -> None:
    pim = _read("products-pim", "day1")
    per_product = pim.group_by("Code").agg(pl.col("ManufacturerPartNo").n_unique(), pl.len())
    assert per_product["ManufacturerPartNo"].max() >= 3 and per_product["len"].max() >= 8
    text = " ".join(pim["Name[sv-SE]"].to_list() + pim["Description[nb-NO]"].to_list())
    assert set("åäöæø") <= set(text)
    assert pim["MainImage"].str.starts_with("https://images.example.com/").all()
    assert pim["Categories"].list.len().min() >= 1


def test_vat_per_sales_area_with_food_rates() -> None:
    erp = _read("products-erp", "day1")
    rates = Counter(zip(erp["VatRate[Sweden]"].cast(float), erp["VatRate[Norway]"].cast(float), strict=True))
    assert set(rates) == {(25.0, 25.0), (12.0, 15.0)}


def test_two_product_feeds_split_the_columns() -> None:
    erp, pim = _read("products-erp", "day1"), _read("products-pim", "day1")
    erp_data, pim_data = (set(f.columns) - IDENTITY - {"_source", "_row"} for f in (erp, pim))
    assert set(erp.columns) >= IDENTITY and set(pim.columns) >= IDENTITY
    assert not erp_data & pim_data
    assert {"StandardPrice", "VatRate[Sweden]", "EanCode", "Status"} <= erp_data
    assert {"Name[sv-SE]", "Description[nb-NO]", "VariantName[sv-SE]", "MainImage"} <= pim_data
    assert erp.select(*IDENTITY).sort("PartNo").equals(pim.select(*IDENTITY).sort("PartNo"))


# --- how the systems export it ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["erp_products.csv", "erp_prices.csv", "erp_stock.csv"])
def test_erp_exports_are_cp1252_semicolon_crlf_decimal_comma(name: str) -> None:
    raw = (SAMPLE / "day1" / name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    header = raw.decode("cp1252").split("\r\n")[0]
    assert header.startswith("Artikelnr;") and not header.isascii()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    rows = _erp_rows("day1", name)
    assert len({len(r) for r in rows}) == 1
    if name != "erp_stock.csv":
        assert any("," in cell for cell in rows[1])


def test_other_formats() -> None:
    day = SAMPLE / "day1"
    with zipfile.ZipFile(day / "pim_products.xlsx") as book:
        assert "xl/workbook.xml" in book.namelist()
        workbook = book.read("xl/workbook.xml").decode()
    assert 'name="Produkter"' in workbook and 'name="Kategorier"' in workbook
    for name in ("crm_customers.ndjson", "crm_companies.ndjson"):
        lines = (day / name).read_text(encoding="utf-8").splitlines()
        assert all(isinstance(json.loads(line), dict) for line in lines)
    for name in ("supplier_products.json", "price_lists.json"):
        assert isinstance(json.loads((day / name).read_text(encoding="utf-8")), list)
    assert (day / "competitors.csv").read_text(encoding="utf-8").startswith("sku,source,")


def test_sample_stays_small() -> None:
    assert sum(len(b) for b in _files(SAMPLE).values()) < 3_700_000


# --- the days --------------------------------------------------------------------------------------


def test_day2_campaign_discontinuations_additions_and_a_move() -> None:
    changes = _manifest()["days"]["day2"]["changes"]
    se_b2c = _read("prices", "day2").filter(pl.col("PriceListCode") == "SE-B2C")
    campaign = se_b2c.filter(pl.col("PricePrevious").is_not_null())
    assert 0.03 <= campaign.height / se_b2c.height <= 0.07
    assert (campaign["PriceSale"] < campaign["PricePrevious"]).all()
    assert len(changes["discontinued"]) == 3 and len(changes["added"]) == 2
    codes2 = set(_read("products-erp", "day2")["Code"])
    inactive = _read("products-erp", "day2").filter(pl.col("Status") == "Inactive")["Code"].unique()
    gone = {d["Code"] for d in changes["discontinued"]} - set(inactive)
    assert len(inactive) == 2 and len(gone) == 1 and not gone & codes2
    assert set(changes["added"]) <= codes2 - set(_read("products-erp", "day1")["Code"])
    moved = changes["customer_moved"]
    before, after = (_read("customers", d).filter(pl.col("Code") == moved["Code"]) for d in DAYS[:2])
    assert (before["CompanyCode"][0], after["CompanyCode"][0]) == (moved["from"], moved["to"])


@pytest.mark.parametrize(("old", "new"), [("day1", "day2"), ("day2", "day3")])
def test_stock_moves_every_day(old: str, new: str) -> None:
    key = ["PartNo", "WarehouseCode", "LocationCode"]
    cols = [*key, "OnhandValue", "IncomingValue"]
    a, b = (_read("stock", d).select(cols) for d in (old, new))
    both = a.join(b, on=key, suffix="_new")
    moved = both.filter(
        (pl.col("OnhandValue") != pl.col("OnhandValue_new"))
        | (pl.col("IncomingValue") != pl.col("IncomingValue_new"))
    )
    assert 0.12 <= moved.height / both.height <= 0.3


def test_day3_ends_part_of_the_campaign_and_edits_texts() -> None:
    changes = _manifest()["days"]["day3"]["changes"]
    running = [_read("prices", d)["PricePrevious"].is_not_null().sum() for d in DAYS[1:3]]
    assert 0 < running[1] < running[0]
    pim2, pim3 = (_read("products-pim", d).sort("PartNo") for d in DAYS[1:3])
    edited = pim3.filter(pl.col("Description[sv-SE]") != pim2["Description[sv-SE]"])["Code"].unique()
    assert set(edited) < set(changes["texts_edited"])


def test_day4_stock_export_is_truncated() -> None:
    raw = (SAMPLE / "day4" / "erp_stock.csv").read_bytes()
    assert not raw.endswith(b"\n")
    rows3, rows4 = _erp_rows("day3", "erp_stock.csv"), _erp_rows("day4", "erp_stock.csv")
    assert 0.5 <= (len(rows4) - 1) / (len(rows3) - 1) <= 0.6
    assert len(rows4[-1]) < len(rows4[0]) == len(rows4[-2])


def test_day4_price_export_has_the_bad_rows() -> None:
    bad = _manifest()["bad_price_rows"]
    assert 5 <= len(bad) <= 8
    assert {
        "negative price",
        "unknown currency",
        "text in a numeric column",
        "duplicate key",
        "null PartNo",
    } <= {b["reason"] for b in bad}
    rows = _erp_rows("day4", "erp_prices.csv")
    by_reason = {b["reason"]: rows[b["row"]] for b in bad}
    assert by_reason["negative price"][3].startswith("-")
    assert by_reason["null PartNo"][0] == ""
    assert not by_reason["text in a numeric column"][3].replace(",", "").isdigit()


# --- the feeds of norce.toml -----------------------------------------------------------------------


def test_every_feed_has_a_system_account_and_a_file_each_day() -> None:
    feeds = _settings().feeds
    assert {f.entity for f in feeds.values()} == {
        "products",
        "sku_prices",
        "price_lists",
        "onhands",
        "relations",
        "competitor_skus",
        "customers",
        "companies",
        "supplier_products",
    }
    for feed in feeds.values():
        assert feed.account in SYSTEM_ACCOUNTS.values(), feed.name
        assert feed.policies.max_deactivation_ratio == 0.10 and feed.policies.full_every
        assert all((SAMPLE / day / Path(feed.source).name).is_file() for day in DAYS), feed.name
    assert {feeds[n].account for n in ("products-erp", "products-pim", "customers", "supplier")} == {
        SYSTEM_ACCOUNTS[a] for a in ("ERP", "PIM", "CRM", "Supplier 1")
    }


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize("feed", sorted(load_settings(ROOT / "norce.toml").feeds))
def test_every_feed_loads_every_day(feed: str, day: str) -> None:
    frame = _read(feed, day)
    entity = get_entity(_settings().feed(feed).entity)
    assert frame.height > 0
    assert set(entity.key) <= set(frame.columns)
    mapped = set(_settings().feed(feed).mapping.values())
    assert mapped <= set(frame.columns)


@pytest.mark.parametrize("day", DAYS[:3])
@pytest.mark.parametrize("feed", sorted(load_settings(ROOT / "norce.toml").feeds))
def test_days_1_to_3_pass_the_checks(feed: str, day: str) -> None:
    result = _check(feed, day)
    assert result.rejected.height == 0, result.rejected.head(5)
    assert result.warnings == []


def test_day4_prices_reject_exactly_the_bad_rows() -> None:
    bad = _manifest()["bad_price_rows"]
    expected = {b["row"] for b in bad} | {b["duplicate_of"] for b in bad if "duplicate_of" in b}
    result = _check("prices", "day4")
    assert set(result.rejected["_row"]) == expected
    assert result.valid.height == _read("prices", "day4").height - len(expected)


def test_day4_stock_rejects_the_cut_off_line() -> None:
    frame = _read("stock", "day4")
    result = _check("stock", "day4")
    assert set(result.rejected["_row"]) == {frame.height}
    assert "_error" in frame.columns
