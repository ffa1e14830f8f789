"""The sandbox's queue and run-time model: jobs wait their turn, run time grows with items, seeded.

Lead time is queued (the import's answer) to the job's Start, run time is Start to Stop, both read from
what Job/Get returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from toolkit.sandbox.runtime import RunTimeModel

pytestmark = pytest.mark.slow

KEY = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
FIELDS = {"CompanyFieldsThatAreSet": ["Name"]}


def _companies(n: int, tag: str) -> list[dict[str, Any]]:
    return [{"Code": f"{tag}{i}", "ApplicationKey": KEY, "Name": f"Company {i}"} for i in range(n)]


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _run_time(job: dict[str, Any]) -> float:
    return _at(job["Stop"]) - _at(job["Start"])


def _send(api: Any, n: int, tag: str) -> tuple[int, float]:
    """Post ``n`` companies; the job id and when it was queued (the sandbox's clock, read back)."""
    job_id = int(api.post_import("companies", _companies(n, tag), api.header(**FIELDS)).json()["JobId"])
    return job_id, _at(api.log(job_id)[0]["TimeStamp"])


def test_jobs_queue_behind_a_running_one_and_run_time_grows_with_items(api: Any) -> None:
    api.server.configure(run_time_scale=1.0, run_time_base=0.2, run_time_per_item=0.02, run_time_jitter=0.0)
    (small, small_queued), (large, large_queued) = _send(api, 5, "S"), _send(api, 40, "L")
    assert api.job(large)["StatusId"] == 6  # Queued while the first one runs
    first, second = api.wait(small), api.wait(large)
    assert (first["StatusId"], second["StatusId"]) == (2, 2)
    assert _run_time(first) == pytest.approx(0.3, abs=0.15)
    assert _run_time(second) == pytest.approx(1.0, abs=0.2)
    # the second job started when the first one stopped: its lead time is the first one's run time
    assert _at(second["Start"]) >= _at(first["Stop"])
    assert _at(second["Start"]) - large_queued >= 0.25
    assert _at(first["Start"]) - small_queued < 0.2
    assert second["RunTime"].startswith("00:00:01") or second["RunTime"].startswith("00:00:00.")


def test_the_default_takes_no_time_and_the_jitter_is_seeded(api: Any) -> None:
    job = api.wait(_send(api, 50, "D")[0])
    assert _run_time(job) < 0.2
    settings = api.server.configure(run_time_scale=1.0, run_time_base=0.3, run_time_per_item=0.0)
    assert (settings["run_time_jitter"], settings["run_time_seed"]) == (0.25, 0)
    model = RunTimeModel(scale=1.0, base=0.3, per_item=0.0)
    times = [model.seconds(i, items=0) for i in range(1, 6)]
    assert len(set(times)) == 5 and all(0.225 <= t <= 0.375 for t in times)
    job = api.wait(_send(api, 1, "J")[0])
    assert _run_time(job) == pytest.approx(model.seconds(job["JobId"], items=1), abs=0.1)
