"""Sources: every fixture format loads to the canonical frame of its twin; options; read errors."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from toolkit.config import Feed
from toolkit.errors import ConfigError, SourceError
from toolkit.sources import SourceOptions, read_source, resolve_files, scan_source

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from make_fixtures import SWEDISH  # noqa: E402

CP1252 = {"separator": ";", "encoding": "cp1252", "decimal_comma": True}


def make_feed(
    source: str | Path, fmt: str = "csv", entity: str = "sku_prices", *, root: Path = FIXTURES, **kw: Any
) -> Feed:
    return Feed(
        name="t",
        entity=entity,
        profile="sandbox",
        account=None,
        source=str(source),
        format=fmt,
        root=root,
        **kw,
    )  # type: ignore[arg-type]


def load(
    tmp_path: Path,
    text: str | bytes,
    *,
    entity: str = "sku_prices",
    fmt: str = "csv",
    name: str = "in.csv",
    **kw: Any,
) -> pl.DataFrame:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return read_source(make_feed(name, fmt, entity, root=tmp_path, **kw))


# --- twins -----------------------------------------------------------------------------------------
PRODUCT_TWINS = [
    pytest.param("products_cp1252.csv", "csv", CP1252, id="cp1252-semicolon-decimal-comma"),
    pytest.param("products_bom.csv", "csv", {"encoding": "utf-8-sig"}, id="utf8-bom"),
    pytest.param("products_bom.csv", "csv", {}, id="utf8-bom-default-encoding"),
    pytest.param("products.json", "json", {}, id="json"),
    pytest.param("products.ndjson", "ndjson", {}, id="ndjson"),
    pytest.param("catalog.xlsx", "excel", {"sheet": "Produkter"}, id="excel-sheet-name"),
    pytest.param("catalog.xlsx", "excel", {"sheet": 1}, id="excel-sheet-index"),
]


@pytest.fixture(scope="module")
def products() -> pl.DataFrame:
    return read_source(make_feed("products.csv", entity="products"))


@pytest.mark.parametrize(("name", "fmt", "options"), PRODUCT_TWINS)
def test_product_twins_load_to_the_same_canonical_frame(
    products: pl.DataFrame, name: str, fmt: str, options: dict[str, Any]
) -> None:
    got = read_source(make_feed(name, fmt, "products", options=options))
    assert_frame_equal(got.drop("_source"), products.drop("_source"))
    assert got["_source"].unique().to_list() == [name]


def test_products_reference_frame_has_canonical_types_and_values(products: pl.DataFrame) -> None:
    row = products.row(0, named=True)
    assert products.schema["StandardPrice"] == pl.Decimal(18, 4)
    assert products.schema["VatRate[Sweden]"] == pl.Decimal(9, 4)
    assert products.schema["Categories"] == pl.List(pl.String)
    assert row["Name[sv-SE]"] == "Vinterjacka Åre" and row["ManufacturerName"] == "Fjällräven"
    assert row["Categories"] == ["jackor", "ytterkläder"]
    assert str(row["StandardPrice"]) == "1499.5000" and row["EanCode"] == "7310000000011"
    assert row["IsDangerousGoods"] is False and row["Status"] == "Active"
    assert products["_row"].to_list() == [1, 2, 3, 4]
    assert not [c for c in products.columns if c.startswith("_raw_")]


PRICE_TWINS = [
    pytest.param(
        "prices_cp1252.csv",
        "csv",
        CP1252,
        {v: k for k, v in SWEDISH.items()},
        id="cp1252-mapped-swedish-headers",
    ),
    pytest.param("prices.parquet", "parquet", {}, {}, id="parquet"),
    pytest.param("catalog.xlsx", "excel", {"sheet": 2}, {}, id="excel-third-sheet"),
]


@pytest.mark.parametrize(("name", "fmt", "options", "mapping"), PRICE_TWINS)
def test_price_twins_load_to_the_same_canonical_frame(
    name: str, fmt: str, options: dict[str, Any], mapping: dict[str, str]
) -> None:
    expected = read_source(make_feed("prices.csv"))
    got = read_source(make_feed(name, fmt, options=options, mapping=mapping))
    assert_frame_equal(got.drop("_source"), expected.drop("_source"))


def test_read_source_is_scan_source_collected_without_empty_shadows() -> None:
    feed = make_feed("prices.csv")
    scanned = scan_source(feed).collect()
    assert scanned["_raw_PriceSale"].to_list() == ["1499.50", "1399.00", "1499.50", "119.00"]
    assert_frame_equal(scanned.select(read_source(feed).columns), read_source(feed))


def test_scanned_and_read_frames_validate_alike(tmp_path: Path) -> None:
    from toolkit.checks import validate
    from toolkit.config import Policies

    (tmp_path / "p.csv").write_text("PartNo,PriceListCode,PriceSale\nA,SE,gratis\nB,SE,\nC,SE,3\n")
    feed = make_feed("p.csv", root=tmp_path)
    results = [
        validate("sku_prices", f, policies=Policies(max_reject_ratio=1))
        for f in (scan_source(feed).collect(), read_source(feed))
    ]
    found = [r.rejected.select("_row", "check", "value").rows() for r in results]
    assert found == [[(1, "parse", "gratis")]] * 2


# --- options and conversions -----------------------------------------------------------------------
def test_booleans_enums_and_blank_quantity_break(tmp_path: Path) -> None:
    text = (
        "PartNo,PriceListCode,QuantityBreak,IsActive,PriceRule\n"
        "A,SE,,JA,2\nB,SE, 5 ,nej,fixedprice\nC,SE,1,Y,007\nD,SE,1,n,Bogus\nE,SE,1,,\n"
    )
    frame = load(tmp_path, text)
    assert frame["QuantityBreak"].to_list() == [1, 5, 1, 1, 1]
    assert frame["IsActive"].to_list() == [True, False, True, False, None]
    assert frame["PriceRule"].to_list() == [
        "FixedPrice",
        "FixedPrice",
        "UseStandardPrice_PctDiscount",
        "Bogus",
        None,
    ]


def test_absent_quantity_break_means_one(tmp_path: Path) -> None:
    frame = load(tmp_path, "PartNo,PriceListCode\nA,SE\n")
    assert frame["QuantityBreak"].to_list() == [1]


def test_decimal_comma_with_thousands_separator_and_whole_numbers(tmp_path: Path) -> None:
    text = "PartNo;PriceListCode;QuantityBreak;PriceSale\nA;SE;5,00;1 234,50\nB;SE;2,5;0,1\n"
    frame = load(tmp_path, text, options={"separator": ";", "decimal_comma": True, "thousands": " "})
    assert [str(v) for v in frame["PriceSale"]] == ["1234.5000", "0.1000"]
    assert frame["QuantityBreak"].to_list() == [5, None]
    assert frame["_raw_QuantityBreak"].to_list() == [None, "2,5"]  # the text as the file has it


def test_empty_strings_kept_when_empty_as_null_is_false(tmp_path: Path) -> None:
    text = 'PartNo,PriceListCode,CurrencyCode\nA,SE,"  "\nB,SE,\n'
    assert load(tmp_path, text)["CurrencyCode"].to_list() == [None, None]
    kept = load(tmp_path, text, options={"empty_as_null": False})["CurrencyCode"]
    assert kept.to_list() == ["", ""]


def test_skip_rows_and_quote_char(tmp_path: Path) -> None:
    text = "Export 2024-05-01\n\nPartNo|PriceListCode|CurrencyCode\n'A|1'|SE|SEK\n"
    frame = load(tmp_path, text, options={"separator": "|", "quote_char": "'", "skip_rows": 2})
    assert frame.select("PartNo", "_row").rows() == [("A|1", 1)]


@pytest.mark.parametrize("chunk", [7, 1 << 25])
def test_short_rows_are_flagged_after_skipped_lines_and_across_chunks(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolkit._readers as readers

    monkeypatch.setattr(readers._line_chunks, "__defaults__", (chunk,))  # many tiny chunks, or one
    text = (
        "Export 2024-05-01\nshort,line\nPartNo;PriceListCode;CurrencyCode\nA;SE;SEK\nB;SE\n"
        "C;SE;SEK\nD\nE;SE;SEK"
    )
    frame = load(tmp_path, text, options={"separator": ";", "skip_rows": 2})
    flagged = frame.filter(pl.col("_error").is_not_null()).select("_row", "PartNo", "_error").rows()
    assert flagged == [
        (2, "B", "the row has 2 of 3 fields: some are missing"),
        (4, "D", "the row has 1 of 3 fields: some are missing"),
    ]


def test_culture_option_qualifies_bare_culture_columns(tmp_path: Path) -> None:
    text = "PartNo,Name,VatRate[sweden]\nA,Jacka,25\n"
    frame = load(tmp_path, text, entity="products", options={"culture": "sv-SE"})
    assert frame.columns == ["_source", "_row", "Name[sv-SE]", "PartNo", "VatRate[Sweden]"]


def test_date_format_and_datetime_text(tmp_path: Path) -> None:
    text = "PartNo,WarehouseCode,LocationCode,NextDeliveryDate\nA,W,L,2024-05-01T00:00:00\n"
    assert str(load(tmp_path, text, entity="onhands")["NextDeliveryDate"][0]) == "2024-05-01"
    text = "PartNo,WarehouseCode,LocationCode,NextDeliveryDate\nA,W,L,01.05.2024\n"
    frame = load(tmp_path, text, entity="onhands", options={"date_format": "%d.%m.%Y"})
    assert str(frame["NextDeliveryDate"][0]) == "2024-05-01"


def test_extra_columns_are_dropped_with_a_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="toolkit.sources"):
        frame = load(tmp_path, "PartNo,PriceListCode,Lagerplats,PriceSale\nA,SE,X,1\n")
    assert "Lagerplats" not in frame.columns and frame.height == 1
    assert "'Lagerplats' is not a column of sku_prices; dropped" in caplog.text


def test_mapping_wins_over_a_same_named_column(tmp_path: Path) -> None:
    text = "PartNo,Artikel,PriceListCode\nold,new,SE\n"
    frame = load(tmp_path, text, mapping={"Artikel": "PartNo"})
    assert frame["PartNo"].to_list() == ["new"]


def test_glob_pick_newest_and_all(tmp_path: Path) -> None:
    for i, name in enumerate(["b.csv", "a.csv"]):
        path = tmp_path / name
        path.write_text(f"PartNo,PriceListCode\n{name},SE\n")
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    newest = read_source(make_feed("*.csv", root=tmp_path))
    assert newest["_source"].to_list() == ["a.csv"]
    both = read_source(make_feed("*.csv", root=tmp_path, options={"pick": "all"}))
    assert both.select("_source", "_row", "PartNo").rows() == [("a.csv", 1, "a.csv"), ("b.csv", 1, "b.csv")]
    assert [p.name for p in resolve_files(tmp_path / "*.csv", pick="all")] == ["a.csv", "b.csv"]


def test_path_argument_overrides_the_feed_source(tmp_path: Path) -> None:
    (tmp_path / "other.csv").write_text("PartNo,PriceListCode\nZ,SE\n")
    frame = read_source(make_feed("prices.csv"), path=tmp_path / "other.csv")
    assert frame["PartNo"].to_list() == ["Z"]


def test_empty_json_array_gives_an_empty_frame(tmp_path: Path) -> None:
    frame = load(tmp_path, "[]", fmt="json", name="in.json")
    assert frame.height == 0 and {"PartNo", "PriceListCode", "QuantityBreak"} <= set(frame.columns)


def test_lossy_utf8_only_when_asked(tmp_path: Path) -> None:
    text = b"PartNo,PriceListCode\nK\xe4se,SE\n"
    frame = load(tmp_path, text, options={"encoding": "utf8-lossy"})
    assert frame["PartNo"].to_list() == ["K\ufffdse"]


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"unknown option\(s\) delimiter"):
        SourceOptions.from_mapping({"delimiter": ";"})
    with pytest.raises(ConfigError, match="pick expected 'newest' or 'all'"):
        SourceOptions.from_mapping({"pick": "oldest"})
    with pytest.raises(ConfigError, match="option skip_rows expected int, found '2'"):
        SourceOptions.from_mapping({"skip_rows": "2"})
    with pytest.raises(ConfigError, match="option decimal_comma expected bool, found 1"):
        SourceOptions.from_mapping({"decimal_comma": 1})
    with pytest.raises(ConfigError, match="separator and quote_char must be one character"):
        SourceOptions.from_mapping({"separator": ";;"})
    with pytest.raises(ConfigError, match="unknown encoding 'klingon'"):
        read_source(make_feed("prices.csv", options={"encoding": "klingon"}))


def test_missing_file_and_unmatched_glob(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.csv: no such file"):
        read_source(make_feed("nope.csv", root=tmp_path))
    with pytest.raises(SourceError, match=r"no file matches '.*/\*\.csv'"):
        read_source(make_feed("*.csv", root=tmp_path))


def test_excel_text_cells_stay_text_and_numbers_keep_their_digits(tmp_path: Path) -> None:
    import xlsxwriter

    with xlsxwriter.Workbook(tmp_path / "p.xlsx") as wb:
        sheet = wb.add_worksheet()
        sheet.write_row(0, 0, ["PartNo", "EanCode", "Name[sv-SE]", "UnitOfMeasurementCount"])
        sheet.write_string(1, 0, "=1+1")  # text that looks like a formula, not a formula
        sheet.write_number(1, 1, 7310000000011)
        sheet.write_string(1, 2, "=SUMMA(A1)")
        sheet.write_number(1, 3, 6)
        sheet.write_string(2, 0, "B")  # a row with only a key
    frame = read_source(make_feed("p.xlsx", "excel", "products", root=tmp_path))
    assert frame.select("_row", "PartNo", "EanCode", "Name[sv-SE]", "UnitOfMeasurementCount").rows() == [
        (1, "=1+1", "7310000000011", "=SUMMA(A1)", 6),
        (2, "B", None, None, None),
    ]


def test_documented_products_example_loads_and_passes_the_checks() -> None:
    from toolkit.checks import validate

    root = Path(__file__).parent.parent
    frame = read_source(make_feed("data/examples/products-flat.csv", entity="products", root=root))
    result = validate("products", frame)
    assert (frame.height, result.summary["valid"]) == (5, 5)
    assert frame.select(pl.col("Code").n_unique(), pl.col("ManufacturerPartNo").n_unique()).row(0) == (3, 4)
