"""Per-batch promotion and failed items in source terms, against the sandbox (issue: jobs that tell you
what failed).

- A full feed of five batches where the third job fails: the baseline moves for the other four, and the
  next change feed sends exactly the failed batch's items.
- A price feed naming three SKUs the catalog lacks: the job Succeeds with Fail 3; ``jobs --failures``
  lists the three source rows; they are resent by every change feed until the SKUs exist, and
  everything else is promoted.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.settings import feed, write_settings
from fixtures.stock import seed_skus

from toolkit.cli import main
from toolkit.config import Settings
from toolkit.runs import Outcome, open_run, plan_and_submit
from toolkit.sources import read_source
from toolkit.status import feed_status

pytestmark = pytest.mark.slow

FAST_WAIT = {"timeout": 60.0, "poll_interval": 0.05}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(rate_limit=100_000) as server:
        yield server


@pytest.fixture
def sb(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    sandbox.reset()
    sandbox.set_faults()
    for key, value in sandbox.environ().items():  # for the CLI, which reads the environment
        monkeypatch.setenv(key, value)
    return sandbox


def submit(settings: Settings, name: str) -> tuple[Any, Outcome]:
    plans: list[Any] = []
    outcome = plan_and_submit(
        settings, name, wait=True, confirm=lambda p: plans.append(p) or True, **FAST_WAIT
    )
    assert outcome is not None
    return plans[0], outcome


def keys(plan: Any, key: str) -> set[str]:
    return {str(i[key]) for b in plan.batches for i in b.items()}


def baseline_rows(settings: Settings, name: str) -> pl.DataFrame:
    with open_run(settings, name) as run:
        ref = run.store.baseline(name)
        assert ref is not None
        return run.store.load(ref)


# --- one batch of five fails ------------------------------------------------------------------
def companies(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Code": [f"C{i:03d}" for i in range(n)],
            "Name": [f"Company {i}" for i in range(n)],
            "OrganizationNo": [f"556000-{i:04d}" for i in range(n)],
        }
    )


def test_one_failed_batch_of_five_holds_back_exactly_its_items(tmp_path: Path, sb: Any) -> None:
    policies = "max_items = 3"
    settings = write_settings(
        tmp_path,
        feed("companies", "companies", "companies.csv", account="CRM", policies=policies),
        environ=sb.environ(),
    )
    companies(15).write_csv(tmp_path / "companies.csv")
    sb.set_faults(job_failed={"skip": 2, "next": 1})  # the third job fails
    first, outcome = submit(settings, "companies")
    assert len(first.batches) == 5 and not outcome.succeeded
    (failure,) = outcome.failures
    failed = {str(i["Code"]) for i in first.batches[failure.index].items()}
    assert len(failed) == 3
    held = set(companies(15)["Code"]) - set(baseline_rows(settings, "companies")["Code"])
    assert held == failed  # the other four batches' twelve items moved on
    with open_run(settings, "companies") as run:
        assert run.ledger.plan(first.id).state == "failed"
    status = feed_status(settings, feed="companies").row(0, named=True)
    assert status["held_back"] == 3

    sb.set_faults()
    again, outcome2 = submit(settings, "companies")
    assert again.kind == "change" and keys(again, "Code") == failed
    assert outcome2.succeeded and baseline_rows(settings, "companies").height == 15
    assert feed_status(settings, feed="companies").row(0, named=True)["held_back"] is None


# --- three SKUs the catalog lacks --------------------------------------------------------------
def seed_price_list(sandbox: Any) -> None:
    from toolkit.connect import ConnectClient
    from toolkit.payloads import build_header, build_items

    frame = pl.DataFrame({"Code": ["SEK"], "Name": ["Swedish kronor"], "CurrencyCode": ["SEK"]})
    with ConnectClient(sandbox.profile(rate_limit_per_minute=100_000)) as client:
        header = build_header("price_lists", account=10000, fields=frame.columns)
        job = client.import_items("price_lists", build_items("price_lists", frame), header).job_id
        assert client.wait_for_jobs([job], timeout=60.0, poll_interval=0.05)[job].succeeded


def prices(parts: list[str], price: int = 100) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "PartNo": parts,
            "PriceListCode": "SEK",
            "QuantityBreak": 1,
            "PriceSale": [price + i for i in range(len(parts))],
        }
    )


def test_items_that_fail_are_named_by_source_row_and_resent_until_they_succeed(
    tmp_path: Path, sb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_skus(sb, 10)
    seed_price_list(sb)
    settings = write_settings(tmp_path, feed("prices", "sku_prices", "prices.csv"), environ=sb.environ())
    source = tmp_path / "prices.csv"
    known, unknown = [f"P{i}" for i in range(10)], ["X1", "X2", "X3"]
    prices(known[:5] + unknown[:1] + known[5:] + unknown[1:]).write_csv(source)

    _, outcome = submit(settings, "prices")
    (failure,) = outcome.failures
    assert (failure.status, failure.fail) == ("Succeeded", 3)
    assert set(baseline_rows(settings, "prices")["PartNo"]) == set(known)  # everything else promoted

    out = tmp_path / "failures.csv"
    args = ["jobs", "--failures", "--feed", "prices", "--csv", str(out), "--settings", str(settings.path)]
    assert main(args) == 0
    with out.open(encoding="utf-8") as fh:
        listed = list(csv.DictReader(fh))
    read = read_source(settings.feed("prices"))
    rows = dict(zip(read["PartNo"], read["_row"], strict=True))
    assert sorted((r["key"].split(",")[0], r["source"], int(r["row"])) for r in listed) == [
        (f"PartNo={p}", source.name, rows[p]) for p in unknown
    ]
    assert all(r["job_id"] == str(failure.job_id) and "unknown SKU" in r["message"] for r in listed)
    assert main(["jobs", "--failures", "--settings", str(settings.path)]) == 0
    assert "X2" in capsys.readouterr().out

    # resent by the next change feed while the SKUs are missing, then promoted once they exist
    again, outcome2 = submit(settings, "prices")
    assert keys(again, "PartNo") == set(unknown) and outcome2.failures[0].fail == 3
    seed_parts(sb, unknown)
    last, outcome3 = submit(settings, "prices")
    assert keys(last, "PartNo") == set(unknown) and outcome3.succeeded
    assert set(baseline_rows(settings, "prices")["PartNo"]) == set(known + unknown)


def seed_parts(sandbox: Any, parts: list[str]) -> None:
    from toolkit.connect import ConnectClient
    from toolkit.payloads import build_header, build_items

    series = pl.Series("PartNo", parts)
    frame = pl.DataFrame(
        {"Code": series, "ManufacturerCode": "ACME", "ManufacturerPartNo": series, "PartNo": series}
    )
    with ConnectClient(sandbox.profile(rate_limit_per_minute=100_000)) as client:
        header = build_header("products", account=10000, fields=frame.columns)
        job = client.import_items("products", build_items("products", frame), header).job_id
        assert client.wait_for_jobs([job], timeout=60.0, poll_interval=0.05)[job].succeeded
