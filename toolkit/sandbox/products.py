"""Products in the sandbox: how an import of Product -> Variants -> Skus changes the catalog.

Identity (contract): a product by its ``Code``, a variant by ``ManufacturerCode`` (the product's) +
``ManufacturerPartNo``, a SKU by its ``PartNo`` (tables: :mod:`toolkit.sandbox.product_tables`).
Only members whose field is listed are written; ``XCreateOnly`` writes ``X`` only when the row is new.

Nested lists need their parent flags: ``Variants`` in ``ProductFieldsThatAreSet`` for the variants,
``Skus`` in ``VariantFieldsThatAreSet`` for the SKUs, ``Cultures`` for the culture lists. A list sent
without its flag is ignored and the job log gets a Warning (SeverityId 2) saying how many were
ignored and why. That is also how a SKU *moves*: sent under another variant (or product) than the
catalog has it, it is moved there only when the header lets the structure be processed; otherwise it
stays where it is and the log gets a Warning naming the SKU.

``Sku.StandardPrice`` is a SkuPriceList object (``{"PriceSale": 99.5, ...}``); with ``StandardPrice``
in ``SkuFieldsThatAreSet`` the members listed in ``SkuPriceListFieldsThatAreSet`` are written (a null
member is not sent); a bare number is refused at validation.

FullFile. The reference is ambiguous (one Norce text: SKUs not in the import are inactivated; another:
they are removed from their variant cluster), and Norce shops feed products from two system accounts
(ERP and PIM). The sandbox models it as: a FullFile sets Status Inactive (5) on every SKU missing from
the import **that the same AccountId created** (the creating account is recorded per SKU; SKUs of a
catalog file older than that record count as every account's). SKUs another account created are left
alone, and the log says how many.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import orjson

from toolkit.entities import Entity, SkuStatus, SkuType, UnitMeasurementType
from toolkit.sandbox.flat import Counts, Log
from toolkit.sandbox.prepare import Prepared, enum_lookup, merge_elements
from toolkit.sandbox.product_tables import SCHEMA, ProductCatalog, Sku, VariantKey, migrate, read_products
from toolkit.sandbox.spec import Header, Nested

__all__ = ["SCHEMA", "apply_products", "effective_lists", "migrate", "prepare_products", "read_products"]

Doc = dict[str, Any]
_SKU_ENUMS: dict[str, type[IntEnum]] = {
    "Status": SkuStatus,
    "Type": SkuType,
    "UnitOfMeasurementType": UnitMeasurementType,
}
_MEMBER_OF = {"VatRate": "VatRates", "Assortment": "AssortmentCode"}
_NOT_MEMBERS = {"Variants", "Cultures", "Skus", "PartNoCreateWhenMissing", "CultureCode", "StandardPrice"}
_PRICE_MEMBERS = {
    "PriceSale",
    "CostPurchase",
    "CostUnit",
    "PriceRecommended",
    "PricePrevious",
    "PriceCatalog",
    "IsPriceDiscountable",
    "IsActive",
    "PriceRule",
}
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
    return Prepared(
        entity, header, len(items), row_numbers=list(range(1, len(items) + 1)), errors=errors, items=out
    )


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
    price = out.get("StandardPrice")
    if price is not None and not isinstance(price, dict):
        errors.append(
            (
                row,
                f"item {row}: SKU {sku['PartNo']!r} StandardPrice must be a SkuPriceList object "
                f'such as {{"PriceSale": 99.5}}, found {price!r}',
            )
        )
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


@dataclass
class _Run:
    """One import being applied: the catalog rows, the effective lists, counts and warnings."""

    cat: ProductCatalog
    lists: dict[str, frozenset[str]]
    account: int
    log: Log
    row: int = 0
    counts: Counts = field(default_factory=Counts)
    ignored: Counter[tuple[str, str]] = field(default_factory=Counter)

    def touch(self, table: str, key: Any, is_new: bool) -> None:
        if key not in self.cat.touched[table]:
            self.cat.touched[table].add(key)
            if is_new:
                self.counts.inserts += 1
            else:
                self.counts.updates += 1

    def ignore(self, what: str, reason: str) -> None:
        self.ignored[(what, reason)] += 1


def _load(conn: sqlite3.Connection, items: list[Doc]) -> ProductCatalog:
    variants = [v for it in items for v in it.get("Variants") or []]
    return ProductCatalog(
        conn,
        codes=[it["Code"] for it in items if it.get("Code")],
        variant_mpns=[v["ManufacturerPartNo"] for v in variants],
        parts=[s["PartNo"] for v in variants for s in v.get("Skus") or [] if s],
    )


def _code_of(cat: ProductCatalog, item: Doc) -> str | None:
    if item.get("Code"):
        return str(item["Code"])
    for v in item.get("Variants") or []:
        key = cat.variant_key(item.get("ManufacturerCode"), v["ManufacturerPartNo"])
        if key is not None:
            return cat.variants[key][0]
        for s in v.get("Skus") or []:
            if s and s["PartNo"] in cat.skus:
                return cat.variants.get(cat.skus[s["PartNo"]].variant, ("",))[0] or None
    return None


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
    run = _Run(
        _load(conn, items),
        effective_lists(prepared.entity, prepared.header, log),
        prepared.header.account_id,
        log,
    )
    for row, item in enumerate(items, start=1):
        run.row = row
        code = _code_of(run.cat, item)
        if code is None:
            run.counts.fail += 1
            log(3, f"row {row}: product has no Code and none of its variants or SKUs exists", row)
            continue
        _apply_product(run, code, item)
    for (what, reason), n in sorted(run.ignored.items()):
        log(2, f"{what} of {n} item(s) ignored: {reason}", None)
    run.cat.write(conn)
    if prepared.header.full_file:
        seen = [s["PartNo"] for it in items for v in it.get("Variants") or [] for s in v["Skus"] if s]
        run.counts.updates += _inactivate_missing(conn, seen, prepared.header.account_id, log)
    return run.counts


def _apply_product(run: _Run, code: str, item: Doc) -> None:
    is_new = code not in run.cat.products
    doc = run.cat.products.setdefault(code, {})
    if item.get("ManufacturerCode") is not None:
        doc["ManufacturerCode"] = item["ManufacturerCode"]
    pf = run.lists["ProductFieldsThatAreSet"]
    _write_members(doc, item, pf - {"Code"}, is_new)
    if "Cultures" in pf:
        _write_cultures(doc, item, run.lists["ProductCultureFieldsThatAreSet"], is_new)
    elif item.get("Cultures"):
        run.ignore("Product Cultures", "ProductFieldsThatAreSet does not list Cultures")
    run.touch("products", code, is_new)
    mfr = str(doc.get("ManufacturerCode") or "")
    if "Variants" in pf:
        for variant in item.get("Variants") or []:
            _apply_variant(run, code, (mfr, variant["ManufacturerPartNo"]), variant)
    elif item.get("Variants"):
        run.ignore("Variants", "ProductFieldsThatAreSet does not list Variants")
        for variant in item["Variants"]:
            _keep_skus(
                run, (mfr, variant["ManufacturerPartNo"]), variant, "ProductFieldsThatAreSet", "Variants"
            )


def _apply_variant(run: _Run, code: str, key: VariantKey, variant: Doc) -> None:
    is_new = key not in run.cat.variants
    old_code, doc = run.cat.variants.get(key, (code, {}))
    if old_code != code:
        run.log(
            1, f"row {run.row}: variant {_name(key)} moved from product {old_code!r} to {code!r}", run.row
        )
    run.cat.variants[key] = (code, doc)
    vf = run.lists["VariantFieldsThatAreSet"]
    _write_members(doc, variant, vf - {"ManufacturerPartNo"}, is_new)
    if "Cultures" in vf:
        _write_cultures(doc, variant, run.lists["VariantCultureFieldsThatAreSet"], is_new)
    elif variant.get("Cultures"):
        run.ignore("Variant Cultures", "VariantFieldsThatAreSet does not list Cultures")
    run.touch("variants", key, is_new)
    if "Skus" in vf:
        for sku in variant["Skus"]:
            if sku:
                _apply_sku(run, key, sku)
    elif variant.get("Skus"):
        run.ignore("Skus", "VariantFieldsThatAreSet does not list Skus")
        _keep_skus(run, key, variant, "VariantFieldsThatAreSet", "Skus")


def _keep_skus(run: _Run, key: VariantKey, variant: Doc, parent: str, flag: str) -> None:
    """Warn about each SKU sent under another variant than it has, when the move is not processed."""
    for sku in variant.get("Skus") or []:
        stored = run.cat.skus.get(sku.get("PartNo")) if sku else None
        if stored is not None and stored.variant != key:
            run.log(
                2,
                f"row {run.row}: SKU {sku['PartNo']!r} not moved to variant {_name(key)}: {parent} "
                f"does not list {flag}; it stays under variant {_name(stored.variant)}",
                run.row,
            )


def _apply_sku(run: _Run, key: VariantKey, sku: Doc) -> None:
    part = sku["PartNo"]
    stored = run.cat.skus.get(part)
    is_new = stored is None
    if stored is None:
        stored = run.cat.skus[part] = Sku(key, run.account, {})
    elif stored.variant != key:
        run.log(
            1,
            f"row {run.row}: SKU {part!r} moved from variant {_name(stored.variant)} to {_name(key)}",
            run.row,
        )
        stored.variant = key
    sf = run.lists["SkuFieldsThatAreSet"]
    _write_members(stored.doc, sku, sf, is_new)
    if "StandardPrice" in sf and sku.get("StandardPrice") is not None:
        _write_price(run, stored.doc, sku["StandardPrice"], is_new)
    _write_cultures(stored.doc, sku, run.lists["SkuCultureFieldsThatAreSet"], is_new)
    run.touch("skus", part, is_new)


def _write_price(run: _Run, doc: Doc, price: Doc, is_new: bool) -> None:
    """Write the listed SkuPriceList members of a SKU's StandardPrice (null members are not sent)."""
    listed = run.lists["SkuPriceListFieldsThatAreSet"]
    names = {f.removesuffix("CreateOnly") for f in listed if is_new or not f.endswith("CreateOnly")}
    names &= _PRICE_MEMBERS
    if not names:
        run.ignore("StandardPrice", "SkuPriceListFieldsThatAreSet lists none of its members")
        return
    stored = dict(doc.get("StandardPrice") or {})
    for name in sorted(names | ({"PriceRuleValue"} if "PriceRule" in names else set())):
        if price.get(name) is not None:
            stored[name] = price[name]
    if stored:
        doc["StandardPrice"] = stored


def _name(key: VariantKey) -> str:
    return f"{key[0]}/{key[1]}" if key[0] else repr(key[1])


def _inactivate_missing(conn: sqlite3.Connection, seen: list[str], account: int, log: Log) -> int:
    missing = (
        "part_no NOT IN (SELECT value FROM json_each(?)) AND coalesce(json_extract(data, '$.Status'), 0) != ?"
    )
    args = (orjson.dumps(seen).decode(), _INACTIVE)
    n = conn.execute(
        f"UPDATE skus SET data = json_set(data, '$.Status', ?) WHERE {missing} "
        "AND (account = ? OR account IS NULL)",
        (_INACTIVE, *args, account),
    ).rowcount
    others = conn.execute(f"SELECT count(*) FROM skus WHERE {missing} AND account != ?", (*args, account))
    log(
        1,
        f"FullFile: {n} SKUs of account {account} missing from the import set to Status Inactive (5); "
        f"{others.fetchone()[0]} SKUs created by other accounts left alone",
        None,
    )
    return n
