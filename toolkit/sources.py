"""Load source files (CSV, Excel, Parquet, JSON, NDJSON) into canonical frames of a feed's entity.

``scan_source(feed)`` returns a LazyFrame, ``read_source(feed)`` collects it (one code path). Each file
is read as raw values, renamed through ``Feed.mapping`` (source column -> canonical column), then cast
to the entity's canonical dtypes (``entities.Column.dtype``). Columns whose name already is a canonical
column are kept without a mapping; any other column is dropped with a logged note, never an error.

Metadata columns (``_``-prefixed, never data):

- ``_source`` (String): the file name; ``_row`` (Int64): the row in the file, 1-based, counting data rows
  after the header.
- ``_raw_<col>`` (String): the source text of a column that had to be parsed (text to a number, a
  date, a boolean). Where the cast failed (text in a numeric column, a bad date, an unknown boolean
  word) the canonical column holds null and ``_raw_<col>`` the text, so nothing is silently lost:
  ``checks.validate`` rejects those rows quoting it. ``scan_source`` keeps the (trimmed) text of every
  row, which costs nothing extra; ``read_source`` keeps it only on the rows whose cast failed (null
  elsewhere) and drops the column when no row failed. A row failed where ``<col>`` is null and
  ``_raw_<col>`` is a non-empty text; ``checks`` reads both forms.
- ``_error`` (String): present only when the loader flagged rows itself (a CSV row with fewer fields
  than the header, which polars would pad with empty text; a truncated last line); the checks reject
  those rows with this text as the reason.

Options (``Feed.options``; unknown keys raise ConfigError):

==================  ========================================================================
``separator``       CSV field separator, default ``","`` (``";"`` for most Nordic ERP exports)
``quote_char``      CSV quote character, default ``'"'``; ``""`` or None turns quoting off
``encoding``        ``utf-8`` (default), ``utf-8-sig`` (BOM), ``cp1252``, ``latin-1``; also any
                    Python codec name. Non-UTF-8 files are decoded in Python in 1 MiB chunks.
                    ``utf8-lossy`` (replace undecodable bytes) only when set explicitly.
``decimal_comma``   ``true``: ``12,50`` means 12.5 in decimal and integer columns (default false);
                    a ``.`` in such a column is then ambiguous (``1.399``) and its row rejected
``thousands``       thousands separator allowed between groups of three digits, e.g. ``"."``;
                    ``" "`` also accepts the no-break spaces U+00A0 and U+202F
``drop_columns``    columns (source or canonical names) the feed no longer reads: dropped when
                    present, and no longer expected because the baseline has them
``skip_rows``       lines (CSV) or rows (Excel) before the header line, default 0
``sheet``           Excel sheet by name, or by 0-based index (default 0, the first sheet)
``pick``            for a glob: ``"newest"`` (default, latest modification time) or ``"all"``
                    (concatenated; ``_source`` tells the file of each row)
``empty_as_null``   empty (or blank) strings become null, default true; strings are always trimmed
``list_separator``  separator of list columns given as text (``Categories``), default ``"|"``
``date_format``     strftime format of date columns, default ``"%Y-%m-%d"`` (a time part is ignored)
``culture``         culture appended to unqualified culture columns (``Name`` -> ``Name[sv-SE]``)
==================  ========================================================================

Canonical casts: money and rates -> Decimal, counts -> Int64 (``5.00`` accepted as 5), dates -> Date,
booleans from ``1/0/true/false/ja/nej/yes/no/j/n/y`` (any case), list columns from separator-joined text,
a blank or absent ``QuantityBreak`` key means 1 (the base price),
enum columns (``Column.values``) -> the member NAME when the value is a name (any case) or a number,
else kept as given for the checks to reject. Sales-area qualifiers are normalised (``VatRate[sweden]``
-> ``VatRate[Sweden]``).

Errors: a file that cannot be read raises SourceError naming the file, the line and what was expected;
a decoding error suggests the ``encoding`` option; mapped or key columns missing from a file raise
SourceError listing the missing and the available columns. A LazyFrame from ``scan_source`` collected
by the caller raises polars' own errors; ``read_source`` translates them.

Examples
--------
>>> import pathlib, tempfile
>>> from toolkit.config import Feed
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "stock.csv").write_bytes("Artikel;Lager;Plats;Saldo\\nA1;W1;L1;5\\n".encode("cp1252"))
>>> feed = Feed(name="stock", entity="onhands", profile="sandbox", account=None,
...             source="stock.csv", format="csv", root=d,
...             options={"separator": ";", "encoding": "cp1252"},
...             mapping={"Artikel": "PartNo", "Lager": "WarehouseCode", "Plats": "LocationCode",
...                      "Saldo": "OnhandValue"})
>>> read_source(feed).drop("WarehouseCode", "LocationCode").row(0, named=True)
{'_source': 'stock.csv', '_row': 1, 'PartNo': 'A1', 'OnhandValue': 5}
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from toolkit import _readers
from toolkit._casts import KEY_DEFAULTS, cast, reduce_shadows
from toolkit.config import Feed
from toolkit.entities import SALES_AREAS, Entity, get_entity, split_qualified
from toolkit.errors import ConfigError, SourceError
from toolkit.source_options import PickMode, SourceOptions

__all__ = ["PickMode", "SourceOptions", "read_source", "scan_source"]

log = logging.getLogger(__name__)

_AREAS = {a.lower(): a for a in SALES_AREAS}


def scan_source(
    feed: Feed,
    *,
    path: str | Path | None = None,
    rows: Sequence[pl.Series] | None = None,
    trim: bool = True,
) -> pl.LazyFrame:
    """Lazily read a feed's source files into a canonical frame of its entity.

    Parameters
    ----------
    feed
        The feed: entity, format, options and column mapping.
    path
        A file or glob to read instead of ``feed.source_path``.
    rows
        Only these rows: ``_row`` numbers for each file, in the order the files are read (SourceError
        when there are more or fewer files). They are picked as a file is read, before any value is
        trimmed or cast, so a few rows of a large source cost little more than one read of it.
    trim
        False: text is not trimmed of spaces (half the time of a read of a wide text file); a value
        with spaces around it then differs from the value a trimmed read gives, no other.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from toolkit.config import Feed
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.csv").write_text("PartNo,PriceListCode,PriceSale,IsActive\\nA1,SE,12.5,ja\\n")
    >>> feed = Feed(name="p", entity="sku_prices", profile="x", account=None, source="p.csv",
    ...             format="csv", root=d)
    >>> scan_source(feed).collect_schema()["PriceSale"]
    Decimal(precision=18, scale=4)
    """
    return _plan(feed, path, rows, trim=trim)[1]


def read_source(feed: Feed, *, path: str | Path | None = None) -> pl.DataFrame:
    """Read a feed's source files into a canonical DataFrame (``scan_source`` collected).

    ``_raw_<col>`` text is kept only where a cast failed; read errors become SourceError.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from toolkit.config import Feed
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.csv").write_text("PartNo,PriceListCode,PriceSale\\nA1,SE,12.5\\nA2,SE,gratis\\n")
    >>> feed = Feed(name="p", entity="sku_prices", profile="x", account=None, source="p.csv",
    ...             format="csv", root=d)
    >>> read_source(feed).select("_row", "PriceSale", "_raw_PriceSale").rows()
    [(1, Decimal('12.5000'), None), (2, None, 'gratis')]
    """
    files, lf = _plan(feed, path)
    try:
        frame = lf.collect()
    except pl.exceptions.PolarsError as exc:
        opts = SourceOptions.from_feed(feed)
        raise _readers.explain(exc, files, feed.format, opts) from exc
    return reduce_shadows(frame)


def _plan(
    feed: Feed, path: str | Path | None, rows: Sequence[pl.Series] | None = None, *, trim: bool = True
) -> tuple[list[Path], pl.LazyFrame]:
    opts = SourceOptions.from_feed(feed)
    entity = get_entity(feed.entity)
    files = resolve_files(path if path is not None else feed.source_path, pick=opts.pick)
    if rows is not None and len(rows) != len(files):
        msg = f"feed {feed.name!r}: rows of {len(rows)} files asked for, {len(files)} files found"
        raise SourceError(msg)
    picked = rows if rows is not None else [None] * len(files)
    frames = [_canonical(f, feed, entity, opts, r, trim=trim) for f, r in zip(files, picked, strict=True)]
    lf = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    return files, lf


def resolve_files(pattern: str | Path, *, pick: PickMode = "newest") -> list[Path]:
    """The files a path or glob names: the newest one, or all of them sorted by name.

    >>> resolve_files("/nonexistent/*.csv")
    Traceback (most recent call last):
    ...
    toolkit.errors.SourceError: no file matches '/nonexistent/*.csv'
    """
    text = str(pattern)
    if not any(ch in text for ch in "*?["):
        if not Path(text).is_file():
            msg = f"{text}: no such file (expected the source file of the feed)"
            raise SourceError(msg)
        return [Path(text)]
    matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    if not matches:
        msg = f"no file matches {text!r}"
        raise SourceError(msg)
    if pick == "newest":
        return [max(matches, key=lambda p: (p.stat().st_mtime_ns, p.name))]
    return matches


def _canonical(
    file: Path,
    feed: Feed,
    entity: Entity,
    opts: SourceOptions,
    rows: pl.Series | None = None,
    *,
    trim: bool = True,
) -> pl.LazyFrame:
    raw = _readers.scan_raw(file, feed.format, opts)
    if rows is not None:
        raw = raw.filter(pl.col("_row").is_in(rows.cast(pl.Int64).implode()))
    schema = _readers.schema_of(raw, file, feed.format, opts)
    names = [c for c in schema if not c.startswith("_")]
    renames = _column_plan(file, names, entity, feed.mapping, opts) if names else {}
    # key columns a file may leave out (or, for an empty JSON array, has no columns at all)
    absent = {f"__{k}": k for k in entity.key if k not in renames.values()}
    raw = raw.with_columns(pl.lit(None, pl.String).alias(src) for src in absent)
    schema.update(dict.fromkeys(absent, pl.String()))
    order = {c.name: i for i, c in enumerate(entity.columns)}
    renames = dict(sorted({**renames, **absent}.items(), key=lambda kv: order[split_qualified(kv[1])[0]]))
    # two steps, so that each trimmed text is computed once and shared by value and shadow
    temps = {src: f"__t{i}" for i, src in enumerate(renames)}
    error = ["_error"] if "_error" in schema else []
    trimmed = raw.select(
        "_source",
        "_row",
        *error,
        *(
            (pl.col(src).str.strip_chars() if trim and schema[src] == pl.String else pl.col(src)).alias(tmp)
            for src, tmp in temps.items()
        ),
    )
    casts = [
        cast(temps[src], dst, schema[src], entity, opts, feed.values.get(dst)) for src, dst in renames.items()
    ]
    shadows = [shadow for _, shadow in casts if shadow is not None]
    values = [*(value for value, _ in casts), *_settings_columns(feed, entity, set(renames.values()))]
    return trimmed.select("_source", "_row", *values, *shadows, *error)


def _settings_columns(feed: Feed, entity: Entity, mapped: set[str]) -> list[pl.Expr]:
    """Columns the settings fill in where no source column maps to them: a company's ApplicationKey."""
    if not entity.has_column("ApplicationKey") or "ApplicationKey" in mapped:
        return []
    if feed.application_key is None:
        msg = (
            f"feed {feed.name!r}: Norce's ImportCompanies needs an ApplicationKey on every company; "
            'set application_key = "<your application\'s GUID>" in the feed or its profile, or map '
            "a source column to ApplicationKey"
        )
        raise ConfigError(msg)
    return [pl.lit(feed.application_key, pl.String).alias("ApplicationKey")]


def _column_plan(
    file: Path, names: list[str], entity: Entity, mapping: Mapping[str, str], opts: SourceOptions
) -> dict[str, str]:
    """Source column -> canonical column; raises when mapped or key columns are missing."""
    dropped = set(opts.drop_columns)
    missing = [src for src, dst in mapping.items() if src not in names and not {src, dst} & dropped]
    if missing:
        msg = (
            f"{file}: mapped column(s) {', '.join(map(repr, missing))} not in the file; "
            f"available: {', '.join(map(repr, names)) or 'none'}"
        )
        raise SourceError(msg)
    plan: dict[str, str] = {}
    targets = set(mapping.values())
    for name in names:
        if name.startswith("_") or name in dropped:
            continue
        dst = mapping.get(name) or (name if name not in targets else None)
        if dst in dropped:
            continue
        dst = _canonical_name(file, dst, entity, opts) if dst else None
        if dst is None:
            log.warning("%s: column %r is not a column of %s; dropped", file, name, entity.name)
        elif dst in plan.values():
            msg = f"{file}: two columns map to {dst!r}; map only one of them"
            raise SourceError(msg)
        else:
            plan[name] = dst
    _require_keys(file, names, entity, plan)
    return plan


def _canonical_name(file: Path, name: str, entity: Entity, opts: SourceOptions) -> str | None:
    base, qual = split_qualified(name)
    if not entity.has_column(base):
        return None
    spec = entity.column(base)
    if spec.qualifier is None:
        return name if qual is None else None
    if qual is None and spec.qualifier == "culture" and opts.culture:
        return f"{base}[{opts.culture}]"
    if qual is None:
        example = "Name[sv-SE]" if spec.qualifier == "culture" else "VatRate[Sweden]"
        msg = (
            f"{file}: column {name!r} needs a {spec.qualifier.replace('_', ' ')} qualifier, "
            f"like {example}; rename it in the mapping or set the option culture"
        )
        raise SourceError(msg)
    if spec.qualifier == "sales_area":
        qual = _AREAS.get(qual.lower(), qual)
    return f"{base}[{qual}]"


def _require_keys(file: Path, names: list[str], entity: Entity, plan: dict[str, str]) -> None:
    lacking = [k for k in entity.key if k not in plan.values() and k not in KEY_DEFAULTS]
    if lacking and names:
        msg = (
            f"{file}: key column(s) {', '.join(map(repr, lacking))} of {entity.name} missing; "
            f"available: {', '.join(map(repr, names))} (map them in the feed's mapping)"
        )
        raise SourceError(msg)
