"""Fast tests of the sandbox's pure parts and its store (no server)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from toolkit.entities import ENTITIES
from toolkit.sandbox.faults import FaultInjector, parse_faults
from toolkit.sandbox.prepare import merge_elements
from toolkit.sandbox.spec import Nested, RequestError, parse_header
from toolkit.sandbox.store import Store, prepare_import


def _apply(store: Store, entity: str, header: str, items: list[dict[str, Any]]) -> Any:
    e = ENTITIES[entity]
    prepared = prepare_import(e, parse_header(e, header), items)
    assert not prepared.errors, prepared.errors
    log: list[tuple[int, str, int | None]] = []
    with store.transaction():
        counts = store.apply(prepared, lambda s, m, r: log.append((s, m, r)))
    return counts, log


@pytest.fixture
def store() -> Any:
    s = Store(clock=time.time)
    yield s
    s.close()


def test_header_field_names_are_canonical_and_checked() -> None:
    h = parse_header(
        ENTITIES["products"],
        '{"AccountId": 1, "SkuFieldsThatAreSet": ["standardprice", 1],'
        ' "FullFile": true, "IgnoreSkuPriceListFieldsWhenEmpty": false}',
    )
    assert h.fields["SkuFieldsThatAreSet"] == {"StandardPrice", "Status"} and h.full_file
    with pytest.raises(RequestError, match="must be a JSON array"):
        parse_header(ENTITIES["onhands"], '{"AccountId": 1, "SkuOnhandFieldsThatAreSet": "OnhandValue"}')
    with pytest.raises(RequestError, match="AccountId must be an integer"):
        parse_header(ENTITIES["onhands"], '{"AccountId": "one"}')


def test_prepare_reports_every_bad_value_with_its_row() -> None:
    e = ENTITIES["sku_prices"]
    fields = '["PriceSale", "IsActive", "PriceRule"]'
    h = parse_header(e, '{"AccountId": 1, "SkuPriceListFieldsThatAreSet": ' + fields + "}")
    items = [
        {"PartNo": "A", "PriceListCode": "P", "PriceSale": "ten"},
        {"PartNo": "B", "PriceListCode": "P", "IsActive": "yes"},
        {"PartNo": "C", "PriceListCode": "P", "PriceRule": "Cheapest"},
        {"PriceListCode": "P"},
        "not an object",
    ]
    assert prepare_import(e, h, items).errors == [(5, "item 5 is not a JSON object")]
    errors = prepare_import(e, h, items[:4]).errors
    assert [r for r, _ in errors] == [1, 2, 3, 4]
    assert "PriceSale must be a number, found 'ten'" in errors[0][1]
    assert "'Cheapest' is not a PriceRule" in errors[2][1]
    assert "missing key PartNo" in errors[3][1]


def test_prepare_last_item_wins_for_a_repeated_key() -> None:
    e = ENTITIES["companies"]
    h = parse_header(e, '{"AccountId": 1, "CompanyFieldsThatAreSet": ["Name"]}')
    k = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # Company.ApplicationKey, a stored column of its own
    items = [
        {"Code": "A", "ApplicationKey": k, "Name": "1"},
        {"Code": "B", "ApplicationKey": k},
        {"Code": "A", "ApplicationKey": k, "Name": "2"},
    ]
    p = prepare_import(e, h, items)
    assert (p.rows, p.row_numbers, p.total) == ([("B", k, None), ("A", k, "2")], [2, 3], 3)


def test_replace_mode_keeps_only_sent_elements_but_merges_their_members() -> None:
    n = Nested("Warehouses", ("Code",), None, None, mode="replace")
    assert merge_elements(n, [{"Code": "W1", "Name": "a"}, {"Code": "W2"}], [{"Code": "W1"}]) == [
        {"Code": "W1", "Name": "a"}
    ]


def test_fault_spec_errors_and_scopes() -> None:
    with pytest.raises(ValueError, match="scope"):
        parse_faults({"scope": "everything"})
    with pytest.raises(ValueError, match="retry_after"):
        parse_faults({"retry_after": 0})
    inj = FaultInjector(parse_faults({"error_500": 1, "scope": "imports"}))
    assert inj.draw("jobs", "/j").status is None and inj.draw("imports", "/i").status == 500


def test_full_relations_and_supplier_products(store: Store) -> None:
    rel = '{"AccountId": 1, "RelationFieldsThatAreSet": ["IsActive"]}'
    _apply(
        store,
        "relations",
        rel,
        [{"PartNo": "A", "RelatedPartNo": r, "RelationTypeCode": "X", "IsActive": True} for r in "BC"],
    )
    counts, _ = _apply(
        store,
        "relations",
        rel.replace("}", ', "FullFile": true}'),
        [{"PartNo": "A", "RelatedPartNo": "B", "RelationTypeCode": "X"}],
    )
    assert counts.updates == 2 and [i["IsActive"] for i in store.items("relations")] == [True, False]
    sup = '{"AccountId": 1, "FieldsThatAreSet": ["ProductName"]}'
    _apply(store, "supplier_products", sup, [{"SupplierPartNo": p, "ProductName": p} for p in "XY"])
    _apply(store, "supplier_products", sup.replace("}", ', "FullFile": true}'), [{"SupplierPartNo": "X"}])
    assert [(i["SupplierPartNo"], i["IsActive"]) for i in store.items("supplier_products")] == [
        ("X", True),
        ("Y", False),
    ]


def test_supplier_onhand_rows_merge_by_warehouse_and_location(store: Store) -> None:
    h = '{"AccountId": 1, "OnhandFieldsThatAreSet": ["Value", "IncomingValue"]}'
    _apply(
        store,
        "supplier_products",
        h,
        [
            {
                "SupplierPartNo": "X",
                "OnHand": [{"WarehouseCode": "W", "LocationCode": "L", "Value": 1, "IncomingValue": 5}],
            }
        ],
    )
    _apply(
        store,
        "supplier_products",
        '{"AccountId": 1, "OnhandFieldsThatAreSet": ["Value"]}',
        [
            {
                "SupplierPartNo": "X",
                "OnHand": [{"WarehouseCode": "W", "LocationCode": "L", "Value": 2, "IncomingValue": 9}],
            }
        ],
    )
    assert store.items("supplier_products")[0]["OnHand"] == [
        {"WarehouseCode": "W", "LocationCode": "L", "Value": 2, "IncomingValue": 5, "IsActive": True}
    ]


def test_create_only_fields_are_written_on_create_only(store: Store) -> None:
    h = (
        '{"AccountId": 1, "ProductFieldsThatAreSet": ["Variants"], "VariantFieldsThatAreSet": ["Skus"],'
        ' "SkuFieldsThatAreSet": ["StatusCreateOnly"]}'
    )

    def product(status: str) -> list[dict[str, Any]]:
        sku = {"PartNo": "S", "Status": status}
        return [{"Code": "P", "Variants": [{"ManufacturerPartNo": "V", "Skus": [sku]}]}]

    counts, _ = _apply(store, "products", h, product("Coming"))
    assert (counts.inserts, counts.updates) == (3, 0)
    counts, _ = _apply(store, "products", h, product("Active"))
    assert (counts.inserts, counts.updates) == (0, 3)
    assert store.items("products")[0]["Variants"][0]["Skus"] == [{"PartNo": "S", "Status": 2}]


def test_product_without_code_matches_by_its_sku_or_fails(store: Store) -> None:
    h = (
        '{"AccountId": 1, "ProductFieldsThatAreSet": ["Variants"], "VariantFieldsThatAreSet": ["Skus"],'
        ' "SkuFieldsThatAreSet": ["EanCode"]}'
    )
    variant = {"ManufacturerPartNo": "V", "Skus": [{"PartNo": "S"}]}
    _apply(store, "products", h, [{"Code": "P", "Variants": [variant]}])
    counts, log = _apply(
        store,
        "products",
        h,
        [
            {"Variants": [{"ManufacturerPartNo": "V", "Skus": [{"PartNo": "S", "EanCode": "1"}]}]},
            {"Variants": [{"ManufacturerPartNo": "NEW", "Skus": [{"PartNo": "T"}]}]},
        ],
    )
    assert counts.fail == 1 and log[0][0] == 3 and log[0][2] == 2
    assert store.items("products")[0]["Variants"][0]["Skus"] == [{"PartNo": "S", "EanCode": "1"}]
