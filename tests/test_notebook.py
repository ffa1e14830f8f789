"""toolkit.notebook: preview verdicts, dry runs and files without a server; submit and restart with one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fixtures.settings import feed, write_settings

from toolkit.config import Settings
from toolkit.errors import CheckFailed, ConfigError, GuardRefused
from toolkit.notebook import preview_feed, submit_feed
from toolkit.reports import job_report, restart_jobs
from toolkit.snapshots import SnapshotStore
from toolkit.sources import read_source

COMPANIES = "Code,Name,IsActive\nC1,Acme AB,true\nC2,Beta AB,true\nC3,Gamma AB,true\n"
STOCK = "PartNo,WarehouseCode,LocationCode,OnhandValue\nA,W,L,1\nB,W,L,x\n"


def make_settings(directory: Path, environ: dict[str, str] | None = None) -> Settings:
    (directory / "companies.csv").write_text(COMPANIES)
    (directory / "stock.csv").write_text(STOCK)
    return write_settings(directory, feed("companies", "companies", "companies.csv", account="CRM"),
                          feed("stock", "onhands", "stock.csv"), environ=environ)  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def promote_baseline(settings: Settings, feed: str) -> None:
    """Make the feed's current source its baseline, as if Connect had accepted it."""
    store = SnapshotStore(settings.state_dir / "snapshots")
    store.promote(store.save(feed, read_source(settings.feed(feed))))


def test_preview_plans_the_first_feed_by_default(settings: Settings) -> None:
    preview = preview_feed(settings, "")
    assert preview.feed == "companies" and preview.is_ready and preview.verdict == "ok"
    assert preview.diff is None  # no baseline yet
    summary = preview.summary()
    assert summary["plan"]["kind"] == "full" and summary["plan"]["items"] == 3
    assert summary["check"]["rows"] == 3
    with pytest.raises(ConfigError, match="no feed 'nope'"):
        preview_feed(settings, "nope")


def test_preview_reads_and_checks_the_source_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolkit.checks
    import toolkit.sources

    promote_baseline(settings, "companies")
    (settings.path.parent / "companies.csv").write_text(COMPANIES.replace("Beta AB", "Beta Ltd"))
    calls: list[str] = []
    for module, name in ((toolkit.sources, "read_source"), (toolkit.checks, "validate")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _r=real, _n=name, **k: calls.append(_n) or _r(*a, **k))
    preview = preview_feed(settings, "companies")
    assert calls == ["read_source", "validate"]
    assert preview.plan is not None and preview.diff is preview.plan.diff
    assert preview.diff is not None and preview.diff.counts["changed"] == 1


def test_preview_keeps_rejected_rows_when_checks_fail(settings: Settings) -> None:
    preview = preview_feed(settings, "stock")  # 1 of 2 rejected, over the default 5 %
    assert preview.plan is None and not preview.refused
    assert preview.verdict.startswith("checks failed")
    assert preview.check is not None and preview.check.rejected["key"].to_list() == ["B|W|L"]
    with pytest.raises(CheckFailed, match="nothing to submit"):
        submit_feed(preview)


def test_changes_show_old_and_new_values(settings: Settings) -> None:
    promote_baseline(settings, "companies")
    Path(settings.feed("companies").source_path).write_text(COMPANIES.replace("Beta AB", "Beta Nordic AB"))
    preview = preview_feed(settings, "companies")
    assert preview.diff is not None and preview.diff.counts["changed"] == 1
    assert preview.field_counts == {"Name": 1}
    assert preview.summary()["plan"]["kind"] == "change"
    from toolkit.notebook import sample_changes

    changes = sample_changes(preview.diff, key=preview.key)
    assert changes.rows() == [("C2", "Name", "Beta AB", "Beta Nordic AB")]


def test_guard_refusal_is_a_verdict_and_an_override_plans(settings: Settings) -> None:
    promote_baseline(settings, "companies")
    Path(settings.feed("companies").source_path).write_text("Code,Name,IsActive\nC1,Acme AB,true\n")
    refused = preview_feed(settings, "companies", kind="change")
    assert refused.refused and refused.plan is None and refused.verdict.startswith("guard refused")
    with pytest.raises(GuardRefused):
        submit_feed(refused, submit=True)
    allowed = preview_feed(settings, "companies", kind="change", allow_mass_deactivation=True,
                           override_reason="C2 and C3 were sold")  # fmt: skip
    assert allowed.is_ready and allowed.verdict == "ok (guard overridden: C2 and C3 were sold)"
    assert allowed.summary()["plan"]["deactivated"] == 2


def test_dry_run_and_written_files(settings: Settings, tmp_path: Path) -> None:
    preview = preview_feed(settings, "companies")
    result = submit_feed(preview, output_dir=tmp_path / "out")
    assert result.dry_run and result.job_ids == () and result.items == 3
    assert str(result) == "dry run of companies: 1 batches, 3 items, nothing sent"
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["dry_run"] is True
    summary = preview.write(tmp_path / "preview")
    assert summary["verdict"] == "ok"
    assert {p.name for p in (tmp_path / "preview").iterdir()} == {
        "summary.json", "rejected.csv", "changes_per_field.svg"}  # fmt: skip


def test_job_report_of_an_empty_ledger_writes_every_chart(settings: Settings, tmp_path: Path) -> None:
    report = job_report(settings, feed="companies", status="Failed", period="")
    assert report.outcomes.height == 0 and report.period is None
    report.write(tmp_path)
    assert len(list(tmp_path.glob("*.png"))) == 5 and (tmp_path / "outcomes.csv").exists()


@pytest.mark.slow
def test_submit_fail_and_restart_against_the_sandbox(sandbox_clean: Any, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sandbox_clean.environ())
    sandbox_clean.set_faults(job_failed=1)
    seen: list[dict[int, str]] = []
    result = submit_feed(preview_feed(settings, "companies"), submit=True, timeout=30,
                         poll_interval=0.1, on_status=seen.append)  # fmt: skip
    assert not result.succeeded and list(result.statuses.values()) == ["Failed"]
    assert seen[-1] == result.statuses
    report = job_report(settings)
    assert report.summary()["restartable"] == list(result.job_ids)
    new = restart_jobs(settings, list(result.job_ids), timeout=30, poll_interval=0.1)
    assert len(new) == 1 and new[0] not in result.job_ids
    again = job_report(settings)
    row = again.outcomes.filter(pl.col("job_id") == new[0])
    assert row.select("status", "restarted_from").row(0) == ("Succeeded", result.job_ids[0])
    assert again.summary()["restartable"] == []
    assert {i["Code"] for i in sandbox_clean.items("companies")} == {"C1", "C2", "C3"}
    assert sandbox_clean.client_secret not in json.dumps(result.summary())
