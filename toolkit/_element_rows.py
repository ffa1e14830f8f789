"""Rows of a supplier product: one per combination of its nested elements.

A supplier product's ``OnHand`` and ``PriceList`` are lists; the canonical frame flattens them as
``OnHand.<Field>`` and ``PriceList.<Field>`` columns, so a product with two warehouses has two rows
that share its ``SupplierPartNo`` and differ in ``OnHand.WarehouseCode``. The item's key stays
``SupplierPartNo``; a row is identified by the *row key*, the item key plus the elements' key columns
(`row_key`). Diffing rows on it turns a moved element into a removed row and an added one, and an
element that leaves the source into a removed row (see `toolkit.plan_elements`).

A row without an element holds no key for it; the diff needs non-null keys, so planning stores an
empty element key as ``""`` (`with_element_keys`), which the payload builders read as "no element".

Examples
--------
>>> from toolkit.entities import ENTITIES
>>> row_key(ENTITIES["supplier_products"], ["SupplierPartNo", "OnHand.WarehouseCode", "OnHand.Value"])
('SupplierPartNo', 'OnHand.WarehouseCode')
>>> row_key(ENTITIES["onhands"], ["PartNo", "WarehouseCode", "LocationCode"])
('PartNo', 'WarehouseCode', 'LocationCode')
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from toolkit.entities import Entity

__all__ = ["ELEMENT_GROUPS", "ELEMENT_KEY_COLUMNS", "consistency_group", "row_key", "with_element_keys"]

# Each nested list of a supplier product: its columns' prefix and the key columns of one element.
ELEMENT_GROUPS: dict[str, tuple[str, ...]] = {
    "OnHand": ("OnHand.WarehouseCode", "OnHand.LocationCode"),
    "PriceList": ("PriceList.PriceListCode",),
}
ELEMENT_KEY_COLUMNS = tuple(c for cols in ELEMENT_GROUPS.values() for c in cols)


def row_key(entity: Entity, columns: Iterable[str]) -> tuple[str, ...]:
    """The columns that identify a row: the entity's key, plus supplier element keys present."""
    if entity.name != "supplier_products":
        return entity.key
    present = set(columns)
    return (*entity.key, *(c for c in ELEMENT_KEY_COLUMNS if c in present))


def with_element_keys(entity: Entity, frame: pl.DataFrame) -> pl.DataFrame:
    """Supplier rows with an empty element key part stored as ``""`` (so the row key is never null).

    >>> from toolkit.entities import ENTITIES
    >>> df = pl.DataFrame({"SupplierPartNo": ["A"], "OnHand.WarehouseCode": [None]}, schema_overrides={
    ...     "OnHand.WarehouseCode": pl.String})
    >>> with_element_keys(ENTITIES["supplier_products"], df).row(0)
    ('A', '')
    """
    if entity.name != "supplier_products":
        return frame
    return frame.with_columns(pl.col(c).fill_null("") for c in ELEMENT_KEY_COLUMNS if c in frame.columns)


def consistency_group(entity: Entity, name: str, columns: Iterable[str]) -> list[str] | None:
    """The row-key columns whose rows must agree on column ``name`` (a supplier product's own columns
    per ``SupplierPartNo``, an element's per its key), or None where rows need not agree.

    >>> from toolkit.entities import ENTITIES
    >>> consistency_group(ENTITIES["supplier_products"], "PriceList.CostPurchase",
    ...                   ["SupplierPartNo", "PriceList.PriceListCode", "OnHand.WarehouseCode"])
    ['SupplierPartNo', 'PriceList.PriceListCode']
    """
    if entity.name != "supplier_products" or name in (*entity.key, *ELEMENT_KEY_COLUMNS):
        return None
    prefix = name.split(".", 1)[0] if "." in name else None
    keys = ELEMENT_GROUPS.get(prefix, ()) if prefix else ()
    present = set(columns)
    return [*entity.key, *(k for k in keys if k in present)]
