"""Products in SQLite: Product -> Variants -> Skus, each level a table of JSON documents.

Identity (contract): a product by its ``Code`` (the variant cluster), a variant by its
``ManufacturerPartNo``, a SKU by its ``PartNo``. Only members whose field is listed are written; a
nested list is written only when its parent flags are listed too (``Entity.parent_flags``);
``XCreateOnly`` writes ``X`` only when the row is new. A FullFile sets Status Inactive (5) on every
SKU missing from the import.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import orjson

from toolkit.entities import Entity, SkuStatus, SkuType, UnitMeasurementType
from toolkit.sandbox.flat import Counts, Log
from toolkit.sandbox.prepare import Prepared, enum_lookup, merge_elements
from toolkit.sandbox.spec import Header, Nested

Doc = dict[str, Any]
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS products (code TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS variants (mpn TEXT PRIMARY KEY, code TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS skus (part_no TEXT PRIMARY KEY, mpn TEXT NOT NULL, data TEXT NOT NULL)",
)
_SKU_ENUMS: dict[str, type[IntEnum]] = {
    "Status": SkuStatus, "Type": SkuType, "UnitOfMeasurementType": UnitMeasurementType,
}  # fmt: skip
_MEMBER_OF = {"VatRate": "VatRates", "Assortment": "AssortmentCode"}
_NOT_MEMBERS = {"Variants", "Cultures", "Skus", "PartNoCreateWhenMissing", "CultureCode"}
_INACTIVE = int(SkuStatus["Inactive"])
_CULTURES = Nested("Cultures", ("CultureCode",), None, None)


def effective_lists(entity: Entity, header: Header, log: Log | None = None) -> dict[str, frozenset[str]]:
    """The field lists that take effect: a child list without its parent flags writes nothing."""
    lists = {fl.member: header.listed(fl.member) for fl in entity.field_lists}
    for child, parent, flag in entity.parent_flags:
        if lists[child] and flag not in header.listed(parent):
            if log is not None:
                log(2, f"{child} ignored: {parent} does not list {flag}", None)
            lists[child] = frozenset()
    return lists


def prepare_products(entity: Entity, header: Header, items: Sequence[Any]) -> Prepared:
    """Check identities and enum values of product items (converted copies are kept)."""
    errors: list[tuple[int, str]] = []
    out = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append((i, f"item {i} is not a JSON object"))
            continue
        out.append(_check_product(item, i, errors))
    return Prepared(entity, header, len(items), row_numbers=list(range(1, len(items) + 1)),
                    errors=errors, items=out)  # fmt: skip


def _check_product(item: Doc, row: int, errors: list[tuple[int, str]]) -> Doc:
    variants = item.get("Variants") or []
    if not isinstance(variants, list):
        errors.append((row, f"item {row}: Variants must be an array"))
        return item
    checked = []
    for v in variants:
        if not isinstance(v, dict) or not v.get("ManufacturerPartNo"):
            errors.append((row, f"item {row}: a variant has no ManufacturerPartNo"))
            continue
        skus = [_check_sku(s, row, errors) for s in (v.get("Skus") or [])]
        checked.append({**v, "Skus": skus})
    return {**item, "Variants": checked}


def _check_sku(sku: Any, row: int, errors: list[tuple[int, str]]) -> Doc:
    if not isinstance(sku, dict) or not sku.get("PartNo"):
        errors.append((row, f"item {row}: a SKU has no PartNo"))
        return {}
    out = dict(sku)
    for name, enum in _SKU_ENUMS.items():
        raw = out.get(name)
        if raw is None:
            continue
        key = raw.lower() if isinstance(raw, str) else raw
        value = None if isinstance(raw, bool) else enum_lookup(enum).get(key)
        if value is None:
            what = f"SKU {sku['PartNo']!r} {name} {raw!r}"
            errors.append((row, f"item {row}: {what} is not a {enum.__name__}"))
        out[name] = value
    return out


class _Catalog:
    """The rows one import touches, loaded once, changed in memory, written back in bulk."""

    def __init__(self, conn: sqlite3.Connection, items: list[Doc]) -> None:
        variants = [v for it in items for v in it.get("Variants") or []]
        mpns = [v["ManufacturerPartNo"] for v in variants]
        parts = [s["PartNo"] for v in variants for s in v.get("Skus") or [] if s]
        codes = [it["Code"] for it in items if it.get("Code")]
        self.skus = _load(conn, "SELECT part_no, mpn, data FROM skus WHERE part_no IN "
                                "(SELECT value FROM json_each(?))", parts)  # fmt: skip
        self.variants = _load(conn, "SELECT mpn, code, data FROM variants WHERE mpn IN "
                                    "(SELECT value FROM json_each(?))",
                              mpns + [p for p, _ in self.skus.values()])  # fmt: skip
        self.products = {k: d for k, (_, d) in _load(
            conn, "SELECT code, '', data FROM products WHERE code IN (SELECT value FROM json_each(?))",
            codes + [c for c, _ in self.variants.values()]).items()}  # fmt: skip
        self.touched: dict[str, set[str]] = {"products": set(), "variants": set(), "skus": set()}
        self.counts = Counts()

    def code_of(self, item: Doc) -> str | None:
        if item.get("Code"):
            return str(item["Code"])
        for v in item.get("Variants") or []:
            if v["ManufacturerPartNo"] in self.variants:
                return self.variants[v["ManufacturerPartNo"]][0]
            for s in v.get("Skus") or []:
                if s and s["PartNo"] in self.skus:
                    return self.variants.get(self.skus[s["PartNo"]][0], ("",))[0] or None
        return None

    def touch(self, table: str, key: str, is_new: bool) -> None:
        if key not in self.touched[table]:
            self.touched[table].add(key)
            if is_new:
                self.counts.inserts += 1
            else:
                self.counts.updates += 1

    def write(self, conn: sqlite3.Connection) -> None:
        dump = orjson.dumps
        conn.executemany("INSERT OR REPLACE INTO products VALUES (?, ?)",
                         [(k, dump(self.products[k]).decode()) for k in self.touched["products"]])
        conn.executemany("INSERT OR REPLACE INTO variants VALUES (?, ?, ?)",
                         [(k, self.variants[k][0], dump(self.variants[k][1]).decode())
                          for k in self.touched["variants"]])  # fmt: skip
        conn.executemany("INSERT OR REPLACE INTO skus VALUES (?, ?, ?)",
                         [(k, self.skus[k][0], dump(self.skus[k][1]).decode()) for k in self.touched["skus"]])


def _load(conn: sqlite3.Connection, sql: str, keys: list[str]) -> dict[str, tuple[str, Doc]]:
    rows = conn.execute(sql, (orjson.dumps(sorted(set(keys))).decode(),)).fetchall()
    return {k: (parent, orjson.loads(data)) for k, parent, data in rows}


def _write_members(doc: Doc, src: Doc, fields: frozenset[str], is_new: bool) -> None:
    for f in fields:
        if f in _NOT_MEMBERS or f.endswith("Cleanup") or (f.endswith("CreateOnly") and not is_new):
            continue
        name = _MEMBER_OF.get(f, f.removesuffix("CreateOnly").removesuffix("LimitedUpdate"))
        if src.get(name) is not None:
            doc[name] = src[name]


def _write_cultures(doc: Doc, src: Doc, fields: frozenset[str], is_new: bool) -> None:
    new = src.get("Cultures")
    if not isinstance(new, list) or not fields:
        return
    kept = []
    for c in new:
        if isinstance(c, dict) and c.get("CultureCode"):
            element: Doc = {"CultureCode": c["CultureCode"]}
            _write_members(element, c, fields, is_new)
            kept.append(element)
    doc["Cultures"] = merge_elements(_CULTURES, doc.get("Cultures") or [], kept)


def apply_products(conn: sqlite3.Connection, prepared: Prepared, log: Log) -> Counts:
    """Apply product items inside the caller's transaction; true counts of rows written."""
    items = prepared.items or []
    lists = effective_lists(prepared.entity, prepared.header, log)
    cat = _Catalog(conn, items)
    for row, item in enumerate(items, start=1):
        code = cat.code_of(item)
        if code is None:
            cat.counts.fail += 1
            log(3, f"row {row}: product has no Code and none of its variants or SKUs exists", row)
            continue
        _apply_product(cat, code, item, lists)
    cat.write(conn)
    if prepared.header.full_file:
        seen = [s["PartNo"] for it in items for v in it.get("Variants") or [] for s in v["Skus"] if s]
        cat.counts.updates += _inactivate_missing(conn, seen, log)
    return cat.counts


def _apply_product(cat: _Catalog, code: str, item: Doc, lists: dict[str, frozenset[str]]) -> None:
    is_new = code not in cat.products
    doc = cat.products.setdefault(code, {})
    if item.get("ManufacturerCode") is not None:
        doc["ManufacturerCode"] = item["ManufacturerCode"]
    pf = lists["ProductFieldsThatAreSet"]
    _write_members(doc, item, pf - {"Code"}, is_new)
    if "Cultures" in pf:
        _write_cultures(doc, item, lists["ProductCultureFieldsThatAreSet"], is_new)
    cat.touch("products", code, is_new)
    if "Variants" not in pf:
        return
    for variant in item.get("Variants") or []:
        _apply_variant(cat, code, variant, lists)


def _apply_variant(cat: _Catalog, code: str, variant: Doc, lists: dict[str, frozenset[str]]) -> None:
    mpn = variant["ManufacturerPartNo"]
    is_new = mpn not in cat.variants
    _, doc = cat.variants.get(mpn, (code, {}))
    cat.variants[mpn] = (code, doc)
    vf = lists["VariantFieldsThatAreSet"]
    _write_members(doc, variant, vf - {"ManufacturerPartNo"}, is_new)
    if "Cultures" in vf:
        _write_cultures(doc, variant, lists["VariantCultureFieldsThatAreSet"], is_new)
    cat.touch("variants", mpn, is_new)
    if "Skus" not in vf:
        return
    for sku in variant["Skus"]:
        if sku:
            _apply_sku(cat, mpn, sku, lists)


def _apply_sku(cat: _Catalog, mpn: str, sku: Doc, lists: dict[str, frozenset[str]]) -> None:
    part = sku["PartNo"]
    is_new = part not in cat.skus
    _, doc = cat.skus.get(part, (mpn, {}))
    cat.skus[part] = (mpn, doc)
    _write_members(doc, sku, lists["SkuFieldsThatAreSet"], is_new)
    _write_cultures(doc, sku, lists["SkuCultureFieldsThatAreSet"], is_new)
    cat.touch("skus", part, is_new)


def _inactivate_missing(conn: sqlite3.Connection, seen: list[str], log: Log) -> int:
    n = conn.execute(
        "UPDATE skus SET data = json_set(data, '$.Status', ?) WHERE part_no NOT IN "
        "(SELECT value FROM json_each(?)) AND coalesce(json_extract(data, '$.Status'), 0) != ?",
        (_INACTIVE, orjson.dumps(seen).decode(), _INACTIVE),
    ).rowcount
    log(1, f"FullFile: {n} SKUs missing from the import set to Status Inactive (5)", None)
    return n


def read_products(conn: sqlite3.Connection) -> list[Doc]:
    """Every stored product, nested Product -> Variants -> Skus, ordered by key."""
    skus: dict[str, list[Doc]] = {}
    for part, mpn, data in conn.execute("SELECT part_no, mpn, data FROM skus ORDER BY part_no"):
        skus.setdefault(mpn, []).append({"PartNo": part, **orjson.loads(data)})
    variants: dict[str, list[Doc]] = {}
    for mpn, code, data in conn.execute("SELECT mpn, code, data FROM variants ORDER BY mpn"):
        variants.setdefault(code, []).append(
            {"ManufacturerPartNo": mpn, **orjson.loads(data), "Skus": skus.get(mpn, [])})
    return [{"Code": code, **orjson.loads(data), "Variants": variants.get(code, [])}
            for code, data in conn.execute("SELECT code, data FROM products ORDER BY code")]  # fmt: skip
