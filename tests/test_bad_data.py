"""Bad data never reaches Norce silently: one test per kind of bad export (the corpus of
tests/fixtures/bad/, written by its make_bad.py), and the invariants every one of them keeps.

Through ``norce-feeds plan``: an error is one line naming the file and the problem (exit 1 or 2), a
refusal says which flags override it (exit 3), never a traceback; rejected rows are written with their
row, column, value and reason.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.settings import feed as feed_table
from fixtures.settings import write_settings

from toolkit.checks import CheckResult, validate
from toolkit.cli import EXIT_CHECKS, EXIT_GUARD, EXIT_OK, main
from toolkit.config import Feed, Policies, Settings
from toolkit.errors import SourceError
from toolkit.feeds import plan_feed
from toolkit.snapshots import SnapshotStore
from toolkit.sources import read_source

BAD = Path(__file__).parent / "fixtures" / "bad"
LENIENT = Policies(max_reject_ratio=1.0)
FORMATS = {"csv": "csv", "parquet": "parquet", "json": "json", "xlsx": "excel"}


def source_feed(name: str, entity: str = "onhands", **kw: Any) -> Feed:
    return Feed(
        name="t",
        entity=entity,
        profile="sandbox",
        account=None,
        source=name,
        format=FORMATS[name.rsplit(".", 1)[1]],
        root=BAD,
        **kw,
    )  # type: ignore[arg-type]


def check(name: str, entity: str = "onhands", **kw: Any) -> CheckResult:
    return validate(entity, read_source(source_feed(name, entity, **kw)), policies=LENIENT)


def rejected(result: CheckResult) -> list[tuple[int, str, str, str]]:
    return result.rejected.select("_row", "column", "value", "reason").rows()


def settings_for(
    root: Path, entity: str, *, options: str = "", policies: str = "", ext: str = "csv"
) -> Settings:
    """norce.toml with one feed ``f`` of ``entity`` reading ``src/in.<ext>`` (copied in by `run`)."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    table = feed_table("f", entity, f"src/in.{ext}") + (f"options = {options}\n" if options else "")
    table += f"[feeds.f.policies]\n{policies}\n" if policies else ""
    return write_settings(root, table)


def run(
    settings: Settings, name: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    """``norce-feeds plan f`` with corpus file ``name`` as the feed's source; (exit, stdout, stderr)."""
    src = settings.path.parent / "src"
    for old in src.glob("in.*"):
        old.unlink()
    shutil.copyfile(BAD / name, src / f"in.{name.rsplit('.', 1)[1]}")
    code = main(["plan", "f", "--settings", str(settings.path), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def baseline(settings: Settings, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Plan ``name`` and promote its snapshot: the feed's baseline (as after a successful send)."""
    assert run(settings, name, capsys)[0] == EXIT_OK
    plan = plan_feed(settings, "f")
    assert plan.snapshot is not None
    SnapshotStore(settings.state_dir / "snapshots").promote(plan.snapshot)


def one_error_line(err: str, *names: str) -> str:
    """The single ``error:`` line of stderr, which names each of ``names``; no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert all(name in lines[0] for name in names), lines[0]
    return lines[0]


# --- 1. schema drift --------------------------------------------------------------------------------
def test_a_renamed_column_stops_the_feed_instead_of_clearing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, "products")
    baseline(settings, "products_day1.csv", capsys)
    code, _, err = run(settings, "products_drift.csv", capsys)
    assert code == EXIT_CHECKS
    line = one_error_line(err, "in.csv", "StandardPrice", "drop_columns")
    assert "SourceError" not in line and "mapping" in line


def test_drop_columns_retires_a_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path, "products", options='{ drop_columns = ["Standard Price"] }')
    baseline(settings, "products_day1.csv", capsys)
    settings = settings_for(tmp_path, "products", options='{ drop_columns = ["StandardPrice"] }')
    code, _, err = run(settings, "products_drift.csv", capsys)
    assert code == EXIT_OK, err


# --- 2. a cut-off file ------------------------------------------------------------------------------
def test_a_cut_off_file_is_refused_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path, "onhands", policies="max_reject_ratio = 0.1")
    baseline(settings, "stock_day1.csv", capsys)
    code, out, err = run(settings, "stock_cut_off.csv", capsys)  # 1 of 20 items would go: under the ratio
    assert code == EXIT_GUARD and "plan written" not in out
    one_error_line(err, "in.csv", "row 19", "cut off", "--allow-mass-deactivation --reason")
    code, out, err = run(settings, "stock_cut_off.csv", capsys, "--allow-mass-deactivation", "--reason", "ok")
    assert code == EXIT_OK and "the 2 rejected rows" in out  # the cut line, held at its baseline values


@pytest.mark.parametrize(
    ("policy", "said"),
    [("min_rows = 15", "fewer than the feed's min_rows 15"), ("min_ratio = 0.9", "70% of the baseline's 20")],
)
def test_fewer_rows_than_the_policy_allows_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: str, said: str
) -> None:
    settings = settings_for(tmp_path, "onhands", policies=f"max_deactivation_ratio = 0.5\n{policy}")
    baseline(settings, "stock_day1.csv", capsys)
    code, _, err = run(settings, "stock_fewer_rows.csv", capsys)
    assert code == EXIT_GUARD
    one_error_line(err, "in.csv", said, "looks cut off")


# --- 3. mojibake and encodings ----------------------------------------------------------------------
def test_utf8_read_as_cp1252_is_an_encoding_error() -> None:
    with pytest.raises(SourceError) as info:
        read_source(source_feed("stock_utf8.csv", options={"encoding": "cp1252"}))
    assert str(info.value) == (
        f"{BAD / 'stock_utf8.csv'}: line 2: 'JACKA-1-RÃ–D-M' is UTF-8 text read as "
        "cp1252 (it should read 'JACKA-1-RÖD-M'); set the feed option "
        'encoding = "utf-8"'
    )


def test_text_mangled_before_export_is_an_encoding_error() -> None:
    with pytest.raises(SourceError, match=r"stock_mojibake\.csv: line 2: 'JACKA-1-RÃ–D-M' is mojibake"):
        read_source(source_feed("stock_mojibake.csv"))


def test_an_undecodable_header_is_not_blamed_on_the_mapping() -> None:
    mapping = {
        "Artikel": "PartNo",
        "Lager": "WarehouseCode",
        "Lagerställe": "LocationCode",
        "Saldo": "OnhandValue",
    }
    with pytest.raises(
        SourceError,
        match=r"stock_cp1252\.csv: line 1: byte 0xE4 is not valid utf-8; set "
        r"the feed option encoding",
    ):
        read_source(source_feed("stock_cp1252.csv", mapping=mapping))


# --- 4. control characters --------------------------------------------------------------------------
def test_control_characters_reject_their_rows() -> None:
    result = check("stock_control_chars.csv")
    assert [(row, column, reason.split(" holds ")[1]) for row, column, _, reason in rejected(result)] == [
        (2, "PartNo", "the control character U+0000 (shown as \ufffd); fix the export"),
        (6, "LocationCode", "the control character U+0007 (shown as \ufffd); fix the export"),
    ]
    assert result.valid.height == 8


# --- 5. ambiguous numbers ---------------------------------------------------------------------------
def test_a_point_in_a_decimal_comma_column_is_ambiguous_and_the_reverse() -> None:
    comma = check("prices_decimal_comma.csv", "sku_prices", options={"separator": ";", "decimal_comma": True})
    assert [(r[0], r[2]) for r in rejected(comma)] == [(2, "1.399")]
    assert "is ambiguous" in rejected(comma)[0][3]
    assert comma.valid["PriceSale"].to_list() == [Decimal("12.5"), Decimal("1399"), Decimal("0.99")]
    point = check("prices_point.csv", "sku_prices", options={"separator": ";"})
    assert [(r[0], r[2]) for r in rejected(point)] == [(2, "1,399")]
    assert "is ambiguous" in rejected(point)[0][3]


def test_no_break_spaces_are_thousands_separators_where_the_feed_says_so() -> None:
    options = {"separator": ";", "decimal_comma": True, "thousands": " "}
    result = check("prices_thousands.csv", "sku_prices", options=options)
    assert result.valid["PriceSale"].to_list() == [Decimal("1399.5"), Decimal("12999"), Decimal("1000000.25")]
    assert [(r[0], r[2]) for r in rejected(result)] == [(4, "1\u00a039,50")]  # not groups of three


# --- 6. Excel-mangled identifiers, Excel dates ------------------------------------------------------
def test_identifiers_in_scientific_notation_are_rejected() -> None:
    result = check("products_sci_ean.csv", "products")
    assert [(r[0], r[1], r[2]) for r in rejected(result)] == [
        (2, "EanCode", "7.31E+12"),
        (4, "EanCode", "7.310000000042e12"),
    ]
    assert "scientific notation" in rejected(result)[0][3]


def test_date_cells_and_text_dates_in_one_column_are_dates() -> None:
    result = check("price_lists_dates.xlsx", "price_lists", options={"date_format": "%d.%m.%Y"})
    assert result.valid["StartDate"].to_list() == [
        dt.date(2024, 3, 1),
        dt.date(2024, 4, 15),
        dt.date(2024, 5, 31),
        dt.date(2024, 6, 1),
    ]


# --- 7. truncation and overflow ---------------------------------------------------------------------
def test_fractions_are_not_truncated_to_whole_numbers() -> None:
    stock = check("stock_float.parquet")
    assert rejected(stock) == [(2, "OnhandValue", "5.5", "'5.5' is not a whole number")]
    assert stock.valid["OnhandValue"].to_list() == [5, 7]
    breaks = check("prices_float_break.json", "sku_prices")
    assert rejected(breaks) == [(1, "QuantityBreak", "1.5", "'1.5' is not a whole number")]


def test_whole_numbers_outside_connects_int_are_rejected() -> None:
    result = check("stock_numbers.csv")
    assert [(r[0], r[2]) for r in rejected(result)] == [(3, "5.5"), (4, "3000000000"), (5, "-2147483649")]
    assert "outside Connect's int range" in rejected(result)[1][3]


# --- 9. duplicates ----------------------------------------------------------------------------------
def test_identical_rows_collapse_with_a_note_and_conflicting_ones_stay_rejected() -> None:
    result = check("stock_duplicates.csv")
    assert result.valid.height == 9 and result.valid["PartNo"].n_unique() == 9
    assert [r[0] for r in rejected(result)] == [7, 12]  # SKU-0007 twice, with different stock
    assert any("1 row(s) repeat an earlier row exactly" in w and "row 11" in w for w in result.warnings)


# --- Also -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("stock_really.xlsx.csv", 'an Excel workbook (.xlsx), not csv text; set format = "excel"'),
        ("stock_zipped.csv", "a ZIP archive, not csv text"),
    ],
)
def test_a_binary_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, said: str
) -> None:
    code, _, err = run(settings_for(tmp_path, "onhands"), name, capsys)
    assert code == EXIT_CHECKS
    one_error_line(err, "in.csv: line 1: the file is", said)
    assert len(err) < 300


def test_a_row_with_too_many_fields_is_rejected_like_a_short_one() -> None:
    result = check("stock_ragged.csv")
    assert [(r[0], r[3]) for r in rejected(result) if r[1] == ""] == [
        (
            5,
            "the row has 5 fields, the header 4: a separator too many (an unquoted separator in a text "
            "field?)",
        ),
        (10, "the row has 2 of 4 fields: some are missing"),
    ]
    assert result.valid.height == 18


def test_a_header_only_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path, "onhands")
    baseline(settings, "stock_day1.csv", capsys)
    code, _, err = run(settings, "stock_header_only.csv", capsys)
    assert code == EXIT_GUARD
    one_error_line(err, "in.csv: no data rows", "--allow-mass-deactivation --reason TEXT")


def test_guard_refusals_speak_in_cli_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path, "onhands")
    baseline(settings, "stock_day1.csv", capsys)
    code, _, err = run(settings, "stock_fewer_rows.csv", capsys)  # 6 of 20 would be deactivated
    assert code == EXIT_GUARD
    line = one_error_line(err, "would deactivate 6 of 20", "add --allow-mass-deactivation --reason TEXT")
    assert "allow_mass_deactivation=True" not in line


# --- invariants -------------------------------------------------------------------------------------
def test_valid_rows_are_never_dropped_or_altered() -> None:
    result = check("products_sci_ean.csv", "products")
    rows = result.valid.select(
        "Code", "ManufacturerCode", "ManufacturerPartNo", "PartNo", "EanCode", "StandardPrice"
    ).rows()
    assert rows == [
        ("JACKA-1", "FJALL", "JACKA-1-RÖD", "JACKA-1-RÖD-M", "7310000000011", Decimal("1499.5")),
        ("BLÅBÄR", "SØRLI", "BLÅBÄR-ÆØ", "00042", "0073100000035", Decimal("0.1")),
    ]


CORPUS = {  # file: (entity, options as TOML)
    "stock_cut_off.csv": ("onhands", ""),
    "stock_ragged.csv": ("onhands", ""),
    "stock_header_only.csv": ("onhands", ""),
    "stock_duplicates.csv": ("onhands", ""),
    "stock_control_chars.csv": ("onhands", ""),
    "stock_numbers.csv": ("onhands", ""),
    "stock_float.parquet": ("onhands", ""),
    "prices_float_break.json": ("sku_prices", ""),
    "stock_utf8.csv": ("onhands", '{ encoding = "cp1252" }'),
    "stock_mojibake.csv": ("onhands", ""),
    "stock_cp1252.csv": ("onhands", ""),
    "prices_decimal_comma.csv": ("sku_prices", '{ separator = ";", decimal_comma = true }'),
    "prices_point.csv": ("sku_prices", '{ separator = ";" }'),
    "prices_thousands.csv": ("sku_prices", '{ separator = ";", decimal_comma = true, thousands = " " }'),
    "products_sci_ean.csv": ("products", ""),
    "products_drift.csv": ("products", ""),
    "price_lists_dates.xlsx": ("price_lists", '{ date_format = "%d.%m.%Y" }'),
    "stock_really.xlsx.csv": ("onhands", ""),
    "stock_zipped.csv": ("onhands", ""),
}


@pytest.mark.parametrize("name", CORPUS)
def test_plan_on_every_corpus_file_exits_as_documented(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    entity, options = CORPUS[name]
    settings = settings_for(
        tmp_path, entity, options=options, policies="max_reject_ratio = 1.0", ext=name.rsplit(".", 1)[1]
    )
    code, out, err = run(settings, name, capsys)
    assert code in (0, 1, 2, 3) and "Traceback" not in out + err
    if code:  # an error names the file; a refusal of the guard names the feed
        one_error_line(err, "in." if code in (1, 2) else "feed 'f'")
        return
    plan_dir = Path(out.split("plan written to ")[1].split("\n")[0])
    found = pl.read_parquet(plan_dir / "rejected.parquet")
    if found.height:
        assert f"the {found.height} rejected rows, with their reasons: {plan_dir / 'rejected.parquet'}" in out
        assert {"_row", "column", "value", "reason"} <= set(found.columns)
        assert found["reason"].null_count() == 0 and found["_row"].null_count() == 0


def test_the_rejected_rows_file_names_row_column_value_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, "onhands", policies="max_reject_ratio = 1.0")
    code, out, _ = run(settings, "stock_numbers.csv", capsys)
    assert code == EXIT_OK
    path = Path(out.split("with their reasons: ")[1].split("\n")[0])
    rows = pl.read_parquet(path).select("_row", "column", "value", "reason").rows()
    assert rows[1] == (
        4,
        "OnhandValue",
        "3000000000",
        "'3000000000' is outside Connect's int range (-2147483648 to 2147483647)",
    )
