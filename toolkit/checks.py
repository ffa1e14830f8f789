"""Check canonical frames against the Connect contract: valid rows go on, rejected rows keep a reason.

``schema_for(entity)`` is a pandera (polars backend) ``DataFrameSchema`` generated from the registry
in ``toolkit.entities``: key columns present, not null and unique together; canonical dtypes; ranges
(``Column.ge``/``le``); enum members (``Column.values``, by NAME, as ``read_source`` normalises them);
ISO 4217 currency codes (``kind="currency"``); culture codes (``kind="culture"`` and the qualifier of
``Name[sv-SE]``-style columns); sales areas (``VatRate[Sweden]``); maximum lengths; URL shape
(``kind="url"``); values that ``read_source`` could not cast (its ``_raw_<col>`` shadows); rows the
loader flagged (``_error``); and for products, product-level columns that disagree between the SKUs
of one product ``Code`` and variant-level ones between the SKUs of one variant (``ManufacturerCode``
+ ``ManufacturerPartNo``).

``validate(entity, frame)`` runs it and returns a ``CheckResult``. For speed every check is one polars
expression: a single vectorised pass over the whole frame finds the rows with any problem, then
pandera validates only those rows (``lazy=True``) and its failure cases become ``.rejected``. That gives
the same failure cases as validating the whole frame, because every check is element-wise or over a
group (key, product, variant) whose rows are all flagged together. Frames are validated collected:
pandera checks only the schema of a LazyFrame.

Workarounds for pandera's polars backend (each has a regression test in tests/test_checks.py):

- ``DataFrameSchema(unique=[...])`` reports a duplicate as a JSON dump of the whole row with no column,
  built row by row in Python; the key check here is a column check (``unique_key``) over the key.
- A LazyFrame is validated at schema depth only (data checks silently skipped), so ``validate``
  accepts only collected DataFrames.

Examples
--------
>>> import polars as pl
>>> frame = pl.DataFrame({"PartNo": ["A", "B", "B"], "PriceListCode": ["SE", "SE", "SE"],
...                       "QuantityBreak": [1, 1, 1], "CurrencyCode": ["SEK", "SEK", "EUR"]})
>>> result = validate("sku_prices", frame, policies=Policies(max_reject_ratio=1.0))
>>> result.valid["PartNo"].to_list()
['A']
>>> result.rejected.select("_row", "key", "check").rows()
[(2, 'B|SE|1', 'unique_key'), (3, 'B|SE|1', 'unique_key')]
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from toolkit._rules import ISO_4217, META, Rule, rules_for
from toolkit.config import Policies
from toolkit.entities import Entity, get_entity, split_qualified
from toolkit.errors import CheckFailed

__all__ = [
    "ISO_4217",
    "REJECTED_SCHEMA",
    "CheckResult",
    "checks_digest",
    "combine",
    "enforce",
    "schema_for",
    "validate",
]

REJECTED_SCHEMA = pl.Schema(
    {
        "_source": pl.String(),
        "_row": pl.Int64(),
        "key": pl.String(),
        "column": pl.String(),
        "check": pl.String(),
        "value": pl.String(),
        "reason": pl.String(),
    }
)
log = logging.getLogger(__name__)
_CROSS_FEED = {
    "onhands": ("PartNo",),
    "sku_prices": ("PartNo",),
    "competitor_skus": ("PartNo",),
    "relations": ("PartNo", "RelatedPartNo"),
}


@dataclass(frozen=True)
class CheckResult:
    """Valid rows, one rejected row per problem, counts, and warnings that reject nothing."""

    valid: pl.DataFrame
    rejected: pl.DataFrame
    summary: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def schema_for(entity: str | Entity, columns: list[str] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of an entity's canonical frame with ``columns`` (default: all plain ones).

    Examples
    --------
    >>> import polars as pl
    >>> schema = schema_for("onhands")
    >>> sorted(schema.columns)[:3]
    ['IncomingValue', 'IsActive', 'LeadTimeDayCount']
    >>> bad = pl.DataFrame({"PartNo": ["A"], "WarehouseCode": ["W"], "LocationCode": ["L"],
    ...                     "LeadTimeDayCount": [-2]})
    >>> try:
    ...     schema.validate(bad, lazy=True)
    ... except pa.errors.SchemaErrors as exc:
    ...     exc.failure_cases.select("column", "check", "failure_case").rows()
    [('LeadTimeDayCount', 'ge', '-2')]
    """
    ent = get_entity(entity) if isinstance(entity, str) else entity
    if columns is None:
        columns = [c.name for c in ent.columns if c.qualifier is None]
    return _schema(ent, columns, rules_for(ent, columns))


def _schema(ent: Entity, columns: list[str], rules: list[Rule]) -> pa.DataFrameSchema:
    specs: dict[str, pa.Column] = {}
    for name in [*columns, *(k for k in ent.key if k not in columns)]:
        if name in META or name.startswith("_raw_"):
            specs[name] = pa.Column(
                META.get(name, pl.String()),
                nullable=True,
                required=False,
                checks=[r.pandera() for r in rules if r.column == name],
            )
            continue
        # nulls in key and required columns are the custom not_null check: it knows when a null
        # stands for a value read_source could not cast (reported once, as parse)
        checks = [r.pandera() for r in rules if r.column == name]
        specs[name] = pa.Column(
            ent.column(name).dtype, nullable=True, required=ent.column(name).is_key, checks=checks
        )
    return pa.DataFrameSchema(specs, name=ent.name, strict=False)


def validate(
    entity: str | Entity,
    frame: pl.DataFrame,
    *,
    policies: Policies | None = None,
    products: pl.DataFrame | pl.LazyFrame | None = None,
) -> CheckResult:
    """Split a canonical frame into valid rows and rejected problems.

    Parameters
    ----------
    entity
        The entity (name or ``Entity``) the frame holds.
    frame
        A collected canonical frame, as ``read_source`` gives it.
    policies
        ``max_reject_ratio`` (above it: CheckFailed) and ``on_reject`` (``"fail"``: any rejected row
        raises CheckFailed); defaults to ``Policies()``.
    products
        The products frame (or snapshot): PartNo values of onhands, sku_prices, relations and
        competitor_skus that it lacks are reported in ``.warnings`` (Connect skips those rows).

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"PartNo": ["A", None], "WarehouseCode": ["W", "W"],
    ...                       "LocationCode": ["L", "L"], "OnhandValue": [3, 4]})
    >>> result = validate("onhands", frame, policies=Policies(max_reject_ratio=0.5))
    >>> result.summary["rejected_rows"], result.rejected["reason"][0]
    (1, 'PartNo is empty; it is required')
    """
    ent = get_entity(entity) if isinstance(entity, str) else entity
    if not isinstance(frame, pl.DataFrame):
        msg = f"validate({ent.name!r}) expects a collected DataFrame, found {type(frame).__name__}"
        raise TypeError(msg)
    frame, warnings = _prepare(ent, frame)
    frame, collapsed = _collapse_identical(ent, frame)
    warnings += collapsed
    rules = rules_for(ent, frame.columns)
    schema = _schema(ent, frame.columns, rules)
    _check_structure(ent, schema, frame)
    suspects = _screen(ent, frame, rules)
    candidates = frame.filter(suspects).with_columns(suspects.arg_true().alias("__pos"))
    rejected, positions = _rejected(ent, schema, candidates, rules)
    valid = _valid_rows(frame, positions)
    summary = _summary(ent, frame.height, valid.height, rejected)
    warnings += _cross_feed(ent, valid, products)
    result = CheckResult(valid=valid, rejected=rejected, summary=summary, warnings=warnings)
    enforce(ent, policies or Policies(), result)
    return result


def enforce(entity: str | Entity, policies: Policies, result: CheckResult) -> None:
    """Raise CheckFailed when ``result`` rejects more than ``policies`` allow (as `validate` does).

    For a result validated leniently (to show every rejected row) that must still obey a feed.
    """
    ent = get_entity(entity) if isinstance(entity, str) else entity
    _enforce(ent, policies, result.summary, result.rejected)


def checks_digest(entity: str | Entity, columns: Sequence[str]) -> str:
    """A digest of the checks a frame of ``entity`` with ``columns`` gets (each rule's column, name and
    expressions, serialized): the same digest, the same verdict on the same row. A streamed change
    plan checks only the rows that differ from its baseline while its baseline was checked alike.

    >>> a = checks_digest("onhands", ["PartNo", "OnhandValue"])
    >>> a == checks_digest("onhands", ["OnhandValue", "PartNo"]), a == checks_digest("onhands", ["PartNo"])
    (True, False)
    """
    ent = get_entity(entity) if isinstance(entity, str) else entity
    rules = rules_for(ent, sorted(columns))
    text = "\n".join(
        f"{r.check}|{r.column}|{r.group}|"
        + "|".join(e.meta.serialize(format="json") for e in (r.ok, r.value, r.reason))
        for r in rules
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def combine(entity: str | Entity, results: Sequence[CheckResult]) -> CheckResult:
    """One result for the results of a source checked in parts (its valid rows not kept: each part's
    caller has them); `enforce` weighs it as it would the whole source's."""
    ent = get_entity(entity) if isinstance(entity, str) else entity
    frames = [r.rejected for r in results if r.rejected.height]
    rejected = pl.concat(frames, how="diagonal_relaxed") if frames else results[0].rejected
    rows = sum(r.summary["rows"] for r in results)
    valid = sum(r.summary["valid"] for r in results)
    warnings = [w for r in results for w in r.warnings]
    summary = _summary(ent, rows, valid, rejected)
    return CheckResult(valid=results[0].valid.clear(), rejected=rejected, summary=summary, warnings=warnings)


def _valid_rows(frame: pl.DataFrame, rejected_positions: np.ndarray) -> pl.DataFrame:
    """The data columns (and ``_source``, ``_row``) of the rows not rejected."""
    data = frame.select(c for c in frame.columns if not c.startswith("_") or c in ("_source", "_row"))
    if not len(rejected_positions):
        return data
    keep = np.ones(frame.height, dtype=bool)
    keep[rejected_positions] = False
    return data.filter(pl.Series(keep))


def _prepare(ent: Entity, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Add ``_source``/``_row`` when missing; drop columns that are neither canonical nor metadata."""
    warnings: list[str] = []
    extra = [
        c for c in frame.columns if not c.startswith("_") and not (ent.has_column(c) and _plausible(ent, c))
    ]
    if extra:
        warnings.append(f"{ent.name}: column(s) {', '.join(extra)} are not columns of {ent.name}; ignored")
        frame = frame.drop(extra)
    if "_row" not in frame.columns:
        frame = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"))
    if "_source" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("_source"))
    frame = frame.with_columns(_widen(ent, frame.schema))
    return frame.select("_source", "_row", pl.exclude("_source", "_row")), warnings


def _collapse_identical(ent: Entity, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Rows that repeat an earlier row byte for byte (every column but ``_row``) collapse into it, with
    a note; rows that share a key but differ stay for the ``unique_key`` check. Only rows whose key
    repeats are compared whole."""
    key = list(ent.key)
    if frame.height < 2 or not set(key) <= set(frame.columns):
        return frame, []
    complete = frame.select(pl.all_horizontal(pl.col(key).is_not_null())).to_series()
    suspects = _duplicate_screen(frame, key) & complete  # a row without its key is rejected, each one
    if not suspects.any():
        return frame, []
    same = [c for c in frame.columns if c not in ("_row", "_source")]
    candidates = frame.with_row_index("__pos").filter(suspects)
    repeats = candidates.filter(~pl.struct(same).is_first_distinct())
    if repeats.is_empty():
        return frame, []
    shown = repeats.select("_source", "_row").head(10).rows()
    rows = ", ".join(f"{source or 'the source'} row {row}" for source, row in shown)
    more = " …" if repeats.height > 10 else ""
    note = (
        f"{ent.name}: {repeats.height} row(s) repeat an earlier row exactly and were collapsed "
        f"into it: {rows}{more}"
    )
    log.warning("%s", note)
    keep = np.ones(frame.height, dtype=bool)
    keep[repeats["__pos"].to_numpy()] = False
    return frame.filter(pl.Series(keep)), [note]


def _widen(ent: Entity, schema: pl.Schema) -> list[pl.Expr]:
    """Lossless casts to the canonical dtype (Int32 -> Int64, other decimal scales, all-null)."""
    casts = []
    for name, dtype in schema.items():
        if name.startswith("_"):
            continue
        target = ent.column(name).dtype
        lossless = (
            (dtype.is_integer() and target == pl.Int64)
            or dtype == pl.Null
            or (isinstance(dtype, pl.Decimal) and isinstance(target, pl.Decimal))
        )
        if dtype != target and lossless:
            casts.append(pl.col(name).cast(target))
    return casts


def _plausible(ent: Entity, name: str) -> bool:
    """A ``Base[qualifier]`` name only for qualified columns, a plain name only for plain ones."""
    qualified = split_qualified(name)[1] is not None
    return qualified == (ent.column(name).qualifier is not None)


def _check_structure(ent: Entity, schema: pa.DataFrameSchema, frame: pl.DataFrame) -> None:
    """Columns and dtypes (pandera at schema depth); a frame-level failure raises CheckFailed."""
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
            schema.validate(frame.head(0), lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.select("column", "check", "failure_case").rows()
        found = "; ".join(_structure_problem(*case) for case in cases)
        msg = f"{ent.name}: {found}; expected the canonical columns and types (see read_source)"
        raise CheckFailed(msg) from exc


def _structure_problem(column: str, check: str, case: str) -> str:
    if check == "column_in_dataframe":
        return f"key column {case} is missing"
    if check.startswith("dtype("):
        return f"column {column} has type {case}, expected {check[7:-2]}"
    return f"column {column}: {check} ({case})"


def _failure_cases(schema: pa.DataFrameSchema, candidates: pl.DataFrame) -> pl.DataFrame:
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
            schema.validate(candidates, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases: pl.DataFrame = exc.failure_cases
        return cases.filter(pl.col("index").is_not_null())
    return pl.DataFrame(schema={"column": pl.String, "check": pl.String, "index": pl.Int32})


def _screen(ent: Entity, frame: pl.DataFrame, rules: list[Rule]) -> pl.Series:
    """Rows that may have a problem: every rule in one vectorised pass (a superset is fine)."""
    exprs = [~r.ok for r in rules if r.check != "unique_key" and r.group is None]
    flags = frame.select(pl.any_horizontal(exprs) if exprs else pl.repeat(False, pl.len()))
    suspects = flags.to_series().fill_null(False)
    if any(r.group is not None for r in rules):
        suspects = suspects | _group_screen(frame, rules)
    if any(r.check == "unique_key" for r in rules):
        suspects = suspects | _duplicate_screen(frame, list(ent.key))
    return suspects


def _group_screen(frame: pl.DataFrame, rules: list[Rule]) -> pl.Series:
    """Rows of a product/variant whose rows disagree on any of its columns.

    One ``n_unique(...).over(col)`` per column costs seconds at 1M rows; instead the group's columns
    are hashed once per row, and a group disagrees where the smallest and largest of its hashes
    differ (a ``group_by`` on the hash of its column, 4x faster than ``n_unique().over()``; a
    collision there only merges groups, flagging more rows). Usually no group disagrees.
    """
    columns: dict[tuple[str, ...], list[str]] = {}
    for r in rules:
        if r.group is not None and r.column not in columns.setdefault(r.group, []):
            columns[r.group].append(r.column)
    keys = [f"__k{i}" for i in range(len(columns))]
    groups = frame.select(frame.select(by).hash_rows().alias(k) for by, k in zip(columns, keys, strict=True))
    groups = groups.with_columns(
        frame.select(cols).hash_rows().alias(f"__h{i}") for i, cols in enumerate(columns.values())
    )
    lf = groups.lazy()
    disagree = pl.collect_all(
        lf.group_by(k)
        .agg((pl.col(f"__h{i}").min() != pl.col(f"__h{i}").max()).alias("bad"))
        .filter("bad")
        .select(k)
        for i, k in enumerate(keys)
    )
    flags = [
        frame[by[-1]].is_not_null() & groups[k].is_in(bad[k].implode())
        for by, k, bad in zip(columns, keys, disagree, strict=True)
        if bad.height
    ]
    if not flags:
        return pl.Series(np.zeros(frame.height, dtype=bool))
    return pl.select(pl.any_horizontal(flags)).to_series()


def _duplicate_screen(frame: pl.DataFrame, key: list[str]) -> pl.Series:
    """Rows whose key hash occurs twice: all duplicate keys, plus a few hash collisions.

    Sorting row hashes is several times faster than ``is_duplicated`` on the key columns; the exact
    check runs in pandera on the rows found here. Up to 4M rows, 32 of the 64 hash bits suffice
    (about 2,000 colliding rows at 4M) and sort twice as fast.
    """
    hashes = frame.select(key).hash_rows().to_numpy()
    if frame.height <= 1 << 22:
        hashes = (hashes >> np.uint64(32)).astype(np.uint32)
    ordered = np.sort(hashes)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if not len(repeated):
        return pl.Series(np.zeros(frame.height, dtype=bool))
    return pl.Series(hashes).is_in(pl.Series(repeated).implode())


def _rejected(
    ent: Entity, schema: pa.DataFrameSchema, candidates: pl.DataFrame, rules: list[Rule]
) -> tuple[pl.DataFrame, np.ndarray]:
    """One row per pandera failure case on the candidate rows, and the frame positions rejected."""
    if candidates.height == 0:
        return pl.DataFrame(schema=REJECTED_SCHEMA), np.zeros(0, dtype=np.int64)
    cases = _failure_cases(schema, candidates).select("column", "check", "index").unique()
    by_name = {(r.column, r.check): r for r in rules}
    indexed = candidates.with_row_index("index").with_columns(_key_text(ent).alias("key"))
    parts = []
    for (column, check), group in cases.group_by("column", "check", maintain_order=True):
        rule = by_name[(str(column), str(check))]
        rows = indexed.join(group.select(pl.col("index").cast(pl.UInt32)), on="index", how="semi")
        parts.append(
            rows.select(
                "_source",
                "_row",
                "key",
                pl.lit(rule.report_column).alias("column"),
                pl.lit(rule.check).alias("check"),
                rule.value.alias("value"),
                rule.reason.alias("reason"),
                "index",
                "__pos",
            )
        )
    if not parts:
        return pl.DataFrame(schema=REJECTED_SCHEMA), np.zeros(0, dtype=np.int64)
    out = pl.concat(parts).sort("index", "column", "check")  # a stable order, run after run
    positions = out["__pos"].unique().to_numpy().astype(np.int64)
    out = out.drop("index", "__pos").cast(REJECTED_SCHEMA)
    # filtered string columns point into the whole frame's buffers; a gather copies just these rows
    return out[pl.int_range(out.height, eager=True)], positions


def _key_text(ent: Entity) -> pl.Expr:
    parts = [pl.col(k).cast(pl.String).fill_null("(empty)") for k in ent.key]
    return pl.concat_str(parts, separator="|")


def _summary(ent: Entity, rows: int, valid: int, rejected: pl.DataFrame) -> dict[str, Any]:
    problems = dict(rejected.group_by("check").len().sort("check").iter_rows())
    bad = rows - valid
    return {
        "entity": ent.name,
        "rows": rows,
        "valid": valid,
        "rejected_rows": bad,
        "reject_ratio": round(bad / rows, 6) if rows else 0.0,
        "problems": problems,
        "examples": rejected.head(5).to_dicts(),
    }


def _cross_feed(ent: Entity, valid: pl.DataFrame, products: pl.DataFrame | pl.LazyFrame | None) -> list[str]:
    if products is None or ent.name not in _CROSS_FEED:
        return []
    known = products.lazy().select(pl.col("PartNo").drop_nulls().unique())
    warnings = []
    for column in _CROSS_FEED[ent.name]:
        if column not in valid.columns:
            continue
        wanted = valid.lazy().select(pl.col(column).drop_nulls().unique().alias("PartNo"))
        absent = wanted.join(known, on="PartNo", how="anti").sort("PartNo").collect()["PartNo"]
        if len(absent):
            shown = ", ".join(absent.head(10).to_list()) + (" …" if len(absent) > 10 else "")
            warnings.append(
                f"{ent.name}: {len(absent)} {column} value(s) are not in the products "
                f"snapshot, so Connect will skip their rows: {shown}"
            )
    return warnings


def _enforce(ent: Entity, policies: Policies, summary: dict[str, Any], rejected: pl.DataFrame) -> None:
    bad, rows = summary["rejected_rows"], summary["rows"]
    examples = "; ".join(f"row {r['_row']} {r['column']}: {r['reason']}" for r in summary["examples"])
    if bad and policies.on_reject == "fail":
        msg = f"{ent.name}: {bad} of {rows} rows rejected and the feed's on_reject is 'fail': {examples}"
        raise CheckFailed(msg, summary=summary, rejected=rejected)
    if rows and bad / rows > policies.max_reject_ratio:
        msg = (
            f"{ent.name}: {bad} of {rows} rows rejected ({bad / rows:.1%}), more than the feed's "
            f"max_reject_ratio {policies.max_reject_ratio:.1%}: {examples}"
        )
        raise CheckFailed(msg, summary=summary, rejected=rejected)
