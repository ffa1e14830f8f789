"""The row checks behind ``toolkit.checks``: one polars expression per check, from the registry.

A ``Rule`` is a check on one column: ``ok`` (True where the row passes, never null) is what both the
vectorised pre-pass and the pandera ``Check`` evaluate, so the two cannot disagree; ``value`` and
``reason`` turn a failure into plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pandera.polars as pa
import polars as pl

from toolkit._element_rows import ELEMENT_KEY_COLUMNS, consistency_group, row_key
from toolkit.entities import GUID, SALES_AREAS, VALUE_ENUMS, Column, Entity, split_qualified

META: dict[str, pl.DataType] = {"_source": pl.String(), "_row": pl.Int64(), "_error": pl.String()}

# ISO 4217 active codes (2025), without XTS (testing) and XXX (no currency).
ISO_4217: frozenset[str] = frozenset(
    """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF
KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR
MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU
UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR
ZMW ZWG
""".split()
)
CULTURE_CODE = r"^[a-z]{2,3}(-[A-Z][a-z]{3})?-[A-Z]{2}$"
URL = r"^https?://[^\s/?#@]+(:\d+)?([/?#]\S*)?$"
_PARSE_REASONS = {
    "Int64": "is not a whole number",
    "Date": "is not a date (expected YYYY-MM-DD or the feed's date_format)",
    "Boolean": "is not a yes/no value (expected 1/0, true/false, ja/nej, yes/no)",
}
SCIENTIFIC = r"^[+-]?\d+([.,]\d+)?[eE][+-]?\d+$"
_SCIENTIFIC_WHY = (
    "is a number in scientific notation, as Excel shows long numbers, not the whole "
    "value; export the column as text"
)
# a '.' or ',' before groups of three digits: a thousands separator or a decimal mark?
_AMBIGUOUS = r"^[+-]?\d{1,3}([.,]\d{3})+$"
_AMBIGUOUS_WHY = (
    "is ambiguous: its '.' or ',' may be a thousands separator or a decimal mark; "
    "set the feed options decimal_comma and thousands to the file's"
)
_SEPARATED = r"^[+-]?[\d.,\s\u00a0\u202f]*\d[\d.,\s\u00a0\u202f]*$"
_SEPARATED_WHY = (
    "does not fit the feed's decimal mark and thousands separator (options decimal_comma and thousands)"
)
INT32 = (-(2**31), 2**31 - 1)  # Connect's int
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # not tab, CR, LF: a quoted field may hold them
_IDENTIFIER_SUFFIXES = ("PartNo", "Code", "No")


@dataclass(frozen=True)
class Rule:
    """One check of one column; ``ok``, ``value`` and ``reason`` are polars expressions."""

    check: str
    column: str
    ok: pl.Expr
    value: pl.Expr
    reason: pl.Expr
    report_column: str
    group: tuple[str, ...] | None = None  # consistency checks: the columns whose groups must agree

    def pandera(self) -> pa.Check:
        """The same check as a pandera polars ``Check`` (custom, vectorised)."""
        ok = self.ok
        return pa.Check(lambda data: data.lazyframe.select(ok), name=self.check, ignore_na=False)


def rules_for(ent: Entity, columns: list[str]) -> list[Rule]:
    """Every rule that applies to a frame of ``ent`` with ``columns``."""
    rules: list[Rule] = []
    for name in columns:
        if not name.startswith("_"):
            rules += _column_rules(ent, name, ent.column(name), columns)
        elif name == "_error":
            rules.append(_rule("source", name, pl.col(name).is_null(), pl.lit(""), pl.col(name), ""))
    if all(k in columns for k in ent.key):
        rules.append(_unique_key(ent, row_key(ent, columns)))
    return rules


def _rule(
    check: str, column: str, ok: pl.Expr, value: pl.Expr, reason: pl.Expr | str, report: str | None = None
) -> Rule:
    why = pl.lit(reason) if isinstance(reason, str) else reason
    return Rule(check, column, ok.fill_null(True), value, why, column if report is None else report)


def _quoted(value: pl.Expr, text: str) -> pl.Expr:
    return pl.concat_str([pl.lit("'"), value, pl.lit(f"' {text}")])


def _column_rules(ent: Entity, name: str, spec: Column, columns: list[str]) -> list[Rule]:
    col, text = pl.col(name), as_text(pl.col(name), spec.dtype)
    rules = [_rule(chk, name, ok, text, _quoted(text, why)) for chk, ok, why in _value_checks(spec, col)]
    raw = f"_raw_{name}"
    # read_source keeps _raw_ text only where a cast failed; scan_source keeps it on every row
    given = pl.col(raw).str.len_bytes() > 0 if raw in columns else pl.lit(False)
    if raw in columns:
        parsed = col.is_not_null() | ~given
        rules.append(_rule("parse", name, parsed, pl.col(raw), _parse_reason(pl.col(raw), spec)))
    if spec.is_key or spec.is_required:
        present = col.is_not_null() | given
        rules.append(_rule("not_null", name, present, pl.lit(""), f"{name} is empty; it is required"))
    if spec.max_length and spec.dtype == pl.String:
        size = col.str.len_chars()
        long = pl.format("is {} characters long; at most {} are allowed", size, pl.lit(spec.max_length))
        rules.append(_rule("max_length", name, size <= spec.max_length, text, long))
    rules += _text_rules(name, spec) + _qualifier_rules(name, spec)
    return rules + _consistency_rules(ent, name, spec, columns)


def _parse_reason(raw: pl.Expr, spec: Column) -> pl.Expr:
    """Why ``raw`` could not be read as the column's type, in the words of its likely cause."""
    why = _PARSE_REASONS.get(str(spec.dtype.base_type()), "is not a number")
    if spec.dtype != pl.Int64 and not isinstance(spec.dtype, pl.Decimal):
        return _quoted(raw, why)
    fraction = raw.str.contains(r"^[+-]?\d+[.,]\d+$") & pl.lit(spec.dtype == pl.Int64)
    reason = (
        pl.when(raw.str.contains(SCIENTIFIC))
        .then(pl.lit(_SCIENTIFIC_WHY))
        .when(raw.str.contains(_AMBIGUOUS))
        .then(pl.lit(_AMBIGUOUS_WHY))
        .when(fraction)
        .then(pl.lit(why))
        .when(raw.str.contains(_SEPARATED))
        .then(pl.lit(_SEPARATED_WHY))
        .otherwise(pl.lit(why))
    )
    return pl.concat_str([pl.lit("'"), raw, pl.lit("' "), reason])


def _text_rules(name: str, spec: Column) -> list[Rule]:
    """Control characters in text, identifiers in scientific notation, whole numbers beyond Connect's int."""
    col = pl.col(name)
    if spec.dtype == pl.Int64:
        low, high = INT32
        why = f"is outside Connect's int range ({low} to {high})"
        text = col.cast(pl.String)
        return [_rule("int32", name, col.is_between(low, high), text, _quoted(text, why))]
    if spec.dtype != pl.String:
        return []
    found = col.str.extract(f"({CONTROL})", 1).replace_strict(
        {chr(i): f"U+{i:04X}" for i in (*range(32), 127)}, default="?", return_dtype=pl.String
    )
    shown = col.str.replace_all(CONTROL, "\ufffd")
    said = pl.format("'{}' holds the control character {} (shown as \ufffd); fix the export", shown, found)
    rules = [_rule("control_char", name, ~col.str.contains(CONTROL), shown, said)]
    if _is_identifier(name, spec):
        sci = ~col.str.contains(SCIENTIFIC)
        rules.append(_rule("scientific", name, sci, col, _quoted(col, _SCIENTIFIC_WHY)))
    return rules


def _is_identifier(name: str, spec: Column) -> bool:
    """Codes and part numbers (EanCode, PartNo, CommodityCode, ...): never a number in Excel's notation."""
    plain = spec.values is None and spec.kind is None and spec.qualifier is None
    return plain and (spec.is_key or split_qualified(name)[0].split(".")[-1].endswith(_IDENTIFIER_SUFFIXES))


def _value_checks(spec: Column, col: pl.Expr) -> list[tuple[str, pl.Expr, str]]:
    checks: list[tuple[str, pl.Expr, str]] = []
    if spec.ge is not None:
        checks.append(("ge", col >= spec.ge, f"is less than the minimum {spec.ge:g}"))
    if spec.le is not None:
        checks.append(("le", col <= spec.le, f"is more than the maximum {spec.le:g}"))
    if spec.values:
        names = [m.name for m in VALUE_ENUMS[spec.values]]
        shown = ", ".join(names) if len(names) <= 12 else ", ".join(names[:4]) + ", …"
        why = f"is not a {spec.values}; expected one of {shown} (or its number)"
        checks.append(("one_of", col.is_in(names), why))
    if spec.kind == "currency":
        checks.append(
            ("currency", col.is_in(sorted(ISO_4217)), "is not an ISO 4217 currency code (like SEK, NOK, EUR)")
        )
    if spec.kind == "culture":
        checks.append(("culture_code", col.str.contains(CULTURE_CODE), "is not a culture code like sv-SE"))
    if spec.kind == "url":
        checks.append(("url", col.str.contains(URL), "is not an http(s) URL"))
    if spec.kind == "guid":
        checks.append(
            ("guid", col.str.contains(GUID), "is not a GUID like 3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        )
    return checks


def _qualifier_rules(name: str, spec: Column) -> list[Rule]:
    """A bad qualifier (``Name[sv_SE]``, ``VatRate[Sverige]``) rejects the rows that use the column."""
    qual = split_qualified(name)[1]
    if qual is None:
        return []
    if spec.qualifier == "culture" and not re.match(CULTURE_CODE, qual):
        check, why = "culture_code", f"column {name}: {qual!r} is not a culture code like sv-SE"
    elif spec.qualifier == "sales_area" and qual not in SALES_AREAS:
        check, why = "sales_area", f"column {name}: {qual!r} is not a SalesArea such as Sweden"
    else:
        return []
    return [_rule(check, name, pl.col(name).is_null(), pl.lit(qual), why)]


def _consistency_rules(ent: Entity, name: str, spec: Column, columns: list[str]) -> list[Rule]:
    """Products: SKUs of one product (Code) or one variant (ManufacturerCode + ManufacturerPartNo,
    or ManufacturerPartNo alone where the source has no ManufacturerCode) must agree."""
    if ent.name == "supplier_products":
        return _element_rules(ent, name, columns)
    if ent.name != "products":
        return []
    groups: list[tuple[str, tuple[str, ...], str]] = []
    if spec.level == "product" and name != "Code" and "Code" in columns:
        groups.append(("consistent_product", ("Code",), "product"))
    if (spec.level == "variant" and name != "ManufacturerPartNo") or name == "Code":
        groups.append(("consistent_variant", variant_group(columns), "variant"))
    rules = []
    for check, by, level in groups:
        if "ManufacturerPartNo" not in columns and by != ("Code",):
            continue
        ok = pl.col(by[-1]).is_null() | (pl.col(name).n_unique().over(by) == 1)
        which = pl.concat_str([pl.col(c).fill_null("") for c in by], separator="/")
        why = pl.format(f"the SKUs of {level} {{}} disagree on {name}; all of them are held back", which)
        rule = _rule(check, name, ok, as_text(pl.col(name), spec.dtype), why)
        rules.append(replace(rule, group=by))
    return rules


def variant_group(columns: list[str]) -> tuple[str, ...]:
    """The columns that identify a variant: ``ManufacturerCode`` + ``ManufacturerPartNo`` (the
    manufacturer is the product's, so ACME 1001 and BETA 1001 are two variants), or the part number
    alone where the source has no ``ManufacturerCode``.

    >>> variant_group(["Code", "ManufacturerCode", "ManufacturerPartNo", "PartNo"])
    ('ManufacturerCode', 'ManufacturerPartNo')
    >>> variant_group(["Code", "ManufacturerPartNo", "PartNo"])
    ('ManufacturerPartNo',)
    """
    pair = ("ManufacturerCode", "ManufacturerPartNo")
    return pair if "ManufacturerCode" in columns else pair[1:]


def _unique_key(ent: Entity, key_columns: tuple[str, ...]) -> Rule:
    """Rows repeating a row key (supplier rows: the item key and its elements' keys) are rejected."""
    key = list(key_columns)
    complete = pl.all_horizontal(pl.col(k).is_not_null() for k in ent.key)
    ok = ~(pl.struct(key).is_duplicated() & complete)
    why = pl.format(
        "the key appears on {} rows; all are held back as it is unclear which is right", pl.len().over(key)
    )
    return _rule("unique_key", key[0], ok, pl.col("key"), why, ", ".join(key))


def _element_rules(ent: Entity, name: str, columns: list[str]) -> list[Rule]:
    """Supplier rows of one product agree on its columns, rows of one element on the element's."""
    group = consistency_group(ent, name, columns)
    if group is None:
        return []
    ok = pl.col(name).n_unique().over(group) == 1
    which = ", ".join(f"{g} {{}}" for g in group)
    why = pl.format(
        f"the rows of {which} disagree on {name}; all of them are held back", *(pl.col(g) for g in group)
    )
    text = as_text(pl.col(name), ent.column(name).dtype)
    rules = [_rule("consistent_element", name, ok, text, why)]
    first = next((k for k in ELEMENT_KEY_COLUMNS if k.split(".")[0] == name.split(".")[0]), "")
    if first in columns:  # an element's value needs its key (its first key member)
        keyed = pl.col(name).is_null() | (pl.col(first).is_not_null() & (pl.col(first) != ""))
        rules.append(_rule("element_key", name, keyed, text, _quoted(text, f"is given but {first} is empty")))
    return rules


def as_text(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A value as the text a person would write (``12.5``, not ``12.5000``; lists joined by ``|``)."""
    if isinstance(dtype, pl.List):
        return col.list.join("|")
    if isinstance(dtype, pl.Decimal):
        return col.cast(pl.String).str.replace(r"(\.\d*?)0+$", "$1").str.strip_suffix(".")
    return col.cast(pl.String)
