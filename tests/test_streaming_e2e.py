"""A feed with ``stream = true`` day after day against the sandbox: planned a partition at a time, sent,
promoted; the sandbox's catalog equals the source after every day, and the feed can switch between
streamed and in-memory planning with its baseline (one file or partitions) carried over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.settings import feed, write_settings
from fixtures.stock import seed_skus

from toolkit.config import Settings
from toolkit.plan_model import Plan
from toolkit.runs import open_run, plan_and_submit
from toolkit.status import feed_status

pytestmark = pytest.mark.slow

SKUS = 60
POLICIES = "max_items = 7\nmax_deactivation_ratio = 0.5\nrows_per_partition = 12\n"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(rate_limit=100_000) as server:
        yield server


def settings_for(root: Path, sandbox: Any, *, stream: bool) -> Settings:
    policies = POLICIES + f"stream = {'true' if stream else 'false'}\n"
    return write_settings(
        root, feed("stock", "onhands", "stock.csv", policies=policies), environ=sandbox.environ()
    )


def write(settings: Settings, values: dict[int, int]) -> None:
    """The on-hand source: ``values`` (SKU number -> value), rows shuffled."""
    pl.DataFrame(
        {
            "PartNo": [f"P{i}" for i in values],
            "WarehouseCode": "W1",
            "LocationCode": "L1",
            "OnhandValue": list(values.values()),
        }
    ).sample(fraction=1.0, shuffle=True, seed=len(values)).write_csv(settings.path.parent / "stock.csv")


def send(settings: Settings, kind: str = "auto") -> tuple[Plan, Any]:
    """Plan, send and wait; the plan sent and the outcome."""
    sent: list[Plan] = []
    outcome = plan_and_submit(
        settings,
        "stock",
        kind=kind,  # type: ignore[arg-type]
        wait=True,
        confirm=lambda p: sent.append(p) or True,
        timeout=60.0,
        poll_interval=0.05,
    )
    assert outcome is not None
    return sent[0], outcome


def day(settings: Settings, values: dict[int, int], kind: str = "auto") -> Plan:
    """Send on-hand ``values`` and wait for success; returns the plan sent."""
    write(settings, values)
    plan, outcome = send(settings, kind)
    assert outcome.succeeded
    return plan


def catalog(sandbox: Any) -> dict[int, int]:
    active = [i for i in sandbox.items("onhands") if i.get("IsActive", True)]
    return {int(i["PartNo"][1:]): int(i["OnhandValue"]) for i in active}


def test_a_streamed_feed_keeps_the_catalog_equal_to_its_source_day_after_day(
    tmp_path: Path, sandbox: Any
) -> None:
    sandbox.reset()
    seed_skus(sandbox, SKUS)
    streamed = settings_for(tmp_path, sandbox, stream=True)
    in_memory = settings_for(tmp_path, sandbox, stream=False)
    values = {i: 10 + i for i in range(SKUS)}

    first = day(in_memory, values)  # a one-file baseline, then the feed turns streaming on
    assert first.kind == "full" and catalog(sandbox) == values

    values = {i: v + (1 if i % 5 == 0 else 0) for i, v in values.items() if i % 9}  # changed, gone
    second = day(streamed, values)
    assert second.kind == "change" and catalog(sandbox) == values
    assert second.summary.changed == 10 and second.summary.deactivated == 7
    with open_run(streamed, "stock") as run:
        base = run.store.baseline("stock")
        assert base is not None and base.path.is_dir() and base.rows == len(values)  # partitions
    status = feed_status(streamed, feed="stock").row(0, named=True)
    assert status["baseline_rows"] == len(values)

    values = {**{i: 10 + i for i in range(SKUS) if i % 9 == 0}, **values}  # the gone ones return
    values[3] = 10 + 3  # a value that flips back
    third = day(streamed, values)
    assert third.kind == "change" and catalog(sandbox) == values
    assert third.summary.added == 7

    full = day(streamed, values, kind="full")
    assert full.kind == "full" and full.summary.items == SKUS and catalog(sandbox) == values
    assert all(b.data is None for b in full.batches)  # bodies read from the plan on disk when sent

    quiet = day(streamed, values)  # nothing changed: nothing sent
    assert quiet.kind == "change" and not quiet.batches and catalog(sandbox) == values

    values = {i: v * 2 for i, v in values.items() if i < 50}  # back to planning in memory
    last = day(in_memory, values)
    assert last.kind == "change" and catalog(sandbox) == values


def test_failed_items_of_a_streamed_plan_are_named_by_source_row_and_resent(
    tmp_path: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three on-hands of SKUs Norce lacks: the job succeeds with Fail 3, the rest is promoted (a partial
    baseline, streamed into its file), the failures name their source rows through origins read
    lazily from the plan's file, and the next streamed change feed sends exactly those three."""
    import toolkit.plan_model
    import toolkit.streaming
    from toolkit.cli import main

    for module in (toolkit.plan_model, toolkit.streaming):  # origins too many to keep: read from the file
        monkeypatch.setattr(module, "ORIGINS_IN_MEMORY", 0)
    for key, value in sandbox.environ().items():
        monkeypatch.setenv(key, value)
    sandbox.reset()
    seed_skus(sandbox, SKUS)
    settings = settings_for(tmp_path, sandbox, stream=True)
    values = {i: 10 + i for i in range(SKUS + 3)}  # P60, P61, P62 are unknown
    write(settings, values)
    first, outcome = send(settings)
    assert not outcome.succeeded
    assert isinstance(first.origins, pl.LazyFrame)
    assert sum(f.fail for f in outcome.failures) == 3
    assert catalog(sandbox) == {i: v for i, v in values.items() if i < SKUS}
    assert main(["jobs", "--failures", "--feed", "stock", "--settings", str(settings.path)]) == 0
    listed = capsys.readouterr().out
    assert all(f"PartNo=P{i}" in listed for i in (60, 61, 62)) and "stock.csv" in listed

    again, _ = send(settings)
    assert again.kind == "change"
    assert {i["PartNo"] for b in again.batches for i in b.items()} == {"P60", "P61", "P62"}


def test_a_streamed_plan_killed_midway_leaves_nothing_behind_the_next_one(
    tmp_path: Path, sandbox: Any
) -> None:
    """kill -9 while a streamed plan writes its partitions: the next plan of the feed removes the dead
    plan's work folder (it holds partitions and bodies: gigabytes at scale), plans the same, and the
    baseline never moved."""
    import os
    import signal
    import subprocess
    import sys
    import time

    policies = "stream = true\nrows_per_partition = 20000\nmax_deactivation_ratio = 1.0\n"
    settings = write_settings(tmp_path, feed("prices", "sku_prices", "prices.parquet", policies=policies))
    n = 400_000
    pl.DataFrame(
        {
            "PartNo": [f"S{i % 2000:05d}" for i in range(n)],
            "PriceListCode": [f"C{i // 2000:04d}" for i in range(n)],
            "QuantityBreak": [1] * n,
            "PriceSale": [float(i % 977) for i in range(n)],
        }
    ).write_parquet(tmp_path / "prices.parquet")
    script = (
        "import sys; from toolkit.config import load_settings; from toolkit.feeds import plan_feed; "
        "plan_feed(load_settings(sys.argv[1], environ={}), 'prices', kind='full')"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(settings.path)])
    plans = settings.state_dir / "plans"
    deadline = time.monotonic() + 60
    while not list(plans.glob(".streaming-prices-*/snapshot/part-*.parquet")):
        assert child.poll() is None and time.monotonic() < deadline, (
            "the plan ended before it could be killed"
        )
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    (dead,) = plans.glob(".streaming-prices-*")
    from toolkit.feeds import plan_feed
    from toolkit.snapshots import SnapshotStore

    assert SnapshotStore(settings.state_dir / "snapshots").baseline("prices") is None
    plan = plan_feed(settings, "prices", kind="full")
    assert not dead.exists() and not list(plans.glob(".streaming-*"))
    assert plan.summary.items == n and (plans / plan.id / "manifest.json").exists()


def test_prune_removes_old_finished_plans_but_never_an_open_one_nor_the_latest(
    tmp_path: Path, sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from toolkit.cli import main
    from toolkit.feeds import plan_feed
    from toolkit.pruning import prune_plans
    from toolkit.workspace import Workspace

    sandbox.reset()
    seed_skus(sandbox, SKUS)
    settings = settings_for(tmp_path, sandbox, stream=True)
    values = {i: 10 + i for i in range(SKUS)}
    first = day(settings, values)
    second = day(settings, {i: v + 1 for i, v in values.items()})
    (tmp_path / "stock.csv").write_text("PartNo,WarehouseCode,LocationCode,OnhandValue\nP1,W1,L1,99\n")
    previewed = plan_feed(settings, "stock", allow_mass_deactivation=True, override_reason="preview only")
    (tmp_path / "stock.csv").write_text("PartNo,WarehouseCode,LocationCode,OnhandValue\nP2,W1,L1,98\n")
    pending = plan_feed(settings, "stock", allow_mass_deactivation=True, override_reason="not sent yet")
    ws = Workspace.of(settings)
    with ws.ledger() as ledger:
        ledger.record_plan(pending, directory=ws.plan_dir(pending.id))  # open: resume sends from it
    later = datetime.now(UTC) + timedelta(days=30)

    dry = prune_plans(settings, now=later, dry_run=True)
    names = {p.name for p in dry.removed}
    assert names == {first.id, second.id, previewed.id} and dry.kept == 1 and dry.freed_bytes > 0
    assert all(p.exists() for p in dry.removed)
    assert prune_plans(settings, now=datetime.now(UTC)).removed == ()  # all within 14 days
    done = prune_plans(settings, now=later)
    assert {p.name for p in done.removed} == names and not any(p.exists() for p in done.removed)
    assert ws.plan_dir(pending.id).exists()
    assert main(["prune", "--dry-run", "--settings", str(settings.path)]) == 0
    assert "kept 1" in capsys.readouterr().out
