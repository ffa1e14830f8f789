"""The sandbox checks every import against Norce's official contract, not against toolkit.entities.

Unit tests call :func:`validate_import` with hand-written payloads; the ``slow`` ones send the same
payloads to the real sandbox over HTTP, which answers 400 naming the path and creates no job.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import pytest

from toolkit.sandbox import contract_schema
from toolkit.sandbox.contract import Violation, failed_items, validate_import

PACKAGE = Path(contract_schema.__file__).parent
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "connect-contract.json"
PRODUCTS, ONHANDS, COMPANIES = "Product/ImportProducts", "Product/ImportOnhands", "Customer/ImportCompanies"

SKU_HEADER = {
    "AccountId": 1,
    "ProductFieldsThatAreSet": ["Variants"],
    "VariantFieldsThatAreSet": ["Skus"],
    "SkuFieldsThatAreSet": ["Status", "StandardPrice"],
    "SkuPriceListFieldsThatAreSet": ["PriceSale"],
}
ONHAND_HEADER = {"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue", "LeadTimeDayCount"]}
GUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


def product(**sku: Any) -> dict[str, Any]:
    """One product, one variant, one SKU (PartNo S1) with the given SKU members."""
    return {
        "ManufacturerCode": "ACME",
        "Code": "P1",
        "Variants": [{"ManufacturerPartNo": "M1", "Skus": [{"PartNo": "S1", **sku}]}],
    }


def onhand(**members: Any) -> dict[str, Any]:
    return {"PartNo": "S1", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": 1, **members}


def messages(endpoint: str, header: Any, items: Any, **kw: Any) -> list[str]:
    return [str(v) for v in validate_import(endpoint, header, items, **kw)]


# (endpoint, header, items, the message expected among the violations)
REFUSED = {
    "number for StandardPrice": (
        PRODUCTS,
        SKU_HEADER,
        [product(Status="Active", StandardPrice=99.5)],
        "$[0].Variants[0].Skus[0].StandardPrice: expected a SkuPriceList object, found number 99.5",
    ),
    "null OnhandValue": (
        ONHANDS,
        ONHAND_HEADER,
        [onhand(OnhandValue=None)],
        "$[0].OnhandValue: expected a decimal number, found null (the member is not nullable)",
    ),
    "unknown enum name": (
        PRODUCTS,
        SKU_HEADER,
        [product(Status="Actve")],
        "$[0].Variants[0].Skus[0].Status: expected a SkuStatus name or number, found string 'Actve'",
    ),
    "parent flag missing": (
        PRODUCTS,
        {**SKU_HEADER, "VariantFieldsThatAreSet": []},
        [product(Status=1)],
        "$[0].Variants[0].Skus: member present but not listed: VariantFieldsThatAreSet lists none of "
        "['Skus'], so Connect would not write it",
    ),
    "listed field not in the enum": (
        PRODUCTS,
        {**SKU_HEADER, "SkuFieldsThatAreSet": ["Status", "Colour"]},
        [product(Status=1)],
        "header.SkuFieldsThatAreSet[1]: expected a SkuField name or number, found string 'Colour'",
    ),
    "unknown member": (
        ONHANDS,
        ONHAND_HEADER,
        [onhand(Colour="red")],
        "$[0].Colour: SkuOnhand has no member 'Colour'",
    ),
    "int given 5.5": (
        ONHANDS,
        ONHAND_HEADER,
        [onhand(LeadTimeDayCount=5.5)],
        "$[0].LeadTimeDayCount: expected an Int32 integer, found number 5.5",
    ),
    "int out of Int32": (
        ONHANDS,
        ONHAND_HEADER,
        [onhand(LeadTimeDayCount=2**31)],
        "$[0].LeadTimeDayCount: expected an Int32 integer, found number 2147483648 (outside the Int32 range)",
    ),
    "missing required key": (
        ONHANDS,
        ONHAND_HEADER,
        [onhand(WarehouseCode="")],
        "$[0].WarehouseCode: expected the required key WarehouseCode, found string ''",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_each_violation_names_the_path_expected_and_found(case: str) -> None:
    endpoint, header, items, expected = REFUSED[case]
    assert expected in messages(endpoint, header, items)


def test_a_valid_product_with_a_standard_price_object_is_accepted() -> None:
    items = [product(Status="active", StandardPrice={"PriceSale": 10})]  # names in any case
    assert validate_import(PRODUCTS, SKU_HEADER, items) == []


def test_a_listed_field_whose_parent_flags_are_missing_names_them() -> None:
    header = {"AccountId": 1, "SkuFieldsThatAreSet": ["Status"]}
    got = messages(PRODUCTS, header, [product(Status=1)], unlisted="ignore")
    assert got == [
        "header.SkuFieldsThatAreSet: lists ['Status'] for Variants[].Skus[] but "
        "VariantFieldsThatAreSet lists none of ['Skus'] and ProductFieldsThatAreSet lists none of "
        "['Variants'] (parent flags): Connect ignores them"
    ]


def test_culture_lists_need_the_cultures_flag_of_their_level() -> None:
    header = {"AccountId": 1, "ProductCultureFieldsThatAreSet": ["Name"]}
    item = {"ManufacturerCode": "ACME", "Cultures": [{"CultureCode": "sv-SE", "Name": "Stol"}]}
    got = messages(PRODUCTS, header, [item])
    assert got[0].startswith(
        "header.ProductCultureFieldsThatAreSet: lists ['Name'] for Cultures[] but "
        "ProductFieldsThatAreSet lists none of ['Cultures']"
    )
    assert "$[0].Cultures: member present but not listed" in got[1]
    assert validate_import(PRODUCTS, {**header, "ProductFieldsThatAreSet": ["Cultures"]}, [item]) == []


def test_a_header_list_that_only_enables_other_levels_members_needs_no_parent() -> None:
    # SKU cultures are not flagged in SkuField, so only Variants and Skus are needed above them
    header = {**SKU_HEADER, "SkuCultureFieldsThatAreSet": ["ErpName"]}
    items = [product(Status=1, Cultures=[{"CultureCode": "sv-SE", "ErpName": "x"}])]
    assert validate_import(PRODUCTS, header, items) == []


def test_unlisted_members_are_errors_by_default_and_can_be_ignored() -> None:
    items = [onhand(IncomingValue=4)]
    expected = (
        "$[0].IncomingValue: member present but not listed: SkuOnhandFieldsThatAreSet lists none "
        "of ['IncomingValue'], so Connect would not write it"
    )
    assert messages(ONHANDS, ONHAND_HEADER, items) == [expected]
    assert validate_import(ONHANDS, ONHAND_HEADER, items, unlisted="ignore") == []
    assert validate_import(ONHANDS, ONHAND_HEADER, [onhand(IncomingValue=None)]) == []  # null: not sent


def test_a_listed_value_type_member_an_item_lacks_is_refused() -> None:
    """Connect would write its default (0) over the stock; a nullable member may be absent."""
    header = {"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue", "NextDeliveryDate"]}
    item = {"PartNo": "S1", "WarehouseCode": "W", "LocationCode": "L"}
    assert messages(ONHANDS, header, [item]) == [
        "$[0].OnhandValue: member listed in SkuOnhandFieldsThatAreSet but absent: Connect would write the "
        "default of a decimal number (0, false, the first enum value) over the item's value"
    ]
    assert messages(ONHANDS, header, [{**item, "OnhandValue": 3}]) == []
    assert messages(ONHANDS, header, [item], unlisted="ignore") == []


def test_members_that_identify_an_item_may_be_sent_unlisted() -> None:
    # Product.Code is the variant-cluster key: it finds the product; listing it writes it
    header = {k: v for k, v in SKU_HEADER.items() if k != "FullFile"}
    assert validate_import(PRODUCTS, header, [product(Status=1)]) == []


def test_code_is_required_when_listed_or_full_file() -> None:
    item = {**product(Status=1), "Code": None}
    assert "$[0].Code: expected the required key Code, found null" in messages(
        PRODUCTS, {**SKU_HEADER, "FullFile": True}, [item]
    )
    assert validate_import(PRODUCTS, SKU_HEADER, [item]) == []


def test_enum_numbers_must_exist_and_booleans_are_not_numbers() -> None:
    assert validate_import(PRODUCTS, SKU_HEADER, [product(Status=5)]) == []
    assert messages(PRODUCTS, SKU_HEADER, [product(Status=99)]) == [
        "$[0].Variants[0].Skus[0].Status: expected a SkuStatus name or number, found number 99"
    ]
    header = {**ONHAND_HEADER, "SkuOnhandFieldsThatAreSet": [3, "isactive"]}  # numbers, names in any case
    assert messages(ONHANDS, header, [onhand(IsActive=1)]) == [
        "$[0].IsActive: expected true or false, found number 1"
    ]
    assert messages(ONHANDS, ONHAND_HEADER, [onhand(OnhandValue=True)]) == [
        "$[0].OnhandValue: expected a decimal number, found true"
    ]


def test_dates_and_guids() -> None:
    header = {"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue", "NextDeliveryDate"]}
    assert validate_import(ONHANDS, header, [onhand(NextDeliveryDate="2024-05-01T00:00:00Z")]) == []
    assert messages(ONHANDS, header, [onhand(NextDeliveryDate="1/5/2024")]) == [
        "$[0].NextDeliveryDate: expected an ISO-8601 date-time string, found string '1/5/2024'"
    ]
    company = {"Code": "C1", "ApplicationKey": GUID}
    assert validate_import(COMPANIES, {"AccountId": 1}, [company]) == []
    assert messages(COMPANIES, {"AccountId": 1}, [{**company, "ApplicationKey": "shop"}]) == [
        "$[0].ApplicationKey: expected a GUID string, found string 'shop'"
    ]
    assert messages(COMPANIES, {"AccountId": 1}, [{"Code": "C1"}]) == [
        "$[0].ApplicationKey: expected the required key ApplicationKey, found nothing"
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "header: expected a SkuOnhandHeader JSON object, found no X-StormConnect-Header"),
        ("[1]", "header: expected a SkuOnhandHeader JSON object, found an array"),
        (
            {},
            "header.AccountId: expected an Int32 integer (the account that runs the import; required), "
            "found nothing",
        ),
        ({"AccountId": "1"}, "header.AccountId: expected an Int32 integer, found string '1'"),
        ({"AccountId": 1, "FullFile": "yes"}, "header.FullFile: expected true or false, found string 'yes'"),
        (
            {"AccountId": 1, "SkuFieldsThatAreSet": []},
            "header.SkuFieldsThatAreSet: SkuOnhandHeader has no member 'SkuFieldsThatAreSet'",
        ),
    ],
)
def test_header_violations(header: Any, expected: str) -> None:
    assert expected in messages(ONHANDS, header, [])


def test_the_body_is_an_array_of_objects() -> None:
    assert messages(ONHANDS, ONHAND_HEADER, {"PartNo": "S1"}) == [
        "$: expected a JSON array of SkuOnhand items, found an object"
    ]
    assert messages(ONHANDS, ONHAND_HEADER, [None, 5]) == [
        "$[0]: expected a SkuOnhand object, found null (the member is not nullable)",
        "$[1]: expected a SkuOnhand object, found number 5",
    ]


def test_unknown_member_in_another_case_gets_a_hint_and_unknown_endpoints_are_refused() -> None:
    assert messages(ONHANDS, ONHAND_HEADER, [onhand(onhandvalue=2)]) == [
        "$[0].onhandvalue: SkuOnhand has no member 'onhandvalue' (did you mean 'OnhandValue'?)"
    ]
    with pytest.raises(ValueError, match="unknown import endpoint 'Product/ImportThings'"):
        validate_import("Product/ImportThings", ONHAND_HEADER, [])


def test_failed_items_counts_items_or_the_whole_batch() -> None:
    assert failed_items([Violation("$[1].A", "x"), Violation("$[1].B", "y")], 3) == 1
    assert failed_items([Violation("header.X", "x")], 3) == 3


def test_validating_5000_product_items_is_fast() -> None:
    header = {
        **SKU_HEADER,
        "ProductFieldsThatAreSet": ["Variants", "Cultures"],
        "ProductCultureFieldsThatAreSet": ["Name"],
    }
    cultures = [{"CultureCode": c, "Name": "n"} for c in ("sv-SE", "en-GB")]
    items = [
        {
            "ManufacturerCode": "ACME",
            "Code": f"P{i}",
            "Cultures": cultures,
            "Variants": [
                {
                    "ManufacturerPartNo": f"M{i}-{v}",
                    "Skus": [
                        {"PartNo": f"S{i}-{v}-{s}", "Status": "Active", "StandardPrice": {"PriceSale": 10.5}}
                        for s in range(2)
                    ],
                }
                for v in range(2)
            ],
        }
        for i in range(5000)
    ]
    started = time.perf_counter()
    assert validate_import(PRODUCTS, header, items) == []
    assert time.perf_counter() - started < 3.0  # about 0.3 s here; parsing the 4 MB body takes ~0.1 s


def test_the_validator_does_not_read_the_payload_registry() -> None:
    for module in ("contract.py", "contract_schema.py"):
        tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        toolkit = {m for m in imported if m.split(".")[0] == "toolkit"}
        assert toolkit <= {"toolkit.sandbox.contract_schema"}, (module, toolkit)


def test_the_vendored_contract_names_its_source_commit() -> None:
    data = contract_schema.contract()
    assert data["source"]["repository"] == "StormCommerce/Storm.Connect.Contracts"
    assert len(contract_schema.source_commit()) == 40
    assert len(contract_schema.endpoints()) == 9


@pytest.mark.skipif(not SHARED.exists(), reason="no shared reference beside the checkout")
def test_the_vendored_contract_is_the_shared_reference() -> None:
    assert (PACKAGE / "contract.json").read_bytes() == SHARED.read_bytes()


# --- over HTTP -----------------------------------------------------------------------------------
ENTITY = {PRODUCTS: "products", ONHANDS: "onhands", COMPANIES: "companies"}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(REFUSED))
def test_the_sandbox_refuses_a_violating_import_with_400_and_no_job(api: Any, case: str) -> None:
    endpoint, header, items, expected = REFUSED[case]
    r = api.post_import(ENTITY[endpoint], items, header)
    assert r.status_code == 400, r.text
    body = r.json()
    if case == "listed field not in the enum":  # the sandbox's header reader refuses it first
        assert "header member SkuFieldsThatAreSet: unknown field 'Colour'" in body["Message"]
    else:
        assert body["StatusCode"] == "ValidationFailed" and "no job was created" in body["Description"]
        assert expected in body["ValidationSummary"]["Messages"]
        assert body["ValidationSummary"]["NrOfItemsInTotal"] == 1
        assert body["ValidationSummary"]["NrOfValidationFailures"] == 1
    assert "JobId" not in body
    assert api.http.get("/_sandbox/stats").json()["jobs"] == {}
    assert api.items(ENTITY[endpoint]) == []


@pytest.mark.slow
def test_the_sandbox_accepts_a_valid_product_with_a_standard_price_object(api: Any) -> None:
    job = api.run("products", [product(Status="Active", StandardPrice={"PriceSale": 10})], SKU_HEADER)
    assert job["StatusId"] == 2, job
    sku = api.items("products")[0]["Variants"][0]["Skus"][0]
    assert sku["StandardPriceList"]["PriceSale"] == 10


@pytest.mark.slow
def test_the_messages_are_capped_at_100_and_the_count_is_per_item(api: Any) -> None:
    items = [onhand(OnhandValue=None, LeadTimeDayCount=0.5) for _ in range(60)]
    body = api.post_import("onhands", items, ONHAND_HEADER).json()
    summary = body["ValidationSummary"]
    assert (summary["NrOfItemsInTotal"], summary["NrOfValidationFailures"]) == (60, 60)
    assert len(summary["Messages"]) == 100 and body["Description"].startswith("120 contract violation(s)")


@pytest.mark.slow
def test_the_contract_check_can_be_turned_off(api: Any) -> None:
    unlisted = [onhand(IncomingValue=4)]
    assert api.post_import("onhands", unlisted, ONHAND_HEADER).status_code == 400
    assert api.admin("settings", {"contract": "off"})["contract"] == "off"
    assert api.run("onhands", unlisted, ONHAND_HEADER)["StatusId"] == 2
    r = api.http.post("/_sandbox/settings", json={"contract": "lenient"})
    assert r.status_code == 400 and "setting contract must be one of ['strict', 'off']" in r.json()["Message"]
    api.admin("reset")
    assert api.admin("settings")["contract"] == "strict"


# --- a registry error does not pass on both sides ----------------------------------------------
def _corrupted(change: str) -> Any:
    """The on-hand entity of toolkit.entities with one error in it, as a wrong edit would make it."""
    import dataclasses

    from toolkit.entities import ENTITIES as REGISTRY

    ent = REGISTRY["onhands"]
    columns = []
    for c in ent.columns:
        if c.name == "OnhandValue" and change == "nullable value":
            c = dataclasses.replace(c, nullable=True)  # a C# decimal said to take null
        if c.name == "IncomingValue" and change == "unlisted member":
            c = dataclasses.replace(c, field=None)  # a member said to be always sent, never listed
        columns.append(c)
    return dataclasses.replace(ent, columns=tuple(columns))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("nullable value", "$[0].OnhandValue: member listed in SkuOnhandFieldsThatAreSet but absent"),
        ("unlisted member", "$[0].IncomingValue"),
    ],
)
def test_a_registry_error_is_refused_by_the_sandbox_in_the_same_process(
    api: Any, monkeypatch: pytest.MonkeyPatch, change: str, expected: str
) -> None:
    """The sandbox runs in this process and reads toolkit.entities to parse and store imports. With
    the registry corrupted here, the payload the toolkit builds from it is wrong, and the sandbox,
    reading the same corrupted registry, still refuses it: the contract data judges, not the registry."""
    import polars as pl

    from toolkit.entities import ENTITIES as REGISTRY
    from toolkit.payloads import build_header, build_items

    monkeypatch.setitem(REGISTRY, "onhands", _corrupted(change))
    frame = pl.DataFrame(
        {
            "PartNo": ["S1"],
            "WarehouseCode": ["W"],
            "LocationCode": ["L"],
            "OnhandValue": [None],
            "IncomingValue": [4],
        },
        schema_overrides={"OnhandValue": pl.Decimal(18, 4), "IncomingValue": pl.Decimal(18, 4)},
    )
    if change == "unlisted member":
        frame = frame.with_columns(pl.lit(1, pl.Decimal(18, 4)).alias("OnhandValue"))
    fields = [c for c in frame.columns if REGISTRY["onhands"].column(c).field is not None]
    header = build_header("onhands", account=10000, fields=fields)
    items = build_items("onhands", frame)
    r = api.post_import("onhands", items, header)
    assert r.status_code == 400, r.text
    messages = r.json()["ValidationSummary"]["Messages"]
    assert any(m.startswith(expected) for m in messages), messages
    assert api.http.get("/_sandbox/stats").json()["jobs"] == {}
