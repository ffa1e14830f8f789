"""Connect semantics of product imports in the sandbox, over HTTP: StandardPrice as a SkuPriceList,
variants keyed by ManufacturerCode + ManufacturerPartNo, SKU moves and their flags, FullFile within
the scope of the importing account."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

ERP, PIM = 10000, 10002
STRUCTURE = {"ProductFieldsThatAreSet": ["Code", "Variants"], "VariantFieldsThatAreSet": ["Skus"]}


def lenient(api: Any) -> None:
    """Let bodies through that Connect accepts but ignores in part (a list without its parent flag):
    the sandbox's contract check, when it has one, refuses them by default."""
    r = api.http.post("/_sandbox/settings", json={"contract": "off"})
    assert r.status_code == 200 or "unknown setting" in r.text, r.text


def product(code: str, mfr: str, variants: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "Code": code,
        "ManufacturerCode": mfr,
        "Variants": [{"ManufacturerPartNo": mpn, "Skus": skus} for mpn, skus in variants.items()],
    }


def skus_by_variant(api: Any) -> dict[tuple[str, str, str], list[str]]:
    """(product Code, ManufacturerCode, ManufacturerPartNo) -> PartNos, as the catalog holds them."""
    return {
        (p["Code"], p.get("ManufacturerCode", ""), v["ManufacturerPartNo"]): [s["PartNo"] for s in v["Skus"]]
        for p in api.items("products")
        for v in p["Variants"]
    }


def sku(api: Any, part: str) -> dict[str, Any]:
    skus = [s for p in api.items("products") for v in p["Variants"] for s in v["Skus"]]
    return next(s for s in skus if s["PartNo"] == part)


def test_standard_price_keeps_only_the_listed_sku_price_list_members(api: Any) -> None:
    lenient(api)  # CostPurchase is sent but not listed: Connect ignores it
    price = {"PriceSale": 99.5, "PriceRecommended": 120.0, "CostPurchase": 50.0}
    header = api.header(
        **STRUCTURE,
        SkuFieldsThatAreSet=["StandardPrice"],
        SkuPriceListFieldsThatAreSet=["PriceSale", "PriceRecommended"],
    )
    body = [product("P1", "ACME", {"V1": [{"PartNo": "S1", "StandardPrice": price}]})]
    job = api.run("products", body, header)
    assert job["StatusId"] == 2, api.log(job["JobId"])
    stored = sku(api, "S1")
    assert stored["StandardPrice"] == 99.5  # the canonical number: its PriceSale
    assert stored["StandardPriceList"] == {"PriceSale": 99.5, "PriceRecommended": 120.0}
    # only PriceRecommended listed: PriceSale stays although the body carries a new one
    new = {"PriceSale": 1.0, "PriceRecommended": 130.0}
    api.run(
        "products",
        [product("P1", "ACME", {"V1": [{"PartNo": "S1", "StandardPrice": new}]})],
        api.header(
            **STRUCTURE,
            SkuFieldsThatAreSet=["StandardPrice"],
            SkuPriceListFieldsThatAreSet=["PriceRecommended"],
        ),
    )
    assert sku(api, "S1")["StandardPriceList"] == {"PriceSale": 99.5, "PriceRecommended": 130.0}


def test_standard_price_without_its_member_list_is_ignored_with_a_warning(api: Any) -> None:
    lenient(api)
    s1 = {"PartNo": "S1", "Status": 1, "StandardPrice": {"PriceSale": 5.0}}
    body = [product("P1", "ACME", {"V1": [s1]})]
    job = api.run("products", body, api.header(**STRUCTURE, SkuFieldsThatAreSet=["Status", "StandardPrice"]))
    assert job["StatusId"] == 2
    assert "StandardPrice" not in sku(api, "S1")
    warnings = [e["Message"] for e in api.log(job["JobId"]) if e["SeverityId"] == 2]
    assert any("StandardPrice" in m and "SkuPriceListFieldsThatAreSet" in m for m in warnings), warnings


def test_a_bare_number_is_not_a_standard_price(api: Any) -> None:
    body = [product("P1", "ACME", {"V1": [{"PartNo": "S1", "StandardPrice": 99.5}]})]
    r = api.post_import(
        "products",
        body,
        api.header(
            **STRUCTURE, SkuFieldsThatAreSet=["StandardPrice"], SkuPriceListFieldsThatAreSet=["PriceSale"]
        ),
    )
    if r.status_code == 200:  # refused at validation: the job ends Validation failed
        job = api.wait(int(r.json()["JobId"]))
        assert job["StatusId"] == 4
        assert any("StandardPrice" in e["Message"] for e in api.log(job["JobId"]))
    else:  # refused by the contract check
        assert r.status_code == 400 and "StandardPrice" in r.text
    assert api.items("products") == []


def test_variants_are_keyed_by_manufacturer_code_and_part_number(api: Any) -> None:
    body = [
        product("P-ACME", "ACME", {"1001": [{"PartNo": "A1", "Status": 1}]}),
        product("P-BETA", "BETA", {"1001": [{"PartNo": "B1", "Status": 1}]}),
    ]
    job = api.run("products", body, api.header(**STRUCTURE, SkuFieldsThatAreSet=["Status"]))
    assert job["StatusId"] == 2
    assert skus_by_variant(api) == {("P-ACME", "ACME", "1001"): ["A1"], ("P-BETA", "BETA", "1001"): ["B1"]}
    # an update naming the variant by ManufacturerCode + ManufacturerPartNo only (no Code) finds BETA's
    update = {"ManufacturerCode": "BETA", "Variants": [{"ManufacturerPartNo": "1001", "SortOrderValue": 7}]}
    api.run(
        "products",
        [update],
        api.header(ProductFieldsThatAreSet=["Variants"], VariantFieldsThatAreSet=["SortOrderValue"]),
    )
    order = {p["Code"]: p["Variants"][0].get("SortOrderValue") for p in api.items("products")}
    assert order == {"P-ACME": None, "P-BETA": 7}


def test_a_sku_moves_only_when_the_structure_flags_are_listed(api: Any) -> None:
    lenient(api)
    api.run(
        "products",
        [product("P1", "ACME", {"V1": [{"PartNo": "S1", "Status": 1}], "V2": []})],
        api.header(**STRUCTURE, SkuFieldsThatAreSet=["Status"]),
    )
    moved = [product("P1", "ACME", {"V2": [{"PartNo": "S1"}]})]
    job = api.run(
        "products",
        moved,
        api.header(ProductFieldsThatAreSet=["Variants"], VariantFieldsThatAreSet=["SortOrderValue"]),
    )
    assert job["StatusId"] == 2
    assert skus_by_variant(api)[("P1", "ACME", "V1")] == ["S1"]  # stays where it was
    warnings = [e for e in api.log(job["JobId"]) if e["SeverityId"] == 2]
    assert any(
        "'S1'" in e["Message"] and "Skus" in e["Message"] and e["ImportedRow"] == 1 for e in warnings
    ), warnings
    job = api.run("products", moved, api.header(**STRUCTURE))
    assert skus_by_variant(api) == {("P1", "ACME", "V1"): [], ("P1", "ACME", "V2"): ["S1"]}
    assert any("'S1' moved" in e["Message"] for e in api.log(job["JobId"]))


def test_a_nested_list_without_its_parent_flag_is_ignored_with_a_warning(api: Any) -> None:
    lenient(api)
    api.run(
        "products",
        [product("P1", "ACME", {"V1": [{"PartNo": "S1", "Status": 1}]})],
        api.header(**STRUCTURE, SkuFieldsThatAreSet=["Status"]),
    )
    body = [{**product("P2", "ACME", {"V9": [{"PartNo": "S9"}]}), "Alias": "x"}]
    job = api.run("products", body, api.header(ProductFieldsThatAreSet=["Alias"]))
    assert job["StatusId"] == 2
    assert ("P2", "ACME", "V9") not in skus_by_variant(api)
    warnings = [e["Message"] for e in api.log(job["JobId"]) if e["SeverityId"] == 2]
    assert warnings == ["Variants of 1 item(s) ignored: ProductFieldsThatAreSet does not list Variants"]


def test_full_file_inactivates_only_the_skus_of_the_importing_account(api: Any) -> None:
    fields = {**STRUCTURE, "SkuFieldsThatAreSet": ["Status"]}
    erp = [product("P1", "ACME", {"V1": [{"PartNo": p, "Status": 1} for p in ("S1", "S2", "S3")]})]
    api.run("products", erp, {"AccountId": ERP, **fields})
    pim_only = [product("P2", "ACME", {"V2": [{"PartNo": "S9", "Status": 1}]})]
    api.run("products", pim_only, {"AccountId": PIM, **fields})
    # the PIM's weekly full feed has texts for S1 only: the ERP's new S2 and S3 stay active, S9 goes
    pim_full = [
        product(
            "P1",
            "ACME",
            {"V1": [{"PartNo": "S1", "Cultures": [{"CultureCode": "sv-SE", "ErpName": "Borr"}]}]},
        )
    ]
    job = api.run(
        "products",
        pim_full,
        {"AccountId": PIM, "FullFile": True, **STRUCTURE, "SkuCultureFieldsThatAreSet": ["ErpName"]},
    )
    assert job["StatusId"] == 2
    status = {p: sku(api, p)["Status"] for p in ("S1", "S2", "S3", "S9")}
    assert status == {"S1": 1, "S2": 1, "S3": 1, "S9": 5}
    assert any("2 SKUs created by other accounts left alone" in e["Message"] for e in api.log(job["JobId"]))
    # the ERP's full feed without S3 inactivates it (the ERP created it)
    api.run(
        "products",
        [product("P1", "ACME", {"V1": [{"PartNo": p, "Status": 1} for p in ("S1", "S2")]})],
        {"AccountId": ERP, "FullFile": True, **fields},
    )
    status = {p: sku(api, p)["Status"] for p in ("S1", "S2", "S3", "S9")}
    assert status == {"S1": 1, "S2": 1, "S3": 5, "S9": 5}


def test_a_catalog_file_from_before_manufacturer_keys_is_migrated(tmp_path: Any) -> None:
    import sqlite3

    from toolkit.sandbox.store import Store

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE products (code TEXT PRIMARY KEY, data TEXT NOT NULL);
        CREATE TABLE variants (mpn TEXT PRIMARY KEY, code TEXT NOT NULL, data TEXT NOT NULL);
        CREATE TABLE skus (part_no TEXT PRIMARY KEY, mpn TEXT NOT NULL, data TEXT NOT NULL);
        INSERT INTO products VALUES ('P1', '{"ManufacturerCode": "ACME"}');
        INSERT INTO variants VALUES ('1001', 'P1', '{}');
        INSERT INTO skus VALUES ('S1', '1001', '{"Status": 1, "StandardPrice": {"PriceSale": 9.5}}');
    """)
    old.commit()
    old.close()
    store = Store(path)
    try:
        assert store.items("products") == [
            {
                "Code": "P1",
                "ManufacturerCode": "ACME",
                "Variants": [
                    {
                        "ManufacturerPartNo": "1001",
                        "Skus": [
                            {
                                "PartNo": "S1",
                                "Status": 1,
                                "StandardPrice": 9.5,
                                "StandardPriceList": {"PriceSale": 9.5},
                            }
                        ],
                    }
                ],
            }
        ]
        assert store.conn.execute("SELECT mfr, mpn FROM variants").fetchall() == [("ACME", "1001")]
    finally:
        store.close()
