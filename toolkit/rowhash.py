"""Row hashes: one u64 per row for its key and one for the whole row, and how they were computed.

`toolkit.diff` hashes both sides of a diff to find changed candidates without comparing every
column; the snapshot store caches the hashes of a stored snapshot beside it. Each column is hashed
with polars' ``Expr.hash(seed)`` and the column hashes are folded with wrapping u64 arithmetic
(``h * prime + column_hash``; the prime is odd, so a change in any single column always changes the
row hash). Columns are folded in sorted order, so the hash does not depend on column order.

Polars does not promise stable hash values across versions, so every set of hashes carries a
**signature**: polars version, seed, key and columns with their dtypes. Hashes whose signature
differs from the one the current code would produce are never used, only recomputed.

Examples
--------
>>> import polars as pl
>>> a = hash_rows(pl.DataFrame({"k": [1, 2], "v": ["x", None]}), key="k")
>>> b = hash_rows(pl.DataFrame({"v": ["x", ""], "k": [1, 2]}), key="k")
>>> a.signature == b.signature, a.frame["__row_hash"].to_list()[0] == b.frame["__row_hash"][0]
(True, True)
>>> a.frame["__row_hash"][1] == b.frame["__row_hash"][1]   # null is not ""
False
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = ["HASH_SEED", "RowHashes", "hash_rows", "row_hash_signature"]

HASH_SEED = 0x5EED_D1FF
"""Seed of the row hashes. Fixed, so hashes cached beside a stored snapshot can be reused."""

KEY_HASH, ROW_HASH = "__key_hash", "__row_hash"
_PRIME = 0x100000001B3  # odd, so a change in any one column always changes the row hash
Frame = pl.DataFrame | pl.LazyFrame


@dataclass(frozen=True)
class RowHashes:
    """Hashes of a frame's rows: u64 ``__key_hash`` and ``__row_hash``, one row per frame row, in order.

    ``signature`` says how they were computed (polars version, seed, key and columns with dtypes); a
    diff uses them only when its own signature is equal, else it hashes the baseline again.
    """

    frame: pl.DataFrame
    signature: dict[str, Any]


def hash_rows(frame: Frame, *, key: str | Sequence[str], columns: Sequence[str] | None = None) -> RowHashes:
    """Hash each row's key and ``columns`` (default: every non-key, non-``_`` column).

    Examples
    --------
    >>> import polars as pl
    >>> h = hash_rows(pl.DataFrame({"k": ["a"], "v": [1]}), key="k")
    >>> h.frame.columns, h.signature["columns"]
    (['__key_hash', '__row_hash'], [['v', 'Int64']])
    """
    lf = data_columns(frame)
    schema = lf.collect_schema()
    spec = plan_columns(as_key(key), schema, schema, columns)
    return RowHashes(lf.select(hash_exprs(spec, schema)).collect(), spec.signature)


def row_hash_signature(
    schema: pl.Schema, *, key: str | Sequence[str], columns: Sequence[str] | None = None
) -> dict[str, Any]:
    """How `hash_rows` would hash a frame of this ``schema`` now (to check a cache cheaply).

    Examples
    --------
    >>> import polars as pl
    >>> sig = row_hash_signature(pl.Schema({"k": pl.String, "v": pl.Int64}), key="k")
    >>> sig["key"], sig["columns"], sig["polars"] == pl.__version__
    ([['k', 'String']], [['v', 'Int64']], True)
    """
    clean = pl.Schema({n: t for n, t in schema.items() if not n.startswith("_")})
    return plan_columns(as_key(key), clean, clean, columns).signature


# --- which columns, in which dtypes (shared with toolkit.diff) ---------------------------------


@dataclass(frozen=True)
class Columns:
    """What a diff (or a hash) covers: the key, the compared columns, and each one's common dtype."""

    keys: tuple[str, ...]
    compared: tuple[str, ...]
    dtypes: dict[str, pl.DataType]

    @property
    def signature(self) -> dict[str, Any]:
        def typed(names: Iterable[str]) -> list[list[str]]:
            return [[n, str(self.dtypes[n])] for n in names]

        return {
            "polars": pl.__version__,
            "seed": HASH_SEED,
            "key": typed(self.keys),
            "columns": typed(sorted(self.compared)),
        }


def plan_columns(
    keys: tuple[str, ...], bschema: pl.Schema, cschema: pl.Schema, fields: Iterable[str] | None
) -> Columns:
    """The `Columns` of a baseline and a current schema (ValueError names what does not fit)."""
    _check_columns(keys, bschema, "baseline")
    _check_columns(keys, cschema, "current")
    compared = _compared(keys, bschema, cschema, fields)
    return Columns(keys, compared, common_dtypes([*keys, *compared], bschema, cschema))


def as_key(key: str | Sequence[str]) -> tuple[str, ...]:
    """A key as a tuple of column names."""
    keys = (key,) if isinstance(key, str) else tuple(key)
    if not keys:
        raise ValueError("key must name at least one column")
    return keys


def data_columns(frame: Frame) -> pl.LazyFrame:
    """The frame without its ``_``-prefixed metadata columns."""
    lf = frame.lazy()
    return lf.select(c for c in lf.collect_schema().names() if not c.startswith("_"))


def _check_columns(keys: tuple[str, ...], schema: pl.Schema, side: str) -> None:
    missing = [k for k in keys if k not in schema]
    if missing:
        msg = f"{side} frame has no key column {missing[0]!r}; columns: {list(schema.names())}"
        raise ValueError(msg)


def _compared(
    keys: tuple[str, ...], bschema: pl.Schema, cschema: pl.Schema, fields: Iterable[str] | None
) -> tuple[str, ...]:
    union = [*cschema.names(), *(c for c in bschema.names() if c not in cschema)]
    if fields is None:
        return tuple(c for c in union if c not in keys)
    wanted = set(fields)
    unknown = sorted(wanted - set(union))
    if unknown:
        raise ValueError(f"field {unknown[0]!r} is in neither frame; columns: {union}")
    return tuple(c for c in union if c in wanted and c not in keys)


def common_dtypes(names: Iterable[str], bschema: pl.Schema, cschema: pl.Schema) -> dict[str, pl.DataType]:
    """Each column's dtype on both sides: the supertype where they differ."""
    out: dict[str, pl.DataType] = {}
    for name in names:
        b, c = bschema.get(name), cschema.get(name)
        dtype = _supertype(name, b, c) if b is not None and c is not None else b or c
        assert dtype is not None
        out[name] = dtype
    return out


def _supertype(name: str, b: pl.DataType, c: pl.DataType) -> pl.DataType:
    if b == c:
        return b
    try:
        both = [pl.DataFrame(schema={name: b}), pl.DataFrame(schema={name: c})]
        return pl.concat(both, how="vertical_relaxed").schema[name]
    except pl.exceptions.PolarsError as exc:
        msg = f"column {name!r} has dtype {b} in the baseline and {c} in current: not comparable"
        raise ValueError(msg) from exc


def column_expr(name: str, schema: pl.Schema, dtype: pl.DataType) -> pl.Expr:
    """The column in ``dtype``, or all-null when the frame lacks it."""
    if name not in schema:
        return pl.lit(None, dtype).alias(name)
    return pl.col(name) if schema[name] == dtype else pl.col(name).cast(dtype)


def combine_hashes(exprs: Sequence[pl.Expr], seed: int) -> pl.Expr:
    """One u64 per row from per-column hashes (3-5x faster than ``pl.struct(...).hash``)."""
    combined = exprs[0].hash(seed)
    for expr in exprs[1:]:
        combined = combined * _PRIME + expr.hash(seed)
    return combined


def hash_exprs(spec: Columns, schema: pl.Schema) -> list[pl.Expr]:
    """``__key_hash`` and ``__row_hash`` (key and compared columns) of a frame of ``schema``."""

    def cols(names: Iterable[str]) -> list[pl.Expr]:
        return [column_expr(n, schema, spec.dtypes[n]) for n in names]

    # Sorted, so the hash does not depend on column order and a cached one stays valid.
    row = cols([*spec.keys, *sorted(spec.compared)])
    return [
        combine_hashes(cols(spec.keys), HASH_SEED).alias(KEY_HASH),
        combine_hashes(row, HASH_SEED).alias(ROW_HASH),
    ]
