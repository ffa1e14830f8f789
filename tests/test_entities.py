"""The registry against the Connect reference: every enum, endpoint and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolkit import entities
from toolkit.entities import ENTITIES, FIELD_ENUMS, VALUE_ENUMS, enum_value, split_qualified

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "norce-connect-api.md"

# One or more (name, number) pairs per enum, copied from the reference's section 5.
SAMPLES: dict[str, list[tuple[str, int]]] = {
    "ProductField": [("ManufacturerCode", 0), ("Variants", 4), ("ImagesAndFilesCleanup", 19)],
    "ProductCultureField": [("Name", 0), ("UniqueUrlNameCreateOnly", 15)],
    "VariantField": [("Skus", 5), ("ImagesAndFilesCleanup", 17)],
    "VariantCultureField": [("CultureCode", 0), ("MetaDescription", 16)],
    "SkuField": [
        ("Status", 1),
        ("LogisticWidth", 16),
        ("LogisticHeight", 18),
        ("LogisticDepth", 19),
        ("VatRate", 21),
        ("PartNoCreateWhenMissing", 26),
    ],
    "SkuCultureField": [("ErpName", 0), ("CommentCreateOnly", 3)],
    "SkuPriceListField": [("PriceSale", 3), ("FullfileResetInheritance", 13)],
    "SkuOnhandField": [("OnhandValue", 3), ("IsActive", 10), ("Infos", 11)],
    "SkuStructureItemField": [("AdditionalInfo", 2)],
    "ImageCultureField": [("AltText", 2)],
    "PriceListField": [("Warehouses", 7), ("InheritStructureCalculationRule", 24)],
    "PriceListPriceRuleField": [("SupplementalChargePercent", 4)],
    "WarehouseField": [("LeadTimeDayCount", 2)],
    "WarehouseLocationField": [("IsIncludedInStockCalculation", 2)],
    "RelationField": [("IsActive", 1), ("SortOrder", 12)],
    "RelationCultureField": [("Name", 1), ("DescriptionCreateOnly", 7)],
    "CompetitorSkuField": [("CompetitorName", 0), ("ExternalPopularities", 3)],
    "CustomerField": [("ApplicationKey", 0), ("Companies", 19), ("PreserveFlags", 21)],
    "CompanyField": [("Customers", 14), ("PreserveFlags", 22)],
    "AccountField": [("RolesCreateOnly", 4)],
    "SupplierProductField": [("SupplierPartNo", 0), ("LogisticDepth", 15)],
    "SupplierOnHandField": [("Value", 0), ("IsActive", 9)],
    "SupplierPriceField": [("CostPurchase", 0), ("PriceCatalog", 12)],
    "SupplierProductInfoField": [("Value", 0)],
    "SkuStatus": [("Active", 1), ("Inactive", 5), ("NotActivated", 6)],
    "SkuType": [("ErpStandard", 1), ("Download", 7), ("License", 33), ("Compensation", 44)],
    "UnitMeasurementType": [("Pieces", 1), ("Rolls", 9)],
    "PriceRule": [("CostPlus_PurchaseCost", 1), ("UseCatalogPrice", 12)],
    "SalesArea": [
        ("Sweden", 1),
        ("Switzerland", 15),
        ("USA", 17),
        ("NoVAT", 29),
        ("Bulgaria", 36),
        ("Slovenia", 46),
    ],
    "WarehouseType": [("Warehouse", 1), ("Other", 4)],
    "CustomerType": [("CompanyContact", 2)],
    "AccountStatus": [("Inactive", 2)],
    "JobStatus": [
        ("Initialized", 1),
        ("Succeeded", 2),
        ("Failed", 3),
        ("ValidationFailed", 4),
        ("Validating", 5),
        ("Queued", 6),
    ],
}

ALL_ENUMS = {**FIELD_ENUMS, **VALUE_ENUMS}


def reference_pairs(enum_name: str) -> dict[str, int]:
    """Read '<n> <Name>' pairs of one enum's bullet from the reference's section 5."""
    text = REFERENCE.read_text(encoding="utf-8")
    line = next(
        ln
        for ln in text.splitlines()
        if re.match(rf"- \*\*{enum_name}\*\*", ln)
        or re.search(rf"\*\*{enum_name}\*\*", ln)
        or ln.startswith(f"- {enum_name}:")
    )
    body = line.split(":", 1)[1]
    body = re.sub(r"\([^)]*\)", "", body).split("**", 1)[0]  # drop asides, stop at the next enum
    return {name: int(n) for n, name in re.findall(r"\b(\d+) ([A-Za-z_]+)", body)}


def test_every_sampled_enum_exists() -> None:
    assert set(SAMPLES) <= set(ALL_ENUMS)
    assert set(FIELD_ENUMS) <= set(SAMPLES)


@pytest.mark.parametrize("enum_name", sorted(SAMPLES))
def test_enum_samples_match_reference(enum_name: str) -> None:
    enum = ALL_ENUMS[enum_name]
    for name, number in SAMPLES[enum_name]:
        assert enum[name].value == number, f"{enum_name}.{name}"


@pytest.mark.parametrize("enum_name", sorted(ALL_ENUMS))
def test_enum_numbers_are_unique(enum_name: str) -> None:
    values = [m.value for m in ALL_ENUMS[enum_name]]
    assert len(values) == len(set(values))


@pytest.mark.skipif(not REFERENCE.is_file(), reason="reference not beside the repo")
@pytest.mark.parametrize(
    "enum_name",
    [
        "ProductField",
        "ProductCultureField",
        "VariantField",
        "VariantCultureField",
        "SkuField",
        "SkuCultureField",
        "SkuPriceListField",
        "SkuOnhandField",
        "PriceListField",
        "RelationField",
        "RelationCultureField",
        "CompetitorSkuField",
        "CustomerField",
        "CompanyField",
        "AccountField",
        "SkuStatus",
        "UnitMeasurementType",
        "PriceRule",
    ],
)
def test_enum_equals_reference_table(enum_name: str) -> None:
    expected = reference_pairs(enum_name)
    assert expected, f"no pairs read for {enum_name}"
    actual = {m.name: m.value for m in ALL_ENUMS[enum_name]}
    assert actual == expected


def test_nine_imports_with_their_endpoints() -> None:
    assert {e.endpoint for e in ENTITIES.values()} == {
        "Product/ImportProducts",
        "Product/ImportSkuPriceLists",
        "Product/ImportPriceLists",
        "Product/ImportOnhands",
        "Product/ImportRelations",
        "Product/ImportCompetitorSkus",
        "Customer/ImportCustomers",
        "Customer/ImportCompanies",
        "Supplier/ImportProducts",
    }


def test_full_file_only_where_the_header_has_it() -> None:
    without = {n for n, e in ENTITIES.items() if not e.has_full_file}
    assert without == {"price_lists", "customers", "companies"}


def test_every_column_field_exists_in_its_enum() -> None:
    for entity in ENTITIES.values():
        for col in entity.columns:
            if col.field is None:
                continue
            enum = entity.field_list(col.field_list or "").enum
            assert col.field in enum.__members__, f"{entity.name}.{col.name} -> {col.field}"


def test_parent_flags_name_real_members() -> None:
    for entity in ENTITIES.values():
        for child, parent, flag in entity.parent_flags:
            entity.field_list(child)
            assert flag in entity.field_list(parent).enum.__members__


def test_keys() -> None:
    assert ENTITIES["sku_prices"].key == ("PartNo", "PriceListCode", "QuantityBreak")
    assert ENTITIES["products"].key == ("PartNo",)
    assert ENTITIES["supplier_products"].key == ("SupplierPartNo",)


def test_removal_per_entity() -> None:
    assert ENTITIES["products"].removal == "sku_status"
    assert ENTITIES["onhands"].removal == "is_active"
    assert ENTITIES["competitor_skus"].removal == "full_feed"


def test_qualified_columns_resolve_to_their_base() -> None:
    products = ENTITIES["products"]
    assert products.column("Name[nb-NO]").qualifier == "culture"
    assert products.column("VatRate[Norway]").field == "VatRate"
    assert split_qualified("VatRate[Norway]") == ("VatRate", "Norway")
    with pytest.raises(KeyError, match="no column"):
        products.column("Colour")


def test_enum_values_parse_from_names_and_numbers() -> None:
    assert enum_value(entities.SkuStatus, 1).name == "Active"
    assert enum_value(entities.SalesArea, "norway").value == 2
    with pytest.raises(ValueError, match="not a SkuStatus"):
        enum_value(entities.SkuStatus, "Gone")


def test_system_accounts() -> None:
    assert entities.SYSTEM_ACCOUNTS["ERP"] == 10000
    assert entities.SYSTEM_ACCOUNTS["Supplier 1"] == 10022
    assert entities.SYSTEM_ACCOUNTS["Stibo"] == 1408480
    assert len(entities.SYSTEM_ACCOUNTS) == 28
