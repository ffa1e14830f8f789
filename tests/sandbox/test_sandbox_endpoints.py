"""Acceptance 1: every endpoint over real HTTP; token + import + Job/Get over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest

from toolkit.entities import ENTITIES

pytestmark = pytest.mark.slow

CONNECT = "/commerce/connect/4.0/"
KEY = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # Company.ApplicationKey, required by the contract
COMPETITOR = {
    "PartNo": "S1",
    "Source": "pricespy",
    "CompetitorCode": "C1",
    "CompetitorPartNo": "X",
    "PriceSale": 9.0,
    "PriceSaleInclFreight": 10.0,
    "IsPricesInclVat": True,
    "IsInStock": True,
}
# one minimal valid import per entity: (items, extra header members)
SAMPLES: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    "products": (
        [
            {
                "Code": "P9",
                "ManufacturerCode": "M",
                "Variants": [{"ManufacturerPartNo": "V9", "Skus": [{"PartNo": "S9", "Status": "Active"}]}],
            }
        ],
        {
            "ProductFieldsThatAreSet": ["Variants"],
            "VariantFieldsThatAreSet": ["Skus"],
            "SkuFieldsThatAreSet": ["Status"],
        },
    ),
    "sku_prices": (
        [{"PartNo": "S1", "PriceListCode": "PL1", "PriceSale": 10.0}],
        {"SkuPriceListFieldsThatAreSet": ["PriceSale"]},
    ),
    "price_lists": ([{"Code": "PL2", "Name": "Outlet"}], {"PriceListFieldsThatAreSet": ["Name"]}),
    "onhands": (
        [{"PartNo": "S1", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": 3}],
        {"SkuOnhandFieldsThatAreSet": ["OnhandValue"]},
    ),
    "relations": (
        [{"PartNo": "S1", "RelatedPartNo": "S9", "RelationTypeCode": "ACC", "IsActive": True}],
        {"RelationFieldsThatAreSet": ["IsActive"]},
    ),
    "competitor_skus": ([COMPETITOR], {}),
    "customers": (
        [{"Code": "CU1", "EmailAddress": "a@example.com"}],
        {"CustomerFieldsThatAreSet": ["EmailAddress"]},
    ),
    "companies": (
        [{"Code": "CO1", "ApplicationKey": KEY, "Name": "Acme"}],
        {"CompanyFieldsThatAreSet": ["Name"]},
    ),
    "supplier_products": (
        [
            {
                "SupplierPartNo": "SP1",
                "ProductName": "Drill",
                "OnHand": [{"WarehouseCode": "W", "LocationCode": "L", "Value": 4}],
            }
        ],
        {"FieldsThatAreSet": ["ProductName"], "OnhandFieldsThatAreSet": ["Value"]},
    ),
}


def test_token_endpoint(api: Any) -> None:
    r = api.token_response()
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert api.token_response(client_secret="wrong").json() == {
        "error": "invalid_client",
        "error_description": "invalid_client",
    }
    assert api.token_response(client_secret="wrong").status_code == 401
    r = api.token_response(grant_type="password")
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_every_import_answers_a_job_response_and_its_job_succeeds(api: Any, entity: str) -> None:
    api.create_skus("S1")
    api.run("price_lists", [{"Code": "PL1", "Name": "Base"}], api.header(PriceListFieldsThatAreSet=["Name"]))
    items, members = SAMPLES[entity]
    r = api.post_import(entity, items, api.header(**members))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"StatusCode", "Description", "JobId", "ValidationSummary"}
    assert isinstance(body["JobId"], str) and body["JobId"].isdigit()
    assert body["ValidationSummary"] == {"NrOfItemsInTotal": 1, "NrOfValidationFailures": 0, "Messages": []}
    job = api.wait(int(body["JobId"]))
    assert (job["StatusId"], job["IsFinished"], job["Totals"], job["Fail"]) == (2, True, 1, 0)
    assert job["StorageName"] == f"{ENTITIES[entity].endpoint.rsplit('/', 1)[1]}/{body['JobId']}.json"
    assert len(api.items(entity)) >= 1


@pytest.mark.parametrize("prefix", ["Job/", "api/Job/"])
def test_job_endpoints_under_both_prefixes(api: Any, prefix: str) -> None:
    items, members = SAMPLES["companies"]
    job = api.run("companies", items, api.header(**members))
    dto = api.job(job["JobId"], prefix)
    assert list(dto) == [
        "JobId",
        "StatusId",
        "StorageName",
        "Totals",
        "Inserts",
        "Updates",
        "Fail",
        "Start",
        "Stop",
        "LastUpdated",
        "IsFinished",
        "RunTime",
    ]
    assert (dto["Inserts"], dto["Updates"], dto["Stop"].endswith("Z")) == (1, 0, True)
    h = api.auth()
    listed = api.http.get(f"{CONNECT}{prefix}List", headers=h).json()
    assert [j["JobId"] for j in listed] == [job["JobId"]]
    log = api.http.get(f"{CONNECT}{prefix}GetLog", params={"id": job["JobId"]}, headers=h).json()
    assert set(log[0]) == {"SeverityId", "Message", "TimeStamp", "ImportedRow"}
    assert api.http.get(f"{CONNECT}{prefix}Ping", headers=h).status_code == 200
    assert api.http.get(f"{CONNECT}{prefix}Ping").status_code == 401
    r = api.http.post(f"{CONNECT}{prefix}Restart", params={"id": job["JobId"]}, headers=h)
    assert r.status_code == 200 and int(r.json()["JobId"]) > job["JobId"]
    r = api.http.get(f"{CONNECT}{prefix}Get", params={"id": 999999}, headers=h)
    assert (r.status_code, r.json()["Message"]) == (404, "job 999999 not found")
    r = api.http.get(f"{CONNECT}{prefix}Get", params={"id": "x"}, headers=h)
    assert r.status_code == 400 and "id" in r.json()["Message"]


def test_admin_endpoints(api: Any) -> None:
    items, members = SAMPLES["companies"]
    api.run("companies", items, api.header(**members))
    stats = api.http.get("/_sandbox/stats").json()
    assert stats["requests"]["POST /commerce/connect/4.0/Customer/ImportCompanies"] == {"200": 1}
    assert stats["jobs"] == {"Succeeded": 1} and stats["items"]["companies"] == 1
    assert api.http.get("/_sandbox/items/nope").status_code == 404
    assert api.admin("faults", {"error_500": 1})["left"] == {"error_500": 1}
    assert api.http.get("/_sandbox/faults").json()["triggers"] == {"error_500": {"next": 1, "rate": 0.0}}
    before = api.http.get("/_sandbox/clock").json()["now"]
    after = api.admin("clock", {"advance": 86400})["now"]
    assert after[:10] > before[:10]
    assert api.admin("settings", {"rate_limit": 1000})["rate_limit"] == 1000
    assert api.http.post("/_sandbox/settings", json={"nope": 1}).status_code == 400
    assert api.admin("reset") == {"reset": True}
    assert api.items("companies") == [] and api.http.get("/_sandbox/stats").json()["jobs"] == {}
    assert api.http.get("/_sandbox/settings").json()["rate_limit"] == 60


def test_https_token_import_and_job_get(tls_sandbox: Any, make_api: Any) -> None:
    assert tls_sandbox.base_url.startswith("https://127.0.0.1:")
    assert tls_sandbox.ca_bundle.read_text().startswith("-----BEGIN CERTIFICATE-----")
    tls_sandbox.reset()
    api = make_api(tls_sandbox)
    items, members = SAMPLES["companies"]
    job = api.run("companies", items, api.header(**members))
    assert job["StatusId"] == 2
    assert api.job(job["JobId"], "api/Job/")["JobId"] == job["JobId"]
    assert api.items("companies") == [{"Code": "CO1", "ApplicationKey": KEY, "Name": "Acme"}]
