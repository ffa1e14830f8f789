"""The client against the real sandbox (uvicorn on 127.0.0.1): every acceptance item of issue 4."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from toolkit.config import Secret
from toolkit.connect import ConnectClient, RequestBudget, RetryPolicy
from toolkit.entities import ENTITIES, JobStatus
from toolkit.errors import ConfigError, ConnectAPIError, OutcomeUnknown

pytestmark = pytest.mark.slow

A = 10000
APP = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # the ApplicationKey every company carries
ITEMS: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    "products": (
        [
            {
                "Code": "P1",
                "ManufacturerCode": "ACME",
                "Variants": [{"ManufacturerPartNo": "M1", "Skus": [{"PartNo": "A1", "Status": 1}]}],
            }
        ],
        {
            "AccountId": A,
            "ProductFieldsThatAreSet": ["Variants"],
            "VariantFieldsThatAreSet": ["Skus"],
            "SkuFieldsThatAreSet": ["Status"],
        },
    ),
    "price_lists": (
        [{"Code": "PL1", "Name": "Retail", "CurrencyCode": "SEK"}],
        {"AccountId": A, "PriceListFieldsThatAreSet": ["Name", "CurrencyCode"]},
    ),
    "onhands": (
        [{"PartNo": "A1", "WarehouseCode": "W1", "LocationCode": "L1", "OnhandValue": 5}],
        {"AccountId": A, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]},
    ),
    "sku_prices": (
        [{"PartNo": "A1", "PriceListCode": "PL1", "QuantityBreak": 1, "PriceSale": 9.5}],
        {"AccountId": A, "SkuPriceListFieldsThatAreSet": ["PriceSale"]},
    ),
    "relations": (
        [{"PartNo": "A1", "RelatedPartNo": "A1", "RelationTypeCode": "ACC", "IsActive": True}],
        {"AccountId": A, "RelationFieldsThatAreSet": ["IsActive"]},
    ),
    "competitor_skus": (
        [
            {
                "PartNo": "A1",
                "Source": "web",
                "CompetitorCode": "C1",
                "CompetitorPartNo": "X",
                "PriceSale": 10.0,
                "PriceSaleInclFreight": 12.0,
                "IsPricesInclVat": True,
                "IsInStock": True,
                "CompetitorName": "Rival",
            }
        ],
        {"AccountId": A, "CompetitorSkuFieldsThatAreSet": ["CompetitorName"]},
    ),
    "customers": (
        [{"Code": "CU1", "EmailAddress": "a@b.se", "FirstName": "Ann", "IsActive": True}],
        {"AccountId": A, "CustomerFieldsThatAreSet": ["EmailAddress", "FirstName", "IsActive"]},
    ),
    "companies": (
        [{"Code": "CO1", "Name": "Acme AB", "IsActive": True, "ApplicationKey": APP}],
        {"AccountId": A, "CompanyFieldsThatAreSet": ["Name", "IsActive"]},
    ),
    "supplier_products": (
        [{"SupplierPartNo": "S1", "ProductName": "Thing"}],
        {"AccountId": A, "FieldsThatAreSet": ["ProductName"]},
    ),
}
ONHAND = {"AccountId": A, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]}
COMPANY = {"AccountId": A, "CompanyFieldsThatAreSet": ["Name"]}
FAST = RetryPolicy(attempts=8, backoff=0.05, max_backoff=0.5)


def _client(server: Any, *, budget: RequestBudget | None = None, **overrides: Any) -> ConnectClient:
    """A client with its own budget (the session sandbox is reset between tests, our budget too)."""
    return ConnectClient(
        server.profile(**overrides), retry=FAST, budget=budget or RequestBudget(60, window=60.0)
    )


def _count(stats: dict[str, Any], status: str) -> int:
    return sum(by.get(status, 0) for by in stats["requests"].values())


def _onhand(n: int) -> list[dict[str, Any]]:
    return [{"PartNo": f"A{n}", "WarehouseCode": "W1", "LocationCode": "L1", "OnhandValue": n}]


@pytest.fixture
def tls(tls_sandbox: Any) -> Iterator[Any]:
    tls_sandbox.reset()
    yield tls_sandbox
    tls_sandbox.reset()


@pytest.fixture
def plain(sandbox_clean: Any) -> Iterator[Any]:
    yield sandbox_clean
    sandbox_clean.reset()


# --- 1. token, the nine imports, the Job API, over TLS with the sandbox's CA bundle --------------
def test_everything_over_tls(tls: Any) -> None:
    with _client(tls) as client:
        assert client.ping() is True
        ids = {}
        for entity, (items, header) in ITEMS.items():
            response = client.import_items(entity, items, header)
            assert response.validation.total == len(items)
            ids[entity] = response.job_id
            assert client.wait_for_job(response.job_id, timeout=20, poll_interval=0.05).succeeded
        assert {j.job_id for j in client.list_jobs()} >= set(ids.values())
        job = client.get_job(ids["onhands"])
        assert job.status is JobStatus.Succeeded and job.totals == 1 and job.stop is not None
        assert isinstance(client.job_log(ids["onhands"]), list)
        again = client.restart_job(ids["onhands"])
        assert again.job_id not in ids.values()
        assert client.wait_for_job(again.job_id, timeout=20, poll_interval=0.05).succeeded
        assert len(client.wait_for_jobs(ids.values(), timeout=20, poll_interval=0.05)) == 9
    for entity in ENTITIES:
        assert entity == "sku_prices" or tls.items(entity), entity
    assert tls.stats()["jobs"] == {"Succeeded": 10}


def test_job_prefix_with_api(plain: Any) -> None:
    with _client(plain, job_prefix="api/Job/") as client:
        job_id = client.import_items("onhands", *ITEMS["onhands"]).job_id
        assert client.wait_for_job(job_id, timeout=20, poll_interval=0.05).succeeded


# --- 2. short token lifetimes, and one renewal on a 401 ------------------------------------------
def test_two_second_tokens_keep_working(plain: Any) -> None:
    plain.configure(token_ttl=2)
    with _client(plain) as client:
        started = time.monotonic()
        while time.monotonic() - started < 4.5:
            assert client.ping() is True
            time.sleep(0.2)
    stats = plain.stats()["requests"]
    assert stats["POST /identity/1.0/connect/token"]["200"] >= 3
    assert "401" not in stats["GET /commerce/connect/4.0/Job/Ping"]  # renewed before expiry


def test_a_401_leads_to_one_renewal_and_a_retry(plain: Any) -> None:
    with _client(plain) as client:
        assert client.ping()
        plain.advance_clock(3700)  # the server's token expired; the client's clock says it is fresh
        job_id = client.import_items("onhands", *ITEMS["onhands"]).job_id
    stats = plain.stats()["requests"]
    assert stats["POST /commerce/connect/4.0/Product/ImportOnhands"] == {"200": 1, "401": 1}
    assert stats["POST /identity/1.0/connect/token"] == {"200": 2}
    with _client(plain) as client:
        assert [j.job_id for j in client.list_jobs()] == [job_id]


# --- 3. the budget: no 429 at all, in one process and in two ------------------------------------
def test_130_calls_within_a_60_per_window_limit_get_no_429(plain: Any) -> None:
    plain.configure(rate_limit=60, rate_window=2.0)
    started = time.monotonic()
    with _client(plain, budget=RequestBudget(60, window=2.0)) as client:
        results = [client.ping() for _ in range(130)]
    assert all(results) and _count(plain.stats(), "429") == 0
    assert plain.stats()["requests"]["GET /commerce/connect/4.0/Job/Ping"] == {"200": 130}
    assert time.monotonic() - started >= 4.0  # it had to wait: 130 calls need three windows


_WORKER = textwrap.dedent("""
    import json, os, sys, time
    from toolkit.config import Profile, Secret
    from toolkit.connect import ConnectClient, shared_budget
    base, state_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    profile = Profile("sandbox", base, "sandbox", "sandbox",
                      client_secret=Secret(os.environ["SANDBOX_SECRET"]))
    budget = shared_budget("sandbox", 20, window=2.0, state_dir=state_dir)
    with ConnectClient(profile, budget=budget, state_dir=state_dir) as client:
        for _ in range(n):
            ok = client.ping()
            print(json.dumps([time.time(), ok]), flush=True)
""")


def test_two_processes_sharing_a_state_dir_stay_under_the_limit(plain: Any, tmp_path: Path) -> None:
    plain.configure(rate_limit=20, rate_window=2.0)
    env = {**os.environ, "SANDBOX_SECRET": plain.client_secret}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, plain.base_url, str(tmp_path), "25"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    rows = [json.loads(line) for out in outs for line in out.split("\n") if line]
    assert len(rows) == 50 and all(ok for _, ok in rows)
    assert _count(plain.stats(), "429") == 0
    spent = json.loads((tmp_path / "budget" / "sandbox.json").read_text())["spent"]
    assert len(spent) <= 20


# --- 4. retries: 500s, 429s and dropped connections; a 400 at once; a timeout after sending ----
def _submit_once(client: ConnectClient, items: list[dict[str, Any]]) -> tuple[int, bool]:
    """What a caller does with OutcomeUnknown: look in Job/List before sending again."""
    while True:
        before = {j.job_id for j in client.list_jobs()}
        try:
            return client.import_items("companies", items, COMPANY).job_id, False
        except OutcomeUnknown:
            new = [j.job_id for j in client.list_jobs() if j.job_id not in before]
            if new:
                return new[0], True


def test_faults_end_with_every_import_accepted_exactly_once(plain: Any) -> None:
    plain.set_faults(
        seed=4,
        drop=1,
        error_500={"next": 2, "rate": 0.15},
        error_429={"next": 1, "rate": 0.05},
        drop_after_accept=1,
        retry_after=1,
        scope="imports",
    )
    with _client(plain) as client:
        companies = [[{"Code": f"CO{n}", "Name": f"Company {n}", "ApplicationKey": APP}] for n in range(8)]
        outcomes = [_submit_once(client, items) for items in companies]
        jobs = client.wait_for_jobs([i for i, _ in outcomes], timeout=30, poll_interval=0.05)
    injected = plain.stats()["faults"]
    assert injected["drop"] >= 1 and injected["error_500"] >= 2 and injected["error_429"] >= 1
    assert injected["drop_after_accept"] == 1 and sum(lost for _, lost in outcomes) == 1
    assert all(j.succeeded for j in jobs.values())
    plain.set_faults()
    with _client(plain) as client:
        listed = client.list_jobs()
    assert sorted(j.job_id for j in listed) == sorted(jobs) and len(listed) == 8
    assert sorted(i["Code"] for i in plain.items("companies")) == [f"CO{n}" for n in range(8)]


def test_a_400_raises_at_once_with_the_servers_message(plain: Any) -> None:
    with _client(plain) as client, pytest.raises(ConnectAPIError) as info:
        client.import_items("onhands", _onhand(1), {"SkuOnhandFieldsThatAreSet": ["OnhandValue"]})
    error = info.value
    assert error.status == 400 and error.endpoint == "Product/ImportOnhands"
    assert error.server_message and "AccountId" in error.server_message
    assert error.server_message in str(error)
    assert plain.stats()["requests"]["POST /commerce/connect/4.0/Product/ImportOnhands"] == {"400": 1}


def test_a_read_timeout_after_sending_raises_outcome_unknown(plain: Any) -> None:
    plain.set_faults(latency=1, latency_seconds=1.5, scope="imports")
    with _client(plain, timeout_seconds=0.5) as client:
        with pytest.raises(OutcomeUnknown, match="may have been accepted") as info:
            client.import_items("onhands", _onhand(1), ONHAND, batch="batch-1")
        assert info.value.batch == "batch-1" and info.value.endpoint == "Product/ImportOnhands"
        time.sleep(1.2)
        assert len(client.list_jobs()) == 1  # it was accepted, and sent once
    assert plain.stats()["requests"]["POST /commerce/connect/4.0/Product/ImportOnhands"] == {"200": 1}


# --- 5. plain http to a remote host, and a failed TLS verification -------------------------------
def test_http_to_a_remote_host_is_refused(plain: Any) -> None:
    with pytest.raises(ConfigError, match=r"refusing http:// to 'connect\.example\.com'"):
        ConnectClient(plain.profile(base_url="http://connect.example.com"))


def test_a_failed_tls_verification_is_a_clear_error(tls: Any) -> None:
    with ConnectClient(tls.profile(ca_bundle=None)) as client:
        with pytest.raises(ConnectAPIError, match=r"TLS verification of 127\.0\.0\.1:.* failed") as info:
            client.get_job(1)
        assert "ca_bundle" in str(info.value)
        with pytest.raises(ConnectAPIError, match="TLS verification"):
            client.ping()
    assert tls.stats()["requests"] == {}


# --- 6. the secret and the token never show -----------------------------------------------------
def test_secret_and_token_never_appear(plain: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    plain.set_faults(error_500=1, error_429=1, retry_after=1)
    errors: list[str] = []
    with _client(plain) as client:
        job_id = client.import_items("onhands", _onhand(1), ONHAND).job_id
        token = client._auth.token
        plain.advance_clock(3700)
        client.wait_for_job(job_id, timeout=20, poll_interval=0.05)
        for call in (lambda: client.import_items("onhands", _onhand(2), {}), lambda: client.get_job(10**6)):
            with pytest.raises(ConnectAPIError) as info:
                call()
            errors += [str(info.value), repr(info.value), str(info.value.server_message)]
        shown = repr(client)
    wrong = plain.profile(client_secret=Secret("wrong"))
    with ConnectClient(wrong, budget=RequestBudget(60)) as other, pytest.raises(ConnectAPIError) as info:
        other.ping()
    errors += [str(info.value), repr(info.value)]
    assert token and shown == f"ConnectClient(profile='sandbox', base_url='{plain.base_url}')"
    text = "\n".join([caplog.text, shown, *errors])
    assert "Job/Get" in caplog.text and "toolkit.connect" in caplog.text
    assert plain.client_secret not in text and token not in text
