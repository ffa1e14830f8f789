"""payloads: item shapes, field lists, null handling, headers, and frame -> items -> frame round trips."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import polars as pl
import pytest
from fixtures.canonical import frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from toolkit.entities import ENTITIES, SALES_AREAS, VALUE_ENUMS, Entity
from toolkit.payloads import (
    build_header,
    build_items,
    encode_items,
    frame_from_items,
    header_lists,
    item_columns,
    serialize_items,
)

FRAMES = frames()


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_round_trip_fixture(entity: str) -> None:
    df = FRAMES[entity]
    back = frame_from_items(entity, build_items(entity, df), columns=df.columns)
    assert_frame_equal(back, df)


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_serialize_is_compact_json_array_of_build_items(entity: str) -> None:
    body = serialize_items(entity, FRAMES[entity])
    assert body.startswith(b"[{") and body.endswith(b"}]") and b", " not in body
    assert orjson.loads(body) == build_items(entity, FRAMES[entity])


def test_product_nesting() -> None:
    items = build_items("products", FRAMES["products"])
    assert [p["Code"] for p in items] == ["P1", "P2"]
    p1 = items[0]
    assert p1["Categories"] == [{"Code": "tools"}, {"Code": "garden"}]
    assert p1["MainImage"] == {
        "Url": "https://img.example/P1.jpg",
        "ExternalCode": "https://img.example/P1.jpg",
        "FileTypeName": "MainImage",
    }
    assert p1["Cultures"] == [
        {"CultureCode": "sv-SE", "Name": "Produkt P1", "Description": 'Med "citat"\nrad två'},
        {"CultureCode": "en-GB", "Name": "Product P1"},
    ]
    assert [v["ManufacturerPartNo"] for v in p1["Variants"]] == ["P1-RED", "P1-BLUE"]
    red = p1["Variants"][0]
    assert red["Cultures"] == [{"CultureCode": "sv-SE", "Name": "Variant P1-RED"}]
    assert [s["PartNo"] for s in red["Skus"]] == ["P1-RED-S", "P1-RED-M"]
    sku = red["Skus"][0]
    assert sku["Status"] == 1 and sku["Type"] == 1 and sku["UnitOfMeasurementType"] == 1
    assert sku["StandardPrice"] == {"PriceSale": 99.5} and sku["StartDate"] == "2025-01-01"
    assert sku["VatRates"] == [{"SalesArea": 1, "Rate": 25.0}, {"SalesArea": 2, "Rate": 25.0}]
    assert sku["Cultures"] == [{"CultureCode": "sv-SE", "ErpName": "ERP P1-RED-S"}]
    p2sku = items[1]["Variants"][0]["Skus"][0]
    assert p2sku["Status"] == 2 and "StandardPrice" not in p2sku
    assert p2sku["VatRates"] == [{"SalesArea": 1, "Rate": 25.0}]  # null Norway rate omitted


def test_flat_shapes_and_value_types() -> None:
    price = build_items("sku_prices", FRAMES["sku_prices"])[0]
    assert price == {
        "PartNo": "A",
        "PriceListCode": "SEK",
        "QuantityBreak": 1,
        "PriceSale": 99.5,
        "CostPurchase": 40.1234,
        "IsPriceDiscountable": True,
        "IsActive": True,
        "PriceRule": 2,
        "CurrencyCode": "SEK",
    }
    pl_item = build_items("price_lists", FRAMES["price_lists"])[0]
    assert pl_item["SalesArea"] == 1 and pl_item["DefaultPriceRule"] == 7
    assert pl_item["Warehouses"] == [{"Code": "W1"}, {"Code": "W2"}]
    customer = build_items("customers", FRAMES["customers"])[0]
    assert customer["Companies"] == [{"Code": "ACME", "IsPrimary": True}]
    supplier = build_items("supplier_products", FRAMES["supplier_products"])[0]
    assert supplier["OnHand"] == [
        {"WarehouseCode": "SUP", "LocationCode": "A", "Value": 7, "NextDeliveryDate": "2025-07-01"}
    ]
    assert supplier["PriceList"] == [{"PriceListCode": "SEK", "CurrencyCode": "SEK", "CostPurchase": 50.0}]
    competitor = build_items("competitor_skus", FRAMES["competitor_skus"])[0]
    assert competitor["SalesArea"] == 1 and competitor["PriceSaleInclFreight"] == 104.9


def test_fields_limit_items_to_identity_and_fields() -> None:
    items = build_items("onhands", FRAMES["onhands"], fields=["OnhandValue"])
    assert items == [
        {"PartNo": "A", "WarehouseCode": "W1", "LocationCode": "L1", "OnhandValue": 5},
        {"PartNo": "B", "WarehouseCode": "W1", "LocationCode": "L1", "OnhandValue": 0},
    ]
    products = build_items("products", FRAMES["products"], fields=["StandardPrice"])
    assert products[1] == {
        "Code": "P2",
        "ManufacturerCode": "ACME",
        "Variants": [{"ManufacturerPartNo": "P2", "Skus": [{"PartNo": "P2-1"}]}],
    }
    competitor = build_items("competitor_skus", FRAMES["competitor_skus"], fields=["ProductName"])[0]
    assert set(competitor) == {c.name for c in ENTITIES["competitor_skus"].columns if c.is_required}


def test_fields_widen_to_columns_sharing_an_enum_field() -> None:
    prices = FRAMES["sku_prices"]
    assert "PriceRule" in item_columns("sku_prices", prices.columns, ["PriceRuleValue"])
    cols = item_columns("products", FRAMES["products"].columns, ["VatRate[Sweden]"])
    assert {"VatRate[Sweden]", "VatRate[Norway]"} <= set(cols)
    supplier = item_columns("supplier_products", FRAMES["supplier_products"].columns, ["OnHand.Value"])
    assert supplier == ["SupplierPartNo", "OnHand.WarehouseCode", "OnHand.LocationCode", "OnHand.Value"]


def test_cleared_fields_are_sent_as_null() -> None:
    df = FRAMES["onhands"]
    items = build_items("onhands", df, fields=["IncomingValue"], clear=["IncomingValue"])
    assert items[0] == {"PartNo": "A", "WarehouseCode": "W1", "LocationCode": "L1", "IncomingValue": None}
    customers = build_items("customers", FRAMES["customers"], fields=["CompanyCode"], clear=["CompanyCode"])
    assert customers[1] == {"Code": "C2", "Companies": []}
    products = FRAMES["products"].with_columns(pl.lit(None, pl.String).alias("Name[en-GB]"))
    p1 = build_items("products", products, fields=["Name[en-GB]"], clear=["Name[en-GB]"])[0]
    assert {"CultureCode": "en-GB", "Name": None} in p1["Cultures"]


def test_tricky_strings_survive_null_removal() -> None:
    nasty = [',"X":null', '{"Y":null,', "a\\", '"', "\x00\x1f", "ünïcødé 🙂"]
    df = pl.DataFrame(
        {"Code": [f"C{i}" for i in range(len(nasty))], "Name": nasty, "VatNo": [None] * len(nasty)},
        schema_overrides={"VatNo": pl.String},
    )
    items = build_items("companies", df)
    assert [i["Name"] for i in items] == nasty and all("VatNo" not in i for i in items)


def test_unknown_columns_and_fields_are_errors() -> None:
    with pytest.raises(ValueError, match="not columns of the entity"):
        build_items("onhands", pl.DataFrame({"PartNo": ["A"], "Bogus": [1]}))
    with pytest.raises(ValueError, match="not in the frame"):
        build_items("onhands", FRAMES["onhands"], fields=["IsActive", "Infos"])
    assert build_items("onhands", FRAMES["onhands"].with_columns(_row=pl.lit(1)))[0]["PartNo"] == "A"


def test_empty_frame() -> None:
    assert serialize_items("onhands", FRAMES["onhands"].clear()) == b"[]"
    assert build_items("products", FRAMES["products"].clear()) == []
    empty = frame_from_items("onhands", [], columns=["PartNo", "OnhandValue"])
    assert empty.schema == pl.Schema({"PartNo": pl.String, "OnhandValue": pl.Int64})


# --- headers ---------------------------------------------------------------------------------------
def test_header_parent_flags_for_products() -> None:
    assert build_header("products", account=10000, fields=["PartNo", "ErpName[sv-SE]", "Name[sv-SE]"]) == {
        "AccountId": 10000,
        "FullFile": False,
        "ProductFieldsThatAreSet": ["Variants", "Cultures"],
        "ProductCultureFieldsThatAreSet": ["Name"],
        "VariantFieldsThatAreSet": ["Skus"],
        "SkuCultureFieldsThatAreSet": ["ErpName"],
    }
    lists = header_lists("products", ["VariantName[sv-SE]", "VatRate[Sweden]", "MainImage"])
    assert lists == {
        "ProductFieldsThatAreSet": ["Variants", "MainImage"],
        "VariantFieldsThatAreSet": ["Cultures", "Skus"],
        "VariantCultureFieldsThatAreSet": ["Name"],
        "SkuFieldsThatAreSet": ["VatRate"],
    }


def test_header_members_per_entity() -> None:
    assert build_header("relations", account=1, fields=["Name[sv-SE]", "SortOrder"]) == {
        "AccountId": 1,
        "FullFile": False,
        "RelationFieldsThatAreSet": ["Cultures", "SortOrder"],
        "RelationCultureFieldsThatAreSet": ["Name"],
    }
    fields = ["PriceRuleValue", "CurrencyCode"]
    assert build_header("sku_prices", account=1, fields=fields, full_file=True) == {
        "AccountId": 1,
        "FullFile": True,
        "SkuPriceListFieldsThatAreSet": ["PriceRule"],
    }
    assert build_header("customers", account=1, fields=["CompanyCode", "IsActive"]) == {
        "AccountId": 1,
        "CustomerFieldsThatAreSet": ["IsActive", "Companies"],
    }
    assert build_header(
        "supplier_products", account=1, fields=["OnHand.Value", "PriceList.CostPurchase", "ProductName"]
    ) == {
        "AccountId": 1,
        "FullFile": False,
        "FieldsThatAreSet": ["ProductName"],
        "OnhandFieldsThatAreSet": ["Value"],
        "PriceFieldsThatAreSet": ["CostPurchase"],
    }
    assert build_header("price_lists", account=1, fields=["Code"]) == {"AccountId": 1}
    with pytest.raises(ValueError, match="no FullFile"):
        build_header("companies", account=1, fields=["Name"], full_file=True)


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_every_field_maps_to_its_enum(entity: str) -> None:
    ent = ENTITIES[entity]
    header = build_header(ent, account=1, fields=FRAMES[entity].columns)
    for member, names in header.items():
        if member.endswith("FieldsThatAreSet"):
            enum = ent.field_list(member).enum
            assert [enum[n].value for n in names] == sorted(enum[n].value for n in names)


# --- property: frame -> items -> frame -------------------------------------------------------------
_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x01"), max_size=8),
    st.sampled_from([',"A":null', '{"B":null,', '\\"', "]}"]),
)


def _values(ent: Entity, name: str) -> st.SearchStrategy[Any]:
    col = ent.column(name)
    if col.values:
        return st.sampled_from([m.name for m in VALUE_ENUMS[col.values]])
    dtype = col.dtype
    if dtype.is_decimal():
        top = min(10**8, 10 ** (dtype.precision - dtype.scale) - 1)  # type: ignore[attr-defined]
        return st.decimals(min_value=-top, max_value=top, places=4, allow_nan=False)
    if dtype == pl.Int64():
        return st.integers(-(2**53), 2**53)
    if dtype == pl.Boolean():
        return st.booleans()
    if dtype == pl.Date():
        return st.dates(date(1900, 1, 1), date(2200, 1, 1))
    if isinstance(dtype, pl.List):
        return st.lists(_TEXT, max_size=3)
    return _TEXT


def _qualified(ent: Entity, draw: st.DrawFn) -> list[str]:
    names = []
    for col in ent.columns:
        if col.qualifier == "culture":
            names += [f"{col.name}[{c}]" for c in draw(st.sets(st.sampled_from(["sv-SE", "en-GB"])))]
        elif col.qualifier == "sales_area":
            areas = draw(st.sets(st.sampled_from(sorted(SALES_AREAS)), max_size=2))
            names += [f"{col.name}[{a}]" for a in sorted(areas)]
        elif col.is_key or col.is_required or draw(st.booleans()):
            names.append(col.name)
    return names


@st.composite
def canonical_frames(draw: st.DrawFn, entity: str) -> pl.DataFrame:
    ent = ENTITIES[entity]
    names = _qualified(ent, draw)
    n = draw(st.integers(0, 6))
    value = {c: st.none() | _values(ent, c) for c in names}
    for c in names:
        if ent.column(c).is_key or ent.column(c).is_required or c in ("Code", "ManufacturerPartNo"):
            value[c] = _values(ent, c)
    for sub, first in (("OnHand", "OnHand.WarehouseCode"), ("PriceList", "PriceList.PriceListCode")):
        if entity == "supplier_products" and any(c.startswith(sub + ".") for c in names):
            names = names if first in names else [*names, first]  # an element without it is never sent
            value[first] = _TEXT.filter(bool)
    if entity == "supplier_products" and "OnHand.LocationCode" in names:  # "" is read as no location
        value["OnHand.LocationCode"] = st.none() | _TEXT.filter(bool)
    rows = [{c: draw(value[c]) for c in names} for _ in range(n)]
    key = ("PartNo",) if entity == "products" else ent.key
    for i, r in enumerate(rows):  # unique keys
        for k in key:
            r[k] = i if ent.column(k).dtype == pl.Int64() else f"k{i}"
    if entity == "products":  # product/variant columns constant within their Code/ManufacturerPartNo
        for i, r in enumerate(rows):
            r["Code"] = f"P{i % 2}"
            r["ManufacturerPartNo"] = f"P{i % 2}-V{i % 3}"
            first = next(x for x in rows if x["ManufacturerPartNo"] == r["ManufacturerPartNo"])
            r.update({c: first[c] for c in names if ent.column(c).level in ("product", "variant")})
            top = next(x for x in rows if x["Code"] == r["Code"])
            r.update({c: top[c] for c in names if ent.column(c).level == "product"})
    schema = {c: ent.column(c).dtype for c in names}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _order_like_items(entity: str, df: pl.DataFrame) -> pl.DataFrame:
    if entity != "products" or df.is_empty():
        return df
    order = df.with_row_index("_i").with_columns(
        pl.col("_i").min().over("Code").alias("_p"),
        pl.col("_i").min().over("Code", "ManufacturerPartNo").alias("_v"),
    )
    return order.sort("_p", "_v", "_i").drop("_i", "_p", "_v")


@pytest.mark.parametrize("entity", sorted(ENTITIES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_property(entity: str, data: st.DataObject) -> None:
    df = data.draw(canonical_frames(entity))
    items = build_items(entity, df)
    back = frame_from_items(entity, items, columns=df.columns)
    assert_frame_equal(back, _order_like_items(entity, df))
    assert encode_items(entity, df).len() == len(items)


def test_supplier_element_without_its_warehouse_is_not_sent() -> None:
    df = pl.DataFrame(
        {
            "SupplierPartNo": ["S1"],
            "OnHand.WarehouseCode": [None],
            "OnHand.LocationCode": ["A"],
            "OnHand.Value": [3],
        },
        schema_overrides={"OnHand.WarehouseCode": pl.String},
    )
    assert build_items("supplier_products", df) == [{"SupplierPartNo": "S1"}]


@pytest.mark.parametrize("entity", sorted(ENTITIES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_large_frames_encode_exactly_as_small_ones(entity: str, data: st.DataObject) -> None:
    """From _STREAMING_ROWS rows on, items are built in the streaming engine: same text, same order."""
    import toolkit.payloads.items as items_module

    df = data.draw(canonical_frames(entity))
    clear = data.draw(st.lists(st.sampled_from(df.columns), max_size=3)) if df.width else []
    small = encode_items(entity, df, clear=clear)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(items_module, "_STREAMING_ROWS", 0)
        large = encode_items(entity, df, clear=clear)
    assert large.to_list() == small.to_list()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(1, 7))
def test_products_encoded_in_chunks_of_whole_products_as_in_one(data: st.DataObject, size: int) -> None:
    """Products are encoded a chunk of whole products at a time: same text, same order, any size."""
    import toolkit.payloads.items as items_module

    df = data.draw(canonical_frames("products"))
    clear = data.draw(st.lists(st.sampled_from(df.columns), max_size=3))
    whole = encode_items("products", df, clear=clear)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(items_module, "_PRODUCT_CHUNK_ROWS", size)
        chunked = encode_items("products", df, clear=clear)
    assert chunked.to_list() == whole.to_list()
