"""Rows of a canonical frame -> Connect items as JSON, built by polars expressions in bulk.

Items are polars structs encoded by ``struct.json_encode``; null members are then dropped with one
regular expression over the rows that have any (keys come first and are never null), except members
marked :data:`~toolkit.payloads.members.KEEP` (a listed field that is cleared).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
import orjson
import polars as pl

from toolkit.entities import Entity
from toolkit.payloads.headers import item_columns, resolve
from toolkit.payloads.members import SUB_ELEMENTS, SUPPLIER_KEY, Schema, level_members, object_json

# `,"Member":null` outside strings: in JSON text a quote inside a string is always escaped, so `,"`
# only starts a member; marked members (escaped \u0001...) never match. Items start with non-null
# identity members; only supplier OnHand/PriceList elements can start with a null member.
_NULL_MEMBER = r',"[^"\\]*":null'
_LEADING_NULL = r'\{"[^"\\]*":null,'
_KEEP_JSON = '"\\u0001\\u0002\\u0003'  # KEEP as json_encode writes it
_STREAMING_ROWS = 20_000  # from here string building runs in the streaming engine (all cores)
_PRODUCT_CHUNK_ROWS = 200_000  # products are encoded this many SKU rows at a time (see _product_items)


def encode_items(
    entity: Entity | str,
    frame: pl.DataFrame,
    *,
    fields: Iterable[str] | None = None,
    clear: Collection[str] = (),
) -> pl.Series:
    """One JSON object (a String value) per item, in the order items first appear in ``frame``.

    Parameters
    ----------
    entity
        The entity (or its name).
    frame
        A canonical frame ("_"-prefixed columns ignored); products have one row per SKU.
    fields
        Canonical columns to carry besides identity (``None``: every column of the frame).
    clear
        Columns whose nulls are sent as explicit ``null`` (a listed field that is cleared); other
        nulls are omitted, and so are nulls of members the contract does not let be null.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"PartNo": ["A"], "WarehouseCode": ["W"], "LocationCode": ["L"],
    ...                    "OnhandValue": [5], "IncomingValue": [None]})
    >>> encode_items("onhands", df).to_list()
    ['{"PartNo":"A","WarehouseCode":"W","LocationCode":"L","OnhandValue":5}']
    >>> encode_items("onhands", df, fields=["IncomingValue"], clear=["IncomingValue"]).to_list()
    ['{"PartNo":"A","WarehouseCode":"W","LocationCode":"L","IncomingValue":null}']
    """
    ent = resolve(entity)
    cols = item_columns(ent, frame.columns, fields)
    # a null is never sent where the contract's member cannot take it (a C# value type)
    keep = frozenset(c for c in clear if c in cols and ent.column(c).nullable)
    schema: Schema = dict(frame.schema)
    if ent.name == "products":  # null members are dropped (and marks removed) level by level
        return _product_items(ent, frame, cols, schema, keep)
    item = object_json(*level_members(ent, cols, schema, keep)).alias("item")
    if ent.name == "supplier_products":  # each row carries its item's whole lists: one item per key
        item = item.filter(pl.col(SUPPLIER_KEY).is_first_distinct())
    leading = any(c.startswith(tuple(p + "." for p in SUB_ELEMENTS)) for c in cols)
    return _json_without_nulls(frame, item, marked=bool(keep), leading=leading)


def _evaluate(frame: pl.DataFrame, expr: pl.Expr) -> pl.Series:
    """``expr`` over ``frame`` (see `_collect`)."""
    return _collect(frame.lazy().select(expr), frame.height).to_series()


def _collect(query: pl.LazyFrame, rows: int) -> pl.DataFrame:
    """The in-memory engine runs one string expression on one core; from ``_STREAMING_ROWS`` rows
    on the streaming engine splits the rows over all cores (keeping their order)."""
    return query.collect(engine="streaming" if rows >= _STREAMING_ROWS else "auto")


def _json_without_nulls(frame: pl.DataFrame, item: pl.Expr, *, marked: bool, leading: bool) -> pl.Series:
    """The JSON objects ``item`` builds over ``frame``, their null members dropped (`_drop_nulls`)."""
    if frame.height < _STREAMING_ROWS:
        return _drop_nulls(frame.select(item).to_series(), marked=marked, leading=leading)
    fixed = _without_null_members(item, leading=leading)
    return _evaluate(frame, fixed.str.replace_all(_KEEP_JSON, '"', literal=True) if marked else fixed)


def _drop_nulls(json: pl.Series, *, marked: bool, leading: bool = False) -> pl.Series:
    has_null = json.str.contains(":null", literal=True)
    count = has_null.sum()
    if count > len(json) // 4:  # one pass over every row beats gather + scatter (both patterns need :null)
        json = _drop_null_members(json, leading=leading)
    elif count:
        rows = has_null.arg_true()
        json = json.scatter(rows, _drop_null_members(json.gather(rows), leading=leading))
    if marked:
        json = json.str.replace_all(_KEEP_JSON, '"', literal=True)
    return json


def _drop_null_members(json: pl.Series, *, leading: bool) -> pl.Series:
    return json.to_frame().select(_without_null_members(pl.first(), leading=leading)).to_series()


def _without_null_members(json: pl.Expr, *, leading: bool) -> pl.Expr:
    fixed = json.str.replace_all(_NULL_MEMBER, "")
    return fixed.str.replace_all(_LEADING_NULL, "{") if leading else fixed


def _levels(entity: Entity, cols: list[str]) -> dict[str, list[str]]:
    levels: dict[str, list[str]] = {"product": [], "variant": [], "sku": []}
    for name in cols:
        levels[entity.column(name).level].append(name)
    return levels


def _product_items(
    entity: Entity, frame: pl.DataFrame, cols: list[str], schema: Schema, keep: frozenset[str]
) -> pl.Series:
    """Product -> Variants -> Skus, assembled as JSON text bottom-up: SKU objects per row, joined
    per variant (Code, ManufacturerCode, ManufacturerPartNo), joined per product (Code) in order of
    first appearance (see `_nesting` for sources without those columns).

    Each row gets the index of its product's and its variant's first row; one stable sort on those
    integers makes every group contiguous, so the joins group a sorted integer column (fast) rather
    than strings. The sorted rows are encoded in chunks of whole products (about
    ``_PRODUCT_CHUNK_ROWS`` rows each), so the text of one chunk's levels is in memory at a time,
    not of the whole catalog's. Variant and product members are gathered from the groups' first
    rows. Null members are dropped (and the marks of kept nulls removed) level by level, before
    nesting, so no text is searched twice.
    """
    levels = _levels(entity, cols)
    # Rows are gathered level by level: from one chunk, 10x faster than from the several a file
    # read gives (a gather over chunks costs about as much as copying them all).
    product, variant = _nesting(frame.columns)
    frame = frame.select(list(dict.fromkeys([*variant, *cols]))).rechunk()
    first = pl.col("_i").min()
    ids = (
        frame.select(variant)
        .with_row_index("_i")
        .select(first.over(product).alias("_p"), first.over(variant).alias("_v"))
    )
    order = ids.select(pl.arg_sort_by("_p", "_v", maintain_order=True)).to_series()
    ids = ids[order]
    chunks = [
        _product_chunk(entity, frame, order.slice(at, n), ids.slice(at, n), levels, schema, keep)
        for at, n in _whole_products(ids["_p"], _PRODUCT_CHUNK_ROWS)
    ]
    return pl.concat(chunks) if len(chunks) > 1 else chunks[0]


def _nesting(columns: list[str]) -> tuple[list[str], list[str]]:
    """The columns that group rows into a product and into a variant: ``Code``, and ``Code`` +
    ``ManufacturerCode`` + ``ManufacturerPartNo`` (ACME 1001 and BETA 1001 are two variants); without
    a ``Code`` each variant is its own product."""
    variant: list[str] = [c for c in ("Code", "ManufacturerCode", "ManufacturerPartNo") if c in columns]
    return (["Code"] if "Code" in columns else variant), variant


def _whole_products(product: pl.Series, size: int) -> list[tuple[int, int]]:
    """(offset, length) slices of about ``size`` rows of a column sorted by product, each ending
    where a product ends (a product larger than ``size`` makes a longer slice)."""
    values = product.to_numpy()
    if not values.size:
        return [(0, 0)]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    picked = np.searchsorted(starts, np.arange(0, values.size, size))  # first start at or after each
    cuts = np.unique(starts[picked[picked < starts.size]]).tolist()
    return [(at, end - at) for at, end in zip(cuts, [*cuts[1:], values.size], strict=True)]


def _product_chunk(
    entity: Entity,
    frame: pl.DataFrame,
    rows: pl.Series,
    ids: pl.DataFrame,
    levels: dict[str, list[str]],
    schema: Schema,
    keep: frozenset[str],
) -> pl.Series:
    """The items of whole products: ``rows`` of ``frame`` sorted by product and variant, ``ids`` the
    first-row indexes of their product (``_p``) and variant (``_v``)."""
    skus = _own_json(entity, _rows(frame, levels["sku"], rows), levels["sku"], schema, keep)
    variants = _join_runs(ids.with_columns(skus.alias("_s")), "_v", "_s", "_p")
    own = _own_json(entity, _rows(frame, levels["variant"], variants["_v"]), levels["variant"], schema, keep)
    variants = variants.select("_p", _nest(own, "Skus", variants["_s"]).alias("_s"))
    products = _join_runs(variants, "_p", "_s")
    own = _own_json(entity, _rows(frame, levels["product"], products["_p"]), levels["product"], schema, keep)
    return _nest(own, "Variants", products["_s"]).alias("item")


def _rows(frame: pl.DataFrame, names: list[str], indexes: pl.Series) -> pl.DataFrame:
    return frame.select(names).gather(indexes)  # only the level's columns: descriptions are long


def _own_json(
    entity: Entity, frame: pl.DataFrame, names: list[str], schema: Schema, keep: frozenset[str]
) -> pl.Series:
    """One object per row of the members of one level, null members dropped, then the marks of
    kept nulls removed (nesting drops nothing more, so the marks are done with here)."""
    members, fragments = level_members(entity, names, schema, keep)
    marked = not keep.isdisjoint(names)
    return _json_without_nulls(frame, object_json(members, fragments), marked=marked, leading=False)


def _nest(own: pl.Series, member: str, children: pl.Series) -> pl.Series:
    """``own`` objects with ``"member":[children]`` as their last member."""
    parts = pl.DataFrame([own.alias("own"), children.alias("children")])
    nested = pl.concat_str(
        pl.col("own").str.strip_suffix("}"), pl.lit(f',"{member}":['), "children", pl.lit("]}")
    )
    return _evaluate(parts, nested)


def _join_runs(frame: pl.DataFrame, by: str, text: str, *carry: str) -> pl.DataFrame:
    """``text`` joined by "," per run of equal ``by`` values (``frame`` is sorted by ``by``)."""
    keyed = frame.lazy().with_columns(pl.col(by).set_sorted())
    # implode then list.join is ~3x faster than str.join as an aggregation
    runs = keyed.group_by(by, maintain_order=True).agg(*(pl.first(c) for c in carry), pl.col(text))
    return _collect(runs.with_columns(pl.col(text).list.join(",")), frame.height)


def join_items(json: pl.Series) -> bytes:
    """A JSON array (bytes) of the encoded items.

    >>> join_items(pl.Series(['{"a":1}', '{"a":2}']))
    b'[{"a":1},{"a":2}]'
    """
    if json.is_empty():
        return b"[]"
    # as Binary, polars hands over the UTF-8 bytes: no str to decode and encode again
    body: bytes = json.str.join(",").cast(pl.Binary).item()
    return b"".join((b"[", body, b"]"))  # one copy of the body, not two


def serialize_items(
    entity: Entity | str,
    frame: pl.DataFrame,
    *,
    fields: Iterable[str] | None = None,
    clear: Collection[str] = (),
) -> bytes:
    """The request body: a JSON array of the frame's items (see :func:`encode_items`).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"Code": ["ACME"], "Name": ["Acme AB"], "IsActive": [True]})
    >>> serialize_items("companies", df)
    b'[{"Code":"ACME","Name":"Acme AB","IsActive":true}]'
    """
    return join_items(encode_items(entity, frame, fields=fields, clear=clear))


def build_items(
    entity: Entity | str,
    frame: pl.DataFrame,
    *,
    fields: Iterable[str] | None = None,
    clear: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The frame's items as Python objects, exactly as :func:`serialize_items` sends them.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"Code": ["C1"], "CompanyCode": ["ACME"], "FirstName": ["Ann"]})
    >>> build_items("customers", df)
    [{'Code': 'C1', 'FirstName': 'Ann', 'Companies': [{'Code': 'ACME', 'IsPrimary': True}]}]
    >>> build_items("customers", df, fields=["FirstName"])
    [{'Code': 'C1', 'FirstName': 'Ann'}]
    """
    items: list[dict[str, Any]] = orjson.loads(serialize_items(entity, frame, fields=fields, clear=clear))
    return items
