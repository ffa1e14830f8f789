"""Acceptance 2: only the fields a header lists are written, for every entity; parent flags; enums."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

KEYS = {"PartNo": "S1", "WarehouseCode": "W1", "LocationCode": "L1"}
KEY = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # Company.ApplicationKey, required by the contract
COMPETITOR = {
    "PartNo": "S1",
    "Source": "pricespy",
    "CompetitorCode": "C1",
    "CompetitorPartNo": "X",
    "PriceSale": 9.0,
    "PriceSaleInclFreight": 10.0,
    "IsPricesInclVat": True,
    "IsInStock": True,
}

# entity: (field list member, base item, field A, field B, new A, new B)
CASES: dict[str, tuple[str, dict[str, Any], str, str, Any, Any]] = {
    "onhands": (
        "SkuOnhandFieldsThatAreSet",
        {**KEYS, "OnhandValue": 1, "IncomingValue": 2},
        "OnhandValue",
        "IncomingValue",
        10,
        20,
    ),
    "sku_prices": (
        "SkuPriceListFieldsThatAreSet",
        {
            "PartNo": "S1",
            "PriceListCode": "PL1",
            "QuantityBreak": 1,
            "PriceSale": 100.0,
            "CostPurchase": 50.0,
        },
        "PriceSale",
        "CostPurchase",
        90.0,
        40.0,
    ),
    "price_lists": (
        "PriceListFieldsThatAreSet",
        {"Code": "PL2", "Name": "Old", "CurrencyCode": "SEK"},
        "Name",
        "CurrencyCode",
        "New",
        "EUR",
    ),
    "relations": (
        "RelationFieldsThatAreSet",
        {
            "PartNo": "S1",
            "RelatedPartNo": "S2",
            "RelationTypeCode": "ACC",
            "SortOrder": 1,
            "DefaultName": "old",
        },
        "SortOrder",
        "DefaultName",
        5,
        "new",
    ),
    "competitor_skus": (
        "CompetitorSkuFieldsThatAreSet",
        {**COMPETITOR, "CompetitorName": "Old", "ProductName": "Drill"},
        "CompetitorName",
        "ProductName",
        "New",
        "Saw",
    ),
    "customers": (
        "CustomerFieldsThatAreSet",
        {"Code": "CU1", "FirstName": "Ann", "LastName": "Lee"},
        "FirstName",
        "LastName",
        "Anna",
        "Li",
    ),
    "companies": (
        "CompanyFieldsThatAreSet",
        {"Code": "CO1", "ApplicationKey": KEY, "Name": "Acme", "VatNo": "SE1"},
        "Name",
        "VatNo",
        "Acme AB",
        "SE2",
    ),
    "supplier_products": (
        "FieldsThatAreSet",
        {"SupplierPartNo": "SP1", "ProductName": "Drill", "EanCode": "123"},
        "ProductName",
        "EanCode",
        "Saw",
        "456",
    ),
}


def _find(items: list[dict[str, Any]], base: dict[str, Any], key: tuple[str, ...]) -> dict[str, Any]:
    return next(i for i in items if all(i.get(k) == base.get(k, 1) for k in key))


@pytest.mark.parametrize("entity", sorted(CASES))
def test_only_listed_fields_are_written(api: Any, entity: str) -> None:
    from toolkit.entities import ENTITIES

    member, base, a, b, new_a, new_b = CASES[entity]
    api.create_skus("S1", "S2")
    api.run("price_lists", [{"Code": "PL1", "Name": "Base"}], api.header(PriceListFieldsThatAreSet=["Name"]))
    assert api.run(entity, [base], api.header(**{member: [a, b]}))["StatusId"] == 2
    api.lenient()  # b is sent but not listed, to prove it is not written: Connect ignores it
    job = api.run(entity, [{**base, a: new_a, b: new_b}], api.header(**{member: [a]}))
    assert (job["StatusId"], job["Updates"], job["Inserts"]) == (2, 1, 0)
    stored = _find(api.items(entity), base, ENTITIES[entity].key)
    assert stored[a] == new_a
    assert stored[b] == base[b]


def test_products_only_listed_sku_fields_and_parent_flags(api: Any) -> None:
    def product(price: float, ean: str) -> dict[str, Any]:
        sku = {"PartNo": "S1", "StandardPrice": {"PriceSale": price}, "EanCode": ean, "Status": "Active"}
        return {
            "Code": "P1",
            "ManufacturerCode": "M",
            "ManufacturerName": "Maker",
            "Variants": [{"ManufacturerPartNo": "V1", "Skus": [sku]}],
        }

    api.lenient()  # members sent unlisted or without their parent flag, to prove Connect ignores them
    flags = {
        "ProductFieldsThatAreSet": ["Variants"],
        "VariantFieldsThatAreSet": ["Skus"],
        "SkuPriceListFieldsThatAreSet": ["PriceSale"],
    }
    api.run(
        "products",
        [product(10.0, "111")],
        api.header(**flags, SkuFieldsThatAreSet=["StandardPrice", "EanCode", "Status"]),
    )
    api.run("products", [product(12.5, "222")], api.header(**flags, SkuFieldsThatAreSet=[20]))
    sku = api.items("products")[0]["Variants"][0]["Skus"][0]
    assert sku == {
        "PartNo": "S1",
        "StandardPrice": 12.5,
        "StandardPriceList": {"PriceSale": 12.5},
        "EanCode": "111",
        "Status": 1,
    }
    # without the parent flag "Skus" the SKU list is not written, and the log says why
    job = api.run(
        "products",
        [product(99.0, "333")],
        api.header(
            ProductFieldsThatAreSet=["Variants"],
            SkuFieldsThatAreSet=["StandardPrice"],
            SkuPriceListFieldsThatAreSet=["PriceSale"],
        ),
    )
    assert api.items("products")[0]["Variants"][0]["Skus"][0]["StandardPrice"] == 12.5
    assert any("VariantFieldsThatAreSet does not list Skus" in e["Message"] for e in api.log(job["JobId"]))
    assert "ManufacturerName" not in api.items("products")[0]


def test_product_cultures_merge_per_culture_and_listed_member(api: Any) -> None:
    flags = {"ProductFieldsThatAreSet": ["Cultures"]}
    en = {"CultureCode": "en-GB", "Name": "Drill"}
    first = [{"CultureCode": "sv-SE", "Name": "Borr", "Title": "T"}, en]
    api.run(
        "products",
        [{"Code": "P1", "ManufacturerCode": "M", "Cultures": first}],
        api.header(**flags, ProductCultureFieldsThatAreSet=["Name", "Title"]),
    )
    api.lenient()  # Title is sent but not listed, to prove it is not written: Connect ignores it
    api.run(
        "products",
        [{"Code": "P1", "Cultures": [{"CultureCode": "sv-SE", "Name": "Borrmaskin", "Title": "ignored"}]}],
        api.header(**flags, ProductCultureFieldsThatAreSet=["Name"]),
    )
    assert api.items("products")[0]["Cultures"] == [
        {"CultureCode": "sv-SE", "Name": "Borrmaskin", "Title": "T"},
        en,
    ]


def test_relation_cultures_need_their_flag(api: Any) -> None:
    rel = {
        "PartNo": "A",
        "RelatedPartNo": "B",
        "RelationTypeCode": "ACC",
        "Cultures": [{"CultureCode": "sv-SE", "Name": "Tillbehör", "Description": "x"}],
    }
    api.lenient()  # cultures without their parent flag and an unlisted Description: Connect ignores them
    api.run("relations", [rel], api.header(RelationCultureFieldsThatAreSet=["Name"]))
    assert "Cultures" not in api.items("relations")[0]
    api.run(
        "relations",
        [rel],
        api.header(RelationFieldsThatAreSet=["Cultures"], RelationCultureFieldsThatAreSet=["Name"]),
    )
    assert api.items("relations")[0]["Cultures"] == [{"CultureCode": "sv-SE", "Name": "Tillbehör"}]


def test_enum_values_as_names_or_numbers_are_stored_as_numbers(api: Any) -> None:
    api.create_skus("S1")
    api.run(
        "price_lists",
        [{"Code": "PL1", "SalesArea": "Norway", "DefaultPriceRule": 2}],
        api.header(PriceListFieldsThatAreSet=["SalesArea", "DefaultPriceRule"]),
    )
    api.run(
        "sku_prices",
        [
            {
                "PartNo": "S1",
                "PriceListCode": "PL1",
                "PriceRule": "fixedprice",
                "PriceRuleValue": 5.0,
                "CurrencyCode": "SEK",
            }
        ],
        api.header(SkuPriceListFieldsThatAreSet=["PriceRule"]),
    )
    assert api.items("price_lists")[0] == {"Code": "PL1", "SalesArea": 2, "DefaultPriceRule": 2}
    assert api.items("sku_prices")[0] == {
        "PartNo": "S1",
        "PriceListCode": "PL1",
        "QuantityBreak": 1,
        "PriceRule": 2,
        "PriceRuleValue": 5.0,
        "CurrencyCode": "SEK",
    }


def test_customer_companies_and_price_list_warehouses(api: Any) -> None:
    company = {"Code": "CO1", "ApplicationKey": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}
    api.run("companies", [company], api.header())  # a link names an existing company
    api.run(
        "customers",
        [{"Code": "CU1", "Companies": [{"Code": "CO1", "IsPrimary": True}]}],
        api.header(CustomerFieldsThatAreSet=["Companies"]),
    )
    api.run(
        "price_lists",
        [{"Code": "PL1", "Warehouses": [{"Code": "W1"}, {"Code": "W2"}]}],
        api.header(PriceListFieldsThatAreSet=["Warehouses"]),
    )
    assert api.items("customers") == [{"Code": "CU1", "Companies": [{"Code": "CO1", "IsPrimary": True}]}]
    assert api.items("price_lists")[0]["Warehouses"] == [{"Code": "W1"}, {"Code": "W2"}]


def test_unknown_skus_are_skipped_with_a_warning(api: Any) -> None:
    api.create_skus("S1")
    rows = [{**KEYS, "OnhandValue": 1}, {**KEYS, "PartNo": "NOPE", "OnhandValue": 2}]
    job = api.run("onhands", rows, api.header(SkuOnhandFieldsThatAreSet=["OnhandValue"]))
    assert (job["StatusId"], job["Totals"], job["Inserts"], job["Fail"]) == (2, 2, 1, 1)
    warnings = [e for e in api.log(job["JobId"]) if e["SeverityId"] == 2]
    assert warnings[0]["ImportedRow"] == 2 and "'NOPE'" in warnings[0]["Message"]
    assert [i["PartNo"] for i in api.items("onhands")] == ["S1"]
