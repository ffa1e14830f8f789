"""The feed-health view by business day, against the real sandbox: two days' exports sent minutes apart
are two business days; a refused day is in the view with its reason; jobs bring lead and run times."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_notebook import make_settings, seed_skus

from toolkit import charts
from toolkit.feed_health import feed_health
from toolkit.notebook import preview_feed, submit_feed

pytestmark = pytest.mark.slow

HEAD = "PartNo,WarehouseCode,LocationCode,OnhandValue,IsActive\n"
DAY2 = HEAD + "A,W,L,4,true\nB,W,L,2,true\n"  # C is missing: a third of the baseline deactivated
DAY3 = HEAD + "A,W,L,oops,true\nB,W,L,2,true\n"  # a bad row, half the source: checks fail


def _send(settings: Any, day: str, **options: Any) -> Any:
    preview = preview_feed(settings, "stock", **options)
    return submit_feed(preview, submit=True, timeout=60, poll_interval=0.1, business_day=day)


@pytest.fixture
def two_days(sandbox_clean: Any, tmp_path: Path) -> Any:
    settings = make_settings(tmp_path, sandbox_clean.environ())
    seed_skus(sandbox_clean, ["A", "B", "C"])
    sandbox_clean.configure(run_time_scale=1.0, run_time_base=0.3, run_time_per_item=0.0, run_time_jitter=0.0)
    assert _send(settings, "2025-03-03").ending == "succeeded"
    (tmp_path / "day2.csv").write_text(DAY2)
    refused = _send(settings, "2025-03-04", kind="change", source=str(tmp_path / "day2.csv"))
    assert refused.ending == "guard refused"
    (tmp_path / "day3.csv").write_text(DAY3)
    assert _send(settings, "2025-03-05", source=str(tmp_path / "day3.csv")).ending == "checks failed"
    return settings


def test_each_business_day_is_a_row_with_its_refusal_jobs_and_times(two_days: Any) -> None:
    table = feed_health(two_days).table()
    assert table["business_day"].to_list() == [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)]
    first, second, third = table.to_dicts()
    assert (first["feed"], first["added"], first["jobs"], first["succeeded"], first["inserted"]) == (
        "stock",
        3,
        1,
        1,
        3,
    )
    assert first["refused"] == 0 and first["median_run_time_s"] == pytest.approx(0.3, abs=0.15)
    assert first["median_lead_time_s"] >= 0
    assert (second["refused"], second["jobs"], second["deactivated"]) == (1, 0, 1)
    assert "guard refused" in second["refusal"] and "deactivate" in second["refusal"]
    assert (third["refused"], third["rejected"]) == (1, 1) and "checks failed" in third["refusal"]


def test_the_charts_show_both_days_and_say_so_when_empty(two_days: Any, tmp_path: Path) -> None:
    health = feed_health(two_days)
    drawn = {name: charts.render(chart).data for name, chart in health.charts().items()}
    assert "2025-03-04" in drawn["refusals_by_day"] and "guard refused" in drawn["refusals_by_day"]
    assert "2025-03-03" in drawn["items_by_day"] and "2025-03-04" in drawn["items_by_day"]
    assert "2025-03-03" in drawn["lead_and_run_times_by_day"]
    empty = feed_health(two_days, feed="stock_bad").charts()
    assert "no refusals" in charts.render(empty["refusals_by_day"]).data
    written = health.write(tmp_path / "charts")
    assert (written / "feed_health.csv").exists() and (written / "jobs_by_day.png").stat().st_size > 1000


def test_the_report_command_writes_one_offline_file_with_the_feeds_and_jobs(
    two_days: Any, tmp_path: Path
) -> None:
    from toolkit.cli import main
    from toolkit.runs import read_job_outcomes

    out = tmp_path / "report" / "run.html"
    assert main(["--settings", str(two_days.path), "report", "--since", "7d", "--out", str(out)]) == 0
    text = out.read_text()
    assert not re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']?https?://", text)
    assert "<script" not in text and text.count("<svg") >= 6  # charts inline, nothing to fetch
    for job_id in read_job_outcomes(two_days)["job_id"].to_list():
        assert f">{job_id}<" in text
    assert "stock" in text and "2025-03-04" in text and "guard refused" in text
    assert "_source" not in text and "_row" not in text
