"""Connect semantics of nested elements in the sandbox, over HTTP: a supplier FullFile inactivates the
OnHand / PriceList elements of warehouses and price lists in the import that a product no longer
has, IsActive false is stored, and a price list is ended by its EndDate."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

HEADER = {
    "FieldsThatAreSet": ["ProductName"],
    "OnhandFieldsThatAreSet": ["Value", "IsActive"],
    "PriceFieldsThatAreSet": ["CostPurchase", "IsActive"],
}


def supplier(part: str, warehouses: list[str], price_lists: list[str], **onhand: Any) -> dict[str, Any]:
    return {
        "SupplierPartNo": part,
        "ProductName": part,
        # IsActive is listed, so every element carries it (absent, Connect would write false)
        "OnHand": [
            {"WarehouseCode": w, "LocationCode": "L1", "Value": 5, "IsActive": True, **onhand}
            for w in warehouses
        ],
        "PriceList": [{"PriceListCode": p, "CostPurchase": 10.0, "IsActive": True} for p in price_lists],
    }


def elements(api: Any) -> dict[str, dict[str, bool]]:
    """Per supplier product: each OnHand warehouse and PriceList code with its IsActive."""
    return {
        i["SupplierPartNo"]: {
            **{e["WarehouseCode"]: e["IsActive"] for e in i.get("OnHand", [])},
            **{e["PriceListCode"]: e["IsActive"] for e in i.get("PriceList", [])},
        }
        for i in api.items("supplier_products")
    }


def test_supplier_full_file_inactivates_elements_in_the_import_but_not_on_the_product(api: Any) -> None:
    day1 = [supplier("SP1", ["W1", "W2"], ["PL1", "PL2"]), supplier("SP2", ["W1", "W3"], [])]
    assert api.run("supplier_products", day1, api.header(**HEADER))["StatusId"] == 2
    assert elements(api) == {
        "SP1": {"W1": True, "W2": True, "PL1": True, "PL2": True},
        "SP2": {"W1": True, "W3": True},
    }
    # W1, W2, PL1 and PL2 are in the full import; W3 is not, so SP2's W3 is left alone
    day2 = [supplier("SP1", ["W1"], ["PL1"]), supplier("SP2", ["W2"], ["PL2"])]
    job = api.run("supplier_products", day2, api.header(FullFile=True, **HEADER))
    assert job["StatusId"] == 2
    assert elements(api) == {
        "SP1": {"W1": True, "W2": False, "PL1": True, "PL2": False},
        "SP2": {"W1": False, "W3": True, "W2": True, "PL2": True},
    }
    assert any("3 OnHand/PriceList elements" in e["Message"] for e in api.log(job["JobId"]))


def test_supplier_elements_sent_inactive_are_stored_inactive_and_sent_again_active(api: Any) -> None:
    api.run("supplier_products", [supplier("SP1", ["W1", "W2"], ["PL1"])], api.header(**HEADER))
    api.run("supplier_products", [supplier("SP1", ["W2"], [], IsActive=False)], api.header(**HEADER))
    assert elements(api) == {"SP1": {"W1": True, "W2": False, "PL1": True}}
    stored = api.items("supplier_products")[0]["OnHand"]
    assert [(e["WarehouseCode"], e["LocationCode"], e["Value"]) for e in stored] == [
        ("W1", "L1", 5),
        ("W2", "L1", 5),
    ]
    api.run("supplier_products", [supplier("SP1", ["W2"], [])], api.header(**HEADER))
    assert elements(api) == {"SP1": {"W1": True, "W2": True, "PL1": True}}


def test_a_price_list_is_ended_by_its_end_date(api: Any) -> None:
    api.run(
        "price_lists",
        [{"Code": "PL1", "Name": "Campaign", "CurrencyCode": "SEK"}],
        api.header(PriceListFieldsThatAreSet=["Name", "CurrencyCode"]),
    )
    job = api.run(
        "price_lists",
        [{"Code": "PL1", "EndDate": "2025-03-31T00:00:00"}],
        api.header(PriceListFieldsThatAreSet=["EndDate"]),
    )
    assert (job["StatusId"], job["Updates"]) == (2, 1)
    assert api.items("price_lists") == [
        {"Code": "PL1", "Name": "Campaign", "CurrencyCode": "SEK", "EndDate": "2025-03-31T00:00:00"}
    ]
