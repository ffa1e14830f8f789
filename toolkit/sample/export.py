"""Write one day of the sample shop the way its systems export it.

ERP: CSV with ``;``, cp1252, decimal commas, CRLF and Swedish headers. PIM: an Excel workbook with a
"Produkter" sheet (one row per SKU) and a "Kategorier" sheet. CRM: NDJSON with camelCase keys.
Price monitoring and PIM relations: UTF-8 CSV with ``,``. Supplier and ERP price lists: JSON arrays.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from toolkit.sample.catalog import Row
from toolkit.sample.days import Shop
from toolkit.sample.words import CATEGORIES, PARENTS, THEMES

Fmt = Callable[[Any], str]


def _money(v: Any) -> str:
    return v if isinstance(v, str) else "" if v is None else f"{v:.2f}".replace(".", ",")


def _kg(v: Any) -> str:
    return "" if v is None else f"{v:.3f}".replace(".", ",")


def _text(v: Any) -> str:
    return "" if v is None else v.isoformat() if isinstance(v, date) else str(v)


# (file header, canonical column, formatter): the feed mapping renames header -> column.
ERP_PRODUCTS = (
    ("Artikelnr", "PartNo", _text),
    ("Produktnr", "Code", _text),
    ("Varumärke", "ManufacturerCode", _text),
    ("Variantnr", "ManufacturerPartNo", _text),
    ("Status", "Status", _text),
    ("Artikeltyp", "Type", _text),
    ("EAN", "EanCode", _text),
    ("Grundpris", "StandardPrice", _money),
    ("Moms SE", "VatRate[Sweden]", _money),
    ("Moms NO", "VatRate[Norway]", _money),
    ("Vikt (kg)", "ActualWeight", _kg),
)
ERP_PRICES = (
    ("Artikelnr", "PartNo", _text),
    ("Prislista", "PriceListCode", _text),
    ("Från antal", "QuantityBreak", _text),
    ("Pris", "PriceSale", _money),
    ("Ord. pris", "PricePrevious", _money),
    ("Inköpspris", "CostPurchase", _money),
    ("Valuta", "CurrencyCode", _text),
)
ERP_STOCK = (
    ("Artikelnr", "PartNo", _text),
    ("Lager", "WarehouseCode", _text),
    ("Lagerplats", "LocationCode", _text),
    ("Saldo", "OnhandValue", _text),
    ("Inkommande", "IncomingValue", _text),
    ("Nästa leverans", "NextDeliveryDate", _text),
)
PIM_PRODUCTS = (
    ("Artikelnummer", "PartNo"),
    ("Produktkod", "Code"),
    ("Varumärkeskod", "ManufacturerCode"),
    ("Variantkod", "ManufacturerPartNo"),
    ("Varumärke", "ManufacturerName"),
    ("Produktnamn sv-SE", "Name[sv-SE]"),
    ("Produktnamn nb-NO", "Name[nb-NO]"),
    ("Beskrivning sv-SE", "Description[sv-SE]"),
    ("Beskrivning nb-NO", "Description[nb-NO]"),
    ("Variantnamn sv-SE", "VariantName[sv-SE]"),
    ("Variantnamn nb-NO", "VariantName[nb-NO]"),
    ("Sortering", "SortOrderValue"),
    ("Kategorier", "Categories"),
    ("Huvudbild", "MainImage"),
)
RELATIONS = (
    ("PartNo", "PartNo"),
    ("RelatedPartNo", "RelatedPartNo"),
    ("RelationType", "RelationTypeCode"),
    ("SortOrder", "SortOrder"),
    ("IsActive", "IsActive"),
)
COMPETITORS = (
    ("sku", "PartNo"),
    ("source", "Source"),
    ("competitor_code", "CompetitorCode"),
    ("competitor_sku", "CompetitorPartNo"),
    ("price", "PriceSale"),
    ("price_incl_freight", "PriceSaleInclFreight"),
    ("incl_vat", "IsPricesInclVat"),
    ("in_stock", "IsInStock"),
    ("competitor", "CompetitorName"),
    ("product_name", "ProductName"),
    ("currency", "CurrencyCode"),
    ("market", "SalesArea"),
    ("vat_rate", "VatRate"),
)
CUSTOMERS = (
    ("id", "CrmId"),
    ("customerNo", "Code"),
    ("firstName", "FirstName"),
    ("lastName", "LastName"),
    ("email", "EmailAddress"),
    ("mobile", "CellPhoneNumber"),
    ("companyNo", "CompanyCode"),
    ("active", "IsActive"),
)
COMPANIES = (
    ("companyNo", "Code"),
    ("name", "Name"),
    ("orgNo", "OrganizationNo"),
    ("vatNo", "VatNo"),
    ("email", "EmailAddress"),
    ("phone", "PhoneNumber"),
    ("parentCompanyNo", "ParentCompanyCode"),
    ("active", "IsActive"),
)
PRICE_LISTS = (
    {
        "Code": "SE-B2C",
        "Name": "Sverige konsument",
        "CurrencyCode": "SEK",
        "SalesArea": "Sweden",
        "IsPublic": True,
        "IsPrimary": True,
        "StartDate": "2025-01-01",
        "Warehouses": ["STHLM"],
        "Description": "Konsumentpriser i Sverige, exkl. moms",
    },
    {
        "Code": "NO-B2C",
        "Name": "Norge forbruker",
        "CurrencyCode": "NOK",
        "SalesArea": "Norway",
        "IsPublic": True,
        "IsPrimary": False,
        "StartDate": "2025-01-01",
        "Warehouses": ["OSLO", "STHLM"],
        "Description": "Forbrukerpriser i Norge, eks. mva",
    },
    {
        "Code": "SE-B2B",
        "Name": "Sverige företag",
        "CurrencyCode": "SEK",
        "SalesArea": "Sweden",
        "IsPublic": False,
        "IsPrimary": False,
        "StartDate": "2025-01-01",
        "Warehouses": ["STHLM"],
        "ParentPriceListCode": "SE-B2C",
        "DefaultPriceRule": "UseStandardPrice_PctDiscount",
        "DefaultPriceRuleValue": 15.0,
        "Description": "Företagspriser: 15 % under konsumentpris, mängdrabatt från 10 och 50 st",
    },
)
ERP_MAPPINGS = {"products": ERP_PRODUCTS, "prices": ERP_PRICES, "stock": ERP_STOCK}
# When the files were exported: fixes the workbook's metadata so the bytes depend only on the seed.
EXPORTED_AT = datetime(2025, 3, 3, 5, 30)


def erp_lines(columns: Sequence[tuple[str, str, Fmt]], rows: Iterable[Row]) -> list[str]:
    """Header and data lines of an ERP export (no line ends)."""
    lines = [";".join(h for h, _, _ in columns)]
    lines += [";".join(f(r.get(c)) for _, c, f in columns) for r in rows]
    return lines


def write_erp(path: Path, lines: list[str], *, cut: str | None = None) -> None:
    """cp1252 with CRLF line ends; ``cut`` is a partial last line (a truncated export) with no end."""
    text = "".join(line + "\r\n" for line in lines) + (cut or "")
    path.write_bytes(text.encode("cp1252"))


def price_lines(day: Shop) -> list[str]:
    """The ERP price export, with day 4's bad rows in place (replacing or following their row)."""
    rows: list[Row] = list(day.prices)
    for index, bad, _ in sorted(day.bad_prices, key=lambda b: -b[0]):
        if bad.get("_extra"):
            rows.insert(index + 1, bad)
        else:
            rows[index] = bad
    return erp_lines(ERP_PRICES, rows)


def stock_lines(day: Shop) -> tuple[list[str], str | None]:
    """The ERP stock export; on a broken day only its first part, ending in a cut-off line."""
    lines = erp_lines(ERP_STOCK, day.stock)
    if day.stock_cut is None:
        return lines, None
    keep = round((len(lines) - 1) * day.stock_cut)
    cut_line = lines[keep + 1]
    return lines[: keep + 1], cut_line[: cut_line.index(";") + 3]


def write_csv(path: Path, columns: Sequence[tuple[str, str]], rows: Iterable[Row]) -> None:
    """UTF-8, comma-separated, quoted where needed, booleans as true/false."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(h for h, _ in columns)
    for row in rows:
        writer.writerow(_plain(row.get(c)) for _, c in columns)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _plain(v: Any) -> str:
    return "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def write_ndjson(path: Path, columns: Sequence[tuple[str, str]], rows: Iterable[Row]) -> None:
    lines = (json.dumps({k: r.get(c) for k, c in columns}, ensure_ascii=False) for r in rows)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_json(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """A JSON array, one record per line."""
    body = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    path.write_text(f"[\n{body}\n]\n", encoding="utf-8")


def write_pim(path: Path, skus: Sequence[Row]) -> None:
    """The PIM workbook: "Produkter" (one row per SKU) and "Kategorier"."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_urls": False})
    book.set_properties({"title": "PIM-export", "author": "PIM", "created": EXPORTED_AT})
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("Produkter")
    sheet.write_row(0, 0, [h for h, _ in PIM_PRODUCTS], bold)
    sheet.freeze_panes(1, 0)
    for r, sku in enumerate(skus, 1):
        for c, (_, col) in enumerate(PIM_PRODUCTS):
            value = sku[col]
            sheet.write(r, c, "|".join(value) if isinstance(value, list) else value)
    cats = book.add_worksheet("Kategorier")
    cats.write_row(0, 0, ["Kod", "Namn sv-SE", "Namn nb-NO", "Överordnad"], bold)
    every = (
        [(p[0], p[1], p[2], None) for p in PARENTS]
        + [(c.code, c.sv, c.nb, c.parent) for c in CATEGORIES]
        + [(t[0], t[1], t[2], None) for t in THEMES]
    )
    for r, row in enumerate(every, 1):
        cats.write_row(r, 0, row)
    book.close()


def write_day(day: Shop, directory: Path) -> dict[str, int]:
    """Every file of one day into ``directory``; returns the data rows written per file."""
    directory.mkdir(parents=True, exist_ok=True)
    products = erp_lines(ERP_PRODUCTS, day.skus)
    write_erp(directory / "erp_products.csv", products)
    prices = price_lines(day)
    write_erp(directory / "erp_prices.csv", prices)
    stock, cut = stock_lines(day)
    write_erp(directory / "erp_stock.csv", stock, cut=cut)
    write_pim(directory / "pim_products.xlsx", day.skus)
    write_ndjson(directory / "crm_customers.ndjson", CUSTOMERS, day.customers)
    write_ndjson(directory / "crm_companies.ndjson", COMPANIES, day.companies)
    write_json(directory / "price_lists.json", PRICE_LISTS)
    write_csv(directory / "relations.csv", RELATIONS, day.relations)
    write_csv(directory / "competitors.csv", COMPETITORS, day.competitors)
    write_json(directory / "supplier_products.json", day.supplier)
    return {
        "erp_products.csv": len(products) - 1,
        "erp_prices.csv": len(prices) - 1,
        "erp_stock.csv": len(stock) - 1 + (cut is not None),
        "pim_products.xlsx": len(day.skus),
        "crm_customers.ndjson": len(day.customers),
        "crm_companies.ndjson": len(day.companies),
        "price_lists.json": len(PRICE_LISTS),
        "relations.csv": len(day.relations),
        "competitors.csv": len(day.competitors),
        "supplier_products.json": len(day.supplier),
    }
