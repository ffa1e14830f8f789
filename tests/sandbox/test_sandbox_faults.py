"""Acceptance 7: injected faults (500, 429, latency, dropped connections, failed jobs), reproducible
with a seed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow
PING = "/commerce/connect/4.0/Job/Ping"
HEADER = {"CompanyFieldsThatAreSet": ["Name"]}
KEY = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # Company.ApplicationKey, required by the contract


def company(code: str, **members: Any) -> dict[str, Any]:
    return {"Code": code, "ApplicationKey": KEY, **members}


def _outcomes(api: Any, n: int) -> list[str]:
    out = []
    for i in range(n):
        try:
            r = api.post_import("companies", [company(f"C{i}", Name="x")], api.header(**HEADER))
            out.append(str(r.status_code))
        except httpx.TransportError:
            out.append("dropped")
    return out


def test_same_seed_gives_the_same_sequence_of_faults(api: Any) -> None:
    spec = {"seed": 42, "error_500": 0.2, "error_429": 0.2, "drop": 0.1}
    api.admin("settings", {"rate_limit": 1000})
    api.admin("faults", spec)
    first = _outcomes(api, 30)
    injected = api.http.get("/_sandbox/faults").json()["injected"]
    api.admin("faults", spec)
    second = _outcomes(api, 30)
    assert first == second
    assert {"200", "500", "429", "dropped"} <= set(first)
    assert [f["fault"] for f in api.http.get("/_sandbox/faults").json()["injected"]] == [
        f["fault"] for f in injected
    ]
    api.admin("faults", {**spec, "seed": 7})
    assert _outcomes(api, 30) != first


def test_next_n_500s_and_429s_with_retry_after(api: Any) -> None:
    h = api.auth()
    api.admin("faults", {"error_500": 2, "error_429": 1, "retry_after": 3})
    responses = [api.http.get(PING, headers=h) for _ in range(4)]
    assert [r.status_code for r in responses] == [500, 500, 429, 200]
    assert responses[2].headers["Retry-After"] == "3"
    assert api.http.get("/_sandbox/stats").json()["faults"] == {"error_500": 2, "error_429": 1}


def test_latency_after_the_import_is_accepted_makes_the_outcome_unknown(api: Any) -> None:
    api.admin("faults", {"latency": 1, "latency_seconds": 1.0})
    with pytest.raises(httpx.ReadTimeout):
        api.post_import("companies", [company("C1", Name="x")], api.header(**HEADER), timeout=0.3)
    jobs = api.http.get("/commerce/connect/4.0/Job/List", headers=api.auth()).json()
    assert len(jobs) == 1  # the job exists although the client never saw its id
    assert api.wait(jobs[0]["JobId"])["StatusId"] == 2
    assert api.items("companies") == [company("C1", Name="x")]


def test_dropped_connection_before_and_after_accept(api: Any) -> None:
    api.admin("faults", {"drop": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        api.post_import("companies", [company("C1")], api.header(**HEADER))
    assert api.http.get("/_sandbox/stats").json()["jobs"] == {}
    api.admin("faults", {"drop_after_accept": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        api.post_import("companies", [company("C2", Name="y")], api.header(**HEADER))
    jobs = api.http.get("/commerce/connect/4.0/api/Job/List", headers=api.auth()).json()
    assert len(jobs) == 1 and api.wait(jobs[0]["JobId"])["StatusId"] == 2
    stats = api.http.get("/_sandbox/stats").json()
    assert stats["requests"]["POST /commerce/connect/4.0/Customer/ImportCompanies"] == {"dropped": 2}


def test_a_dropped_connection_is_a_close_never_a_reset(api: Any) -> None:
    """The whole request is taken before the drop: closing with its body unread would be a reset."""
    for n in range(30):
        api.admin("faults", {"drop": 1})  # and the import goes on this warm connection, as in a feed
        with pytest.raises(httpx.RemoteProtocolError):
            api.post_import("companies", [company(f"C{n}", Name="x" * 2000)], api.header(**HEADER))


def test_jobs_that_end_failed(api: Any) -> None:
    api.admin("faults", {"job_failed": {"next": 1}})
    failed = api.run("companies", [company("C1", Name="x")], api.header(**HEADER))
    ok = api.run("companies", [company("C2", Name="y")], api.header(**HEADER))
    assert (failed["StatusId"], ok["StatusId"]) == (3, 2)
    assert any(e["SeverityId"] == 3 and "injected" in e["Message"] for e in api.log(failed["JobId"]))
    assert api.items("companies") == [company("C2", Name="y")]


def test_faults_at_start_and_bad_fault_specs(sandbox: Any, api: Any) -> None:
    from toolkit.sandbox import serve

    with serve(faults={"error_500": 1}, seed=3) as server:
        r = httpx.get(server.base_url + PING)
        assert r.status_code == 500
        assert server.stats()["faults"] == {"error_500": 1}
    r = api.http.post("/_sandbox/faults", json={"error_501": 1})
    assert r.status_code == 400 and "unknown fault option" in r.json()["Message"]
    r = api.http.post("/_sandbox/faults", json={"error_500": "often"})
    assert r.status_code == 400 and "error_500" in r.json()["Message"]
