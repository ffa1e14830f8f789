"""The sample shop's one supplier, a wholesaler, and its product feed with stock and purchase prices.

Records have the wholesaler's own flat JSON shape (``articleNo``, ``stockQty``, ``purchasePrice``, ...);
the feed's mapping renames them to the canonical ``SupplierPartNo``, ``OnHand.Value``,
``PriceList.CostPurchase`` columns (one on-hand and one price element per product).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

Row = dict[str, Any]
SUPPLIER = "Nordisk Friluftsgrossist AB"
WAREHOUSE, LOCATION, PRICE_LIST = "NFG-LAGER", "HUVUDLAGER", "NFG-SEK"
CATEGORY_PATHS = {
    "friluftsmat": "Mat & dryck|Friluftsmat",
    "tillbehor": "Utrustning|Tillbehör",
    "lampor": "Utrustning|Pannlampor",
    "kok": "Utrustning|Kök",
    "strumpor": "Kläder|Strumpor",
}


def build_supplier(rng: random.Random, skus: list[Row], today: date) -> list[Row]:
    """A wholesaler's products: what it sells of the shop's assortment in its categories."""
    carried = [s for s in skus if s["_category"] in CATEGORY_PATHS and rng.random() < 0.22]
    return [_product(rng, 40001 + i, s, today) for i, s in enumerate(carried)]


def _product(rng: random.Random, number: int, sku: Row, today: date) -> Row:
    price = sku["_gross_sek"] / (1 + sku["VatRate[Sweden]"] / 100)
    incoming = rng.randrange(24, 241, 24) if rng.random() < 0.1 else 0
    return {
        "articleNo": f"NFG-{number}",
        "name": f"{sku['ManufacturerName']} {sku['Name[sv-SE]']} {sku['VariantName[sv-SE]']}",
        "category": CATEGORY_PATHS[sku["_category"]],
        "brand": sku["ManufacturerName"],
        "mpn": sku["ManufacturerPartNo"],
        "gtin": sku["EanCode"],
        "grossWeightKg": round(sku["ActualWeight"] * 1.08, 3),
        "netWeightKg": sku["ActualWeight"],
        "unit": "st",
        "packSize": 1,
        "vatCode": 2 if sku["_food"] else 1,
        "warehouse": WAREHOUSE,
        "location": LOCATION,
        "stockQty": rng.randrange(0, 400),
        "incomingQty": incoming,
        "nextDelivery": (today + timedelta(days=rng.randint(5, 20))).isoformat() if incoming else None,
        "leadTimeDays": rng.choice((2, 3, 5)),
        "priceList": PRICE_LIST,
        "currency": "SEK",
        "purchasePrice": round(price * rng.uniform(0.4, 0.5), 2),
        "rrp": float(sku["_gross_sek"]),
    }


def move_supplier_stock(rng: random.Random, products: list[Row], share: float = 0.2) -> int:
    """Change the wholesaler's on-hand value of about ``share`` of its products; returns how many."""
    moved = 0
    for product in products:
        if rng.random() < share:
            product["stockQty"] = max(0, product["stockQty"] + rng.randint(-60, 30))
            moved += 1
    return moved
