"""Issue 18, acceptance 1 and 4: waiting on jobs by their JobCompletedEvents, end to end.

A real sandbox sends its events over HTTP to a real receiver, which writes them into the workspace's
ledger; a real submission (plan_and_submit with the real client) waits on them. The sandbox counts
the requests it served per path, so "no Job/Get or Job/List" is read off its own statistics.
"""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from toolkit.config import Secret, Settings, load_settings
from toolkit.event_wait import wait_for_job_events
from toolkit.events import serve as serve_receiver
from toolkit.ledger import Ledger
from toolkit.runs import Outcome, plan_and_submit
from toolkit.workspace import Workspace

pytestmark = pytest.mark.slow

CLIENT_SECRET = "events-e2e-client-secret-71c2"
EVENTS_SECRET = "events-e2e-webhook-secret-5be90d4a"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(client_secret=CLIENT_SECRET, rate_limit=100_000) as server:
        yield server


@pytest.fixture
def sb(sandbox: Any) -> Iterator[Any]:
    sandbox.reset()
    sandbox.set_faults()
    yield sandbox
    sandbox.subscribe()


def toml(*, grace: float, fetch_counts: bool) -> str:
    return textwrap.dedent(f"""\
        [settings]
        state_dir = ".norce"

        [profiles.sandbox]
        base_url = "http://127.0.0.1:9"
        client_id = "sandbox"
        scope = "sandbox"
        application_key = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
        rate_limit_per_minute = 100000

        [profiles.sandbox.events]
        secret_env = "NORCE_EVENTS_SECRET"
        grace_seconds = {grace}
        check_seconds = 0.05
        fetch_counts = {str(fetch_counts).lower()}

        [feeds.companies]
        entity = "companies"
        profile = "sandbox"
        account = "CRM"
        source = "data/companies.csv"

        [feeds.companies.policies]
        max_items = 3
        """)


class Shop:
    """A workspace (norce.toml, a companies CSV) whose receiver the sandbox sends its events to."""

    def __init__(self, root: Path, sandbox: Any, *, grace: float = 30.0, fetch_counts: bool = False) -> None:
        self.root, self.sandbox = root, sandbox
        self.receiver_url = ""
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "norce.toml").write_text(toml(grace=grace, fetch_counts=fetch_counts), encoding="utf-8")
        rows = [
            {"Code": f"C{i:03d}", "Name": f"Company {i}", "OrganizationNo": f"556000-{i:04d}"}
            for i in range(8)
        ]
        pl.DataFrame(rows).write_csv(root / "data" / "companies.csv")

    @property
    def settings(self) -> Settings:
        environ = {**self.sandbox.environ(), "NORCE_EVENTS_SECRET": EVENTS_SECRET}
        return load_settings(self.root / "norce.toml", environ=environ)

    @property
    def ledger_path(self) -> Path:
        return self.settings.state_dir / "ledger.sqlite"

    def submit(self, *, timeout: float = 60.0) -> Outcome:
        result = plan_and_submit(
            self.settings, "companies", wait=True, confirm=lambda p: True, timeout=timeout
        )
        assert isinstance(result, Outcome)
        return result


@pytest.fixture
def receiving(tmp_path: Path, sb: Any) -> Iterator[tuple[Shop, Ledger]]:
    """A shop whose receiver is subscribed to the sandbox (secret in the path)."""
    shop = Shop(tmp_path, sb)
    ledger = Ledger(shop.ledger_path)
    with (
        ledger,
        serve_receiver(ledger, profile="sandbox", secret=Secret(EVENTS_SECRET), log_level="debug") as rx,
    ):
        sb.subscribe(f"{rx.url}/events/{EVENTS_SECRET}")
        shop.receiver_url = rx.url
        yield shop, ledger


def job_requests(sandbox: Any) -> dict[str, int]:
    """Job/Get and Job/List requests the sandbox served, by operation."""
    counts = {"Get": 0, "List": 0}
    for path, by_status in sandbox.stats()["requests"].items():
        for operation in counts:
            if path.endswith(f"/Job/{operation}"):
                counts[operation] += sum(by_status.values())
    return counts


def settle(sandbox: Any, *, delivered: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while sandbox.stats()["events"]["delivered"] < delivered:
        assert time.monotonic() < deadline, sandbox.stats()["events"]
        time.sleep(0.02)


# --- acceptance 1 --------------------------------------------------------------------------------
def test_a_submission_waits_on_events_without_a_job_get_or_list(receiving: tuple[Shop, Ledger]) -> None:
    shop, ledger = receiving
    outcome = shop.submit()
    assert outcome.succeeded and len(outcome.jobs) == 3, str(outcome)
    assert job_requests(shop.sandbox) == {"Get": 0, "List": 0}
    assert "jobs: 3 by their event, 0 probed; 0 requests spent on polling" in str(outcome)
    assert len(shop.sandbox.items("companies")) == 8 and outcome.promoted is not None
    ids = [j.job_id for j in outcome.jobs]
    assert sorted(ledger.job_events_for(ids, profile="sandbox")) == sorted(ids)


def test_counts_come_from_one_job_list_after_the_events(tmp_path: Path, sb: Any) -> None:
    shop = Shop(tmp_path, sb, fetch_counts=True)
    with (
        Ledger(shop.ledger_path) as ledger,
        serve_receiver(ledger, profile="sandbox", secret=Secret(EVENTS_SECRET)) as rx,
    ):
        sb.subscribe(f"{rx.url}/events/{EVENTS_SECRET}")
        outcome = shop.submit()
    assert outcome.succeeded and [j.totals for j in outcome.jobs] == [3, 3, 2], str(outcome)
    assert job_requests(sb) == {"Get": 0, "List": 1}
    assert "1 request spent on polling" in str(outcome)


def test_lost_events_fall_back_to_polling_after_the_grace_period(tmp_path: Path, sb: Any) -> None:
    shop = Shop(tmp_path, sb, grace=0.5)
    sb.set_faults(event_lost=2)  # the first two jobs' events never leave the sandbox
    with (
        Ledger(shop.ledger_path) as ledger,
        serve_receiver(ledger, profile="sandbox", secret=Secret(EVENTS_SECRET)) as rx,
    ):
        sb.subscribe(f"{rx.url}/events/{EVENTS_SECRET}")
        started = time.monotonic()
        outcome = shop.submit()
        waited = time.monotonic() - started
        ids = [j.job_id for j in outcome.jobs]
        assert sorted(ledger.job_events_for(ids, profile="sandbox")) == [ids[2]]
    assert outcome.succeeded and outcome.promoted is not None, str(outcome)
    assert sb.stats()["events"]["lost"] == 2 and waited >= 0.5
    assert "jobs: 1 by their event, 2 probed" in str(outcome)
    assert (
        1 <= sum(job_requests(sb).values()) <= 2
    )  # one Job/List for both late jobs (a Get if one was early)
    assert len(sb.items("companies")) == 8


def test_duplicated_and_out_of_order_events_change_nothing(receiving: tuple[Shop, Ledger]) -> None:
    shop, ledger = receiving
    shop.sandbox.set_faults(event_out_of_order=1, event_duplicated={"skip": 1, "next": 2})
    outcome = shop.submit()
    assert outcome.succeeded and outcome.promoted is not None, str(outcome)
    assert job_requests(shop.sandbox) == {"Get": 0, "List": 0}
    settle(shop.sandbox, delivered=5)  # 3 events, two of them twice
    ids = [j.job_id for j in outcome.jobs]
    events = ledger.job_events_for(ids, profile="sandbox")
    assert [events[i][0].deliveries for i in ids] == [1, 2, 2]
    arrived = sorted(ids, key=lambda i: events[i][0].first_at)
    assert arrived != ids and arrived[-1] == ids[0]  # the first job's event came after the second's
    assert [r.status for r in outcome.jobs] == [2, 2, 2]
    assert len(shop.sandbox.items("companies")) == 8


def test_events_that_disagree_are_settled_by_job_get(receiving: tuple[Shop, Ledger]) -> None:
    """A Failed event after the Succeeded one of a job: Job/Get decides, and it says Succeeded."""
    shop, ledger = receiving
    outcome = shop.submit()
    first = outcome.jobs[0].job_id
    url = shop.receiver_url + "/events"
    late = {"ClientId": "sandbox", "JobId": first, "StatusId": 3}
    assert httpx.post(url, json=late, headers={"X-Events-Secret": EVENTS_SECRET}).status_code == 200
    assert {r.status for r in ledger.job_events_for([first], profile="sandbox")[first]} == {2, 3}
    profile = shop.settings.profile("sandbox")
    with Workspace.of(shop.settings).client(profile) as client:
        jobs = wait_for_job_events(client, ledger, [first], timeout=10.0)
    assert jobs[first].status == 2 and jobs.requests == 1 and job_requests(shop.sandbox)["Get"] == 1


# --- acceptance 4: the secret stays out of logs and the ledger -----------------------------------
def test_the_secret_is_in_no_log_and_not_in_the_ledger(
    receiving: tuple[Shop, Ledger], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    shop, ledger = receiving
    caplog.set_level(logging.DEBUG)
    shop.submit()
    settle(shop.sandbox, delivered=3)
    logged = caplog.text + "".join(capfd.readouterr())
    assert "recorded event" in logged  # the capture works: the receiver's lines are there
    assert EVENTS_SECRET not in logged
    ledger.close()
    for file in shop.ledger_path.parent.glob("ledger.sqlite*"):
        assert EVENTS_SECRET.encode() not in file.read_bytes(), file.name
