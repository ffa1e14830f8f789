"""Acceptance 8: a 50,000-item onhands import is accepted in one request and its job finishes.
(Items per second are measured by bench/bench_sandbox.py, never asserted here.)"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow
N = 50_000


def test_a_50k_onhands_import_in_one_request(api: Any) -> None:
    parts = [f"SKU{i:06d}" for i in range(N)]
    product = {
        "Code": "BIG",
        "ManufacturerCode": "ACME",
        "Variants": [{"ManufacturerPartNo": "BIG-V", "Skus": [{"PartNo": p} for p in parts]}],
    }
    job = api.run(
        "products",
        [product],
        api.header(ProductFieldsThatAreSet=["Variants"], VariantFieldsThatAreSet=["Skus"]),
    )
    assert (job["StatusId"], job["Inserts"]) == (2, N + 2)
    rows = [
        {"PartNo": p, "WarehouseCode": "W1", "LocationCode": "L1", "OnhandValue": i, "IsActive": True}
        for i, p in enumerate(parts)
    ]
    api.http.timeout = 60.0
    r = api.post_import("onhands", rows, api.header(SkuOnhandFieldsThatAreSet=["OnhandValue", "IsActive"]))
    assert r.status_code == 200
    assert r.json()["ValidationSummary"]["NrOfItemsInTotal"] == N
    job = api.wait(int(r.json()["JobId"]), timeout=60)
    assert (job["StatusId"], job["Totals"], job["Inserts"], job["Fail"]) == (2, N, N, 0)
    assert api.server.stats()["items"]["onhands"] == N
