"""Acceptance 6: bad requests get their status and a message naming the problem, and change nothing."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

ONHAND = [{"PartNo": "S1", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": 1}]
GOOD = '{"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]}'


@pytest.mark.parametrize(
    ("header", "body", "status", "message"),
    [
        (None, None, 400, "missing X-StormConnect-Header"),
        ("{not json", None, 400, "X-StormConnect-Header is not valid JSON"),
        ("[1]", None, 400, "X-StormConnect-Header must be a JSON object"),
        ('{"SkuOnhandFieldsThatAreSet": ["OnhandValue"]}', None, 400, "has no AccountId"),
        (
            '{"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue", "Colour"]}',
            None,
            400,
            "unknown field 'Colour'",
        ),
        ('{"AccountId": 1, "SkuOnhandFieldsThatAreSet": [42]}', None, 400, "unknown field 42"),
        (
            '{"AccountId": 1, "SkuFieldsThatAreSet": ["Status"]}',
            None,
            400,
            "SkuOnhandHeader has no member 'SkuFieldsThatAreSet'",
        ),
        (GOOD, b"[{", 400, "body is not valid JSON"),
        (GOOD, b'{"PartNo": "S1"}', 400, "body must be a JSON array of SkuOnhand items, found an object"),
    ],
)
def test_bad_import_requests(
    api: Any, header: str | None, body: bytes | None, status: int, message: str
) -> None:
    api.create_skus("S1")
    r = api.post_import("onhands", ONHAND, header, body=body)
    assert r.status_code == status
    assert message in r.json()["Message"]
    assert api.items("onhands") == []
    assert api.http.get("/_sandbox/stats").json()["jobs"] == {"Succeeded": 1}  # only create_skus


def test_full_file_on_a_header_without_it(api: Any) -> None:
    r = api.post_import("price_lists", [{"Code": "PL1"}], '{"AccountId": 1, "FullFile": true}')
    assert r.status_code == 400
    assert r.json()["Message"] == "PriceListHeader has no FullFile member (Product/ImportPriceLists)"
    assert api.items("price_lists") == []


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "missing bearer token"),
        ("Bearer nope", "invalid bearer token"),
        ("Basic abc", "missing bearer token"),
    ],
)
def test_bad_tokens(api: Any, authorization: str | None, message: str) -> None:
    headers = {"X-StormConnect-Header": GOOD, **({"Authorization": authorization} if authorization else {})}
    r = api.http.post("/commerce/connect/4.0/Product/ImportOnhands", content=b"[]", headers=headers)
    assert r.status_code == 401 and message in r.json()["Message"]
    assert api.http.get("/_sandbox/stats").json()["jobs"] == {}


def test_expired_token(api: Any) -> None:
    h = api.auth()
    assert api.http.get("/commerce/connect/4.0/Job/List", headers=h).status_code == 200
    api.server.advance_clock(3600)
    r = api.post_import("companies", [{"Code": "C"}], api.header(), headers=h)
    assert r.status_code == 401 and "bearer token expired" in r.json()["Message"]
    assert api.items("companies") == []


def test_token_ttl_is_configurable(api: Any) -> None:
    api.admin("settings", {"token_ttl": 5})
    assert api.token_response().json()["expires_in"] == 5
