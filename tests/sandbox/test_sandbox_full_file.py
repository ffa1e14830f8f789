"""Acceptance 3: a FullFile deactivates exactly the items missing from it (onhands: within the
warehouse/location pairs of the import; products: Status Inactive; competitors: IsActive false)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _onhand(part: str, wh: str, loc: str = "L1", value: int = 1) -> dict[str, Any]:
    return {"PartNo": part, "WarehouseCode": wh, "LocationCode": loc, "OnhandValue": value}


def test_full_onhands_deactivate_only_within_the_warehouses_present(api: Any) -> None:
    api.create_skus("S1", "S2", "S3")
    fields = {"SkuOnhandFieldsThatAreSet": ["OnhandValue", "IsActive"]}
    rows = [
        _onhand(p, wh, loc)
        for p in ("S1", "S2", "S3")
        for wh, loc in (("W1", "L1"), ("W1", "L2"), ("W2", "L1"))
    ]
    api.run("onhands", [{**r, "IsActive": True} for r in rows], api.header(**fields))
    full = [_onhand("S1", "W1", "L1", 7), _onhand("S3", "W1", "L1", 8)]
    job = api.run("onhands", full, api.header(FullFile=True, **fields))
    assert (job["StatusId"], job["Totals"], job["Updates"]) == (2, 2, 2 + 1)  # S2/W1/L1 deactivated
    inactive = {
        (i["PartNo"], i["WarehouseCode"], i["LocationCode"])
        for i in api.items("onhands")
        if i.get("IsActive") is False
    }
    assert inactive == {("S2", "W1", "L1")}
    assert len(api.items("onhands")) == 9


def test_full_products_set_missing_skus_inactive(api: Any) -> None:
    api.create_skus("S1", "S2", code="P1")
    api.create_skus("S3", code="P2")
    product = {
        "Code": "P1",
        "ManufacturerCode": "ACME",
        "Variants": [{"ManufacturerPartNo": "MPN-S1", "Skus": [{"PartNo": "S1", "Status": 1}]}],
    }
    job = api.run(
        "products",
        [product],
        api.header(
            FullFile=True,
            ProductFieldsThatAreSet=["Variants"],
            VariantFieldsThatAreSet=["Skus"],
            SkuFieldsThatAreSet=["Status"],
        ),
    )
    assert job["StatusId"] == 2
    status = {
        s["PartNo"]: s["Status"] for p in api.items("products") for v in p["Variants"] for s in v["Skus"]
    }
    assert status == {"S1": 1, "S2": 5, "S3": 5}


def test_full_competitor_feed_deactivates_missing(api: Any) -> None:
    def comp(code: str) -> dict[str, Any]:
        return {
            "PartNo": "S1",
            "Source": "spy",
            "CompetitorCode": code,
            "CompetitorPartNo": "X",
            "PriceSale": 1.0,
            "PriceSaleInclFreight": 2.0,
            "IsPricesInclVat": True,
            "IsInStock": True,
        }

    api.run("competitor_skus", [comp("A"), comp("B"), comp("C")], api.header())
    job = api.run("competitor_skus", [comp("B")], api.header(FullFile=True))
    assert (job["Updates"], job["Inserts"]) == (1 + 2, 0)
    active = {i["CompetitorCode"]: i["IsActive"] for i in api.items("competitor_skus")}
    assert active == {"A": False, "B": True, "C": False}
    api.run("competitor_skus", [comp("A")], api.header())  # sent again: active again
    assert api.items("competitor_skus")[0]["IsActive"] is True


def test_full_sku_prices_deactivate_within_the_price_lists_present(api: Any) -> None:
    api.create_skus("S1", "S2")
    api.run("price_lists", [{"Code": c} for c in ("PL1", "PL2")], api.header())
    fields = {"SkuPriceListFieldsThatAreSet": ["PriceSale"]}
    rows = [
        {"PartNo": p, "PriceListCode": pl, "PriceSale": 1.0} for p in ("S1", "S2") for pl in ("PL1", "PL2")
    ]
    api.run("sku_prices", rows, api.header(**fields))
    api.run("sku_prices", [rows[0]], api.header(FullFile=True, **fields))
    inactive = {
        (i["PartNo"], i["PriceListCode"]) for i in api.items("sku_prices") if i.get("IsActive") is False
    }
    assert inactive == {("S2", "PL1")}


def test_change_feed_deactivates_nothing(api: Any) -> None:
    api.create_skus("S1", "S2")
    fields = {"SkuOnhandFieldsThatAreSet": ["OnhandValue"]}
    api.run("onhands", [_onhand("S1", "W1"), _onhand("S2", "W1")], api.header(**fields))
    api.run("onhands", [_onhand("S1", "W1", value=3)], api.header(FullFile=False, **fields))
    assert all("IsActive" not in i for i in api.items("onhands"))
