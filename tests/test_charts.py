from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from toolkit import charts


@pytest.fixture
def outcomes() -> pl.DataFrame:
    """A tiny job_outcomes frame: two feeds over two days, one failure."""
    day1, day2 = datetime(2024, 5, 1, 8, tzinfo=UTC), datetime(2024, 5, 2, 9, tzinfo=UTC)
    return pl.DataFrame(
        {
            "feed": ["stock", "stock", "prices", "prices"],
            "entity": ["onhands", "onhands", "sku_prices", "sku_prices"],
            "job_id": [1, 2, 3, 4],
            "status": ["Succeeded", "Failed", "Succeeded", "Queued"],
            "items": [100, 50, 2000, 10],
            "failures": [0, 50, 3, None],
            "queued_at": [day1, day1, day2, day2],
            "run_time_s": [1.5, 2.0, 30.0, None],
            "lead_time_s": [4.0, 5.5, 42.0, None],
        },
        schema_overrides={"queued_at": pl.Datetime("us", "UTC")},
    )


def test_jobs_per_day_counts_per_day_and_status(outcomes: pl.DataFrame) -> None:
    data = charts.jobs_per_day(outcomes).data
    assert sorted(data.rows()) == [
        ("2024-05-01", "Failed", 1),
        ("2024-05-01", "Succeeded", 1),
        ("2024-05-02", "Queued", 1),
        ("2024-05-02", "Succeeded", 1),
    ]


def test_jobs_of_one_day_are_counted_per_hour_and_of_one_hour_per_minute(outcomes: pl.DataFrame) -> None:
    def at(*hour_minute: tuple[int, int]) -> pl.DataFrame:
        times = [datetime(2024, 5, 1, h, m, tzinfo=UTC) for h, m in hour_minute]
        return outcomes.head(len(times)).with_columns(pl.Series("queued_at", times))

    hours = charts.jobs_per_day(at((8, 5), (8, 50), (9, 1)))
    assert sorted(hours.data.rows()) == [
        ("2024-05-01 08:00", "Failed", 1),
        ("2024-05-01 08:00", "Succeeded", 1),
        ("2024-05-01 09:00", "Succeeded", 1),
    ]
    assert hours.to_dict()["title"] == "Jobs per hour by status"
    minutes = charts.jobs_per_day(at((8, 5), (8, 5), (8, 7)))
    assert minutes.data["time"].unique().sort().to_list() == ["2024-05-01 08:05", "2024-05-01 08:07"]
    assert minutes.to_dict()["encoding"]["x"]["title"] == "minute (UTC)"


def test_count_axes_label_whole_numbers_only(outcomes: pl.DataFrame) -> None:
    svg = charts.render(charts.jobs_per_day(outcomes.head(2))).data
    labels = re.findall(r">([^<]+)</text>", svg)
    assert "0.5" not in labels and labels.count("1") == 1


def test_status_colours_are_fixed_so_charts_agree(outcomes: pl.DataFrame) -> None:
    scale = charts.jobs_per_day(outcomes).to_dict()["encoding"]["color"]["scale"]
    assert scale["domain"][:3] == ["Initialized", "Succeeded", "Failed"]
    assert len(scale["range"]) == len(scale["domain"])


def test_durations_drop_unfinished_jobs(outcomes: pl.DataFrame) -> None:
    assert charts.lead_times(outcomes).data["seconds"].to_list() == [4.0, 5.5, 42.0]
    assert charts.run_times(outcomes).data["seconds"].to_list() == [1.5, 2.0, 30.0]


def test_failures_by_feed(outcomes: pl.DataFrame) -> None:
    assert charts.failures_by_feed(outcomes).data.rows() == [
        ("prices", "failed jobs", 0),
        ("prices", "failed items", 3),
        ("stock", "failed jobs", 1),
        ("stock", "failed items", 50),
    ]


def test_changes_per_field_from_dict_or_frame() -> None:
    from_dict = charts.changes_per_field({"IncomingValue": 1, "OnhandValue": 3})
    from_frame = charts.changes_per_field(pl.DataFrame({"field": ["OnhandValue"], "rows": [3]}))
    assert from_dict.data.rows() == [("OnhandValue", 3), ("IncomingValue", 1)]
    assert from_frame.data.rows() == [("OnhandValue", 3)]
    assert charts.changes_per_field({}).to_dict()["mark"]["type"] == "text"


@pytest.mark.parametrize("empty", [True, False])
def test_every_job_chart_renders_to_svg(outcomes: pl.DataFrame, empty: bool) -> None:
    frame = outcomes.clear() if empty else outcomes
    rendered = {name: charts.render(c) for name, c in charts.job_charts(frame).items()}
    assert set(rendered) == {"jobs_per_day", "lead_times", "run_times", "items_per_job", "failures_by_feed"}
    for svg in rendered.values():
        assert svg.data.startswith("<svg")
        assert svg._repr_svg_() == svg.data


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html", ".json"])
def test_save_writes_by_suffix(outcomes: pl.DataFrame, tmp_path: Path, suffix: str) -> None:
    path = charts.save(charts.jobs_per_day(outcomes), tmp_path / "sub" / f"chart{suffix}")
    data = path.read_bytes()
    assert len(data) > 100
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    if suffix == ".html":
        text = data.decode()
        assert "cdn.jsdelivr" not in text and "<script src=" not in text  # vega is inlined


def test_empty_charts_still_save_as_png(outcomes: pl.DataFrame, tmp_path: Path) -> None:
    empty = {**charts.job_charts(outcomes.clear()), "changes": charts.changes_per_field({})}
    for name, chart in empty.items():
        assert charts.save(chart, tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_save_refuses_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"chart\.gif.*\.png, \.svg, \.html or \.json"):
        charts.save(charts.changes_per_field({"a": 1}), tmp_path / "chart.gif")


def test_enable_offline_uses_svg_renderer() -> None:
    import altair as alt

    before = alt.renderers.active
    try:
        charts.enable_offline()
        assert alt.renderers.active == "svg"
    finally:
        alt.renderers.enable(before)


def test_failures_by_feed_without_failures_says_so(outcomes: pl.DataFrame) -> None:
    calm = outcomes.with_columns(pl.lit("Succeeded").alias("status"), pl.lit(0).alias("failures"))
    chart = charts.failures_by_feed(calm)
    assert chart.data["text"].to_list() == ["no failures"]
    assert ">0<" not in charts.render(chart).data  # no lone zero on an axis


def test_gallery_shows_each_chart_once(outcomes: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    charts.gallery(charts.job_charts(outcomes))
    assert len(shown) == 5 and all(s.data.startswith("<svg") for s in shown)
