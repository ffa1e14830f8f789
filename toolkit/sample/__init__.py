"""A seeded sample shop: an outdoor-gear retailer in Sweden and Norway, exported as its systems would.

About 2,000 SKUs in about 600 products (variants by colour or model, SKUs by size), texts in sv-SE and
nb-NO, three price lists (SE-B2C in SEK, NO-B2C in NOK, SE-B2B in SEK with quantity breaks 1/10/50),
two warehouses (STHLM with locations A1 and A2, OSLO with MAIN), 150 B2B companies with 400 contacts,
relations, competitor prices and one supplier. Four days: day 1 to day 3 are consecutive snapshots with
ordinary change; day 4 is broken (a truncated stock export, bad price rows).

``python -m toolkit.sample --out data/sample --seed 7`` writes ``day1/`` ... ``day4/`` and
``manifest.json`` (counts, what changed each day, where day 4's bad rows are).

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> manifest = generate_sample(out, skus=60)
>>> manifest["counts"]["skus"], sorted(manifest["days"])
(60, ['day1', 'day2', 'day3', 'day4'])
>>> (out / "day1" / "erp_stock.csv").read_bytes()[:40]
b'Artikelnr;Lager;Lagerplats;Saldo;Inkomma'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit.sample.days import Shop, build_days
from toolkit.sample.export import write_day

__all__ = ["DAYS", "generate_sample"]

DAYS = ("day1", "day2", "day3", "day4")


def generate_sample(out: str | Path, *, seed: int = 7, skus: int = 2000) -> dict[str, Any]:
    """Write the sample shop's four days under ``out`` and return its manifest.

    Parameters
    ----------
    out
        Directory to write ``day1`` ... ``day4`` and ``manifest.json`` into (created if missing).
    seed
        The same seed gives the same bytes.
    skus
        Exactly this many SKUs on day 1 (products are about a third as many).
    """
    out = Path(out)
    shops = build_days(seed, skus, len(DAYS))
    days = {}
    for name, shop in zip(DAYS, shops, strict=True):
        days[name] = {
            "date": shop.today.isoformat(),
            "rows": write_day(shop, out / name),
            "changes": shop.changes,
        }
    manifest = {
        "seed": seed,
        "counts": _counts(shops[0]),
        "days": days,
        "bad_price_rows": _bad_rows(shops[-1]),
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2, default=str)
    (out / "manifest.json").write_text(text + "\n", encoding="utf-8")
    return manifest


def _counts(shop: Shop) -> dict[str, int]:
    return {
        "skus": len(shop.skus),
        "products": len({s["Code"] for s in shop.skus}),
        "variants": len({s["ManufacturerPartNo"] for s in shop.skus}),
        "price_lists": len({p["PriceListCode"] for p in shop.prices}),
        "warehouses": len({o["WarehouseCode"] for o in shop.stock}),
        "locations": len({(o["WarehouseCode"], o["LocationCode"]) for o in shop.stock}),
        "companies": len(shop.companies),
        "customers": len(shop.customers),
        "relations": len(shop.relations),
        "competitor_prices": len(shop.competitors),
        "supplier_products": len(shop.supplier),
    }


def _bad_rows(shop: Shop) -> list[dict[str, Any]]:
    """Day 4's bad price rows by data row number (1-based, after the header), as sources count."""
    rows, shift = [], 0
    for index, bad, reason in sorted(shop.bad_prices, key=lambda b: b[0]):
        shift += bool(bad.get("_extra"))
        row = {
            "row": index + 1 + shift,
            "reason": reason,
            "PartNo": bad["PartNo"],
            "PriceListCode": bad["PriceListCode"],
            "QuantityBreak": bad["QuantityBreak"],
        }
        if reason == "duplicate key":
            row["duplicate_of"] = index + shift
        rows.append(row)
    return rows
