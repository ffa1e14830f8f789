"""What goes on the wire: import bodies, the one-line ``X-StormConnect-Header``, servers' messages.

Examples
--------
>>> body([{"PartNo": "A1", "OnhandValue": 3}])
b'[{"PartNo":"A1","OnhandValue":3}]'
>>> header_json({"AccountId": 10000, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]})
'{"AccountId":10000,"SkuOnhandFieldsThatAreSet":["OnhandValue"]}'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import httpx
import orjson

__all__ = ["body", "header_json", "rows", "server_message"]


def rows(data: Any) -> list[Mapping[str, Any]]:
    """The rows of a list answer (Job/List, Job/GetLog)."""
    if isinstance(data, Mapping):  # tolerate a wrapper object such as {"Items": [...]}
        data = next((v for v in data.values() if isinstance(v, list)), [])
    if not isinstance(data, list):
        msg = f"expected a JSON array, found {type(data).__name__}"
        raise ValueError(msg)
    return data


def body(items_or_body: Iterable[Mapping[str, Any]] | bytes) -> bytes:
    """Items as a JSON array (orjson; Decimals as numbers), or an already serialized array as is."""
    if isinstance(items_or_body, bytes | bytearray | memoryview):
        raw = bytes(items_or_body)
        if raw[:1024].lstrip()[:1] != b"[":
            msg = "an import body must be a JSON array of items (it starts with '[')"
            raise ValueError(msg)
        return raw
    return orjson.dumps(list(items_or_body), default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    msg = f"cannot send {type(value).__name__} {value!r} as JSON"
    raise TypeError(msg)


def header_json(header: Mapping[str, Any]) -> str:
    """One-line, ASCII-only JSON (HTTP header values must be ASCII)."""
    return json.dumps(dict(header), separators=(",", ":"), ensure_ascii=True, default=_json_default)


def server_message(response: httpx.Response) -> str:
    """What the server said about an error: a message member of its JSON, else its text."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(data, Mapping):
        lowered = {str(k).lower(): v for k, v in data.items()}
        for key in ("message", "error_description", "error", "detail", "title", "description"):
            if lowered.get(key):
                return str(lowered[key])[:500]
    return str(data)[:500]
