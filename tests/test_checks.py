"""Checks: the bad-input corpus end to end (file -> read_source -> validate), rules, policies, gaps."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from toolkit.checks import ISO_4217, REJECTED_SCHEMA, CheckResult, schema_for, validate
from toolkit.config import Feed, Policies
from toolkit.errors import CheckFailed, SourceError
from toolkit.sources import read_source

LENIENT = Policies(max_reject_ratio=1.0)
PRICES = "PartNo,PriceListCode,QuantityBreak,PriceSale,CurrencyCode\n"
STOCK = "PartNo,WarehouseCode,LocationCode,OnhandValue,NextDeliveryDate,IsActive\n"
PRODUCTS = "Code,ManufacturerCode,ManufacturerPartNo,PartNo,Name[sv-SE],Status,VariantName[sv-SE]\n"


@dataclass(frozen=True)
class Case:
    """One bad input: the file, and either the error it raises or the rows it rejects."""

    text: str | bytes
    entity: str = "sku_prices"
    fmt: str = "csv"
    options: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # regex of the SourceError message
    rejected: frozenset[tuple[int, str, str]] = frozenset()  # (_row, column, check)
    valid: tuple[str, ...] = ()  # PartNo of the rows that still load and pass
    value: str | None = None  # the value reported for the first rejected problem


def rejects(*items: tuple[int, str, str]) -> frozenset[tuple[int, str, str]]:
    return frozenset(items)


KEY = "PartNo, PriceListCode, QuantityBreak"
CORPUS = {
    "duplicate-keys-all-rejected": Case(
        PRICES + "A,SE,1,10,SEK\nB,SE,1,11,SEK\nA,SE,1,12,SEK\nA,SE,2,12,SEK\n",
        rejected=rejects((1, KEY, "unique_key"), (3, KEY, "unique_key")),
        valid=("B", "A"),
        value="A|SE|1",
    ),
    "null-key": Case(
        PRICES + "A,SE,1,10,SEK\n,SE,1,10,SEK\n", rejected=rejects((2, "PartNo", "not_null")), valid=("A",)
    ),
    "negative-price": Case(
        PRICES + "A,SE,1,-5,SEK\nB,SE,1,5,SEK\n",
        rejected=rejects((1, "PriceSale", "ge")),
        valid=("B",),
        value="-5",
    ),
    "text-in-numeric-column": Case(
        PRICES + "A,SE,1,gratis,SEK\nB,SE,1,5,SEK\n",
        rejected=rejects((1, "PriceSale", "parse")),
        valid=("B",),
        value="gratis",
    ),
    "text-in-key-column-reported-once": Case(
        PRICES + "A,SE,två,5,SEK\nB,SE,1,5,SEK\n",
        rejected=rejects((1, "QuantityBreak", "parse")),
        valid=("B",),
        value="två",
    ),
    "fraction-in-integer-column": Case(
        STOCK + "A,W,L,2.5,,\nB,W,L,3.0,,\n",
        entity="onhands",
        rejected=rejects((1, "OnhandValue", "parse")),
        valid=("B",),
        value="2.5",
    ),
    "bad-date": Case(
        STOCK + "A,W,L,1,2024-02-30,\nB,W,L,1,2024-02-29,\n",
        entity="onhands",
        rejected=rejects((1, "NextDeliveryDate", "parse")),
        valid=("B",),
        value="2024-02-30",
    ),
    "bad-boolean": Case(
        STOCK + "A,W,L,1,,kanske\nB,W,L,1,,Ja\n",
        entity="onhands",
        rejected=rejects((1, "IsActive", "parse")),
        valid=("B",),
        value="kanske",
    ),
    "unknown-status": Case(
        PRODUCTS + "P,M,P,P1,Jacka,Vintage,Röd\nQ,M,Q,Q1,Byxa,5,Blå\n",
        entity="products",
        rejected=rejects((1, "Status", "one_of")),
        valid=("Q1",),
        value="Vintage",
    ),
    "too-long-name": Case(
        PRODUCTS + f"P,M,P,P1,{'x' * 256},Active,Röd\nQ,M,Q,Q1,Byxa,1,Blå\n",
        entity="products",
        rejected=rejects((1, "Name[sv-SE]", "max_length")),
        valid=("Q1",),
    ),
    "wrong-currency": Case(
        PRICES + "A,SE,1,5,SEKK\nB,SE,1,5,sek\nC,SE,1,5,NOK\n",
        rejected=rejects((1, "CurrencyCode", "currency"), (2, "CurrencyCode", "currency")),
        valid=("C",),
    ),
    "bad-culture-qualifier": Case(
        "PartNo,Name[sv_SE]\nA,Jacka\nB,\n",
        entity="products",
        rejected=rejects((1, "Name[sv_SE]", "culture_code")),
        valid=("B",),
        value="sv_SE",
    ),
    "bad-sales-area-qualifier": Case(
        "PartNo,VatRate[Sverige]\nA,25\n",
        entity="products",
        rejected=rejects((1, "VatRate[Sverige]", "sales_area")),
    ),
    "vat-above-100": Case(
        "PartNo,VatRate[Sweden]\nA,250\nB,25\n",
        entity="products",
        rejected=rejects((1, "VatRate[Sweden]", "le")),
        valid=("B",),
    ),
    "image-not-a-url": Case(
        "PartNo,MainImage\nA,www.example.com/a.jpg\nB,https://example.com/b.jpg\n",
        entity="products",
        rejected=rejects((1, "MainImage", "url")),
        valid=("B",),
    ),
    "product-level-disagreement": Case(
        PRODUCTS + "P,M,P-R,P1,Jacka,Active,Röd\nP,M,P-B,P2,Jacka!,Active,Blå\nQ,M,Q,Q1,Byxa,1,Blå\n",
        entity="products",
        valid=("Q1",),
        rejected=rejects((1, "Name[sv-SE]", "consistent_product"), (2, "Name[sv-SE]", "consistent_product")),
    ),
    "variant-level-disagreement": Case(
        PRODUCTS + "P,M,P-R,P1,Jacka,Active,Röd\nP,M,P-R,P2,Jacka,Active,Rosa\n",
        entity="products",
        rejected=rejects(
            (1, "VariantName[sv-SE]", "consistent_variant"), (2, "VariantName[sv-SE]", "consistent_variant")
        ),
    ),
    "variant-in-two-products": Case(
        PRODUCTS + "P,M,X,P1,Jacka,Active,Röd\nQ,M,X,Q1,Byxa,Active,Röd\n",
        entity="products",
        rejected=rejects((1, "Code", "consistent_variant"), (2, "Code", "consistent_variant")),
    ),
    "truncated-last-line": Case(
        PRICES + "A,SE,1,5,SEK\nB,SE,1,5,SEK\nC,SE,1", rejected=rejects((3, "", "source")), valid=("A", "B")
    ),
    "short-row-mid-file": Case(
        PRICES + "A,SE,1,5,SEK\nB,SE,1\nC,SE,1,5,SEK\n", rejected=rejects((2, "", "source")), valid=("A", "C")
    ),
    "short-row-with-crlf-and-blank-line": Case(
        PRICES + "A,SE,1,5,SEK\r\nB,SE\r\n\r\nC,SE,1,5,SEK\r\n",
        rejected=rejects((2, "", "source"), (3, "PartNo", "not_null"), (3, "PriceListCode", "not_null")),
        valid=("A", "C"),
    ),
    "quoted-line-breaks-are-not-short-rows": Case(
        PRICES + 'A,SE,1,5,SEK\n"B\nline two",SE,1,5,SEK\nC,SE,1,5,SEK\n', valid=("A", "B\nline two", "C")
    ),
    "header-only": Case(PRICES),
    "empty-file": Case("", error=r"in\.csv: the file is empty; expected a header line"),
    "missing-mapped-column": Case(
        "Artikel,Prislista\nA,SE\n",
        mapping={"Artikel": "PartNo", "Lista": "PriceListCode"},
        error=r"mapped column\(s\) 'Lista' not in the file; available: 'Artikel', 'Prislista'",
    ),
    "missing-key-column": Case(
        "PartNo,PriceSale\nA,5\n",
        error=r"key column\(s\) 'PriceListCode' of sku_prices missing; "
        r"available: 'PartNo', 'PriceSale'",
    ),
    "extra-columns": Case("PartNo,PriceListCode,Färg,Vikt\nA,SE,röd,2\n", valid=("A",)),
    "wrong-encoding": Case(
        "PartNo,PriceListCode\nA,SE\nKäse,SE\n".encode("cp1252"),
        error=r"line 3: byte 0xE4 is not valid utf-8; set the feed option "
        r"encoding .*cp1252",
    ),
    "undecodable-cp1252": Case(
        b"PartNo,PriceListCode\nA,SE\nB\x81,SE\n",
        options={"encoding": "cp1252"},
        error=r"line 3: byte 0x81 is not valid cp1252.*latin-1",
    ),
    "latin-1-decodes-everything": Case(
        "PartNo;PriceListCode\nÖl;SE\n".encode("latin-1"),
        options={"encoding": "latin-1", "separator": ";"},
        valid=("Öl",),
    ),
    "quoted-separators": Case(
        'PartNo;PriceListCode;CurrencyCode\n"A;1";SE;SEK\n"B ""x""";SE;SEK\n',
        options={"separator": ";"},
        valid=("A;1", 'B "x"'),
    ),
    "formula-looking-cells-kept-as-text": Case(
        PRICES + "=1+1,SE,1,5,SEK\n@SUM(A1),SE,1,5,SEK\n", valid=("=1+1", "@SUM(A1)")
    ),
    "too-many-fields": Case(
        PRICES + "A,SE,1,5,SEK\nB,SE,1,5,SEK,extra\n",  # rejected like a short row
        rejected=rejects((2, "", "source")),
        valid=("A",),
    ),
    "unterminated-quote": Case(
        PRICES + 'A,SE,1,5,SEK\n"B,SE,1,5,SEK\n', error=r"line 3: .*unterminated quote"
    ),
    "json-syntax-error": Case(
        '[{"PartNo": "A", "PriceListCode": "SE"},\n {"PartNo": "B",}]',
        fmt="json",
        error=r"line 2: .*expected valid JSON",
    ),
    "json-not-an-array": Case('{"PartNo": "A"}', fmt="json", error=r"line 1: expected a JSON array"),
    "ndjson-bad-line": Case(
        '{"PartNo": "A", "PriceListCode": "SE"}\n{"PartNo": "B"\n',
        fmt="ndjson",
        error=r"line 2: .*expected valid JSON",
    ),
    "ndjson-wrong-type": Case(
        '{"PartNo": "A", "PriceListCode": "SE", "PriceSale": "x"}\n'
        '{"PartNo": "B", "PriceListCode": "SE", "PriceSale": 2}\n',
        fmt="ndjson",
        rejected=rejects((1, "PriceSale", "parse")),
        valid=("B",),
    ),
    "not-parquet": Case("PartNo\nA\n", fmt="parquet", error=r"not a Parquet file"),
    "missing-excel-sheet": Case(
        b"",
        fmt="excel",
        options={"sheet": "Priser"},
        error=r"cannot read sheet 'Priser'; the workbook has sheets \['Blad1'\]",
    ),
    "unqualified-culture-column": Case(
        "PartNo,Name\nA,Jacka\n", entity="products", error=r"column 'Name' needs a culture qualifier"
    ),
}


def _write(path: Path, case: Case) -> None:
    if case.fmt == "excel":
        import xlsxwriter

        with xlsxwriter.Workbook(path) as wb:
            wb.add_worksheet("Blad1").write_row(0, 0, ["PartNo", "PriceListCode"])
        return
    path.write_bytes(case.text.encode() if isinstance(case.text, str) else case.text)


def run(tmp_path: Path, case: Case) -> CheckResult:
    path = tmp_path / {
        "excel": "in.xlsx",
        "json": "in.json",
        "ndjson": "in.ndjson",
        "parquet": "in.parquet",
    }.get(case.fmt, "in.csv")
    _write(path, case)
    feed = Feed(
        name="t",
        entity=case.entity,
        profile="sandbox",
        account=None,
        source=path.name,
        format=case.fmt,
        options=case.options,
        mapping=case.mapping,
        root=tmp_path,
    )  # type: ignore[arg-type]
    return validate(case.entity, read_source(feed), policies=LENIENT)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("case", CORPUS.values(), ids=CORPUS.keys())
def test_bad_input(tmp_path: Path, case: Case) -> None:
    if case.error:
        with pytest.raises(SourceError, match=case.error):
            run(tmp_path, case)
        return
    result = run(tmp_path, case)
    got = set(result.rejected.select("_row", "column", "check").iter_rows())
    assert got == case.rejected
    assert tuple(result.valid["PartNo"]) == case.valid
    assert result.rejected.schema == REJECTED_SCHEMA
    assert result.rejected["reason"].is_not_null().all()
    assert result.rejected["_source"].str.starts_with("in.").all()
    if case.value is not None:
        assert result.rejected["value"][0] == case.value
    assert result.summary["rejected_rows"] == len({r for r, _, _ in case.rejected})
    assert result.valid.columns[:2] == ["_source", "_row"]
    assert not [c for c in result.valid.columns if c.startswith("_raw_") or c == "_error"]


def test_reasons_are_plain_words(tmp_path: Path) -> None:
    reasons = {
        k: run(tmp_path, CORPUS[k]).rejected["reason"][0]
        for k in (
            "duplicate-keys-all-rejected",
            "negative-price",
            "text-in-numeric-column",
            "bad-date",
            "truncated-last-line",
            "short-row-mid-file",
            "wrong-currency",
            "unknown-status",
        )
    }
    assert reasons == {
        "duplicate-keys-all-rejected": "the key appears on 2 rows; all are held back as it is unclear "
        "which is right",
        "negative-price": "'-5' is less than the minimum 0",
        "text-in-numeric-column": "'gratis' is not a number",
        "bad-date": "'2024-02-30' is not a date (expected YYYY-MM-DD or the feed's date_format)",
        "truncated-last-line": "the last line has 3 of 5 fields and no line end: the file looks cut off",
        "short-row-mid-file": "the row has 3 of 5 fields: some are missing",
        "wrong-currency": "'SEKK' is not an ISO 4217 currency code (like SEK, NOK, EUR)",
        "unknown-status": "'Vintage' is not a SkuStatus; expected one of Active, Coming, Expiring, "
        "Hidden, Inactive, NotActivated (or its number)",
    }


# --- policies, summary, cross-feed ---------------------------------------------------------------
def prices(n: int, bad: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "PartNo": [f"P{i}" for i in range(n)],
            "PriceListCode": ["SE"] * n,
            "QuantityBreak": [1] * n,
            "PriceSale": [-1 if i < bad else 10 for i in range(n)],
        }
    ).with_columns(pl.col("PriceSale").cast(pl.Decimal(18, 4)))


def test_summary_counts_rows_and_problems() -> None:
    result = validate("sku_prices", prices(100, bad=5))
    assert result.summary | {"examples": None} == {
        "entity": "sku_prices",
        "rows": 100,
        "valid": 95,
        "rejected_rows": 5,
        "reject_ratio": 0.05,
        "problems": {"ge": 5},
        "examples": None,
    }


def test_max_reject_ratio_raises_with_the_summary() -> None:
    with pytest.raises(CheckFailed, match=r"6 of 100 rows rejected \(6.0%\), more than .* 5.0%") as exc:
        validate("sku_prices", prices(100, bad=6))
    assert exc.value.summary["rejected_rows"] == 6
    assert exc.value.summary["examples"][0]["reason"] == "'-1' is less than the minimum 0"
    assert exc.value.rejected.height == 6 and exc.value.rejected["reason"].str.contains("minimum 0").all()


def test_on_reject_fail_raises_on_any_rejected_row() -> None:
    with pytest.raises(CheckFailed, match="on_reject is 'fail'"):
        validate("sku_prices", prices(100, bad=1), policies=Policies(on_reject="fail"))
    assert validate("sku_prices", prices(10), policies=Policies(on_reject="fail")).summary["valid"] == 10


def test_cross_feed_warns_about_part_numbers_missing_from_products() -> None:
    catalog = pl.DataFrame({"PartNo": ["P0", "P1"]})
    result = validate("sku_prices", prices(4), products=catalog.lazy())
    assert result.warnings == [
        "sku_prices: 2 PartNo value(s) are not in the products snapshot, so "
        "Connect will skip their rows: P2, P3"
    ]
    relations = pl.DataFrame({"PartNo": ["P0"], "RelatedPartNo": ["X"], "RelationTypeCode": ["acc"]})
    assert (
        validate("relations", relations, products=catalog)
        .warnings[0]
        .startswith("relations: 1 RelatedPartNo value(s)")
    )
    assert validate("price_lists", pl.DataFrame({"Code": ["SE"]}), products=catalog).warnings == []


def test_frame_without_metadata_gets_row_numbers_and_unknown_columns_warn() -> None:
    frame = prices(3, bad=1).with_columns(pl.lit("x").alias("Färg"))
    result = validate("sku_prices", frame, policies=LENIENT)
    assert result.valid.columns == [
        "_source",
        "_row",
        "PartNo",
        "PriceListCode",
        "QuantityBreak",
        "PriceSale",
    ]
    assert result.rejected.select("_source", "_row").rows() == [(None, 1)]
    assert result.warnings == ["sku_prices: column(s) Färg are not columns of sku_prices; ignored"]


def test_wrong_dtypes_or_missing_keys_fail_the_whole_frame() -> None:
    with pytest.raises(CheckFailed, match=r"column PriceSale has type String, expected Decimal\(prec"):
        validate("sku_prices", prices(2).with_columns(pl.col("PriceSale").cast(pl.String)))
    with pytest.raises(CheckFailed, match="sku_prices: key column PriceListCode is missing"):
        validate("sku_prices", prices(2).drop("PriceListCode"))
    with pytest.raises(TypeError, match="expects a collected DataFrame"):
        validate("sku_prices", prices(2).lazy())  # type: ignore[arg-type]


def test_iso_4217_list() -> None:
    assert {"SEK", "NOK", "DKK", "EUR", "USD", "GBP", "CHF", "JPY"} <= ISO_4217
    assert not {"XXX", "XTS", "HRK", "LTL", "sek"} & ISO_4217
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in ISO_4217) and len(ISO_4217) > 170


# --- the fast path gives what pandera gives on the whole frame -----------------------------------
def messy_products() -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "Code": ["P", "P", "Q", "Q", None, "R"],
            "ManufacturerCode": ["M"] * 6,
            "ManufacturerPartNo": ["P1", "P2", "Q", "Q", "N", "R"],
            "PartNo": ["a", "b", "c", "c", "e", None],
            "Name[sv-SE]": ["x", "x", "z", "y", "n", "r"],
            "Status": ["Active", "Bogus", "Active", "Active", "Active", "Active"],
            "StandardPrice": [1, -1, 2, 2, 3, 4],
            "_raw_StandardPrice": [None, None, None, None, None, None],
        }
    )
    return frame.with_columns(
        pl.col("StandardPrice").cast(pl.Decimal(18, 4)), pl.col("_raw_StandardPrice").cast(pl.String)
    )


def test_fast_path_matches_pandera_on_the_whole_frame() -> None:
    frame = messy_products().with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    result = validate("products", frame, policies=LENIENT)
    schema = schema_for("products", [c for c in frame.columns if c != "_row"])
    with pytest.raises(pa.errors.SchemaErrors) as exc:
        schema.validate(frame, lazy=True)
    full = exc.value.failure_cases.select(
        (pl.col("index").cast(pl.Int64) + 1).alias("_row"), "column", "check"
    )
    ours = result.rejected.select("_row", "column", "check")
    assert set(full.iter_rows()) == set(ours.iter_rows())
    assert result.valid["PartNo"].to_list() == ["a"]


# --- pandera polars-backend gaps we work around (fail when pandera changes) ----------------------
def test_gap_pandera_unique_reports_a_whole_row_json_without_column() -> None:
    """Why the key check is our own ``unique_key`` column check, not ``DataFrameSchema(unique=)``."""
    frame = pl.DataFrame({"PartNo": ["A", "A"], "PriceListCode": ["SE", "SE"], "Note": ["x", "y"]})
    schema = pa.DataFrameSchema(
        {"PartNo": pa.Column(str), "PriceListCode": pa.Column(str)}, unique=["PartNo", "PriceListCode"]
    )
    with pytest.raises(pa.errors.SchemaErrors) as exc:
        schema.validate(frame, lazy=True)
    cases = exc.value.failure_cases
    assert cases["column"].to_list() == [None, None]
    assert cases["failure_case"][0] == '{"PartNo":"A","PriceListCode":"SE","Note":"x"}'
    prices = frame.drop("Note").with_columns(QuantityBreak=pl.lit(1), CurrencyCode=pl.Series(["SEK", "EUR"]))
    ours = validate("sku_prices", prices, policies=LENIENT)  # two rows, one key, different currencies
    assert ours.rejected.select("key", "column", "check").unique().rows() == [
        ("A|SE|1", "PartNo, PriceListCode, QuantityBreak", "unique_key")
    ]


def test_gap_pandera_checks_only_the_schema_of_a_lazyframe() -> None:
    """Why validate() takes collected frames only."""
    bad = prices(2, bad=2)
    schema = schema_for("sku_prices", bad.columns)
    assert isinstance(schema.validate(bad.lazy(), lazy=True), pl.LazyFrame)  # no error raised
    with pytest.raises(pa.errors.SchemaErrors):
        schema.validate(bad, lazy=True)


def test_valid_rows_roundtrip_unchanged() -> None:
    frame = (
        prices(5)
        .with_row_index("_row", offset=1)
        .with_columns(pl.col("_row").cast(pl.Int64), pl.lit("f.csv").alias("_source"))
    )
    result = validate("sku_prices", frame)
    assert_frame_equal(result.valid, frame.select(result.valid.columns))
    assert result.rejected.height == 0 and result.summary["problems"] == {}


def test_an_over_eager_screen_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-pass may flag too much (hash collisions); only pandera's failure cases reject."""
    import toolkit.checks as checks

    frame = prices(50, bad=2).vstack(prices(1))  # P0 twice, P0 and P1 negative
    expected = validate("sku_prices", frame, policies=LENIENT)
    monkeypatch.setattr(checks, "_duplicate_screen", lambda f, key: pl.Series([True] * f.height))
    got = validate("sku_prices", frame, policies=LENIENT)
    assert_frame_equal(got.valid, expected.valid)
    assert_frame_equal(got.rejected, expected.rejected)
    assert expected.summary["rejected_rows"] == 3 and expected.valid.height == 48


@pytest.mark.parametrize("rows", [0, 1, 10, 1000])
def test_duplicate_screen_finds_every_duplicate(rows: int) -> None:
    from toolkit.checks import _duplicate_screen

    frame = pl.DataFrame(
        {
            "PartNo": [str(i % max(rows // 2, 1)) if i % 3 else str(i) for i in range(rows)],
            "PriceListCode": ["SE"] * rows,
        }
    )
    exact = frame.select(pl.struct("PartNo", "PriceListCode").is_duplicated()).to_series()
    screen = _duplicate_screen(frame, ["PartNo", "PriceListCode"])
    assert (screen | ~exact).all()
