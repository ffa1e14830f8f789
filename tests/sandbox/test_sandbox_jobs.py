"""Acceptance 4: job lifecycle, true counts, and the restart rules (injected clock)."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.slow

KEY = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # Company.ApplicationKey, required by the contract
COMPANIES = [{"Code": f"CO{i}", "ApplicationKey": KEY, "Name": f"Company {i}"} for i in range(5)]
FIELDS = {"CompanyFieldsThatAreSet": ["Name"]}


def _statuses(api: Any, job_id: int, timeout: float = 10.0) -> list[int]:
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.job(job_id)["StatusId"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in (2, 3, 4):
            break
        time.sleep(0.01)
    return seen


def test_status_sequence_and_true_counts(api: Any) -> None:
    api.run("companies", COMPANIES[:2], api.header(**FIELDS))
    api.server.configure(job_delay=0.3)
    changed = [{**c, "Name": "Renamed"} for c in COMPANIES]
    r = api.post_import("companies", changed, api.header(**FIELDS))
    job_id = int(r.json()["JobId"])
    seen = _statuses(api, job_id)
    # Queued, Validating, Initialized, Succeeded (a loaded machine may poll past a middle stage)
    assert seen[0] == 6 and seen[-1] == 2 and seen == [s for s in (6, 5, 1, 2) if s in seen]
    job = api.job(job_id)
    assert (job["Totals"], job["Inserts"], job["Updates"], job["Fail"]) == (5, 3, 2, 0)
    assert job["IsFinished"] and job["RunTime"].startswith("00:00:0")
    messages = [e["Message"] for e in api.log(job_id)]
    assert messages[:3] == ["Queued", "Validating", "Initialized"] and messages[-1] == "Succeeded"


def test_jobs_run_in_order(api: Any) -> None:
    api.server.configure(job_delay=0.02)
    bodies = [[{**COMPANIES[0], "Name": n}] for n in ("one", "two", "three")]
    ids = [int(api.post_import("companies", body, api.header(**FIELDS)).json()["JobId"]) for body in bodies]
    jobs = [api.wait(i) for i in ids]
    assert [j["StatusId"] for j in jobs] == [2, 2, 2]
    assert [j["Inserts"] for j in jobs] == [1, 0, 0]
    assert jobs[0]["Stop"] <= jobs[1]["Stop"] <= jobs[2]["Stop"]
    assert api.items("companies") == [{**COMPANIES[0], "Name": "three"}]


BAD = [
    {"Code": "OK", "ApplicationKey": KEY},
    {"Name": "no key", "ApplicationKey": KEY},
    {"Code": 5, "ApplicationKey": KEY},
]


def test_validation_failed_job(api: Any) -> None:
    """A body that breaks the contract is refused with 400 naming each path; no job exists."""
    r = api.post_import("companies", BAD, api.header(**FIELDS))
    assert r.status_code == 400 and "JobId" not in r.json()
    assert r.json()["StatusCode"] == "ValidationFailed"
    summary = r.json()["ValidationSummary"]
    assert (summary["NrOfItemsInTotal"], summary["NrOfValidationFailures"]) == (3, 2)
    assert [m.split(":")[0] for m in summary["Messages"]] == ["$[1]", "$[2].Code"]
    assert "Id, Code, OrganizationNo" in summary["Messages"][0]
    assert api.http.get("/commerce/connect/4.0/Job/List", headers=api.auth()).json() == []
    assert api.items("companies") == []


def test_validation_failed_job_with_the_contract_check_off(api: Any) -> None:
    api.lenient()  # Connect answers 400 (above); this covers the sandbox's own per-item check, status 4
    r = api.post_import("companies", BAD, api.header(**FIELDS))
    summary = r.json()["ValidationSummary"]
    assert (summary["NrOfItemsInTotal"], summary["NrOfValidationFailures"]) == (3, 2)
    assert "missing key Code" in summary["Messages"][0]
    job = api.wait(int(r.json()["JobId"]))
    assert (job["StatusId"], job["Fail"], job["IsFinished"]) == (4, 2, True)
    assert api.items("companies") == []
    errors = [e for e in api.log(job["JobId"]) if e["SeverityId"] == 3]
    assert [e["ImportedRow"] for e in errors] == [2, 3]
    r = api.restart(job["JobId"])
    assert r.status_code == 400 and "ValidationFailed" in r.json()["Message"]


def test_restart_refused_while_running(api: Any) -> None:
    api.server.configure(job_delay=0.5)
    job_id = int(api.post_import("companies", COMPANIES, api.header(**FIELDS)).json()["JobId"])
    r = api.restart(job_id)
    assert r.status_code == 400
    assert r.json()["Message"].startswith(f"job {job_id} is ")
    assert "only Succeeded or Failed jobs can be restarted" in r.json()["Message"]
    api.server.configure(job_delay=0.0)


def test_restart_after_success_reapplies_the_payload_as_a_new_job(api: Any) -> None:
    job = api.run("companies", COMPANIES[:1], api.header(**FIELDS))
    api.run("companies", [{**COMPANIES[0], "Name": "changed meanwhile"}], api.header(**FIELDS))
    r = api.restart(job["JobId"])
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"StatusCode", "Description", "JobId", "ValidationSummary"}
    new = api.wait(int(body["JobId"]))
    assert new["JobId"] > job["JobId"] and (new["StatusId"], new["Updates"]) == (2, 1)
    assert api.items("companies") == COMPANIES[:1]


def test_restart_after_failure_and_not_after_14_days(api: Any) -> None:
    api.admin("faults", {"job_failed": 1})
    failed = api.run("companies", COMPANIES[:1], api.header(**FIELDS))
    assert failed["StatusId"] == 3 and api.items("companies") == []
    api.server.advance_clock(13 * 86400)
    api._token = None  # the old token expired with the clock
    r = api.restart(failed["JobId"])
    assert r.status_code == 200
    assert api.wait(int(r.json()["JobId"]))["StatusId"] == 2
    assert api.items("companies") == COMPANIES[:1]
    api.server.advance_clock(2 * 86400)  # 15 days after the first job started
    api._token = None  # the old token expired with the clock
    r = api.restart(failed["JobId"])
    assert r.status_code == 400 and "can no longer be restarted" in r.json()["Message"]
    assert api.restart(424242).status_code == 404
