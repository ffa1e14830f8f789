"""Progress that tells the truth: waits with their reason and length, jobs as their status changes,
silence without a terminal, and the waiting figures in the CLI's result line.

The server tests run against the real sandbox: its 429 fault with ``Retry-After``, its job stages
(``job_delay`` seconds each in Queued, Validating and Initialized) and a small request budget.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.stock import stock_settings

from toolkit.cli import EXIT_OK, main
from toolkit.config import Settings
from toolkit.connect import ConnectClient
from toolkit.connect.budget import RequestBudget
from toolkit.connect.transport import RateLimitTransport, RetryTransport
from toolkit.feeds import plan_feed
from toolkit.ledger import Ledger
from toolkit.outcomes import Outcome
from toolkit.progress import ProgressBar, WaitEvents, eta_seconds
from toolkit.runs import plan_and_submit, submit
from toolkit.snapshots import SnapshotStore

ORDER = ["Queued", "Validating", "Initialized", "Succeeded"]


# --- the ETA and the reasons, without a server -------------------------------------------------
def test_the_eta_counts_a_retry_after_before_the_requests_left() -> None:
    assert eta_seconds(3, rate=60) == 3.0
    assert eta_seconds(3, rate=60, waiting=24.0) == 27.0  # was "eta=3s" for 24 s
    assert eta_seconds(3, rate=30, waiting=24.0) == 30.0
    assert eta_seconds(0, rate=60, waiting=-1.0) == 0.0


def test_a_wait_event_carries_the_wait_in_its_eta_and_the_bar_shows_it() -> None:
    told: list[dict[str, Any]] = []
    where = {"event": "send", "feed": "stock", "batches": 3, "accepted": 0, "requests_left": 3, "eta_s": 3.0}
    WaitEvents(told.append, rate=60, where=where)(24.0, "429 Retry-After")
    assert told == [{**where, "event": "wait", "seconds": 24.0, "why": "429 Retry-After", "eta_s": 27.0}]
    bar = ProgressBar(file=io.StringIO())
    bar({**where, "event": "start"})
    bar(told[0])
    assert bar.text == "waiting 24s: 429 Retry-After, requests_left=3, eta=27s"
    bar({**where, "event": "batch", "accepted": 1, "requests_left": 2, "eta_s": 2.0})
    assert bar.text == "requests_left=2, eta=2s"  # the wait is over


def test_the_retry_transport_says_why_it_waits() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(503), httpx.Response(200)]
    )
    told: list[tuple[float, str]] = []
    retry = RetryTransport(
        httpx.MockTransport(lambda request: next(answers)),
        sleep=lambda s: None,
        clock=lambda: 0.0,
        on_wait=lambda s, why: told.append((s, why)),
    )
    assert retry.handle_request(httpx.Request("GET", "https://x.test/Job/Get")).status_code == 200
    assert [why for _, why in told] == ["429 Retry-After", "retry after 503"] and told[0][0] == 7.0


def test_the_budget_says_it_paces() -> None:
    now = [0.0]
    budget = RequestBudget(
        1, window=10.0, margin=0.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    told: list[tuple[float, str]] = []
    limited = RateLimitTransport(
        httpx.MockTransport(lambda request: httpx.Response(200)),
        budget,
        on_wait=lambda s, why: told.append((s, why)),
    )
    for _ in range(2):
        limited.handle_request(httpx.Request("GET", "https://x.test/Job/Get"))
    assert told == [(10.0, "rate limit 1/10s")]


def test_the_summary_counts_retries_apart_from_the_rate_limit() -> None:
    now = [100.0]
    bar = ProgressBar(disable=True, clock=lambda: now[0])
    assert bar.summary() == "took 0s"
    for seconds, why in [(3.0, "rate limit 60/min"), (2.0, "429 Retry-After"), (1.0, "retry after 503")]:
        bar({"event": "wait", "seconds": seconds, "why": why})
    now[0] = 110.0
    assert bar.summary() == "took 10s (5s waiting for the rate limit, 1s for retries)"


# --- against the sandbox -----------------------------------------------------------------------
def workspace(root: Path, sandbox: Any, values: list[int]) -> Settings:
    settings = stock_settings(root, sandbox, values)
    sandbox.configure(rate_limit=100_000)  # no incidental 429s from fast job polling
    return settings


def send(settings: Settings, progress: Any, *, poll_interval: float = 0.05) -> Outcome:
    outcome = plan_and_submit(
        settings, "stock", wait=True, progress=progress, timeout=60.0, poll_interval=poll_interval
    )
    assert isinstance(outcome, Outcome) and outcome.succeeded, outcome
    return outcome


@pytest.mark.slow
def test_a_429_with_retry_after_is_a_wait_event_and_shows_on_the_bar(
    tmp_path: Path, sandbox_clean: Any
) -> None:
    settings = workspace(tmp_path, sandbox_clean, [1, 2, 3, 4, 5, 6, 7])
    sandbox_clean.set_faults(error_429={"next": 1}, retry_after=2, scope="imports")
    events: list[dict[str, Any]] = []
    out = io.StringIO()
    bar = ProgressBar(file=out)
    send(settings, lambda e: (events.append(e), bar(e)))
    waits = [e for e in events if e["event"] == "wait"]
    assert [(w["seconds"], w["why"]) for w in waits] == [(2.0, "429 Retry-After")], waits
    assert waits[0]["accepted"] == 0 and waits[0]["requests_left"] == 3 and waits[0]["eta_s"] >= 2.0
    assert "waiting 2s: 429 Retry-After" in out.getvalue()
    assert bar.waited["the rate limit"] == 2.0 and "2s waiting for the rate limit" in bar.summary()


@pytest.mark.slow
def test_the_client_budget_pacing_is_a_wait_event(tmp_path: Path, sandbox_clean: Any) -> None:
    settings = workspace(tmp_path, sandbox_clean, [1, 2, 3, 4, 5, 6, 7])
    store = SnapshotStore(settings.state_dir / "snapshots")
    plan = plan_feed(settings, "stock", store=store)
    events: list[dict[str, Any]] = []
    budget = RequestBudget(2, window=1.0, margin=0.0)  # the token request and 3 imports: 2 waits
    with (
        ConnectClient(settings.profile_of("stock"), budget=budget) as client,
        Ledger(settings.state_dir / "ledger.sqlite") as ledger,
    ):
        submit(plan, client, ledger, progress=events.append)
        assert client.on_wait is None  # the hook lives only as long as the submission
    waits = [e for e in events if e["event"] == "wait"]
    assert waits and {w["why"] for w in waits} == {"rate limit 2/1s"}, waits
    assert all(0 < w["seconds"] <= 1.0 and w["eta_s"] >= w["seconds"] for w in waits)


@pytest.mark.slow
def test_job_events_follow_each_status_change_with_a_line_per_job(tmp_path: Path, sandbox_clean: Any) -> None:
    settings = workspace(tmp_path, sandbox_clean, [1, 2, 3, 4, 5, 6, 7])
    sandbox_clean.configure(job_delay=0.3)
    events: list[dict[str, Any]] = []
    out = io.StringIO()
    bar = ProgressBar(file=out)
    outcome = send(settings, lambda e: (events.append(e), bar(e)))
    jobs = [e for e in events if e["event"] == "job"]
    ids = [j.job_id for j in outcome.jobs]
    assert len(ids) == 3 and {e["job_id"] for e in jobs} == set(ids)
    for job_id in ids:
        seen = [e["status"] for e in jobs if e["job_id"] == job_id]
        assert seen[-1] == "Succeeded" and len(seen) >= 2, seen  # it was watched while it ran
        assert seen == sorted(seen, key=ORDER.index) and len(set(seen)) == len(seen), seen
    assert [e["finished"] for e in jobs] == sorted(e["finished"] for e in jobs)
    assert jobs[-1]["finished"] == jobs[-1]["jobs"] == 3
    text = out.getvalue()
    lines = [f"job {i}: Succeeded, {n}, " for i, n in zip(ids, ["3 items", "3 items", "1 item"], strict=True)]
    assert all(line in text for line in lines), text
    assert "stock jobs" in text and bar.finished == 3 and bar.jobs_waited is not None
    assert bar.jobs_waited >= 0.6  # at least two stages of 0.3 s


@pytest.mark.slow
@pytest.mark.parametrize("disable", [True, None])
def test_a_disabled_bar_writes_nothing_but_keeps_the_figures(
    tmp_path: Path, sandbox_clean: Any, disable: bool | None
) -> None:
    settings = workspace(tmp_path, sandbox_clean, [1, 2, 3, 4])
    sandbox_clean.set_faults(error_429={"next": 1}, retry_after=1, scope="imports")
    out = io.StringIO()  # not a terminal: disable=None is silent too
    bar = ProgressBar(file=out, disable=disable)
    send(settings, bar)
    assert out.getvalue() == ""
    assert bar.n == 2 and bar.finished == 2 and bar.waited["the rate limit"] == 1.0


@pytest.mark.slow
def test_the_cli_result_line_says_how_long_it_waited(
    tmp_path: Path, sandbox_clean: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in sandbox_clean.environ().items():
        monkeypatch.setenv(key, value)
    settings = workspace(tmp_path, sandbox_clean, [1, 2, 3, 4, 5])
    sandbox_clean.set_faults(error_429={"next": 1}, retry_after=2, scope="imports")
    assert main(["submit", "stock", "--yes", "--wait", "--settings", str(settings.path)]) == EXIT_OK
    said = capsys.readouterr()
    (line,) = [x for x in said.out.splitlines() if "jobs succeeded" in x]
    assert "(stock): 2/2 jobs succeeded; baseline is now " in line, line
    assert "; took " in line and "(2s waiting for the rate limit, " in line and "s for jobs)" in line, line
    assert "waiting" not in said.err and "batches" not in said.err, said.err  # no terminal: no bar
