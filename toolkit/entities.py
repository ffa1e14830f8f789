"""The nine asynchronous Connect imports: endpoints, headers, keys, field enums and canonical columns.

Everything here comes from the Connect contract (Norce Commerce Connect REST API 4.0). A *canonical
frame* of an entity has one row per item (for products: one row per SKU) and columns named after the
item's members. Culture-dependent text is spread over columns named ``Base[culture]``
(``Name[sv-SE]``), VAT rates over ``VatRate[SalesArea]`` (``VatRate[Sweden]``).

Examples
--------
>>> from toolkit.entities import ENTITIES, SkuOnhandField
>>> ENTITIES["onhands"].endpoint
'Product/ImportOnhands'
>>> ENTITIES["onhands"].key
('PartNo', 'WarehouseCode', 'LocationCode')
>>> SkuOnhandField.OnhandValue.value
3
>>> ENTITIES["products"].column("StandardPrice").field
'StandardPrice'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import polars as pl

EntityName = Literal[
    "products",
    "sku_prices",
    "price_lists",
    "onhands",
    "relations",
    "competitor_skus",
    "customers",
    "companies",
    "supplier_products",
]
Removal = Literal["is_active", "sku_status", "full_feed"]
Level = Literal["item", "product", "variant", "sku"]
Qualifier = Literal["culture", "sales_area"]

MONEY = pl.Decimal(18, 4)
GUID = r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$"
RATE = pl.Decimal(9, 4)


def _enum(name: str, members: str | list[tuple[str, int]], start: int = 0) -> type[IntEnum]:
    if isinstance(members, str):
        pairs = [(m, i) for i, m in enumerate(members.split(), start=start)]
    else:
        pairs = members
    return IntEnum(name, pairs, module=__name__)  # type: ignore[return-value]


# --- FieldsThatAreSet enums (contract section 5) -----------------------------------------------
ProductField = _enum(
    "ProductField",
    "ManufacturerCode ManufacturerName Alias Code Variants Cultures Categories MainImage "
    "AdditionalImages Family ProductParametrics ProductParametricsCreateOnly VariantDefinitionGroup "
    "VariantDefinitionGroupCreateOnly Assortment CategoriesCreateOnly CategoriesLimitedUpdate "
    "AdditionalImagesCleanup ParametricsCleanup ImagesAndFilesCleanup",
)
ProductCultureField = _enum(
    "ProductCultureField",
    "Name NameCreateOnly SubHeader SubDescription DescriptionHeader Description DescriptionCreateOnly "
    "Synonyms Title Tags MetaTags MetaDescription NameLimitedUpdate UniqueUrlName "
    "IsUniqueUrlNameManuallyMaintained UniqueUrlNameCreateOnly",
)
VariantField = _enum(
    "VariantField",
    "ManufacturerPartNo SortOrderValue StockDisplayBreakPoint IsDangerousGoods Cultures Skus MainImage "
    "AdditionalImages VariantParametrics VariantParametricsCreateOnly NonParametricVariantDefinitions "
    "NonParametricVariantDefinitionsCreateOnly DeliveryMethods DeliveryMethodsCreateOnly "
    "AdditionalImagesCleanup ParametricsCleanup TranslationRequested ImagesAndFilesCleanup",
)
VariantCultureField = _enum(
    "VariantCultureField",
    "CultureCode Name NameCreateOnly NameLimitedUpdate UniqueUrlName IsUniqueUrlNameManuallyMaintained "
    "UniqueUrlNameCreateOnly SubHeader SubDescription DescriptionHeader Description DescriptionCreateOnly "
    "Synonyms Title Tags MetaTags MetaDescription",
)
# SkuField has no 0 and no 17: PartNo is the key.
SkuField = _enum(
    "SkuField",
    [
        (m, i)
        for m, i in zip(
            "Status Type IntegrationPartNo CommodityCode EanCode TrackingCode UnitOfMeasurementType "
            "UnitOfMeasurementCount IsDropShipOnly IsBuyable DiscountClass RecommendedSalesQty "
            "IsRecommendedSalesQtyFixed ActualWeight VolumeWeight LogisticWidth LogisticHeight "
            "LogisticDepth StandardPrice VatRate StatusCreateOnly StartDate StopDate StructureItems "
            "PartNoCreateWhenMissing".split(),
            [*range(1, 17), *range(18, 27)],
            strict=True,
        )
    ],
)
SkuCultureField = _enum("SkuCultureField", "ErpName ErpNameCreateOnly Comment CommentCreateOnly")
# 0-2 are reserved for the keys PartNo, PriceListCode, QuantityBreak.
SkuPriceListField = _enum(
    "SkuPriceListField",
    "PriceSale CostPurchase CostUnit PriceRecommended PricePrevious PriceCatalog IsPriceDiscountable "
    "IsActive IsPriceDiscountableCreateOnly PriceRule FullfileResetInheritance",
    start=3,
)
# 0-2 are reserved for the keys PartNo, LocationCode, WarehouseCode.
SkuOnhandField = _enum(
    "SkuOnhandField",
    "OnhandValue IncomingValue NextDeliveryDate LeadTimeDayCount OnOrderValue MinimumValue MaximumValue "
    "IsActive Infos",
    start=3,
)
SkuStructureItemField = _enum("SkuStructureItemField", "SortOrder StandardStructureItemPrice AdditionalInfo")
ImageCultureField = _enum("ImageCultureField", "Name Description AltText")
PriceListField = _enum(
    "PriceListField",
    "Name CurrencyCode StartDate EndDate IsPublic IsPrimary TypeCode Warehouses DefaultPriceRule "
    "Description IsErpIntegrated DoNotCreateApplicationPriceList SalesArea DefaultMinMarginPercent "
    "LimitToRecPrice ParentPriceListCode DefaultSupplementalChargeFixed DefaultSupplementalChargePercent "
    "PriceRules PriceRulesCleanup PriceRulesLimitedUpdate Population PopulationCleanup IsFavorite "
    "InheritStructureCalculationRule",
)
PriceListPriceRuleField = _enum(
    "PriceListPriceRuleField",
    "Type Value LimitToRecPrice SupplementalChargeFixed SupplementalChargePercent",
)
WarehouseField = _enum("WarehouseField", "Type Name LeadTimeDayCount")
WarehouseLocationField = _enum("WarehouseLocationField", "Name LeadTimeDayCount IsIncludedInStockCalculation")
RelationField = _enum(
    "RelationField",
    "IsActive IsVariantUnique IsVariantUniqueCreateOnly IsRelatedVariantUnique "
    "IsRelatedVariantUniqueCreateOnly DefaultName DefaultSubHeader DefaultSubDescription "
    "DefaultDescriptionHeader DefaultDescription Cultures SortOrder",
    start=1,
)
RelationCultureField = _enum(
    "RelationCultureField",
    "Name NameCreateOnly SubHeader SubDescription DescriptionHeader Description DescriptionCreateOnly",
    start=1,
)
CompetitorSkuField = _enum("CompetitorSkuField", "CompetitorName ProductName VatRate ExternalPopularities")
CustomerField = _enum(
    "CustomerField",
    "ApplicationKey Id Code EmailAddress SocialSecurityNumber Title FirstName MiddleName LastName "
    "PhoneNumber CellPhoneNumber IsActive InvoiceAddress DeliveryAddresses Accounts AdditionalInfo Flags "
    "PriceLists SearchOnlyByCode Companies CrmId PreserveFlags",
)
CompanyField = _enum(
    "CompanyField",
    "ApplicationKey Id Code OrganizationNo Name EmailAddress PhoneNumber LogoImage ParentCompanyCode "
    "IsActive InvoiceAddress DeliveryAddresses AdditionalInfo Contacts Customers DeliveryMethods "
    "Discounts Flags PaymentMethods PriceLists SearchOnlyByCode VatNo PreserveFlags",
)
AccountField = _enum("AccountField", "PasswordCreateOnly Status StatusCreateOnly Roles RolesCreateOnly")
SupplierProductField = _enum(
    "SupplierProductField",
    "SupplierPartNo ProductName CategoryCode ProductType Manufacturer ManufacturerPartNo EanCode "
    "CommodityCode GrossWeight NetWeight UnitOfMeasurementCode UnitOfMeasurementCount VatCode "
    "LogisticWidth LogisticHeight LogisticDepth",
)
SupplierOnHandField = _enum(
    "SupplierOnHandField",
    "Value IncomingValue NextDeliveryDate StoppedDate IsReturnable LeadTimeDayCount ExternalStockValue "
    "PackageValue MinimumOrderValue IsActive",
)
SupplierPriceField = _enum(
    "SupplierPriceField",
    "CostPurchase CostPurchaseValidTo PriceRecommended PriceMax PriceDealer IsPromotion IsFocus "
    "PriceRanking FreightCost CostFee DiscountPct IsActive PriceCatalog",
)
SupplierProductInfoField = _enum("SupplierProductInfoField", "Value")

# --- value enums inside models -----------------------------------------------------------------
SkuStatus = _enum("SkuStatus", "Active Coming Expiring Hidden Inactive NotActivated", start=1)
SkuType = _enum(
    "SkuType",
    [
        ("ErpStandard", 1),
        ("ErpRefurbished", 2),
        ("Freight", 3),
        ("Insurance", 4),
        ("Download", 7),
        ("Structure", 8),
        ("Invoice", 9),
        ("Service", 11),
        ("Standard", 14),
        ("Donations", 18),
        ("EnvironmentalFee", 20),
        ("PackingFee", 21),
        ("License", 33),
        ("CentRounding", 34),
        ("SalesTax", 35),
        ("FreightStructure", 36),
        ("ManagedStructure", 37),
        ("ManagedErpPackage", 38),
        ("ManagedErpPackageWithCalc", 39),
        ("Virtual", 40),
        ("PspGiftCard", 41),
        ("PayLater", 42),
        ("GiftCardPaymentPlaceHolder", 43),
        ("Compensation", 44),
    ],
)
UnitMeasurementType = _enum(
    "UnitMeasurementType", "Pieces Hour Kilogram Litre Pair SquareMeter Meter Boxes Rolls", start=1
)
# A supplier product's unit (SupplierProduct.UnitOfMeasurementCode), a different enum from the SKU's.
UnitOfMeasurementType = _enum("UnitOfMeasurementType", "Unknown Pieces Hours Kilograms Litres")
PriceRule = _enum(
    "PriceRule",
    "CostPlus_PurchaseCost FixedPrice Margin_PurchaseCost UseRecommendedPrice CostPlus_UnitCost "
    "Margin_UnitCost UseStandardPrice_PctDiscount Competitive_PurchaseCost Competitive_UnitCost "
    "UseStandardPrice_FixedDiscount StructureCalculation UseCatalogPrice",
    start=1,
)
SalesArea = _enum(
    "SalesArea",
    [
        *(
            (m, i)
            for i, m in enumerate(
                "Sweden Norway Denmark Finland UnitedKingdom Estonia Greenland Germany Italy Austria Spain "
                "Netherlands Belgium France Switzerland".split(),
                start=1,
            )
        ),
        *(
            (m, i)
            for i, m in enumerate(
                "USA Ireland Canada Lithuania Latvia Japan SouthKorea Australia Europe Poland CzechRepublic "
                "Russia NoVAT".split(),
                start=17,
            )
        ),
        *(
            (m, i)
            for i, m in enumerate(
                "Bulgaria Croatia Cyprus Greece Hungary Luxembourg Malta Portugal Romania Slovakia "
                "Slovenia".split(),
                start=36,
            )
        ),
    ],
)
WarehouseType = _enum("WarehouseType", "Warehouse Store Transport Other", start=1)
CustomerType = _enum("CustomerType", "Customer CompanyContact", start=1)
AccountStatus = _enum("AccountStatus", "Active Inactive", start=1)


class JobStatus(IntEnum):
    """A Connect job's StatusId (a class, not a table, so type checkers know its members)."""

    Initialized = 1
    Succeeded = 2
    Failed = 3
    ValidationFailed = 4
    Validating = 5
    Queued = 6


SerializationType = _enum("SerializationType", "Json DataContractSerializer")

FIELD_ENUMS: dict[str, type[IntEnum]] = {
    e.__name__: e
    for e in (
        ProductField,
        ProductCultureField,
        VariantField,
        VariantCultureField,
        SkuField,
        SkuCultureField,
        SkuPriceListField,
        SkuOnhandField,
        SkuStructureItemField,
        ImageCultureField,
        PriceListField,
        PriceListPriceRuleField,
        WarehouseField,
        WarehouseLocationField,
        RelationField,
        RelationCultureField,
        CompetitorSkuField,
        CustomerField,
        CompanyField,
        AccountField,
        SupplierProductField,
        SupplierOnHandField,
        SupplierPriceField,
        SupplierProductInfoField,
    )
}
VALUE_ENUMS: dict[str, type[IntEnum]] = {
    e.__name__: e
    for e in (
        SkuStatus,
        SkuType,
        UnitMeasurementType,
        UnitOfMeasurementType,
        PriceRule,
        SalesArea,
        WarehouseType,
        CustomerType,
        AccountStatus,
        JobStatus,
        SerializationType,
    )
}


@dataclass(frozen=True)
class FieldList:
    """One ``...FieldsThatAreSet`` member of a header and the enum whose names it holds."""

    member: str
    enum: type[IntEnum]
    level: Level = "item"


@dataclass(frozen=True)
class Column:
    """A canonical column: its type, the field that enables writing it, and its checks.

    ``field`` is the enum member name listed in the header to write this column (None for keys and
    members that are always sent); ``field_list`` is the header member that holds it. ``qualifier``
    marks columns spread as ``Name[sv-SE]`` (culture) or ``VatRate[Sweden]`` (sales area).
    """

    name: str
    dtype: pl.DataType
    field: str | None = None
    field_list: str | None = None
    level: Level = "item"
    is_key: bool = False
    is_required: bool = False
    qualifier: Qualifier | None = None
    values: str | None = None  # name of a value enum in VALUE_ENUMS
    max_length: int | None = None
    ge: float | None = None
    le: float | None = None
    kind: Literal["currency", "culture", "url", "guid", None] = None
    # False where the contract's member is a C# value type: Connect fails the whole batch on a JSON
    # null there, so a value cleared in the source is never sent as null (see toolkit.planning).
    nullable: bool = True


@dataclass(frozen=True)
class Entity:
    """One asynchronous Connect import."""

    name: EntityName
    endpoint: str
    item: str
    header_type: str
    field_lists: tuple[FieldList, ...]
    columns: tuple[Column, ...]
    has_full_file: bool
    removal: Removal
    # parent flags: (field list member, enum member) needed when any field of the named list is set
    parent_flags: tuple[tuple[str, str, str], ...] = ()

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_key)

    def column(self, name: str) -> Column:
        """The column spec for ``name``; ``Name[sv-SE]`` resolves to the ``Name`` spec."""
        base = split_qualified(name)[0]
        for col in self.columns:
            if col.name == base:
                return col
        msg = f"entity {self.name!r} has no column {name!r}"
        raise KeyError(msg)

    def has_column(self, name: str) -> bool:
        base = split_qualified(name)[0]
        return any(c.name == base for c in self.columns)

    def field_list(self, member: str) -> FieldList:
        for fl in self.field_lists:
            if fl.member == member:
                return fl
        msg = f"header {self.header_type} has no member {member!r}"
        raise KeyError(msg)


_QUALIFIED = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<qual>[^\[\]]+)\]$")


def split_qualified(name: str) -> tuple[str, str | None]:
    """Split ``Name[sv-SE]`` into ``("Name", "sv-SE")``; a plain name has no qualifier.

    >>> split_qualified("Name[sv-SE]")
    ('Name', 'sv-SE')
    >>> split_qualified("PartNo")
    ('PartNo', None)
    """
    m = _QUALIFIED.match(name)
    return (m["base"], m["qual"]) if m else (name, None)


def _cols(field_list: str, level: Level, spec: str, dtype: pl.DataType, **kw: object) -> list[Column]:
    """Columns whose name equals their field name, all of one type."""
    return [
        Column(n, dtype, field=n, field_list=field_list, level=level, **kw)  # type: ignore[arg-type]
        for n in spec.split()
    ]


_S, _I, _B, _D = pl.String(), pl.Int64(), pl.Boolean(), pl.Date()
_LIST_S = pl.List(pl.String())

# --- products: one row per SKU, nested Product -> Variants -> Skus on the way out --------------
_PRODUCT_COLUMNS = (
    Column(
        "Code",
        _S,
        field="Code",
        field_list="ProductFieldsThatAreSet",
        level="product",
        is_required=True,
        max_length=50,
    ),
    Column("ManufacturerCode", _S, level="product", is_required=True, max_length=50),
    Column(
        "ManufacturerName",
        _S,
        field="ManufacturerName",
        field_list="ProductFieldsThatAreSet",
        level="product",
        max_length=255,
    ),
    Column("Categories", _LIST_S, field="Categories", field_list="ProductFieldsThatAreSet", level="product"),
    Column(
        "MainImage", _S, field="MainImage", field_list="ProductFieldsThatAreSet", level="product", kind="url"
    ),
    *(
        Column(
            n,
            _S,
            field=n,
            field_list="ProductCultureFieldsThatAreSet",
            level="product",
            qualifier="culture",
            max_length=ml,
        )
        for n, ml in (
            ("Name", 255),
            ("SubHeader", 255),
            ("SubDescription", None),
            ("DescriptionHeader", 255),
            ("Description", None),
            ("Title", 255),
            ("Synonyms", 500),
            ("MetaDescription", None),
        )
    ),
    Column("ManufacturerPartNo", _S, level="variant", is_required=True, max_length=50),
    Column(
        "SortOrderValue", _I, field="SortOrderValue", field_list="VariantFieldsThatAreSet", level="variant"
    ),
    Column(
        "IsDangerousGoods",
        _B,
        field="IsDangerousGoods",
        field_list="VariantFieldsThatAreSet",
        level="variant",
        nullable=False,
    ),
    Column(
        "VariantName",
        _S,
        field="Name",
        field_list="VariantCultureFieldsThatAreSet",
        level="variant",
        qualifier="culture",
        max_length=255,
    ),
    Column("PartNo", _S, level="sku", is_key=True, is_required=True, max_length=50),
    Column(
        "Status",
        _S,
        field="Status",
        field_list="SkuFieldsThatAreSet",
        level="sku",
        values="SkuStatus",
        nullable=False,
    ),
    Column(
        "Type",
        _S,
        field="Type",
        field_list="SkuFieldsThatAreSet",
        level="sku",
        values="SkuType",
        nullable=False,
    ),
    *_cols("SkuFieldsThatAreSet", "sku", "IntegrationPartNo CommodityCode EanCode", _S, max_length=50),
    Column(
        "UnitOfMeasurementType",
        _S,
        field="UnitOfMeasurementType",
        field_list="SkuFieldsThatAreSet",
        level="sku",
        values="UnitMeasurementType",
        nullable=False,
    ),
    *_cols("SkuFieldsThatAreSet", "sku", "UnitOfMeasurementCount", _I, ge=0, nullable=False),
    *_cols("SkuFieldsThatAreSet", "sku", "RecommendedSalesQty", _I, ge=0),
    *_cols("SkuFieldsThatAreSet", "sku", "IsDropShipOnly", _B),
    *_cols("SkuFieldsThatAreSet", "sku", "IsBuyable", _B, nullable=False),
    *_cols(
        "SkuFieldsThatAreSet",
        "sku",
        "ActualWeight VolumeWeight LogisticWidth LogisticHeight LogisticDepth",
        RATE,
        ge=0,
    ),
    # sent as the SkuPriceList object {"PriceSale": x}, whose PriceSale is not nullable
    Column(
        "StandardPrice",
        MONEY,
        field="StandardPrice",
        field_list="SkuFieldsThatAreSet",
        level="sku",
        ge=0,
        nullable=False,
    ),
    Column(
        "VatRate",
        RATE,
        field="VatRate",
        field_list="SkuFieldsThatAreSet",
        level="sku",
        qualifier="sales_area",
        ge=0,
        le=100,
    ),
    *_cols("SkuFieldsThatAreSet", "sku", "StartDate StopDate", _D),
    Column(
        "ErpName",
        _S,
        field="ErpName",
        field_list="SkuCultureFieldsThatAreSet",
        level="sku",
        qualifier="culture",
        max_length=255,
    ),
    Column(
        "Comment",
        _S,
        field="Comment",
        field_list="SkuCultureFieldsThatAreSet",
        level="sku",
        qualifier="culture",
    ),
)

_ONHAND_COLUMNS = (
    Column("PartNo", _S, is_key=True, is_required=True, max_length=50),
    Column("WarehouseCode", _S, is_key=True, is_required=True, max_length=50),
    Column("LocationCode", _S, is_key=True, is_required=True, max_length=50),
    *_cols("SkuOnhandFieldsThatAreSet", "item", "OnhandValue", _I, nullable=False),
    *_cols("SkuOnhandFieldsThatAreSet", "item", "IncomingValue MinimumValue MaximumValue", _I),
    Column("NextDeliveryDate", _D, field="NextDeliveryDate", field_list="SkuOnhandFieldsThatAreSet"),
    Column("LeadTimeDayCount", _I, field="LeadTimeDayCount", field_list="SkuOnhandFieldsThatAreSet", ge=0),
    Column("IsActive", _B, field="IsActive", field_list="SkuOnhandFieldsThatAreSet"),
)

_SKU_PRICE_COLUMNS = (
    Column("PartNo", _S, is_key=True, is_required=True, max_length=50),
    Column("PriceListCode", _S, is_key=True, is_required=True, max_length=50),
    Column("QuantityBreak", _I, is_key=True, ge=1, nullable=False),
    *_cols(
        "SkuPriceListFieldsThatAreSet", "item", "PriceSale CostPurchase CostUnit", MONEY, ge=0, nullable=False
    ),
    *_cols(
        "SkuPriceListFieldsThatAreSet", "item", "PriceRecommended PricePrevious PriceCatalog", MONEY, ge=0
    ),
    *_cols("SkuPriceListFieldsThatAreSet", "item", "IsPriceDiscountable", _B, nullable=False),
    *_cols("SkuPriceListFieldsThatAreSet", "item", "IsActive", _B),
    Column("PriceRule", _S, field="PriceRule", field_list="SkuPriceListFieldsThatAreSet", values="PriceRule"),
    Column("PriceRuleValue", RATE, field="PriceRule", field_list="SkuPriceListFieldsThatAreSet"),
    Column("CurrencyCode", _S, kind="currency"),
)

_PRICE_LIST_COLUMNS = (
    Column("Code", _S, is_key=True, is_required=True, max_length=50),
    Column("Name", _S, field="Name", field_list="PriceListFieldsThatAreSet", max_length=50),
    Column("CurrencyCode", _S, field="CurrencyCode", field_list="PriceListFieldsThatAreSet", kind="currency"),
    *_cols("PriceListFieldsThatAreSet", "item", "StartDate EndDate", _D),
    *_cols("PriceListFieldsThatAreSet", "item", "IsPublic IsPrimary IsFavorite", _B, nullable=False),
    *_cols("PriceListFieldsThatAreSet", "item", "LimitToRecPrice", _B),
    *_cols("PriceListFieldsThatAreSet", "item", "TypeCode Description ParentPriceListCode", _S),
    Column("SalesArea", _S, field="SalesArea", field_list="PriceListFieldsThatAreSet", values="SalesArea"),
    *_cols(
        "PriceListFieldsThatAreSet",
        "item",
        "DefaultMinMarginPercent DefaultSupplementalChargeFixed DefaultSupplementalChargePercent",
        RATE,
    ),
    Column(
        "DefaultPriceRule",
        _S,
        field="DefaultPriceRule",
        field_list="PriceListFieldsThatAreSet",
        values="PriceRule",
    ),
    Column("DefaultPriceRuleValue", RATE, field="DefaultPriceRule", field_list="PriceListFieldsThatAreSet"),
    Column("Warehouses", _LIST_S, field="Warehouses", field_list="PriceListFieldsThatAreSet"),
)

_RELATION_COLUMNS = (
    Column("PartNo", _S, is_key=True, is_required=True, max_length=50),
    Column("RelatedPartNo", _S, is_key=True, is_required=True, max_length=50),
    Column("RelationTypeCode", _S, is_key=True, is_required=True, max_length=50),
    *_cols(
        "RelationFieldsThatAreSet",
        "item",
        "IsActive IsVariantUnique IsRelatedVariantUnique",
        _B,
        nullable=False,
    ),
    *_cols(
        "RelationFieldsThatAreSet",
        "item",
        "DefaultName DefaultSubHeader DefaultSubDescription DefaultDescriptionHeader DefaultDescription",
        _S,
    ),
    Column("SortOrder", _I, field="SortOrder", field_list="RelationFieldsThatAreSet"),
    *(
        Column(
            n, _S, field=n, field_list="RelationCultureFieldsThatAreSet", qualifier="culture", max_length=255
        )
        for n in ("Name", "SubHeader", "SubDescription", "DescriptionHeader", "Description")
    ),
)

# CompetitorSku: the required members are always sent; the field list covers only the optional ones.
_COMPETITOR_COLUMNS = (
    Column("PartNo", _S, is_key=True, is_required=True, max_length=50),
    Column("Source", _S, is_key=True, is_required=True, max_length=50),
    Column("CompetitorCode", _S, is_key=True, is_required=True, max_length=50),
    Column("CompetitorPartNo", _S, is_required=True, max_length=50),
    Column("PriceSale", MONEY, is_required=True, ge=0, nullable=False),
    Column("PriceSaleInclFreight", MONEY, is_required=True, ge=0, nullable=False),
    Column("IsPricesInclVat", _B, is_required=True, nullable=False),
    Column("IsInStock", _B, is_required=True, nullable=False),
    Column(
        "CompetitorName",
        _S,
        field="CompetitorName",
        field_list="CompetitorSkuFieldsThatAreSet",
        max_length=255,
    ),
    Column(
        "ProductName", _S, field="ProductName", field_list="CompetitorSkuFieldsThatAreSet", max_length=255
    ),
    Column("VatRate", RATE, field="VatRate", field_list="CompetitorSkuFieldsThatAreSet", ge=0, le=100),
    Column("CurrencyCode", _S, kind="currency"),
    Column("SalesArea", _S, values="SalesArea", nullable=False),
)

_CUSTOMER_COLUMNS = (
    Column("Code", _S, is_key=True, is_required=True, max_length=50),
    *_cols("CustomerFieldsThatAreSet", "item", "EmailAddress", _S, max_length=255),
    *_cols(
        "CustomerFieldsThatAreSet",
        "item",
        "Title FirstName MiddleName LastName PhoneNumber CellPhoneNumber SocialSecurityNumber CrmId",
        _S,
        max_length=100,
    ),
    Column("IsActive", _B, field="IsActive", field_list="CustomerFieldsThatAreSet"),
    # CompanyCode -> Companies[{Code, IsPrimary: true}]
    Column("CompanyCode", _S, field="Companies", field_list="CustomerFieldsThatAreSet", max_length=50),
)
_COMPANY_COLUMNS = (
    Column("Code", _S, is_key=True, is_required=True, max_length=50),
    # Norce's ImportCompanies requires the application's key on every company; filled in from the
    # feed's (or its profile's) application_key where no source column maps to it.
    Column("ApplicationKey", _S, is_required=True, kind="guid"),
    Column("Name", _S, field="Name", field_list="CompanyFieldsThatAreSet", max_length=255),
    *_cols(
        "CompanyFieldsThatAreSet",
        "item",
        "OrganizationNo EmailAddress PhoneNumber ParentCompanyCode VatNo",
        _S,
        max_length=100,
    ),
    Column("IsActive", _B, field="IsActive", field_list="CompanyFieldsThatAreSet"),
)

# SupplierProduct: one row per supplier product, with one on-hand and one price row flattened as
# OnHand.<Field> and PriceList.<Field> columns.
_SUPPLIER_COLUMNS = (
    Column("SupplierPartNo", _S, is_key=True, is_required=True, max_length=50),
    *_cols(
        "FieldsThatAreSet",
        "item",
        "ProductName CategoryCode ProductType Manufacturer ManufacturerPartNo",
        _S,
        max_length=255,
    ),
    Column(
        "UnitOfMeasurementCode",
        _S,
        field="UnitOfMeasurementCode",
        field_list="FieldsThatAreSet",
        values="UnitOfMeasurementType",
        nullable=False,
    ),
    *_cols("FieldsThatAreSet", "item", "EanCode CommodityCode", _S, max_length=50),
    *_cols("FieldsThatAreSet", "item", "GrossWeight NetWeight", RATE, ge=0, nullable=False),
    *_cols("FieldsThatAreSet", "item", "LogisticWidth LogisticHeight LogisticDepth", RATE, ge=0),
    *_cols("FieldsThatAreSet", "item", "UnitOfMeasurementCount VatCode", _I, ge=0, nullable=False),
    Column("OnHand.WarehouseCode", _S, max_length=50),
    Column("OnHand.LocationCode", _S, max_length=50),
    Column("OnHand.Value", _I, field="Value", field_list="OnhandFieldsThatAreSet", nullable=False),
    Column("OnHand.IncomingValue", _I, field="IncomingValue", field_list="OnhandFieldsThatAreSet"),
    Column("OnHand.NextDeliveryDate", _D, field="NextDeliveryDate", field_list="OnhandFieldsThatAreSet"),
    Column(
        "OnHand.LeadTimeDayCount", _I, field="LeadTimeDayCount", field_list="OnhandFieldsThatAreSet", ge=0
    ),
    # an element's IsActive: the toolkit sends elements that (re)appear active, removed ones inactive
    Column("OnHand.IsActive", _B, field="IsActive", field_list="OnhandFieldsThatAreSet", nullable=False),
    Column("PriceList.PriceListCode", _S, max_length=50),
    Column("PriceList.CurrencyCode", _S, kind="currency"),
    Column(
        "PriceList.CostPurchase",
        MONEY,
        field="CostPurchase",
        field_list="PriceFieldsThatAreSet",
        ge=0,
        nullable=False,
    ),
    Column(
        "PriceList.PriceRecommended",
        MONEY,
        field="PriceRecommended",
        field_list="PriceFieldsThatAreSet",
        ge=0,
    ),
    Column("PriceList.IsActive", _B, field="IsActive", field_list="PriceFieldsThatAreSet", nullable=False),
)


def _entity(
    name: EntityName,
    endpoint: str,
    item: str,
    header: str,
    lists: list[tuple[str, type[IntEnum], Level]],
    columns: tuple[Column, ...],
    full_file: bool,
    removal: Removal,
    parents: tuple[tuple[str, str, str], ...] = (),
) -> Entity:
    return Entity(
        name=name,
        endpoint=endpoint,
        item=item,
        header_type=header,
        field_lists=tuple(FieldList(m, e, lvl) for m, e, lvl in lists),
        columns=columns,
        has_full_file=full_file,
        removal=removal,
        parent_flags=parents,
    )


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        _entity(
            "products",
            "Product/ImportProducts",
            "Product",
            "ProductHeader",
            [
                ("ProductFieldsThatAreSet", ProductField, "product"),
                ("ProductCultureFieldsThatAreSet", ProductCultureField, "product"),
                ("VariantFieldsThatAreSet", VariantField, "variant"),
                ("VariantCultureFieldsThatAreSet", VariantCultureField, "variant"),
                ("SkuFieldsThatAreSet", SkuField, "sku"),
                ("SkuCultureFieldsThatAreSet", SkuCultureField, "sku"),
                ("SkuPriceListFieldsThatAreSet", SkuPriceListField, "sku"),
                ("SkuStructureItemFieldsThatAreSet", SkuStructureItemField, "sku"),
                ("ImageCultureFieldsThatAreSet", ImageCultureField, "product"),
            ],
            _PRODUCT_COLUMNS,
            True,
            "sku_status",
            # any field of the child list needs these flags in the parent lists
            (
                ("ProductCultureFieldsThatAreSet", "ProductFieldsThatAreSet", "Cultures"),
                ("VariantFieldsThatAreSet", "ProductFieldsThatAreSet", "Variants"),
                ("VariantCultureFieldsThatAreSet", "VariantFieldsThatAreSet", "Cultures"),
                ("SkuFieldsThatAreSet", "VariantFieldsThatAreSet", "Skus"),
                ("SkuCultureFieldsThatAreSet", "VariantFieldsThatAreSet", "Skus"),
                ("VariantCultureFieldsThatAreSet", "ProductFieldsThatAreSet", "Variants"),
                ("SkuFieldsThatAreSet", "ProductFieldsThatAreSet", "Variants"),
                ("SkuCultureFieldsThatAreSet", "ProductFieldsThatAreSet", "Variants"),
            ),
        ),
        _entity(
            "sku_prices",
            "Product/ImportSkuPriceLists",
            "SkuPriceList",
            "SkuPriceListHeader",
            [("SkuPriceListFieldsThatAreSet", SkuPriceListField, "item")],
            _SKU_PRICE_COLUMNS,
            True,
            "is_active",
        ),
        _entity(
            "price_lists",
            "Product/ImportPriceLists",
            "PriceList",
            "PriceListHeader",
            [
                ("PriceListFieldsThatAreSet", PriceListField, "item"),
                ("WarehouseFieldsThatAreSet", WarehouseField, "item"),
                ("WarehouseLocationFieldsThatAreSet", WarehouseLocationField, "item"),
                ("PriceListPriceRuleFieldsThatAreSet", PriceListPriceRuleField, "item"),
            ],
            _PRICE_LIST_COLUMNS,
            False,
            "full_feed",
        ),
        _entity(
            "onhands",
            "Product/ImportOnhands",
            "SkuOnhand",
            "SkuOnhandHeader",
            [("SkuOnhandFieldsThatAreSet", SkuOnhandField, "item")],
            _ONHAND_COLUMNS,
            True,
            "is_active",
        ),
        _entity(
            "relations",
            "Product/ImportRelations",
            "Relation",
            "RelationHeader",
            [
                ("RelationFieldsThatAreSet", RelationField, "item"),
                ("RelationCultureFieldsThatAreSet", RelationCultureField, "item"),
            ],
            _RELATION_COLUMNS,
            True,
            "is_active",
            (("RelationCultureFieldsThatAreSet", "RelationFieldsThatAreSet", "Cultures"),),
        ),
        _entity(
            "competitor_skus",
            "Product/ImportCompetitorSkus",
            "CompetitorSku",
            "CompetitorSkuHeader",
            [("CompetitorSkuFieldsThatAreSet", CompetitorSkuField, "item")],
            _COMPETITOR_COLUMNS,
            True,
            "full_feed",
        ),
        _entity(
            "customers",
            "Customer/ImportCustomers",
            "Customer",
            "CustomerHeader",
            [
                ("AccountFieldsThatAreSet", AccountField, "item"),
                ("CompanyFieldsThatAreSet", CompanyField, "item"),
                ("CustomerFieldsThatAreSet", CustomerField, "item"),
            ],
            _CUSTOMER_COLUMNS,
            False,
            "is_active",
        ),
        _entity(
            "companies",
            "Customer/ImportCompanies",
            "Company",
            "CustomerHeader",
            [
                ("AccountFieldsThatAreSet", AccountField, "item"),
                ("CompanyFieldsThatAreSet", CompanyField, "item"),
                ("CustomerFieldsThatAreSet", CustomerField, "item"),
            ],
            _COMPANY_COLUMNS,
            False,
            "is_active",
        ),
        _entity(
            "supplier_products",
            "Supplier/ImportProducts",
            "SupplierProduct",
            "SupplierProductHeader",
            [
                ("FieldsThatAreSet", SupplierProductField, "item"),
                ("OnhandFieldsThatAreSet", SupplierOnHandField, "item"),
                ("PriceFieldsThatAreSet", SupplierPriceField, "item"),
                ("ContentFieldsThatAreSet", ProductCultureField, "item"),
                ("ProductInfoFieldsThatAreSet", SupplierProductInfoField, "item"),
            ],
            _SUPPLIER_COLUMNS,
            True,
            "full_feed",
        ),
    )
}

# Members every header has (the base Header of the contract).
BASE_HEADER_MEMBERS = ("AccountId", "SupplierId", "JobId", "StorageName", "SerializationType")
# Sales areas usable as VatRate qualifiers, by name.
SALES_AREAS = frozenset(m.name for m in SalesArea)

# System accounts usable by name in a feed's ``account``.
SYSTEM_ACCOUNTS: dict[str, int] = {
    "ERP": 10000,
    "POS": 10001,
    "PIM": 10002,
    "Storefront": 10003,
    "CRM": 10005,
    "Marketplace": 10006,
    "Shipping service": 10007,
    "Translation service": 10008,
    "Visma Business": 10009,
    "Visma.net": 10010,
    "Business central": 10011,
    "CDON marketplace": 10013,
    "Voyado": 10014,
    "Norce [Jetshop]": 10015,
    "Norce Feed": 10016,
    "Legacy system": 10017,
    "old ERP": 10018,
    "old Commerce": 10019,
    "Store": 10020,
    "Integration": 10021,
    "Supplier 1": 10022,
    "Supplier 2": 10023,
    "Supplier 3": 10024,
    "Bespoke": 10025,
    "Visma": 1134976,
    "inRiver": 1231903,
    "M3": 1233237,
    "Stibo": 1408480,
}


REFERS_TO: dict[str, tuple[str, ...]] = {
    "sku_prices": ("products", "price_lists"),
    "onhands": ("products",),
    "relations": ("products",),
    "competitor_skus": ("products",),
    "supplier_products": ("price_lists",),
    "customers": ("companies",),
}
"""The entities whose items an entity's rows refer to: Connect skips rows that name an unknown SKU or
price list, so those imports go first (`toolkit.daily`)."""


def get_entity(name: str) -> Entity:
    """The entity registered as ``name``.

    >>> get_entity("sku_prices").header_type
    'SkuPriceListHeader'
    """
    try:
        return ENTITIES[name]
    except KeyError:
        msg = f"unknown entity {name!r}; expected one of {', '.join(sorted(ENTITIES))}"
        raise KeyError(msg) from None


def enum_value(enum: type[IntEnum], value: str | int) -> IntEnum:
    """Parse an enum given by name (case-insensitive) or number, as Connect accepts both.

    >>> enum_value(SkuStatus, "inactive")
    <SkuStatus.Inactive: 5>
    >>> enum_value(SkuStatus, "5")
    <SkuStatus.Inactive: 5>
    """
    if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        return enum(int(value))
    lowered = {m.name.lower(): m for m in enum}
    try:
        return lowered[value.strip().lower()]
    except KeyError:
        msg = f"{value!r} is not a {enum.__name__}"
        raise ValueError(msg) from None
