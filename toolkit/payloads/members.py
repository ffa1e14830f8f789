"""Canonical columns -> members of a Connect item, as polars expressions, one nesting level at a time.

Each builder returns one expression aliased to the member's name. A member whose column is in the
``clear`` set is aliased with the :data:`KEEP` prefix, so its null survives the null-omission pass of
the encoder (a listed field that is cleared must be sent as an explicit ``null``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import polars as pl

from toolkit.entities import VALUE_ENUMS, Entity, SalesArea, split_qualified

# Prefix of members whose null must be kept; the encoder strips it after removing the other nulls.
KEEP = "\x01\x02\x03"
SUB_ELEMENTS = ("OnHand", "PriceList")
# Identity members every product item carries, whatever the field list says.
PRODUCT_IDENTITY = ("Code", "ManufacturerCode", "ManufacturerPartNo", "PartNo")

Schema = dict[str, pl.DataType]
Builder = Callable[[Entity, str, list[str], Schema, frozenset[str]], pl.Expr]


def member_of(entity: Entity, name: str) -> str:
    """The item member a canonical column is written into (``Name[sv-SE]`` -> ``Cultures``)."""
    col = entity.column(name)
    base = split_qualified(name)[0]
    if col.qualifier == "culture":
        return "Cultures"
    if col.qualifier == "sales_area":
        return "VatRates"
    if "." in base:
        return base.split(".", 1)[0]
    if entity.name == "customers" and base == "CompanyCode":
        return "Companies"
    return base


def enum_codes(values: str) -> dict[str, int]:
    """Enum names (and their numbers as text) -> the integer Connect receives."""
    enum = VALUE_ENUMS[values]
    return {**{m.name: m.value for m in enum}, **{str(m.value): m.value for m in enum}}


def value_expr(entity: Entity, name: str, schema: Schema) -> pl.Expr:
    """A column's values as JSON-ready polars values: enum names -> ints, decimals -> floats."""
    col = entity.column(name)
    expr = pl.col(name)
    if col.values is not None:
        return expr.cast(pl.String).replace_strict(enum_codes(col.values), return_dtype=pl.Int64)
    if schema[name].is_decimal():
        return expr.cast(pl.Float64)
    return expr


def _alias(member: str, names: Collection[str], clear: frozenset[str]) -> str:
    return KEEP + member if clear.intersection(names) else member


def _present(names: Sequence[str], clear: frozenset[str]) -> pl.Expr:
    """True where an element carrying ``names`` must be sent: a value, or a cleared column."""
    if clear.intersection(names):
        return pl.lit(True)
    return pl.any_horizontal(pl.col(n).is_not_null() for n in names)


def _fragment(member: str, elements: Sequence[pl.Expr]) -> pl.Expr:
    """``"Member":[e1,e2]`` from JSON texts of elements (null ones left out), or null when none.

    Lists are joined as text: ``concat_list`` of structs is slow in polars, ``concat_str`` is not.
    """
    joined = pl.concat_str(elements, separator=",", ignore_nulls=True)
    text = pl.concat_str(pl.lit(f'"{member}":['), joined, pl.lit("]"))
    return pl.when(pl.any_horizontal(e.is_not_null() for e in elements)).then(text).alias(member)


def _scalar(entity: Entity, member: str, names: list[str], schema: Schema, clear: frozenset[str]) -> pl.Expr:
    (name,) = names
    if isinstance(schema[name], pl.List):  # Categories, Warehouses: [{"Code": c}, ...]
        expr = pl.col(name).list.eval(pl.struct(pl.element().alias("Code")))
    elif member == "MainImage":
        url = pl.col(name)
        image = pl.struct(
            url.alias("Url"), url.alias("ExternalCode"), pl.lit("MainImage").alias("FileTypeName")
        )
        expr = pl.when(url.is_not_null()).then(image)
    elif member == "StandardPrice":  # a SkuPriceList object: {"PriceSale": x}
        price = value_expr(entity, name, schema)
        expr = pl.when(price.is_not_null()).then(pl.struct(price.alias("PriceSale")))
    else:
        expr = value_expr(entity, name, schema)
    return expr.alias(_alias(member, names, clear))


def _cultures(
    entity: Entity, member: str, names: list[str], schema: Schema, clear: frozenset[str]
) -> pl.Expr:
    by_culture: dict[str, dict[str, str]] = {}
    for name in names:
        base, culture = split_qualified(name)
        field = entity.column(name).field or base
        by_culture.setdefault(str(culture), {})[field] = name
    keep = {f for cols in by_culture.values() for f, n in cols.items() if n in clear}
    elements = []
    for culture, cols in by_culture.items():
        values = [value_expr(entity, n, schema).alias(KEEP + f if f in keep else f) for f, n in cols.items()]
        element = pl.struct(pl.lit(culture).alias("CultureCode"), *values).struct.json_encode()
        elements.append(pl.when(_present(list(cols.values()), clear)).then(element))
    return _fragment(member, elements)


def _vat_rates(
    entity: Entity, member: str, names: list[str], schema: Schema, clear: frozenset[str]
) -> pl.Expr:
    elements = []
    for name in names:
        area = SalesArea[str(split_qualified(name)[1])].value
        rate = value_expr(entity, name, schema).cast(pl.String).fill_null("null")
        text = pl.concat_str(pl.lit(f'{{"SalesArea":{area},"Rate":'), rate, pl.lit("}"))
        elements.append(pl.when(_present([name], clear)).then(text))
    return _fragment(member, elements)


# The members that identify an element of a supplier product's nested list: an element whose first
# key member is empty is never sent (Connect could not tell which element it is).
ELEMENT_KEYS = {"OnHand": ("WarehouseCode", "LocationCode"), "PriceList": ("PriceListCode",)}
SUPPLIER_KEY = "SupplierPartNo"
# Marker columns a plan adds to customer rows (see `_companies`): the delta flag and the earlier link.
LINKS_DELTA = "_IsCompanyListDelta"
LINK_BEFORE = "_CompanyCode.was"


def _element_value(entity: Entity, name: str, schema: Schema) -> pl.Expr:
    """A sub-element column's value; an empty key part (how planning stores "none") is null."""
    member, field = name.split(".", 1)
    if field in ELEMENT_KEYS.get(member, ()):
        return pl.when(pl.col(name) != "").then(pl.col(name))
    return value_expr(entity, name, schema)


def _sub_element(
    entity: Entity, member: str, names: list[str], schema: Schema, clear: frozenset[str]
) -> pl.Expr:
    """A supplier product's ``OnHand``/``PriceList``: the distinct elements of every row of the item.

    Rows of one ``SupplierPartNo`` that differ in an element's key are one item with several
    elements (the encoder keeps the item's first row), so every row carries the whole list."""
    values = [_element_value(entity, n, schema).alias(_alias(n.split(".", 1)[1], [n], clear)) for n in names]
    key = f"{member}.{ELEMENT_KEYS[member][0]}"
    has_key = (pl.col(key).is_not_null() & (pl.col(key) != "")) if key in names else pl.lit(False)
    elements = pl.struct(values).filter(has_key).unique(maintain_order=True)
    listed = elements.over(SUPPLIER_KEY, mapping_strategy="join")
    return pl.when(listed.list.len() > 0).then(listed).alias(member)


def _link(code: pl.Expr, *, primary: bool) -> pl.Expr:
    return pl.struct(code.alias("Code"), pl.lit(primary).alias("IsPrimary")).struct.json_encode()


def _companies(
    entity: Entity, member: str, names: list[str], schema: Schema, clear: frozenset[str]
) -> pl.Expr:
    """A customer's ``CompanyCode`` as its primary company link, JSON text (a fragment).

    Without the plan's marker column the list replaces the customer's links (a cleared value sends
    ``[]``). With ``_IsCompanyListDelta`` true the list is a delta: the new link is added as primary
    and an earlier one (``_CompanyCode.was``) sent ``IsPrimary: false``; Connect's
    ``CompanyIdentifier`` has no member that removes a link, so links made elsewhere stay. With it
    false the feed owns the customer's links: the list replaces them, an empty code sends ``[]``."""
    (name,) = names
    code = pl.col(name)
    if LINKS_DELTA not in schema:
        return _replacing(code, member, owned=name in clear, flag="")
    delta = pl.col(LINKS_DELTA)
    was = pl.col(LINK_BEFORE) if LINK_BEFORE in schema else pl.lit(None, pl.String)
    old = pl.when(was.is_not_null() & was.ne_missing(code)).then(_link(was, primary=False))
    new = pl.when(code.is_not_null()).then(_link(code, primary=True))
    links = pl.concat_str([new, old], separator=",", ignore_nulls=True)
    as_delta = pl.concat_str(pl.lit(f'"IsCompanyListDelta":true,"{member}":['), links, pl.lit("]"))
    sent = pl.when(new.is_not_null() | old.is_not_null()).then(as_delta)
    owned = _replacing(code, member, owned=True, flag='"IsCompanyListDelta":false,')
    return pl.when(delta).then(sent).otherwise(owned).alias(member)


def _replacing(code: pl.Expr, member: str, *, owned: bool, flag: str) -> pl.Expr:
    """``"Companies":[primary]`` replacing the links; ``[]`` for an empty code when ``owned``."""
    text = pl.concat_str(pl.lit(f'{flag}"{member}":['), _link(code, primary=True), pl.lit("]"))
    linked = pl.when(code.is_not_null()).then(text)
    return (linked.otherwise(pl.lit(f'{flag}"{member}":[]')) if owned else linked).alias(member)


_BUILDERS: dict[str, Builder] = {
    "Cultures": _cultures,
    "VatRates": _vat_rates,
    "OnHand": _sub_element,
    "PriceList": _sub_element,
    "Companies": _companies,
}
_FRAGMENTS = {"Cultures", "VatRates", "Companies"}  # members built as JSON text


def level_members(
    entity: Entity, names: Sequence[str], schema: Schema, clear: frozenset[str]
) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """The members of one object built from ``names``: struct members and JSON-text fragments."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(member_of(entity, name), []).append(name)
    members: list[pl.Expr] = []
    fragments: list[pl.Expr] = []
    for member, cols in groups.items():
        expr = _BUILDERS.get(member, _scalar)(entity, member, cols, schema, clear)
        (fragments if member in _FRAGMENTS else members).append(expr)
    return members, fragments


def object_json(
    members: list[pl.Expr], fragments: Sequence[pl.Expr] = (), closing: pl.Expr | pl.Series | None = None
) -> pl.Expr:
    """One JSON object per row: the struct of ``members`` encoded, with ``fragments`` spliced in.

    ``closing`` is a last fragment that is never null and already ends with the object's ``}``.
    """
    encoded = pl.struct(members).struct.json_encode()
    if not fragments and closing is None:
        return encoded
    end = [closing] if closing is not None else []
    text = pl.concat_str([encoded.str.strip_suffix("}"), *fragments, *end], separator=",", ignore_nulls=True)
    return text if closing is not None else text + "}"
