"""Which columns an item carries, and the ``X-StormConnect-Header`` that lets Connect write them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from toolkit.entities import ENTITIES, Entity, split_qualified
from toolkit.payloads.members import PRODUCT_IDENTITY, SUB_ELEMENTS


def resolve(entity: Entity | str) -> Entity:
    """An Entity, given itself or its registered name."""
    if isinstance(entity, Entity):
        return entity
    try:
        return ENTITIES[entity]
    except KeyError:
        msg = f"unknown entity {entity!r}; expected one of {', '.join(sorted(ENTITIES))}"
        raise ValueError(msg) from None


def data_columns(entity: Entity, columns: Iterable[str]) -> list[str]:
    """The entity's columns among ``columns`` ("_"-prefixed metadata dropped), in entity order.

    >>> data_columns(resolve("onhands"), ["_row", "OnhandValue", "PartNo"])
    ['PartNo', 'OnhandValue']
    """
    names = [c for c in columns if not c.startswith("_")]
    unknown = [c for c in names if not entity.has_column(c)]
    if unknown:
        msg = f"{entity.name}: {', '.join(map(repr, unknown))} are not columns of the entity"
        raise ValueError(msg)
    order = {c.name: i for i, c in enumerate(entity.columns)}
    return sorted(names, key=lambda c: order[split_qualified(c)[0]])


def identity_columns(entity: Entity) -> tuple[str, ...]:
    """Members every item carries: keys; product/variant/SKU identity; required members without a
    field (CompetitorSku's prices, a Company's ApplicationKey), which Connect reads unlisted.

    >>> identity_columns(resolve("products"))
    ('Code', 'ManufacturerCode', 'ManufacturerPartNo', 'PartNo')
    >>> identity_columns(resolve("companies"))
    ('Code', 'ApplicationKey')
    """
    if entity.name == "products":
        return PRODUCT_IDENTITY
    return tuple(c.name for c in entity.columns if c.is_key or (c.is_required and c.field is None))


def _field_of(entity: Entity, name: str) -> tuple[str, str] | None:
    col = entity.column(name)
    return (col.field_list, col.field) if col.field and col.field_list else None


def item_columns(
    entity: Entity | str, columns: Iterable[str], fields: Iterable[str] | None = None
) -> list[str]:
    """The columns an item carries: identity plus ``fields``, each widened to every column that
    shares its enum field (``PriceRule`` with ``PriceRuleValue``, ``VatRate[*]`` together), and the
    codes of a supplier on-hand/price element whose values are sent. ``fields=None``: all columns.

    >>> item_columns("sku_prices", ["PartNo", "PriceListCode", "QuantityBreak", "PriceRule",
    ...                             "PriceRuleValue", "PriceSale"], ["PriceRuleValue"])
    ['PartNo', 'PriceListCode', 'QuantityBreak', 'PriceRule', 'PriceRuleValue']
    """
    ent = resolve(entity)
    data = data_columns(ent, columns)
    if fields is None:
        return data
    wanted = set(fields)
    missing = wanted.difference(data)
    if missing:
        msg = f"{ent.name}: fields {sorted(missing)} are not in the frame"
        raise ValueError(msg)
    enum_fields = {_field_of(ent, f) for f in wanted} - {None}
    chosen = wanted | set(identity_columns(ent)).intersection(data)
    chosen |= {c for c in data if _field_of(ent, c) in enum_fields}
    for prefix in SUB_ELEMENTS:
        if any(c.startswith(prefix + ".") for c in chosen):
            chosen |= {c for c in data if c.startswith(prefix + ".") and not ent.column(c).field}
    return [c for c in data if c in chosen]


def header_lists(entity: Entity | str, fields: Iterable[str]) -> dict[str, list[str]]:
    """The ``...FieldsThatAreSet`` lists for ``fields`` (canonical columns), each sorted by enum value,
    empty lists left out, with the flags that let Connect read the levels the items carry: product
    items always nest ``Variants[].Skus[]`` (their identity), so ``Variants`` and ``Skus`` are always
    listed; ``Cultures`` only where a culture field is; a SKU's ``StandardPrice`` (a ``SkuPriceList``
    object) lists ``PriceSale`` in ``SkuPriceListFieldsThatAreSet``.

    >>> header_lists("products", ["StandardPrice"])
    {'ProductFieldsThatAreSet': ['Variants'], 'VariantFieldsThatAreSet': ['Skus'], \
'SkuFieldsThatAreSet': ['StandardPrice'], 'SkuPriceListFieldsThatAreSet': ['PriceSale']}
    >>> header_lists("products", ["Name[sv-SE]"])
    {'ProductFieldsThatAreSet': ['Variants', 'Cultures'], 'ProductCultureFieldsThatAreSet': ['Name'], \
'VariantFieldsThatAreSet': ['Skus']}
    """
    ent = resolve(entity)
    sets: dict[str, set[str]] = {fl.member: set() for fl in ent.field_lists}
    for name in fields:
        pair = _field_of(ent, name)
        if pair:
            sets[pair[0]].add(pair[1])
            for nested_list, nested_field in NESTED_FIELDS.get((ent.name, pair[1]), ()):
                sets[nested_list].add(nested_field)
    nested = _carried_levels(ent)
    changed = True
    while changed:  # flags can chain (Sku -> Variant -> Product)
        changed = False
        for child, parent, flag in ent.parent_flags:
            if (sets[child] or child in nested) and flag not in sets[parent]:
                sets[parent].add(flag)
                changed = True
    return {
        fl.member: sorted(sets[fl.member], key=lambda n: fl.enum[n].value)
        for fl in ent.field_lists
        if sets[fl.member]
    }


# Fields whose member is an object with its own field list: (entity, field) -> (list, field) pairs.
NESTED_FIELDS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("products", "StandardPrice"): (("SkuPriceListFieldsThatAreSet", "PriceSale"),),
}


def _carried_levels(entity: Entity) -> set[str]:
    """The main field lists of the nested levels every item carries (products: the variant's and
    the SKU's, as items identify their SKUs); their parent flags are listed even with no field set."""
    carried = {entity.column(c).level for c in identity_columns(entity)} - {"item", "product"}
    main: dict[str, str] = {}
    for fl in entity.field_lists:
        main.setdefault(fl.level, fl.member)  # the first list of a level is its own (not cultures)
    return {main[level] for level in carried if level in main}


def build_header(
    entity: Entity | str,
    *,
    account: int,
    fields: Sequence[str] | Iterable[str],
    full_file: bool = False,
    flags: Iterable[str] = (),
) -> dict[str, Any]:
    """The header object of one import request (sent one-line JSON in ``X-StormConnect-Header``).

    Parameters
    ----------
    entity
        The entity (or its name).
    account
        The system account id (``AccountId``).
    fields
        The canonical columns the items carry; mapped through ``Column.field``/``field_list``.
        Columns without a field (keys, identity) add nothing.
    full_file
        ``FullFile``; only headers that have the member carry it.
    flags
        Names of the item's own field list listed in every header whatever the items carry
        (``SearchOnlyByCode`` of customers and companies).

    Examples
    --------
    >>> build_header("onhands", account=10000, fields=["PartNo", "OnhandValue"])
    {'AccountId': 10000, 'FullFile': False, 'SkuOnhandFieldsThatAreSet': ['OnhandValue']}
    >>> build_header("companies", account=10000, fields=["Name"], flags=["SearchOnlyByCode"])
    {'AccountId': 10000, 'CompanyFieldsThatAreSet': ['Name', 'SearchOnlyByCode']}
    """
    ent = resolve(entity)
    if full_file and not ent.has_full_file:
        msg = f"{ent.header_type} of {ent.name} has no FullFile member"
        raise ValueError(msg)
    header: dict[str, Any] = {"AccountId": int(account)}
    if ent.has_full_file:
        header["FullFile"] = bool(full_file)
    lists = header_lists(ent, fields)
    if flags:
        own = ent.field_list(f"{ent.item}FieldsThatAreSet")
        listed = {*lists.get(own.member, ()), *flags}
        lists[own.member] = sorted(listed, key=lambda n: own.enum[n].value)
    header.update(lists)
    return header
