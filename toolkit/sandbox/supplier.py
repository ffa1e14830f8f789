"""Supplier products in the sandbox: the ``OnHand`` and ``PriceList`` elements of each product.

Elements are matched by (``WarehouseCode``, ``LocationCode``) and by ``PriceListCode`` and merged
member by member. Each element is active or not: one sent with ``IsActive: false`` is stored
inactive, one sent without ``IsActive`` is active (sending it again reactivates it). A FullFile
(reference §4: "onhand/price rows of warehouses/price lists in the import but not on a product
inactivated") sets ``IsActive: false`` on each imported product's elements of a warehouse (price
list) that appears somewhere in the import but is not among that product's elements; elements of
warehouses and price lists absent from the import are left alone. Read back, every element carries
its ``IsActive``.

Examples
--------
>>> stored = [{"WarehouseCode": "W1", "LocationCode": "L"}, {"WarehouseCode": "W2", "LocationCode": "L"},
...           {"WarehouseCode": "W3", "LocationCode": "L"}]
>>> sent = [{"WarehouseCode": "W1", "LocationCode": "L"}]
>>> out, n = settle(ELEMENTS["OnHand"], stored, sent, scope={"W1", "W2"})
>>> [(e["WarehouseCode"], e.get("IsActive")) for e in out], n
([('W1', True), ('W2', False), ('W3', None)], 1)
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import orjson

from toolkit.sandbox.prepare import Prepared

if TYPE_CHECKING:
    from toolkit.sandbox.import_log import Log

ENTITY = "supplier_products"
# nested list: (its match members, the member whose values in the import bound a FullFile)
ELEMENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "OnHand": (("WarehouseCode", "LocationCode"), "WarehouseCode"),
    "PriceList": (("PriceListCode",), "PriceListCode"),
}
Element = dict[str, Any]


def settle(
    rule: tuple[tuple[str, ...], str], stored: list[Element], sent: list[Element], *, scope: set[Any] | None
) -> tuple[list[Element], int]:
    """Mark the stored (already merged) elements active or inactive; the count deactivated."""
    match, member = rule
    sent_keys = {tuple(e.get(k) for k in match): e for e in sent}
    out, n = [], 0
    for e in stored:
        e = dict(e)
        was = sent_keys.get(tuple(e.get(k) for k in match))
        if was is not None:
            e["IsActive"] = was.get("IsActive", True) is not False
        elif scope is not None and e.get(member) in scope and e.get("IsActive", True):
            e["IsActive"] = False
            n += 1
        out.append(e)
    return out, n


Sent = dict[str, dict[str, list[Element]]]  # nested list -> SupplierPartNo -> elements as sent


def sent_elements(conn: sqlite3.Connection, prepared: Prepared) -> Sent:
    """The elements each row of ``temp._in`` sends, read before they are merged with the stored ones."""
    out: Sent = {}
    for name in (n for n in prepared.nested if n in ELEMENTS):
        rows = conn.execute(f'SELECT SupplierPartNo, "{name}" FROM _in').fetchall()
        out[name] = {key: orjson.loads(new) if new else [] for key, new in rows}
    return out


def apply_elements(conn: sqlite3.Connection, prepared: Prepared, sent: Sent, log: Log) -> int:
    """After the upsert: settle the elements of the imported products; the count deactivated."""
    total = 0
    for name, by_key in sent.items():
        scope = (
            {e.get(ELEMENTS[name][1]) for es in by_key.values() for e in es}
            if prepared.header.full_file
            else None
        )
        rows = conn.execute(
            f'SELECT SupplierPartNo, "{name}" FROM {ENTITY} WHERE SupplierPartNo IN '
            "(SELECT SupplierPartNo FROM _in)"
        ).fetchall()
        updates = []
        for key, old in rows:
            stored = orjson.loads(old) if old else []
            out, n = settle(ELEMENTS[name], stored, by_key.get(key, []), scope=scope)
            total += n
            updates.append((orjson.dumps(out).decode(), key))
        conn.executemany(f'UPDATE {ENTITY} SET "{name}" = ? WHERE SupplierPartNo = ?', updates)
    if prepared.header.full_file:
        log(
            1,
            f"FullFile: {total} OnHand/PriceList elements of warehouses or price lists in the import "
            "but not on their product deactivated",
            None,
        )
    return total


def with_active(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Supplier products read back: every element shows its ``IsActive`` (true unless deactivated).

    >>> with_active([{"SupplierPartNo": "A", "OnHand": [{"WarehouseCode": "W"}]}])[0]["OnHand"]
    [{'WarehouseCode': 'W', 'IsActive': True}]
    """
    for item in items:
        for name in ELEMENTS:
            if isinstance(item.get(name), list):
                item[name] = [{**e, "IsActive": e.get("IsActive", True) is not False} for e in item[name]]
    return items
