"""Pure: canonical rows -> Connect items and headers, and items back -> canonical frames.

Item shapes follow the Connect contract: flat items for onhands, SKU prices, price lists, relations,
competitor SKUs, customers and companies; ``Product -> Variants -> Skus`` (with ``Cultures``,
``Categories``, ``MainImage`` and ``VatRates``) for products, built from one row per SKU; supplier
products with their ``OnHand``/``PriceList`` lists. Enum values are sent as integers, decimals as JSON
numbers, dates as ``"YYYY-MM-DD"``; null members are omitted except where a listed field is cleared.

Examples
--------
>>> import polars as pl
>>> df = pl.DataFrame({"PartNo": ["A"], "PriceListCode": ["SEK"], "QuantityBreak": [1],
...                    "PriceSale": [99.5], "PriceRule": ["FixedPrice"]})
>>> build_items("sku_prices", df)
[{'PartNo': 'A', 'PriceListCode': 'SEK', 'QuantityBreak': 1, 'PriceSale': 99.5, 'PriceRule': 2}]
>>> build_header("sku_prices", account=10000, fields=["PriceSale"])
{'AccountId': 10000, 'FullFile': False, 'SkuPriceListFieldsThatAreSet': ['PriceSale']}
"""

from __future__ import annotations

from toolkit.payloads.frames import frame_from_items
from toolkit.payloads.headers import (
    build_header,
    data_columns,
    header_lists,
    identity_columns,
    item_columns,
)
from toolkit.payloads.items import build_items, encode_items, join_items, serialize_items

__all__ = [
    "build_header",
    "build_items",
    "data_columns",
    "encode_items",
    "frame_from_items",
    "header_lists",
    "identity_columns",
    "item_columns",
    "join_items",
    "serialize_items",
]
