"""The casts behind ``toolkit.sources``: trimmed source text (or a typed value) -> a canonical value.

A cast that fails gives null and keeps the source text in the ``_raw_<col>`` shadow, which
``toolkit.checks`` rejects quoting it. Numbers are read strictly: a thousands separator only where the
feed's ``thousands`` option names one (a space there also stands for the no-break spaces U+00A0 and
U+202F of Swedish and Norwegian exports) and only between groups of three digits; with
``decimal_comma`` a ``.`` makes the text ambiguous (``1.399``: 1399 or 1.399?), so it fails; a
fraction never becomes a whole number (``5.5`` is not 5), whether text or a float cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import polars as pl

from toolkit.entities import VALUE_ENUMS, Entity

if TYPE_CHECKING:
    from toolkit.source_options import SourceOptions

_TRUE = ("1", "true", "ja", "yes", "j", "y")
_FALSE = ("0", "false", "nej", "no", "n")
_BOOLEANS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
# Key columns Connect lets a file leave out or blank: the base price is quantity break 1.
KEY_DEFAULTS = {"QuantityBreak": 1}
# A space as thousands separator, and the no-break and narrow no-break spaces exports write for it.
_SPACES = (" ", "\u00a0", "\u202f")


def cast(
    tmp: str,
    name: str,
    dtype: pl.DataType,
    entity: Entity,
    opts: SourceOptions,
    aliases: Mapping[str, str] | None = None,
) -> tuple[pl.Expr, pl.Expr | None]:
    """Canonical column ``name`` from the trimmed column ``tmp``, and its ``_raw_`` shadow (or None).

    ``aliases`` maps source values of an enum column to its names (a feed's ``values`` table)."""
    spec, raw = entity.column(name), pl.col(tmp)
    target = spec.dtype
    if target == pl.String:
        value = as_string(raw, dtype)
        value = _enum_name(value, spec.values, aliases or {}) if spec.values else value
        if opts.empty_as_null and dtype == pl.String:
            value = pl.when(raw != "").then(value)
        return value.alias(name), None
    value = raw if dtype == target else _parse(raw, dtype, target, opts)
    if spec.is_key and name in KEY_DEFAULTS:
        blank = raw.is_null() | (raw == "") if dtype == pl.String else raw.is_null()
        value = pl.when(blank).then(pl.lit(KEY_DEFAULTS[name], target)).otherwise(value)
    if dtype == target or isinstance(target, pl.List):
        return value.alias(name), None
    return value.alias(name), as_string(raw, dtype).alias(f"_raw_{name}")


def _failed(name: str) -> pl.Expr:
    """Rows whose cast of ``name`` failed: null value, non-empty ``_raw_`` text."""
    return pl.col(name).is_null() & (pl.col(f"_raw_{name}").str.len_bytes() > 0)


def reduce_shadows(frame: pl.DataFrame) -> pl.DataFrame:
    """Keep ``_raw_`` text only where the cast failed; drop shadows of columns that never failed."""
    names = [c.removeprefix("_raw_") for c in frame.columns if c.startswith("_raw_")]
    if not names:
        return frame
    counts = frame.select(_failed(n).sum().alias(n) for n in names).row(0, named=True)
    failing = [n for n in names if counts[n]]
    frame = frame.drop(f"_raw_{n}" for n in names if not counts[n])
    return frame.with_columns(
        pl.when(_failed(n)).then(pl.col(f"_raw_{n}")).alias(f"_raw_{n}") for n in failing
    )


def shadows_where_failed(columns: Iterable[str]) -> list[pl.Expr]:
    """The ``_raw_`` shadows among ``columns`` kept only where their cast failed (null elsewhere):
    what `reduce_shadows` does, as expressions for a frame that is streamed, not collected."""
    names = [c.removeprefix("_raw_") for c in columns if c.startswith("_raw_")]
    return [pl.when(_failed(n)).then(pl.col(f"_raw_{n}")).alias(f"_raw_{n}") for n in names]


def as_string(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A value as text; a whole float (``7310000000001.0`` from Excel) keeps its digits."""
    if dtype == pl.String:
        return raw
    if dtype.is_float():
        whole = raw.is_finite() & (raw == raw.round()) & (raw.abs() < 2**53)
        return pl.when(whole).then(raw.cast(pl.Int64).cast(pl.String)).otherwise(raw.cast(pl.String))
    if isinstance(dtype, pl.List | pl.Struct):
        return raw.cast(pl.String, strict=False)
    return raw.cast(pl.String)


def _enum_name(value: pl.Expr, enum_name: str, aliases: Mapping[str, str]) -> pl.Expr:
    enum = VALUE_ENUMS[enum_name]
    names = {m.name.lower(): m.name for m in enum} | {str(m.value): m.name for m in enum}
    names |= {source.lower(): name for source, name in aliases.items()}
    number = value.str.strip_chars_start("0").str.replace(r"^$", "0")
    lookup = pl.when(value.str.contains(r"^\d+$")).then(number).otherwise(value.str.to_lowercase())
    return lookup.replace_strict(names, default=value, return_dtype=pl.String)


def _parse(raw: pl.Expr, dtype: pl.DataType, target: pl.DataType, opts: SourceOptions) -> pl.Expr:
    if isinstance(target, pl.List):
        if isinstance(dtype, pl.List):
            return raw.cast(target, strict=False)
        items = pl.element().str.strip_chars()
        parts = as_string(raw, dtype).str.split(opts.list_separator).list.eval(items)
        return parts.list.eval(pl.element().filter(pl.element() != ""))
    if target == pl.Boolean:
        text = as_string(raw, dtype).str.to_lowercase()
        return text.replace_strict(_BOOLEANS, default=None, return_dtype=pl.Boolean)
    if target == pl.Date:
        return _parse_date(raw, dtype, opts)
    if dtype == pl.String:
        raw = number_text(raw, opts)
    if target == pl.Int64:
        return _parse_int(raw, dtype)
    return raw.cast(target, strict=False)


def number_text(raw: pl.Expr, opts: SourceOptions) -> pl.Expr:
    """Number text with '.' as its decimal mark and no thousands separators; null where ambiguous.

    >>> from toolkit.sources import SourceOptions
    >>> opts = SourceOptions(decimal_comma=True, thousands=" ")
    >>> texts = pl.Series(["1\\u00a0399,50", "1.399", "13 99", "0,5"])
    >>> pl.select(number_text(pl.lit(texts), opts)).to_series().to_list()
    ['1399.50', None, None, '0.5']
    """
    ok = pl.lit(True)
    seps = _SPACES if opts.thousands in _SPACES else (opts.thousands,) if opts.thousands else ()
    if seps:
        group = "[" + "".join("\\" + s if s in r"\^-]." else s for s in seps) + "]"
        mark = "," if opts.decimal_comma else r"\."
        grouped = rf"^[+-]?\d{{1,3}}({group}\d{{3}})*({mark}\d*)?$"
        ok = ~raw.str.contains(group) | raw.str.contains(grouped)
        raw = raw.str.replace_all(group, "")
    if opts.decimal_comma:
        ok = ok & ~raw.str.contains(".", literal=True)
        raw = raw.str.replace(",", ".", literal=True)
    return pl.when(ok).then(raw)


def _parse_int(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Whole numbers; ``5.00`` (or a float cell 5.0) is 5, but ``5.5`` and ``1e3`` are not numbers here."""
    if dtype.is_float():
        return pl.when(raw == raw.round()).then(raw).cast(pl.Int64, strict=False)
    exact = raw.cast(pl.Int64, strict=False)
    if dtype != pl.String:
        return exact
    decimal = pl.when(raw.str.contains(r"^[+-]?\d*\.\d*$")).then(raw.cast(pl.Float64, strict=False))
    return pl.coalesce(exact, pl.when(decimal == decimal.round()).then(decimal).cast(pl.Int64, strict=False))


def _parse_date(raw: pl.Expr, dtype: pl.DataType, opts: SourceOptions) -> pl.Expr:
    """Dates; ISO text (an Excel date cell read as text, too) is a date whatever ``date_format`` says."""
    if isinstance(dtype, pl.Datetime):
        return raw.dt.date()
    if dtype != pl.String:
        return raw.cast(pl.Date, strict=False)
    iso = (raw.str.len_chars() == 10) | raw.str.contains(r"^\d{4}-\d{2}-\d{2}[ T]")
    iso_date = pl.when(iso).then(raw.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False))
    if opts.date_format == "%Y-%m-%d":
        return iso_date
    return pl.coalesce(raw.str.to_date(opts.date_format, strict=False), iso_date)
