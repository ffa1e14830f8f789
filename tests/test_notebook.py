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
from toolkit.notebook import find_settings, preview_feed, submit_feed
from toolkit.reports import job_report, restart_jobs
from toolkit.snapshots import SnapshotStore
from toolkit.sources import read_source

STOCK = "PartNo,WarehouseCode,LocationCode,OnhandValue,IsActive\nA,W,L,1,true\nB,W,L,2,true\nC,W,L,3,true\n"
BAD = "PartNo,WarehouseCode,LocationCode,OnhandValue\nA,W,L,1\nB,W,L,x\n"


def make_settings(directory: Path, environ: dict[str, str] | None = None) -> Settings:
    (directory / "stock.csv").write_text(STOCK)
    (directory / "bad.csv").write_text(BAD)
    return write_settings(
        directory,
        feed("stock", "onhands", "stock.csv"),
        feed("stock_bad", "onhands", "bad.csv"),
        environ=environ,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def promote_baseline(settings: Settings, feed: str) -> None:
    """Make the feed's current source its baseline, as if Connect had accepted it."""
    store = SnapshotStore(settings.state_dir / "snapshots")
    store.promote(store.save(feed, read_source(settings.feed(feed))))


def test_preview_plans_the_first_feed_by_default(settings: Settings) -> None:
    preview = preview_feed(settings, "")
    assert preview.feed == "stock" and preview.is_ready and preview.verdict == "ok"
    assert preview.diff is None  # no baseline yet
    summary = preview.summary()
    assert summary["plan"]["kind"] == "full" and summary["plan"]["items"] == 3
    assert summary["check"]["rows"] == 3
    with pytest.raises(ConfigError, match="no feed 'nope'"):
        preview_feed(settings, "nope")


def test_preview_summary_reads_as_a_few_lines(settings: Settings) -> None:
    summary = preview_feed(settings, "stock_bad").summary()
    assert isinstance(summary, dict) and summary["check"]["rejected_rows"] == 1  # the data stays
    text = summary._repr_html_()
    assert len(summary.text.splitlines()) <= 4, summary.text
    assert "1 rejected (50.0%)" in summary.text and "{" not in text and "_row" not in text


def test_preview_reads_and_checks_the_source_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolkit.checks
    import toolkit.sources

    promote_baseline(settings, "stock")
    (settings.path.parent / "stock.csv").write_text(STOCK.replace("B,W,L,2", "B,W,L,5"))
    calls: list[str] = []
    for module, name in ((toolkit.sources, "read_source"), (toolkit.checks, "validate")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _r=real, _n=name, **k: calls.append(_n) or _r(*a, **k))
    preview = preview_feed(settings, "stock")
    assert calls == ["read_source", "validate"]
    assert preview.plan is not None and preview.diff is preview.plan.diff
    assert preview.diff is not None and preview.diff.counts["changed"] == 1


def test_preview_keeps_rejected_rows_when_checks_fail(settings: Settings, tmp_path: Path) -> None:
    preview = preview_feed(settings, "stock_bad")  # 1 of 2 rejected, over the default 5 %
    assert preview.plan is None and not preview.refused
    assert preview.verdict.startswith("checks failed")
    assert preview.check is not None and preview.check.rejected["key"].to_list() == ["B|W|L"]
    result = submit_feed(preview, submit=True, output_dir=tmp_path / "out")
    assert result.ending == "checks failed" and result.exit_code == 1 and result.job_ids == ()
    with pytest.raises(CheckFailed, match="stock_bad: checks failed"):
        result.raise_for_outcome()
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["outcome"] == "checks failed" and written["reason"].startswith("checks failed")


def test_changes_show_old_and_new_values(settings: Settings) -> None:
    promote_baseline(settings, "stock")
    Path(settings.feed("stock").source_path).write_text(STOCK.replace("B,W,L,2", "B,W,L,7"))
    preview = preview_feed(settings, "stock")
    assert preview.diff is not None and preview.diff.counts["changed"] == 1
    assert preview.field_counts == {"OnhandValue": 1}
    assert preview.summary()["plan"]["kind"] == "change"
    from toolkit.notebook import sample_changes

    changes = sample_changes(preview.diff, key=preview.key)
    assert changes.rows() == [("B", "W", "L", "OnhandValue", "2", "7")]


def test_guard_refusal_is_a_verdict_and_an_override_needs_a_reason(settings: Settings) -> None:
    promote_baseline(settings, "stock")
    Path(settings.feed("stock").source_path).write_text(STOCK.split("B,W,L")[0])
    refused = preview_feed(settings, "stock", kind="change")
    assert refused.refused and refused.plan is None and refused.verdict.startswith("guard refused")
    result = submit_feed(refused, submit=True)
    assert (result.ending, result.exit_code, result.succeeded) == ("guard refused", 3, False)
    with pytest.raises(GuardRefused, match="deactivate 2 of 3"):
        result.raise_for_outcome()
    for empty in ("", "  ", None):  # the CLI's rule: an override says why
        with pytest.raises(ConfigError, match="needs a non-empty override_reason"):
            preview_feed(
                settings, "stock", kind="change", allow_mass_deactivation=True, override_reason=empty
            )
    allowed = preview_feed(
        settings, "stock", kind="change", allow_mass_deactivation=True, override_reason="B and C were sold"
    )
    assert allowed.is_ready
    assert allowed.verdict == "ok (guard overridden: B and C were sold; deactivates 2 of 3 baseline items)"
    assert allowed.summary()["plan"]["deactivated"] == 2


def test_dry_run_nothing_to_send_and_written_files(settings: Settings, tmp_path: Path) -> None:
    preview = preview_feed(settings, "stock")
    result = submit_feed(preview, output_dir=tmp_path / "out")
    assert result.dry_run and result.job_ids == () and result.items == 3 and result.exit_code == 0
    assert str(result) == "stock: dry run: nothing sent"
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["dry_run"] is True and written["outcome"] == "dry run" and written["succeeded"] is None
    summary = preview.write(tmp_path / "preview")
    assert summary["verdict"] == "ok"
    assert {p.name for p in (tmp_path / "preview").iterdir()} == {
        "summary.json",
        "rejected.csv",
        "changes_per_field.svg",
    }
    promote_baseline(settings, "stock")
    same = submit_feed(preview_feed(settings, "stock"), submit=True, output_dir=tmp_path / "same")
    assert same.ending == "nothing to send" and same.succeeded is True and same.raise_for_outcome()
    assert json.loads((tmp_path / "same" / "summary.json").read_text())["exit_code"] == 0


def test_settings_are_found_from_the_working_directory_upward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_settings(tmp_path)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert find_settings("") == tmp_path / "norce.toml"
    assert find_settings("norce.toml") == tmp_path / "norce.toml"  # relative to the repository
    monkeypatch.chdir(tmp_path)
    assert find_settings("") == tmp_path / "norce.toml"
    with pytest.raises(ConfigError, match=r"nope.toml: settings file not found in .* or any folder above"):
        find_settings("nope.toml")


def test_job_report_of_an_empty_ledger_writes_every_chart(settings: Settings, tmp_path: Path) -> None:
    report = job_report(settings, feed="stock", status="Failed", period="")
    assert report.outcomes.height == 0 and report.period is None
    report.write(tmp_path)
    assert len(list(tmp_path.glob("*.png"))) == 5 and (tmp_path / "outcomes.csv").exists()


def seed_skus(sandbox: Any, parts: list[str]) -> None:
    """Create the SKUs the stock rows name (Connect skips on-hands of unknown SKUs, as failed items)."""
    from toolkit.connect import ConnectClient
    from toolkit.payloads import build_header, build_items

    frame = pl.DataFrame(
        {
            "Code": parts,
            "ManufacturerCode": ["ACME"] * len(parts),
            "ManufacturerPartNo": parts,
            "PartNo": parts,
        }
    )
    with ConnectClient(sandbox.profile(rate_limit_per_minute=100_000)) as client:
        header = build_header("products", account=10000, fields=frame.columns)
        job = client.import_items("products", build_items("products", frame), header).job_id
        assert client.wait_for_jobs([job], timeout=60.0, poll_interval=0.05)[job].succeeded


@pytest.mark.slow
def test_submit_fail_and_restart_against_the_sandbox(sandbox_clean: Any, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sandbox_clean.environ())
    seed_skus(sandbox_clean, ["A", "B", "C"])
    sandbox_clean.set_faults(job_failed=1)
    seen: list[dict[int, str]] = []
    result = submit_feed(
        preview_feed(settings, "stock"), submit=True, timeout=30, poll_interval=0.1, on_status=seen.append
    )
    assert not result.succeeded and list(result.statuses.values()) == ["Failed"]
    assert result.ending == "jobs failed" and result.exit_code == 4 and "1 of 1 jobs failed" in result.reason
    assert seen[-1] == result.statuses
    report = job_report(settings)
    assert report.summary()["restartable"] == list(result.job_ids)
    new = restart_jobs(settings, list(result.job_ids), timeout=30, poll_interval=0.1)
    assert len(new) == 1 and new[0] not in result.job_ids
    again = job_report(settings)
    row = again.outcomes.filter(pl.col("job_id") == new[0])
    assert row.select("status", "restarted_from").row(0) == ("Succeeded", result.job_ids[0])
    assert again.summary()["restartable"] == []
    assert {i["PartNo"] for i in sandbox_clean.items("onhands")} >= {"A", "B", "C"}
    assert sandbox_clean.client_secret not in json.dumps(result.summary())


@pytest.mark.slow
def test_a_preview_sent_once_is_refused_the_second_time(sandbox_clean: Any, tmp_path: Path) -> None:
    from toolkit.runs import PlanAlreadySent

    settings = make_settings(tmp_path, sandbox_clean.environ())
    seed_skus(sandbox_clean, ["A", "B", "C"])
    preview = preview_feed(settings, "stock")
    first = submit_feed(preview, submit=True, timeout=30, poll_interval=0.1)
    assert first.succeeded and first.ending == "succeeded"
    jobs = sandbox_clean.stats().get("jobs")
    with pytest.raises(PlanAlreadySent, match=rf"plan {first.plan_id} .*jobs {first.job_ids[0]}"):
        submit_feed(preview, submit=True, timeout=30, poll_interval=0.1)
    assert sandbox_clean.stats().get("jobs") == jobs  # nothing reached Connect


@pytest.mark.slow
def test_failed_items_are_a_failed_run(sandbox_clean: Any, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sandbox_clean.environ())  # no SKUs: every on-hand row fails
    result = submit_feed(preview_feed(settings, "stock"), submit=True, timeout=30, poll_interval=0.1)
    assert result.statuses and set(result.statuses.values()) == {"Succeeded"}
    assert (result.ending, result.exit_code, result.succeeded) == ("items failed", 4, False)
    assert "3 of 3 items failed" in result.reason and "items failed" in str(result)
