"""Issue 7 acceptance against the real sandbox, the real client and real plans (plan_feed).

One sandbox serves the module; each test resets it and writes its own workspace (norce.toml, a
companies CSV, a state directory). Small ``max_items`` give every plan several batches.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from toolkit.cli import main
from toolkit.config import Settings, load_settings
from toolkit.ledger import Ledger
from toolkit.outcomes import OUTCOME_SCHEMA
from toolkit.records import Reason
from toolkit.runs import (
    Outcome,
    Submission,
    job_outcomes,
    open_run,
    plan_and_submit,
    restart_feed_job,
    resume_feed,
    submit,
    wait_for_jobs,
)

pytestmark = pytest.mark.slow

SECRET = "e2e-client-secret-9f3a1c"
COLUMNS = ["Code", "Name", "OrganizationNo", "EmailAddress", "IsActive"]
FAST_WAIT = {"timeout": 60.0, "poll_interval": 0.05}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(client_secret=SECRET, rate_limit=100_000) as server:
        yield server


@pytest.fixture
def sb(sandbox: Any) -> Any:
    sandbox.reset()
    sandbox.set_faults()
    return sandbox


def toml(*, max_items: int = 3, timeout: float = 10.0) -> str:
    return textwrap.dedent(f"""\
        [settings]
        state_dir = ".norce"

        [profiles.sandbox]
        base_url = "http://127.0.0.1:9"
        client_id = "sandbox"
        scope = "sandbox"
        application_key = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
        rate_limit_per_minute = 100000
        timeout_seconds = {timeout}

        [feeds.companies]
        entity = "companies"
        profile = "sandbox"
        account = "CRM"
        source = "data/companies.csv"

        [feeds.companies.policies]
        max_items = {max_items}
        max_deactivation_ratio = 0.5
        """)


class Workspace:
    """norce.toml + data/companies.csv in a directory; settings read with the sandbox's environment."""

    def __init__(self, root: Path, sandbox: Any, **options: Any) -> None:
        self.root, self.sandbox = root, sandbox
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "norce.toml").write_text(toml(**options), encoding="utf-8")
        self.rows: dict[str, dict[str, Any]] = {}

    @property
    def environ(self) -> dict[str, str]:
        return dict(self.sandbox.environ())

    @property
    def settings(self) -> Settings:
        return load_settings(self.root / "norce.toml", environ=self.environ)

    def write(self, rows: dict[str, dict[str, Any]]) -> None:
        self.rows = rows
        frame = pl.DataFrame(
            [{"Code": k, **v} for k, v in rows.items()], schema_overrides={"IsActive": pl.String}
        )
        frame.write_csv(self.root / "data" / "companies.csv")

    def catalog(self) -> pl.DataFrame:
        """The sandbox's active companies, as source-shaped rows."""
        items = [i for i in self.sandbox.items("companies") if i.get("IsActive", True)]
        frame = pl.DataFrame(
            [{c: i.get(c) for c in COLUMNS[:-1]} for i in items], schema={c: pl.String for c in COLUMNS[:-1]}
        )
        return frame.sort("Code")

    def source(self) -> pl.DataFrame:
        frame = pl.DataFrame([{"Code": k, **v} for k, v in self.rows.items()])
        return frame.select(COLUMNS[:-1]).cast(pl.String).sort("Code")

    def assert_catalog_is_source(self) -> None:
        assert_frame_equal(self.catalog(), self.source())


def companies(n: int, *, start: int = 0, name: str = "Company") -> dict[str, dict[str, Any]]:
    return {
        f"C{i:03d}": {
            "Name": f"{name} {i}",
            "OrganizationNo": f"556000-{i:04d}",
            "EmailAddress": f"info{i}@example.com",
            "IsActive": "true",
        }
        for i in range(start, start + n)
    }


@pytest.fixture
def ws(tmp_path: Path, sb: Any, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    for key, value in sb.environ().items():  # for the CLI, which reads the environment
        monkeypatch.setenv(key, value)
    return Workspace(tmp_path, sb)


def run(ws: Workspace, **options: Any) -> tuple[Any, Any]:
    """plan_and_submit with --yes --wait semantics; returns (plan, outcome)."""
    plans: list[Any] = []
    result = plan_and_submit(
        ws.settings, "companies", wait=True, confirm=lambda p: plans.append(p) or True, **FAST_WAIT, **options
    )
    return plans[0], result


def baseline_id(ws: Workspace) -> str | None:
    with open_run(ws.settings, "companies") as r:
        ref = r.store.baseline("companies")
        return ref.id if ref is not None else None


def sandbox_jobs(ws: Workspace) -> list[Any]:
    with open_run(ws.settings, "companies") as r:
        return r.client.list_jobs()


# --- 1. happy path ---------------------------------------------------------------------------
def test_full_then_two_change_feeds_move_the_baseline(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.write(companies(8))
    plan, outcome = run(ws)
    assert isinstance(outcome, Outcome) and outcome.succeeded, str(outcome)
    assert len(plan.batches) == 3 and outcome.promoted == plan.snapshot.id == baseline_id(ws)
    ws.assert_catalog_is_source()

    rows = companies(8)
    rows["C001"]["Name"] = "Renamed 1"
    rows["C005"]["EmailAddress"] = "new5@example.com"
    rows.update(companies(2, start=8))
    ws.write(rows)
    plan2, outcome2 = run(ws)
    assert plan2.kind == "change" and plan2.baseline.id == plan.snapshot.id
    assert outcome2.succeeded and baseline_id(ws) == plan2.snapshot.id
    ws.assert_catalog_is_source()

    del rows["C003"]
    rows["C007"]["Name"] = "Renamed 7"
    ws.write(rows)
    assert main(
        ["submit", "companies", "--yes", "--wait", "--settings", str(ws.root / "norce.toml")]
    ) == 0 or pytest.fail("CLI submit failed")
    printed = capsys.readouterr().out  # --yes does not ask, but the log still says what was sent
    assert "change feed of companies" in printed and "removed 1 (deactivated 1" in printed
    ws.assert_catalog_is_source()
    with Ledger(ws.settings.state_dir / "ledger.sqlite") as ledger:
        plans = ledger.plans("companies")
        assert [p.state for p in plans] == ["succeeded"] * 3
        assert [p["plan_id"] for p in ledger.promotions("companies")] == [p.id for p in plans]
        assert baseline_id(ws) == plans[-1].snapshot_id


# --- 2. a failing job holds its items back from the baseline, and nothing is lost ------------
def test_failed_job_holds_back_its_items_and_the_next_plan_resends_them(ws: Workspace) -> None:
    ws.write(companies(6))
    first, _ = run(ws)
    rows = companies(6)
    rows["C002"]["Name"] = "Changed 2"
    rows["C004"]["Name"] = "Changed 4"
    ws.write(rows)
    ws.sandbox.set_faults(job_failed={"next": 1})
    _plan, outcome = run(ws)
    assert not outcome.succeeded and outcome.failures[0].status == "Failed" and outcome.failures[0].log
    # the failed batch held both changes back: the partial baseline is the old one for them
    assert outcome.promoted not in (None, first.snapshot.id) and baseline_id(ws) == outcome.promoted
    with pytest.raises(Exception, match="jobs failed"):
        outcome.raise_for_status()
    ws.sandbox.set_faults()

    # the same source against the partial baseline sends exactly the held-back items again
    again, outcome2 = run(ws)
    assert again.baseline.id == outcome.promoted
    assert {i["Code"] for b in again.batches for i in b.items()} == {"C002", "C004"}
    assert outcome2.succeeded and baseline_id(ws) == again.snapshot.id
    ws.assert_catalog_is_source()

    # and once it succeeded, the same source is a quiet day: nothing is sent twice
    jobs = ws.sandbox.stats().get("jobs")
    quiet, _ = run(ws)
    assert quiet.batches == () and ws.sandbox.stats().get("jobs") == jobs


def test_failed_job_restarted_promotes_its_plan(ws: Workspace) -> None:
    ws.write(companies(4))
    run(ws)
    rows = companies(4)
    rows["C001"]["Name"] = "Changed 1"
    ws.write(rows)
    ws.sandbox.set_faults(job_failed={"next": 1})
    plan, outcome = run(ws)
    ws.sandbox.set_faults()
    assert not outcome.succeeded
    restarted = restart_feed_job(ws.settings, outcome.failures[0].job_id, wait=True, **FAST_WAIT)
    assert isinstance(restarted, Outcome) and restarted.succeeded
    assert baseline_id(ws) == plan.snapshot.id
    ws.assert_catalog_is_source()


# --- 3. crash after some batches, resume sends only the rest ---------------------------------
CRASH = """
import os, signal, sys
from toolkit.config import load_settings
from toolkit.runs import plan_and_submit

def killer(event):
    if event["event"] == "batch" and event["accepted"] >= int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)

plan_and_submit(load_settings(sys.argv[1]), "companies", progress=killer)
"""


def test_killed_submission_resumes_with_only_the_remaining_batches(ws: Workspace) -> None:
    (ws.root / "norce.toml").write_text(toml(max_items=2), encoding="utf-8")
    ws.write(companies(10))
    env = {**os.environ, **ws.environ}
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, str(ws.root / "norce.toml"), "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr
    assert len(sandbox_jobs(ws)) == 2
    result = resume_feed(ws.settings, "companies", wait=True, **FAST_WAIT)
    assert isinstance(result, Outcome) and result.succeeded and len(result.jobs) == 5
    jobs = sandbox_jobs(ws)
    assert sorted(j.job_id for j in jobs) == sorted(j.job_id for j in result.jobs)  # each once
    with Ledger(ws.settings.state_dir / "ledger.sqlite") as ledger:
        (plan,) = ledger.plans("companies")
        assert [b.attempts for b in ledger.batches(plan.id)] == [1] * 5
        assert any(e.reason is Reason.STALE_LOCK_BROKEN for e in ledger.events(feed="companies"))
    ws.assert_catalog_is_source()


CRASH_IN_FLIGHT = """
import os, signal, sys, threading
import httpx
from toolkit.config import load_settings
from toolkit.runs import plan_and_submit

def hook(event):
    if event["event"] == "batch" and event["accepted"] == 2:  # the next import answers late
        httpx.post(os.environ["NORCE_SANDBOX_BASE_URL"] + "/_sandbox/faults",
                   json={"latency": {"next": 1}, "latency_seconds": 5.0, "scope": "imports"})
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGKILL)).start()

plan_and_submit(load_settings(sys.argv[1]), "companies", progress=hook)
"""


def test_killed_while_a_batch_is_in_flight_finds_its_job(ws: Workspace) -> None:
    (ws.root / "norce.toml").write_text(toml(max_items=2), encoding="utf-8")
    ws.write(companies(10))
    env = {**os.environ, **ws.environ}
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_IN_FLIGHT, str(ws.root / "norce.toml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr
    assert len(sandbox_jobs(ws)) == 3  # the third was accepted; its answer never arrived
    with Ledger(ws.settings.state_dir / "ledger.sqlite") as ledger:
        (plan,) = ledger.plans("companies")
        assert [b.state for b in ledger.batches(plan.id)][:3] == ["accepted", "accepted", "sending"]
    ws.sandbox.set_faults()
    result = resume_feed(ws.settings, "companies", wait=True, **FAST_WAIT)
    assert isinstance(result, Outcome) and result.succeeded
    assert sorted(j.job_id for j in sandbox_jobs(ws)) == sorted(j.job_id for j in result.jobs)
    assert len(result.jobs) == 5
    with Ledger(ws.settings.state_dir / "ledger.sqlite") as ledger:
        reasons = [e.reason for e in ledger.events(plan_id=plan.id)]
    assert reasons.count(Reason.FOUND_IN_LIST) == 1 and reasons.count(Reason.SENDING) == 5
    ws.assert_catalog_is_source()


# --- 4. a read timeout after the server accepted creates no duplicate --------------------------
def test_read_timeout_after_accept_creates_no_duplicate(ws: Workspace) -> None:
    (ws.root / "norce.toml").write_text(toml(max_items=3, timeout=0.5), encoding="utf-8")
    ws.write(companies(6))
    ws.sandbox.set_faults(latency={"next": 1}, latency_seconds=1.5, scope="imports")
    plan, outcome = run(ws)
    assert outcome.succeeded and len(sandbox_jobs(ws)) == len(plan.batches) == 2
    with Ledger(ws.settings.state_dir / "ledger.sqlite") as ledger:
        reasons = [e.reason for e in ledger.events(plan_id=plan.id)]
    assert Reason.FOUND_IN_LIST in reasons and Reason.OUTCOME_UNKNOWN not in reasons
    ws.assert_catalog_is_source()


# --- 5. two concurrent submits ---------------------------------------------------------------
HOLD = """
import sys
from toolkit.config import load_settings
from toolkit.runs import plan_and_submit

def hold(event):
    if event["event"] == "start":
        print("holding", flush=True)
        sys.stdin.readline()

print(plan_and_submit(load_settings(sys.argv[1]), "companies", progress=hold), flush=True)
"""


def test_second_concurrent_submit_fails_fast_naming_the_holder(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.write(companies(4))
    env = {**os.environ, **ws.environ}
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ws.root / "norce.toml")],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "holding"
        started = time.monotonic()
        code = main(["submit", "companies", "--yes", "--settings", str(ws.root / "norce.toml")])
        elapsed = time.monotonic() - started
        err = capsys.readouterr().err
        assert code != 0 and elapsed < 5.0
        assert f":{first.pid}:" in err and "locked by" in err
    finally:
        out, _ = first.communicate("\n", timeout=60)
    assert first.returncode == 0 and "2/2 batches accepted" in out
    with Ledger(ws.settings.state_dir / "ledger.sqlite") as ledger:
        (plan,) = ledger.plans("companies")
        assert plan.state == "submitted" and {b.state for b in ledger.batches(plan.id)} == {"accepted"}
        assert ledger.holder("companies") is None


# --- 6. job outcomes with success, failure and a restart ---------------------------------------
def test_job_outcomes_with_success_failure_and_restart(ws: Workspace) -> None:
    ws.write(companies(3))
    run(ws)  # one job, succeeds
    rows = companies(3)
    rows["C001"]["Name"] = "Changed"
    ws.write(rows)
    ws.sandbox.set_faults(job_failed={"next": 1})
    plan, outcome = run(ws)
    failed = outcome.failures[0].job_id
    ws.sandbox.set_faults()
    restarted = restart_feed_job(ws.settings, failed, wait=True, **FAST_WAIT)
    assert isinstance(restarted, Outcome) and restarted.succeeded
    assert baseline_id(ws) == plan.snapshot.id
    ws.assert_catalog_is_source()
    with Ledger(ws.settings.state_dir / "ledger.sqlite") as ledger:
        frame = job_outcomes(ledger)
    assert frame.select("status", "restarted_from").rows() == [
        ("Succeeded", None),
        ("Failed", None),
        ("Succeeded", failed),
    ]
    assert frame["kind"].to_list()[1:] == ["change", "change"] and frame["items"].to_list()[1] == 1
    assert frame.select(pl.col("run_time_s", "lead_time_s").is_null().any()).row(0) == (False, False)
    assert (frame["lead_time_s"] >= frame["run_time_s"] - 1.0).all()
    assert (frame["stopped_at"] >= frame["started_at"]).all()


# --- 7. nothing secret in the ledger ---------------------------------------------------------
def test_ledger_holds_no_secret_or_token(ws: Workspace) -> None:
    ws.write(companies(4))
    plans: list[Any] = []
    with open_run(ws.settings, "companies") as r:
        from toolkit.feeds import plan_feed

        plans.append(plan_feed(ws.settings, "companies", store=r.store))
        sub = submit(plans[0], r.client, r.ledger)
        wait_for_jobs(sub, r.client, r.ledger, r.store, **FAST_WAIT)
        token = r.client._auth.token
    assert isinstance(sub, Submission) and token and SECRET not in token
    state = ws.settings.state_dir
    files = [p for p in state.rglob("*") if p.is_file() and ("ledger" in p.name or "plans" in p.parts)]
    assert any(p.name.startswith("ledger.sqlite") for p in files)
    for path in files:
        data = path.read_bytes()
        assert SECRET.encode() not in data and token.encode() not in data, path


def test_cli_jobs_and_resume_without_work(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws.write(companies(2))
    run(ws)
    toml_path = str(ws.root / "norce.toml")
    assert main(["jobs", "--feed", "companies", "--since", "7d", "--settings", toml_path]) == 0
    table = capsys.readouterr().out
    assert "| job_id | feed " in table and "Succeeded" in table and "plan_id" not in table
    assert main(["jobs", "--csv", "-", "--settings", toml_path]) == 0
    every = pl.read_csv(io.StringIO(capsys.readouterr().out))
    assert every.columns == list(OUTCOME_SCHEMA) and every["status"].to_list() == ["Succeeded"]
    assert main(["jobs", "--csv", str(ws.root / "jobs.csv"), "--settings", toml_path]) == 0
    assert pl.read_csv(ws.root / "jobs.csv").equals(every) and "1 jobs written" in capsys.readouterr().out
    assert main(["jobs", "--feed", "company", "--settings", toml_path]) == 2
    assert "no feed 'company'" in capsys.readouterr().err
    assert main(["resume", "companies", "--settings", toml_path]) == 0  # nothing to resume is no failure
    assert "nothing to resume" in capsys.readouterr().out
    with Ledger(ws.settings.state_dir / "ledger.sqlite") as ledger:
        assert json.dumps(ledger.plans()[0].summary)
