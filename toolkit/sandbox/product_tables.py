"""The product tables: Product -> Variants -> Skus, each level a table of JSON documents.

Keys (contract): a product by its ``Code`` (the variant cluster), a variant by ``ManufacturerCode`` +
``ManufacturerPartNo`` (the manufacturer is a product member, so ACME 1001 and BETA 1001 are two
variants), a SKU by its ``PartNo``. Each SKU records the ``AccountId`` of the import that created it,
which bounds what a FullFile may inactivate (see :mod:`toolkit.sandbox.products`).

A catalog file written before variants carried their manufacturer is migrated on open
(:func:`migrate`): each variant takes the ``ManufacturerCode`` of its product, SKUs created then
have no recorded account.

Examples
--------
>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> for stmt in SCHEMA:
...     _ = conn.execute(stmt)
>>> cat = ProductCatalog(conn, codes=["P1"], variant_mpns=["1001"], parts=["S1"])
>>> cat.products["P1"] = {"ManufacturerCode": "ACME"}
>>> cat.variants[("ACME", "1001")] = ("P1", {})
>>> cat.skus["S1"] = Sku(("ACME", "1001"), 10000, {"Status": 1})
>>> cat.touched["products"].add("P1"); cat.touched["variants"].add(("ACME", "1001"))
>>> cat.touched["skus"].add("S1"); cat.write(conn)
>>> read_products(conn)[0]["Variants"][0]["Skus"]
[{'PartNo': 'S1', 'Status': 1}]
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

Doc = dict[str, Any]
VariantKey = tuple[str, str]  # (ManufacturerCode, ManufacturerPartNo)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS products (code TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS variants (mfr TEXT NOT NULL, mpn TEXT NOT NULL, code TEXT NOT NULL, "
    "data TEXT NOT NULL, PRIMARY KEY (mfr, mpn))",
    "CREATE TABLE IF NOT EXISTS skus (part_no TEXT PRIMARY KEY, mfr TEXT NOT NULL, mpn TEXT NOT NULL, "
    "account INTEGER, data TEXT NOT NULL)",
)
_MIGRATE = (
    "ALTER TABLE variants RENAME TO variants_v1",
    SCHEMA[1],
    "INSERT INTO variants SELECT coalesce(json_extract(p.data, '$.ManufacturerCode'), ''), v.mpn, v.code, "
    "v.data FROM variants_v1 v LEFT JOIN products p ON p.code = v.code",
    "DROP TABLE variants_v1",
    "ALTER TABLE skus RENAME TO skus_v1",
    SCHEMA[2],
    "INSERT INTO skus SELECT s.part_no, coalesce((SELECT v.mfr FROM variants v WHERE v.mpn = s.mpn "
    "LIMIT 1), ''), s.mpn, NULL, s.data FROM skus_v1 s",
    "DROP TABLE skus_v1",
)


def migrate(conn: sqlite3.Connection) -> bool:
    """Bring product tables of an older catalog file to the current keys; True when migrated."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(variants)")}
    if "mfr" in columns:
        return False
    for stmt in _MIGRATE:
        conn.execute(stmt)
    return True


@dataclass
class Sku:
    """A stored SKU: its variant, the account that created it, and its members."""

    variant: VariantKey
    account: int | None
    doc: Doc


class ProductCatalog:
    """The rows one import touches, loaded once, changed in memory, written back in bulk."""

    def __init__(
        self, conn: sqlite3.Connection, *, codes: list[str], variant_mpns: list[str], parts: list[str]
    ) -> None:
        self.skus = {
            part: Sku((mfr, mpn), account, orjson.loads(data))
            for part, mfr, mpn, account, data in _rows(
                conn, "SELECT part_no, mfr, mpn, account, data FROM skus WHERE part_no", parts
            )
        }
        mpns = variant_mpns + [s.variant[1] for s in self.skus.values()]
        rows = _rows(conn, "SELECT mfr, mpn, code, data FROM variants WHERE mpn", mpns)
        self.variants: dict[VariantKey, tuple[str, Doc]] = {
            (mfr, mpn): (code, orjson.loads(data)) for mfr, mpn, code, data in rows
        }
        codes = codes + [c for c, _ in self.variants.values()]
        rows = _rows(conn, "SELECT code, data FROM products WHERE code", codes)
        self.products: dict[str, Doc] = {code: orjson.loads(data) for code, data in rows}
        self.touched: dict[str, set[Any]] = {"products": set(), "variants": set(), "skus": set()}

    def variant_key(self, mfr: str | None, mpn: str) -> VariantKey | None:
        """The stored variant ``mpn`` of manufacturer ``mfr``; without ``mfr``, the only one so numbered."""
        if mfr is not None:
            return (mfr, mpn) if (mfr, mpn) in self.variants else None
        found = [k for k in self.variants if k[1] == mpn]
        return found[0] if len(found) == 1 else None

    def write(self, conn: sqlite3.Connection) -> None:
        dump = orjson.dumps
        conn.executemany(
            "INSERT OR REPLACE INTO products VALUES (?, ?)",
            [(k, dump(self.products[k]).decode()) for k in self.touched["products"]],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO variants VALUES (?, ?, ?, ?)",
            [(*k, self.variants[k][0], dump(self.variants[k][1]).decode()) for k in self.touched["variants"]],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO skus VALUES (?, ?, ?, ?, ?)",
            [
                (k, *s.variant, s.account, dump(s.doc).decode())
                for k in self.touched["skus"]
                for s in (self.skus[k],)
            ],
        )


def _rows(conn: sqlite3.Connection, select: str, keys: list[str]) -> list[tuple[Any, ...]]:
    sql = f"{select} IN (SELECT value FROM json_each(?))"
    return conn.execute(sql, (orjson.dumps(sorted(set(keys))).decode(),)).fetchall()


def read_products(conn: sqlite3.Connection) -> list[Doc]:
    """Every stored product, nested Product -> Variants -> Skus, ordered by key.

    A SKU's ``StandardPrice`` (a SkuPriceList object in the contract) reads back as its ``PriceSale``,
    the canonical number, and the whole stored object as ``StandardPriceList``.
    """
    skus: dict[VariantKey, list[Doc]] = {}
    for part, mfr, mpn, data in conn.execute("SELECT part_no, mfr, mpn, data FROM skus ORDER BY part_no"):
        skus.setdefault((mfr, mpn), []).append(_sku_out(part, orjson.loads(data)))
    variants: dict[str, list[Doc]] = {}
    for mfr, mpn, code, data in conn.execute("SELECT mfr, mpn, code, data FROM variants ORDER BY mfr, mpn"):
        variants.setdefault(code, []).append(
            {"ManufacturerPartNo": mpn, **orjson.loads(data), "Skus": skus.get((mfr, mpn), [])}
        )
    return [
        {"Code": code, **orjson.loads(data), "Variants": variants.get(code, [])}
        for code, data in conn.execute("SELECT code, data FROM products ORDER BY code")
    ]


def _sku_out(part: str, doc: Doc) -> Doc:
    price = doc.pop("StandardPrice", None)
    out = {"PartNo": part, **doc}
    if isinstance(price, dict):
        if price.get("PriceSale") is not None:
            out["StandardPrice"] = price["PriceSale"]
        out["StandardPriceList"] = price
    return out
