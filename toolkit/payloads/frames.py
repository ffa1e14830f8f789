"""Connect items -> a canonical frame: the inverse of the item builders (for reading a catalog back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from toolkit.entities import VALUE_ENUMS, Entity, SalesArea, split_qualified
from toolkit.payloads.headers import data_columns, resolve
from toolkit.payloads.members import SUB_ELEMENTS

_ROW = "__r"


def frame_from_items(
    entity: Entity | str, items: Sequence[dict[str, Any]], *, columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """A canonical frame (one row per item; products one per SKU) from Connect items.

    Enum integers come back as names, numbers as the canonical decimals, ``"YYYY-MM-DD"`` as dates.
    ``IsActive`` (and the SKU ``Status``) are kept so callers can filter deactivated items, even for
    entities whose canonical columns lack ``IsActive``.

    Parameters
    ----------
    entity
        The entity (or its name).
    items
        Items as Python objects (e.g. parsed JSON).
    columns
        Columns to return, in this order; ones absent from the items come back null. By default every
        column found in the items, in entity order.

    Examples
    --------
    >>> items = [{"PartNo": "A", "PriceListCode": "SEK", "QuantityBreak": 1,
    ...           "PriceSale": 99.5, "PriceRule": 2, "IsActive": True}]
    >>> frame_from_items("sku_prices", items).row(0)
    ('A', 'SEK', 1, Decimal('99.5000'), True, 'FixedPrice')
    """
    ent = resolve(entity)
    raw = pl.from_dicts(list(items), infer_schema_length=None) if items else pl.DataFrame()
    flat = _flatten_products(ent, raw) if ent.name == "products" else _from_members(ent, raw, None)
    return _canonical(ent, flat, columns)


def _flatten_products(ent: Entity, raw: pl.DataFrame) -> pl.DataFrame:
    if "Variants" not in raw.columns or not isinstance(raw.schema["Variants"], pl.List):
        return pl.DataFrame()
    p = raw.with_row_index("_p")
    products = _from_members(ent, p.drop("Variants"), "product")
    v = p.select("_p", "Variants").explode("Variants").drop_nulls("Variants").unnest("Variants")
    v = v.with_row_index("_v")
    if "Skus" not in v.columns or not isinstance(v.schema["Skus"], pl.List):
        return pl.DataFrame()
    variants = _from_members(ent, v.drop("Skus"), "variant")
    s = v.select("_v", "Skus").explode("Skus").drop_nulls("Skus").unnest("Skus")
    skus = _from_members(ent, s, "sku")
    return (
        skus.join(variants, on="_v", how="left", maintain_order="left")
        .join(products, on="_p", how="left", maintain_order="left")
        .drop("_p", "_v")
    )


def _is_list_of_structs(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)


def _plain(ent: Entity, member: str, level: str | None) -> bool:
    if not ent.has_column(member) or split_qualified(member)[1] is not None:
        return False
    col = ent.column(member)
    return col.qualifier is None and (level is None or col.level == level)


def _member_exprs(ent: Entity, df: pl.DataFrame, level: str | None) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for m, dtype in df.schema.items():
        if m in SUB_ELEMENTS and _is_list_of_structs(dtype):
            first = pl.col(m).list.first()
            exprs += [
                first.struct.field(f).alias(f"{m}.{f}")
                for f in dtype.inner.to_schema()  # type: ignore[attr-defined]
                if ent.has_column(f"{m}.{f}")
            ]
        elif m == "Companies" and ent.name == "customers" and _is_list_of_structs(dtype):
            exprs.append(pl.col(m).list.first().struct.field("Code").alias("CompanyCode"))
        elif m == "MainImage" and isinstance(dtype, pl.Struct):
            exprs.append(pl.col(m).struct.field("Url").alias(m))
        elif m == "StandardPrice" and isinstance(dtype, pl.Struct):  # a SkuPriceList: its PriceSale
            exprs.append(pl.col(m).struct.field("PriceSale").alias(m))
        elif _plain(ent, m, level) and _is_list_of_structs(dtype):  # [{"Code": c}] -> [c]
            exprs.append(pl.col(m).list.eval(pl.element().struct.field("Code")))
        elif _plain(ent, m, level) or (m == "IsActive" and level in (None, "product")):
            exprs.append(pl.col(m))
    return exprs


def _from_members(ent: Entity, df: pl.DataFrame, level: str | None) -> pl.DataFrame:
    """Canonical columns of one nesting level from a frame of its members ("_" columns kept)."""
    df = df.with_row_index(_ROW)
    keep = [pl.col(c) for c in df.columns if c.startswith("_")]
    out = df.select(*keep, *_member_exprs(ent, df, level))
    for wide in (_cultures(ent, df, level), _vat_rates(df)):
        if wide is not None:
            out = out.join(wide, on=_ROW, how="left", maintain_order="left")
    return out.drop(_ROW)


def _culture_base(ent: Entity, level: str | None, member: str) -> str | None:
    for col in ent.columns:
        if (
            col.qualifier == "culture"
            and (col.field or col.name) == member
            and (level is None or col.level == level)
        ):
            return col.name
    return None


def _wide(long: pl.DataFrame) -> pl.DataFrame | None:
    """Long (row, name, value) -> one column per name."""
    if long.is_empty():
        return None
    return long.pivot(on="name", index=_ROW, values="value", aggregate_function="first")


def _cultures(ent: Entity, df: pl.DataFrame, level: str | None) -> pl.DataFrame | None:
    if "Cultures" not in df.columns or not _is_list_of_structs(df.schema["Cultures"]):
        return None
    long = df.select(_ROW, "Cultures").explode("Cultures").drop_nulls("Cultures").unnest("Cultures")
    bases = {f: b for f in long.columns if (b := _culture_base(ent, level, f)) is not None}
    if "CultureCode" not in long.columns or not bases:
        return None
    long = long.select(_ROW, "CultureCode", *(pl.col(f).cast(pl.String) for f in bases))
    long = long.unpivot(index=[_ROW, "CultureCode"], variable_name="field", value_name="value")
    name = pl.col("field").replace_strict(bases) + "[" + pl.col("CultureCode") + "]"
    return _wide(long.select(_ROW, name.alias("name"), "value"))


def _vat_rates(df: pl.DataFrame) -> pl.DataFrame | None:
    if "VatRates" not in df.columns or not _is_list_of_structs(df.schema["VatRates"]):
        return None
    long = df.select(_ROW, "VatRates").explode("VatRates").drop_nulls("VatRates").unnest("VatRates")
    if not {"SalesArea", "Rate"} <= set(long.columns):
        return None
    area = pl.col("SalesArea")
    if long.schema["SalesArea"].is_integer():
        area = area.replace_strict({m.value: m.name for m in SalesArea}, return_dtype=pl.String)
    name = "VatRate[" + area + "]"
    return _wide(long.select(_ROW, name.alias("name"), pl.col("Rate").cast(pl.Float64).alias("value")))


def _cast(ent: Entity, name: str, dtype: pl.DataType) -> pl.Expr:
    col = ent.column(name)
    expr = pl.col(name)
    if col.values is not None:
        enum = VALUE_ENUMS[col.values]
        if dtype.is_integer():
            return expr.replace_strict({m.value: m.name for m in enum}, return_dtype=pl.String)
        names = {**{m.name.lower(): m.name for m in enum}, **{str(m.value): m.name for m in enum}}
        return expr.cast(pl.String).str.to_lowercase().replace_strict(names, default=expr.cast(pl.String))
    if col.dtype == pl.Date() and dtype == pl.String():
        return expr.str.slice(0, 10).str.to_date("%Y-%m-%d")
    return expr.cast(col.dtype)


def _canonical(ent: Entity, flat: pl.DataFrame, columns: Sequence[str] | None) -> pl.DataFrame:
    if flat.width == 0:
        flat = pl.DataFrame(schema={c: ent.column(c).dtype for c in columns or () if ent.has_column(c)})
    extra = ["IsActive"] if "IsActive" in flat.columns and not ent.has_column("IsActive") else []
    known = data_columns(ent, sorted(c for c in flat.columns if ent.has_column(c)))
    out = flat.select(
        *(_cast(ent, c, flat.schema[c]) for c in known), *(pl.col(c).cast(pl.Boolean) for c in extra)
    )
    if columns is None:
        return out
    missing = [
        pl.lit(None, ent.column(c).dtype if ent.has_column(c) else pl.Boolean()).alias(c)
        for c in columns
        if c not in out.columns
    ]
    return out.with_columns(missing).select(columns)
