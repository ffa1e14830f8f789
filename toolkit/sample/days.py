"""The sample shop day by day: the first snapshot, three days of ordinary change and a broken fourth.

Day 2: a price campaign starts, stock moves, three products are discontinued and two added, a contact
moves to another company. Day 3: stock moves, part of the campaign ends, the PIM edits a few texts.
Day 4: stock moves, then the ERP stock export is truncated and the price export carries bad rows.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from toolkit.sample import catalog, crm
from toolkit.sample.catalog import Row
from toolkit.sample.supplier import build_supplier, move_supplier_stock

FIRST_DAY = date(2025, 3, 3)


@dataclass
class Shop:
    """Everything the shop's systems would export on one day."""

    number: int
    skus: list[Row]
    prices: list[Row]
    stock: list[Row]
    companies: list[Row]
    customers: list[Row]
    relations: list[Row]
    competitors: list[Row]
    supplier: list[Row]
    next_product: int
    changes: dict[str, Any] = field(default_factory=dict)
    bad_prices: list[tuple[int, Row, str]] = field(default_factory=list)  # (index, row, reason)
    stock_cut: float | None = None  # share of stock rows the truncated export keeps

    @property
    def today(self) -> date:
        return FIRST_DAY + timedelta(days=self.number - 1)


def first_day(seed: int, skus: int) -> Shop:
    """Day 1: the whole shop."""
    rng = random.Random(seed)
    rows, next_product = catalog.build_assortment(rng, skus)
    firsts = catalog.first_skus(rows)
    companies = crm.build_companies(rng)
    return Shop(
        number=1,
        skus=rows,
        prices=[p for s in rows for p in catalog.sku_prices(s, rng)],
        stock=[o for s in rows for o in catalog.sku_stock(s, rng, FIRST_DAY)],
        companies=companies,
        customers=crm.build_customers(rng, companies),
        relations=[r for s in firsts.values() for r in catalog.product_relations(s, firsts, rng)],
        competitors=[
            c for s in firsts.values() if rng.random() < 0.3 for c in catalog.competitor_prices(s, rng)
        ],
        supplier=build_supplier(rng, rows, FIRST_DAY),
        next_product=next_product,
    )


def next_day(shop: Shop, seed: int) -> Shop:
    """The day after ``shop``: a copy with that day's changes applied."""
    day = copy.copy(shop)
    for name in ("skus", "prices", "stock", "companies", "customers", "relations", "competitors", "supplier"):
        setattr(day, name, [dict(r) for r in getattr(shop, name)])
    day.number += 1
    day.changes, day.bad_prices, day.stock_cut = {}, [], None
    rng = random.Random(seed * 1000 + day.number)
    day.changes["stock_rows_moved"] = move_stock(day, rng)
    day.changes["supplier_rows_moved"] = move_supplier_stock(rng, day.supplier)
    day.changes["competitor_rows_changed"] = move_competitors(day, rng)
    {2: _day2, 3: _day3, 4: _day4}[day.number](day, rng)
    return day


def _day2(day: Shop, rng: random.Random) -> None:
    day.changes["campaign_started"] = start_campaign(day, rng)
    day.changes["discontinued"] = discontinue(day, rng)
    day.changes["added"] = [add_product(day, rng) for _ in range(2)]
    day.changes["customer_moved"] = move_customer(day, rng)


def _day3(day: Shop, rng: random.Random) -> None:
    day.changes["campaign_ended"] = end_campaign(day, rng)
    day.changes["texts_edited"] = edit_texts(day, rng)


def _day4(day: Shop, rng: random.Random) -> None:
    day.stock_cut = 0.55
    day.bad_prices = bad_price_rows(day, rng)
    day.changes["stock_truncated_to"] = day.stock_cut
    day.changes["bad_price_rows"] = [reason for _, _, reason in day.bad_prices]


def move_stock(day: Shop, rng: random.Random, share: float = 0.2) -> int:
    """Deliveries that arrived come in; about ``share`` of the rows sell or get a new order."""
    moved = 0
    for row in day.stock:
        arrived = row["NextDeliveryDate"] is not None and row["NextDeliveryDate"] <= day.today
        if arrived:
            row["OnhandValue"] += row["IncomingValue"]
            row["IncomingValue"], row["NextDeliveryDate"] = 0, None
        if rng.random() < share:
            _sell_or_order(row, rng, day.today)
        moved += arrived or row.get("_moved", False)
        row.pop("_moved", None)
    return moved


def _sell_or_order(row: Row, rng: random.Random, today: date) -> None:
    before = (row["OnhandValue"], row["IncomingValue"])
    row["OnhandValue"] = max(0, row["OnhandValue"] - rng.randint(1, 4))
    if row["OnhandValue"] < 3 and not row["IncomingValue"]:
        row["IncomingValue"] = rng.randint(10, 40)
        row["NextDeliveryDate"] = today + timedelta(days=rng.randint(2, 8))
    row["_moved"] = before != (row["OnhandValue"], row["IncomingValue"])


def move_competitors(day: Shop, rng: random.Random, share: float = 0.1) -> int:
    """Competitors change about ``share`` of their prices; a few run out of stock."""
    changed = 0
    for row in day.competitors:
        if rng.random() < share:
            freight = row["PriceSaleInclFreight"] - row["PriceSale"]
            row["PriceSale"] = float(catalog.nice_price(row["PriceSale"] * rng.uniform(0.88, 1.02)))
            row["PriceSaleInclFreight"] = row["PriceSale"] + freight
            row["IsInStock"] = rng.random() < 0.9
            changed += 1
    return changed


def _skus_by_part(day: Shop) -> dict[str, Row]:
    return {s["PartNo"]: s for s in day.skus}


def start_campaign(day: Shop, rng: random.Random, share: float = 0.05) -> int:
    """About ``share`` of the SE-B2C prices drop 20-30 %; PricePrevious keeps the old price."""
    skus, count = _skus_by_part(day), 0
    for row in day.prices:
        if row["PriceListCode"] == "SE-B2C" and rng.random() < share:
            sku = skus[row["PartNo"]]
            gross = catalog.nice_price(sku["_gross_sek"] * rng.uniform(0.68, 0.78), down=True)
            row["PricePrevious"] = row["PriceSale"]
            row["PriceSale"] = round(gross / (1 + sku["VatRate[Sweden]"] / 100), 2)
            count += 1
    return count


def end_campaign(day: Shop, rng: random.Random, share: float = 0.5) -> int:
    """About ``share`` of the campaign prices go back to the ordinary price."""
    count = 0
    for row in day.prices:
        if row["PricePrevious"] is not None and rng.random() < share:
            row["PriceSale"], row["PricePrevious"] = row["PricePrevious"], None
            count += 1
    return count


def discontinue(day: Shop, rng: random.Random) -> list[dict[str, Any]]:
    """Three products go: two stay in the ERP as Inactive (Status 5), one disappears from every file."""
    codes = rng.sample(sorted({s["Code"] for s in day.skus if not s["_food"]}), 3)
    parts = {s["PartNo"] for s in day.skus if s["Code"] in codes}
    for sku in day.skus:
        if sku["Code"] in codes[:2]:
            sku["Status"] = "5"
    day.skus = [s for s in day.skus if s["Code"] != codes[2]]
    day.prices = [p for p in day.prices if p["PartNo"] not in parts]
    day.stock = [o for o in day.stock if o["PartNo"] not in parts]
    day.relations = [r for r in day.relations if not {r["PartNo"], r["RelatedPartNo"]} & parts]
    day.competitors = [c for c in day.competitors if c["PartNo"] not in parts]
    return [
        {"Code": c, "how": "Status Inactive" if i < 2 else "missing from ERP and PIM"}
        for i, c in enumerate(codes)
    ]


def add_product(day: Shop, rng: random.Random) -> str:
    """A new product with its prices, stock and relations; returns its code."""
    rows = catalog.build_product(rng, day.next_product, theme="nyheter")
    day.next_product += 1
    firsts = catalog.first_skus(day.skus)
    day.skus.extend(rows)
    day.prices.extend(p for s in rows for p in catalog.sku_prices(s, rng))
    day.stock.extend(o for s in rows for o in catalog.sku_stock(s, rng, day.today))
    day.relations.extend(catalog.product_relations(rows[0], firsts, rng))
    return str(rows[0]["Code"])


def move_customer(day: Shop, rng: random.Random) -> dict[str, str]:
    """A contact changes jobs: new company (same country), new e-mail address."""
    per_company: dict[str, int] = {}
    for c in day.customers:
        per_company[c["CompanyCode"]] = per_company.get(c["CompanyCode"], 0) + 1
    customer = rng.choice([c for c in day.customers if per_company[c["CompanyCode"]] > 1])
    old = next(c for c in day.companies if c["Code"] == customer["CompanyCode"])
    new = rng.choice([c for c in day.companies if c["_country"] == old["_country"] and c is not old])
    taken = {c["EmailAddress"] for c in day.customers}
    customer["CompanyCode"] = new["Code"]
    customer["EmailAddress"] = crm.contact_email(
        customer["FirstName"], customer["LastName"], new["_domain"], taken
    )
    return {"Code": customer["Code"], "from": old["Code"], "to": new["Code"]}


EDITS = (
    (
        "Description",
        "Nu i ett lättare och mer slitstarkt material.",
        "Nå i et lettere og mer slitesterkt materiale.",
    ),
    ("Description", "Bästsäljare bland våra fjällguider.", "Bestselger blant våre fjellførere."),
    ("Description", "Levereras i en återvinningsbar kartong.", "Leveres i en resirkulerbar eske."),
    ("Name", " (ny modell)", " (ny modell)"),
)


def edit_texts(day: Shop, rng: random.Random) -> list[str]:
    """The PIM edits the texts of a few products (every SKU row of the product changes)."""
    codes = rng.sample(sorted({s["Code"] for s in day.skus if s["Status"] == "1"}), len(EDITS))
    for code, (column, sv, nb) in zip(codes, EDITS, strict=True):
        for sku in (s for s in day.skus if s["Code"] == code):
            sep = " " if column == "Description" else ""
            sku[f"{column}[sv-SE]"] += sep + sv.strip()
            sku[f"{column}[nb-NO]"] += sep + nb.strip()
    return codes


def bad_price_rows(day: Shop, rng: random.Random) -> list[tuple[int, Row, str]]:
    """Six broken rows for the price export, each with the index of the row it replaces or follows."""
    picks = rng.sample(range(len(day.prices)), 6)
    bad = []
    for i, (reason, edit) in zip(picks, _BAD_EDITS, strict=True):
        row = {**day.prices[i], **edit(day.prices[i])}
        bad.append((i, row, reason))
    return sorted(bad, key=lambda b: b[0])


_BAD_EDITS: tuple[tuple[str, Callable[[Row], Row]], ...] = (
    ("negative price", lambda r: {"PriceSale": -r["PriceSale"]}),
    ("unknown currency", lambda r: {"CurrencyCode": "KR"}),
    ("text in a numeric column", lambda r: {"PriceSale": "ring för pris"}),
    ("duplicate key", lambda r: {"PriceSale": round(r["PriceSale"] * 0.9, 2), "_extra": True}),
    ("null PartNo", lambda r: {"PartNo": None, "_extra": True}),
    ("quantity break 0", lambda r: {"QuantityBreak": 0, "_extra": True}),
)


def build_days(seed: int, skus: int, days: int = 4) -> list[Shop]:
    """The shop on each day, day 1 first."""
    shops = [first_day(seed, skus)]
    while len(shops) < days:
        shops.append(next_day(shops[-1], seed))
    return shops
