"""The sample shop's assortment: products, variants and SKUs with texts, prices, stock and relations.

Rows are plain dicts keyed by canonical column names (``Name[sv-SE]``, ``VatRate[Sweden]``); keys that
start with ``_`` are the generator's own bookkeeping and never reach a file.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from toolkit.sample.words import (
    BRANDS,
    CATEGORIES,
    CLOSING,
    COLOURS,
    COMPETITORS,
    GENDERS,
    MODELS,
    THEMES,
    Category,
)

Row = dict[str, Any]
IMAGE_BASE = "https://images.example.com/products"
SIZE_WEIGHT = {"XS": 0.85, "S": 0.9, "M": 1.0, "L": 1.05, "XL": 1.1, "XXL": 1.15}
BULK = frozenset({"strumpor", "tillbehor", "friluftsmat"})
ACCESSORY = ("tillbehor", "strumpor", "mossor", "lampor", "friluftsmat")
WAREHOUSES = {"STHLM": ("A1", "A2"), "OSLO": ("MAIN",)}


def nice_price(x: float, *, down: bool = False) -> int:
    """A consumer price as shops set them: ending in 9 (rounded up, or down for a campaign).

    >>> nice_price(2950.0), nice_price(433.0), nice_price(36.0), nice_price(104.3, down=True)
    (2999, 449, 39, 99)
    """
    step = 100 if x >= 1000 else 50 if x >= 100 else 10
    steps = int(x // step) if down else round(x / step + 0.5)
    return max(step, steps * step) - 1


def ean13(body12: str) -> str:
    """Append the GS1 check digit.

    >>> ean13("735001234567")
    '7350012345679'
    """
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _variants(rng: random.Random, cat: Category) -> list[tuple[str, str, str]]:
    lo, hi = cat.kind.variants
    pool = [tuple(c) for c in COLOURS] if cat.kind.by_colour else list(cat.variants)
    picked = rng.sample(pool, min(rng.randint(lo, hi), len(pool)))
    return sorted(picked, key=pool.index)  # type: ignore[arg-type]


def _sizes(rng: random.Random, cat: Category) -> tuple[str, ...]:
    sizes = cat.kind.sizes
    if not sizes:
        return ("",)
    n = min(rng.randint(*cat.kind.run), len(sizes))
    start = rng.randint(0, len(sizes) - n)
    return sizes[start : start + n]


def _texts(rng: random.Random, cat: Category, model: str, kind: tuple[str, str]) -> Row:
    gender = rng.choice(GENDERS) if cat.parent == "klader" and cat.code != "mossor" else ("", "")
    names = [f"{model} {kind[i]} {gender[i]}".strip() for i in (0, 1)]
    picked = rng.sample(cat.sentences, min(2, len(cat.sentences)))
    closing = rng.choice(CLOSING)
    desc = [" ".join([*(s[i] for s in picked), closing[i].format(place=model)]) for i in (0, 1)]
    return {
        "Name[sv-SE]": names[0],
        "Name[nb-NO]": names[1],
        "Description[sv-SE]": desc[0],
        "Description[nb-NO]": desc[1],
    }


def _pick_category(rng: random.Random) -> Category:
    return rng.choices(CATEGORIES, weights=[c.weight for c in CATEGORIES])[0]


def build_product(rng: random.Random, number: int, *, theme: str | None = None) -> list[Row]:
    """The SKU rows of one product (a variant cluster): variants by colour or model, SKUs by size."""
    cat = _pick_category(rng)
    kind = rng.choice(cat.types)
    brand = rng.choice(BRANDS)
    code = f"P{number}"
    gross = nice_price(kind[2] * rng.uniform(0.8, 1.3))
    themes = [t[0] for t in THEMES[:3] if rng.random() < 0.12] + ([theme] if theme else [])
    product = {
        "Code": code,
        "ManufacturerCode": brand[0],
        "ManufacturerName": brand[1],
        "Categories": [cat.code, *themes],
        **_texts(rng, cat, rng.choice(MODELS), kind[:2]),
        "_category": cat.code,
        "_food": cat.is_food,
        "_gross_sek": gross,
        "_gross_nok": nice_price(gross * rng.uniform(1.0, 1.1)),
        "_kg": kind[3],
    }
    variants = _variants(rng, cat)
    product["MainImage"] = f"{IMAGE_BASE}/{code}/{variants[0][0].lower()}.jpg"
    sizes = _sizes(rng, cat)
    pairs = [(v, s) for v in variants for s in sizes]
    return [_sku(product, number, variants.index(v) + 1, v, s, i) for i, (v, s) in enumerate(pairs)]


def _sku(product: Row, number: int, sort: int, variant: tuple[str, str, str], size: str, index: int) -> Row:
    vcode, sv, nb = variant
    part = f"{number}-{vcode}" + (f"-{size.replace('/', '').replace('-', '')}" if size else "")
    food = product["_food"]
    return {
        **product,
        "ManufacturerPartNo": f"{product['ManufacturerCode']}-{number}-{vcode}",
        "SortOrderValue": sort,
        "VariantName[sv-SE]": sv,
        "VariantName[nb-NO]": nb,
        "PartNo": part,
        "Status": "1",
        "Type": "1",
        "EanCode": ean13(f"7350{number:05d}{index:03d}"),
        "VatRate[Sweden]": 12.0 if food else 25.0,
        "VatRate[Norway]": 15.0 if food else 25.0,
        "ActualWeight": round(product["_kg"] * SIZE_WEIGHT.get(size, 1.0), 3),
        "_size": size,
    }


def build_assortment(rng: random.Random, skus: int) -> tuple[list[Row], int]:
    """About ``skus`` SKU rows (exactly that many), and the next free product number."""
    rows: list[Row] = []
    number = 10001
    while len(rows) < skus:
        rows.extend(build_product(rng, number))
        number += 1
    return rows[:skus], number


def _excl(gross: float, vat: float) -> float:
    return round(gross / (1 + vat / 100), 2)


def sku_prices(sku: Row, rng: random.Random) -> list[Row]:
    """The SKU's rows in the three price lists (SE-B2B: breaks 1/10/50 for bulk goods, a few others)."""
    se = _excl(sku["_gross_sek"], sku["VatRate[Sweden]"])
    no = _excl(sku["_gross_nok"], sku["VatRate[Norway]"])
    sku["StandardPrice"] = se
    cost = round(se * rng.uniform(0.42, 0.55), 2)
    rows = [_price(sku, "SE-B2C", 1, se, "SEK", cost), _price(sku, "NO-B2C", 1, no, "NOK", None)]
    # SE-B2B inherits from SE-B2C at -15 %; own rows only for bulk goods and negotiated prices.
    breaks: tuple[tuple[int, float], ...] = ()
    if sku["_category"] in BULK:
        breaks = ((1, 0.8), (10, 0.75), (50, 0.7))
    breaks = breaks or (((1, round(rng.uniform(0.72, 0.82), 2)),) if rng.random() < 0.15 else ())
    rows += [_price(sku, "SE-B2B", q, round(se * f, 2), "SEK", None) for q, f in breaks]
    return rows


def _price(sku: Row, price_list: str, qty: int, sale: float, currency: str, cost: float | None) -> Row:
    return {
        "PartNo": sku["PartNo"],
        "PriceListCode": price_list,
        "QuantityBreak": qty,
        "PriceSale": sale,
        "PricePrevious": None,
        "CostPurchase": cost,
        "CurrencyCode": currency,
    }


def sku_stock(sku: Row, rng: random.Random, today: date) -> list[Row]:
    """On-hand rows: every SKU in STHLM (clothes on A1, the rest on A2), half also in OSLO."""
    loc = (
        "A1"
        if sku["_category"] in {"jackor", "byxor", "understall", "mossor", "strumpor", "kangor"}
        else "A2"
    )
    places = [("STHLM", loc)] + ([("OSLO", "MAIN")] if rng.random() < 0.5 else [])
    return [_onhand(sku["PartNo"], w, loc_, rng, today) for w, loc_ in places]


def _onhand(part: str, warehouse: str, location: str, rng: random.Random, today: date) -> Row:
    incoming = rng.randint(10, 40) if rng.random() < 0.08 else 0
    return {
        "PartNo": part,
        "WarehouseCode": warehouse,
        "LocationCode": location,
        "OnhandValue": min(150, int(rng.paretovariate(1.5) * 4) - 3) if rng.random() < 0.9 else 0,
        "IncomingValue": incoming,
        "NextDeliveryDate": today + timedelta(days=rng.randint(2, 12)) if incoming else None,
    }


def first_skus(skus: list[Row]) -> dict[str, Row]:
    """The first SKU of each product, by product code: what relations and competitors point at."""
    firsts: dict[str, Row] = {}
    for sku in skus:
        firsts.setdefault(sku["Code"], sku)
    return firsts


def product_relations(sku: Row, firsts: dict[str, Row], rng: random.Random) -> list[Row]:
    """Accessories (1-2) from accessory categories and up to one similar product."""
    others = [s for s in firsts.values() if s["Code"] != sku["Code"]]
    accessories = [s for s in others if s["_category"] in ACCESSORY]
    similar = [s for s in others if s["_category"] == sku["_category"]]
    picked = [("ACCESSORIES", s) for s in rng.sample(accessories, rng.randint(1, 2))]
    if similar and rng.random() < 0.5:
        picked.append(("SIMILAR", rng.choice(similar)))
    return [
        {
            "PartNo": sku["PartNo"],
            "RelatedPartNo": s["PartNo"],
            "RelationTypeCode": t,
            "SortOrder": i,
            "IsActive": True,
        }
        for i, (t, s) in enumerate(picked, 1)
    ]


def competitor_prices(sku: Row, rng: random.Random) -> list[Row]:
    """What two or three competitors charge for the SKU (consumer prices incl. VAT)."""
    rows = []
    for code, name, area, currency, freight in COMPETITORS:
        if rng.random() > (0.6 if area == "Norway" else 0.85):
            continue
        gross = sku["_gross_nok" if area == "Norway" else "_gross_sek"]
        price = float(nice_price(gross * rng.uniform(0.82, 1.08)))
        rows.append(
            {
                "PartNo": sku["PartNo"],
                "Source": "PRISBEVAKNING",
                "CompetitorCode": code,
                "CompetitorPartNo": f"{code}-{rng.randrange(10**6):06d}",
                "PriceSale": price,
                "PriceSaleInclFreight": price + freight,
                "IsPricesInclVat": True,
                "IsInStock": rng.random() < 0.85,
                "CompetitorName": name,
                "ProductName": f"{sku['ManufacturerName']} {sku['Name[sv-SE]']}",
                "CurrencyCode": currency,
                "SalesArea": area,
                "VatRate": sku["VatRate[Norway]" if area == "Norway" else "VatRate[Sweden]"],
            }
        )
    return rows
