"""The widget views without a browser: build them on small fakes, drive their callbacks, read state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from toolkit import widgets
from toolkit.config import Settings, load_settings
from toolkit.notebook import Preview, SubmitResult, submit_feed
from toolkit.reports import JobReport

TOML = """
[profiles.sandbox]
base_url = "http://127.0.0.1:9"
client_id = "sandbox"
scope = "sandbox"
[feeds.stock]
entity = "onhands"
account = "ERP"
source = "data/stock.csv"
[feeds.companies]
entity = "companies"
account = "CRM"
source = "data/companies.csv"
"""


@dataclass(frozen=True)
class FakeBatch:
    index: int
    endpoint: str
    header: dict[str, Any]
    body: bytes
    item_count: int
    entity: str = "onhands"
    id: str = "b"

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True)
class FakeSummary:
    values: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class FakePlan:
    batches: tuple[FakeBatch, ...]
    id: str = "plan-1"
    kind: str = "change"
    summary: FakeSummary = field(default_factory=lambda: FakeSummary({"field_counts": {"OnhandValue": 2}}))
    allow_mass_deactivation: bool = False
    override_reason: str | None = None


@dataclass(frozen=True)
class FakeCheck:
    rejected: pl.DataFrame
    summary: dict[str, int]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FakeDiff:
    changed: pl.DataFrame
    previous: pl.DataFrame
    counts: dict[str, int]
    field_counts: dict[str, int]


def batch(index: int, part_nos: list[str]) -> FakeBatch:
    items = [{"PartNo": p, "WarehouseCode": "WH1", "LocationCode": "A", "OnhandValue": 5} for p in part_nos]
    header = {"AccountId": 10000, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]}
    return FakeBatch(index, "Product/ImportSkuOnhands", header, orjson.dumps(items), len(items))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "norce.toml").write_text(TOML)
    return load_settings(tmp_path / "norce.toml", environ={})


@pytest.fixture
def preview(settings: Settings) -> Preview:
    check = FakeCheck(
        rejected=pl.DataFrame(
            {
                "_source": ["stock.csv"],
                "_row": [4],
                "key": ["SKU-4"],
                "column": ["OnhandValue"],
                "check": ["dtype"],
                "value": ["x"],
                "reason": ["not an integer"],
            }
        ),
        summary={
            "entity": "onhands",
            "rows": 4,
            "valid": 3,
            "rejected_rows": 1,
            "reject_ratio": 0.25,
            "problems": {"parse": 1},
            "examples": [{"key": "SKU-4"}],
        },
    )
    key = {"PartNo": ["SKU-1", "SKU-2"], "WarehouseCode": ["WH1"] * 2, "LocationCode": ["A"] * 2}
    diff = FakeDiff(
        changed=pl.DataFrame(
            {
                **key,
                "OnhandValue": [10, 6],
                "IncomingValue": [0, 1],
                "changed_fields": [["OnhandValue"], ["OnhandValue", "IncomingValue"]],
            }
        ),
        previous=pl.DataFrame({**key, "OnhandValue": [9, 5], "IncomingValue": [0, 0]}),
        counts={"added": 1, "changed": 2, "removed": 0, "unchanged": 7},
        field_counts={"OnhandValue": 2, "IncomingValue": 1},
    )
    plan = FakePlan((batch(0, ["SKU-1", "SKU-2", "SKU-3", "SKU-5"]), batch(1, ["SKU-9"])))
    return Preview(settings, "stock", "auto", None, check=check, diff=diff, plan=plan)  # type: ignore[arg-type]


def test_feed_picker_lists_feeds_and_forwards_values(settings: Settings) -> None:
    picker = widgets.FeedPicker(settings, feed="stock")
    assert picker.feed.options == ("companies", "stock")
    assert picker.source.placeholder == "data/stock.csv"
    picker.feed.value, picker.kind.value = "companies", "full"
    assert picker.source.placeholder == "data/companies.csv"
    got: list[dict[str, Any]] = []
    picker.on_pick(lambda **v: got.append(v))
    picker.button.click()
    assert got == [{"feed": "companies", "kind": "full", "source": None}]
    assert "t-feed" in picker.feed._dom_classes and "t-pick" in picker.button._dom_classes


def test_check_view_shows_counts_and_rejected_reasons(preview: Preview) -> None:
    view = widgets.CheckView()
    view.show(preview)
    assert "<b>4</b> rows" in view.summary.value and "<b>1 (25.0%)</b> rejected" in view.summary.value
    assert "<b>1</b> unreadable values" in view.summary.value and "examples" not in view.summary.value
    assert "ratio" not in view.summary.value and "problems" not in view.summary.value
    assert "not an integer" in view.rejected.value and "SKU-4" in view.rejected.value
    assert "_source" not in view.rejected.value and "_row" not in view.rejected.value


def test_diff_view_counts_chart_and_old_to_new(preview: Preview) -> None:
    view = widgets.DiffView()
    view.show(preview)
    assert "<b>2</b> changed" in view.counts.value
    (chart,) = view.chart.outputs
    assert chart["data"]["image/svg+xml"].startswith("<svg")
    # SKU-2 changed two fields, each old -> new
    html = view.changes.value
    assert "<td>SKU-2</td><td>WH1</td><td>A</td><td>IncomingValue</td><td>0</td><td>1</td>" in html
    assert "<td>SKU-1</td><td>WH1</td><td>A</td><td>OnhandValue</td><td>9</td><td>10</td>" in html


def test_diff_view_without_baseline(preview: Preview) -> None:
    view = widgets.DiffView()
    view.show(Preview(preview.settings, "stock", "auto", None, check=preview.check))
    assert "no baseline" in view.counts.value and view.chart.outputs == ()


def test_payload_view_navigates_batches(preview: Preview) -> None:
    view = widgets.PayloadView()
    view.show(preview.plan)
    assert view.label.value == "batch 1 of 2" and view.prev.disabled and not view.next.disabled
    assert "SkuOnhandFieldsThatAreSet" in view.header.value
    assert "Product/ImportSkuOnhands" in view.endpoint.value and "4 items" in view.endpoint.value
    assert view.items.value.count("&quot;PartNo&quot;") == widgets.ITEMS_SHOWN
    view.next.click()
    assert view.label.value == "batch 2 of 2" and view.next.disabled and "SKU-9" in view.items.value
    view.next.click()  # stays on the last one
    assert view.index == 1
    view.show(None)
    assert view.label.value == "no batches" and view.header.value == ""


class FakeSubmit:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, preview: Preview, **kw: Any) -> SubmitResult:
        self.calls.append({"preview": preview, **kw})
        if kw["submit"]:
            kw["progress"]({"event": "batch", "batches": 2, "accepted": 2})
            kw["on_status"]({101: "Queued", 102: "Queued"})
            return SubmitResult(
                preview.feed,
                "plan-1",
                False,
                2,
                5,
                (101, 102),
                {101: "Succeeded", 102: "Succeeded"},
                ending=self.ending,
                reason="2 jobs succeeded",
            )
        return SubmitResult(preview.feed, "plan-1", True, 2, 5, reason="nothing sent")

    ending: Any = "succeeded"


def test_submit_view_dry_run_then_submit(preview: Preview) -> None:
    fake = FakeSubmit()
    view = widgets.SubmitView(preview, submit=fake)
    assert view.dry_run.value is True and view.override.layout.display == "none"
    view.confirm.click()
    assert fake.calls[-1]["submit"] is False and "nothing sent" in view.statuses.value
    assert not view.confirm.disabled  # a dry run sends nothing: Confirm stays
    view.dry_run.value = False
    view.confirm.click()
    assert fake.calls[-1]["submit"] is True
    assert view.progress.value == 2 and view.progress.max == 2
    assert view.statuses.value.count("Succeeded") == 2 and view.errors == []


def test_submit_view_guard_refusal_needs_override(preview: Preview) -> None:
    refused = Preview(
        preview.settings, "stock", "full", None, verdict="guard refused: 40% removed", refused=True
    )
    replans: list[dict[str, Any]] = []
    sent: list[Preview] = []

    def replan(settings: Settings, feed: str, **kw: Any) -> Preview:
        replans.append(kw)
        return Preview(
            settings,
            feed,
            kw["kind"],
            None,
            plan=preview.plan,  # type: ignore[arg-type]
            verdict="ok (guard overridden: supplier dropped a brand; deactivates 4 of 10)",
        )

    def submit(p: Preview, **kw: Any) -> SubmitResult:
        sent.append(p)
        return submit_feed(p, submit=False)

    view = widgets.SubmitView(refused, submit=submit, replan=replan)
    assert view.override.layout.display is None and "guard refused" in view.verdict.value
    view.confirm.click()  # no override ticked: the refusal shows as an error, at the top
    assert view.errors == ["stock: guard refused: guard refused: 40% removed"]
    assert view.children[0] is view.output and view.output.outputs[0]["name"] == "stderr"
    view.override.value, view.reason.value = True, "   "
    view.confirm.click()  # an override without a reason is refused, nothing re-planned
    assert replans == [] and "needs a reason" in view.errors[0] and len(view.errors) == 1
    view.reason.value = "supplier dropped a brand"
    view.confirm.click()  # re-plans and restates what the override allows; nothing sent yet
    assert replans == [
        {
            "kind": "full",
            "source": None,
            "allow_mass_deactivation": True,
            "override_reason": "supplier dropped a brand",
        }
    ]
    assert len(sent) == 1 and view.errors == [] and "deactivates 4 of 10" in view.verdict.value
    view.confirm.click()
    assert len(sent) == 2 and sent[-1].plan is preview.plan and view.result is not None


def test_a_sent_plan_offers_resume_restart_or_a_new_preview(preview: Preview) -> None:
    fake, replans, restarts = FakeSubmit(), [], []
    view = widgets.SubmitView(
        preview,
        submit=fake,
        replan=lambda s, f, **kw: replans.append(kw) or preview,
        restart=lambda s, ids, **kw: restarts.append(ids) or [7],
    )
    assert view.after.layout.display == "none"
    view.dry_run.value = False
    view.confirm.click()
    assert view.confirm.disabled and view.after.layout.display is None
    view.confirm.click()  # disabled in the browser; a click event anyway sends nothing
    assert len(fake.calls) == 1 and "this plan was sent" in view.errors[0]
    view.restart.click()  # nothing failed: said so, at the top
    assert restarts == [] and "no failed job" in view.errors[0]
    view.again.click()
    assert replans == [{"kind": "auto", "source": None}] and not view.confirm.disabled
    assert view.statuses.value == "" and view.result is None and view.errors == []


def test_failed_items_show_as_an_error_and_a_new_feed_clears_it(preview: Preview) -> None:
    fake = FakeSubmit()
    fake.ending = "items failed"
    view = widgets.SubmitView(preview, submit=fake)
    view.dry_run.value = False
    view.confirm.click()
    assert view.errors == ["stock: items failed: 2 jobs succeeded"]
    refused = Preview(preview.settings, "companies", "auto", None, verdict="guard refused: 90%", refused=True)
    view.show(refused)  # another feed: nothing of the earlier result stays
    assert view.statuses.value == "" and view.result is None and not view.confirm.disabled


def test_unexpected_errors_show_a_traceback(preview: Preview) -> None:
    def broken(*_: Any, **__: Any) -> SubmitResult:
        raise KeyError("boom")

    view = widgets.SubmitView(preview, submit=broken)
    view.confirm.click()
    assert "Traceback" in view.errors[0] and "KeyError: 'boom'" in view.errors[0]


def test_preview_app_reloads_on_pick(preview: Preview, settings: Settings) -> None:
    loads: list[tuple[str, dict[str, Any]]] = []

    def load(s: Settings, feed: str, **kw: Any) -> Preview:
        loads.append((feed, kw))
        return Preview(s, feed, kw["kind"], kw["source"], verdict="ok (nothing to send)")

    app = widgets.PreviewApp(preview, load=load)
    assert "Product/ImportSkuOnhands" in app.payload.endpoint.value
    app.picker.feed.value = "companies"
    app.picker.button.click()
    assert loads == [("companies", {"kind": "auto", "source": None})]
    assert "companies" in app.verdict.value and app.payload.label.value == "no batches"


def test_submit_app_shares_the_picked_preview(preview: Preview) -> None:
    fake = FakeSubmit()
    app = widgets.SubmitApp(preview, load=lambda s, f, **kw: preview, submit=fake)
    assert app.submit in app.children and app.check not in app.children
    app.picker.button.click()
    app.submit.dry_run.value = False
    app.submit.confirm.click()
    assert fake.calls[-1]["preview"] is preview and "Succeeded" in app.submit.statuses.value
    assert app.children[0] is app.output and app.submit.output is app.output  # errors on top
    app.submit.confirm.click()
    assert "this plan was sent" in app.output.outputs[0]["text"]
    app.picker.button.click()  # the next action clears the error and the earlier result
    assert app.output.outputs == () and app.submit.statuses.value == ""


def outcomes() -> pl.DataFrame:
    at = datetime(2024, 5, 1, 8, tzinfo=UTC)
    return pl.DataFrame(
        {
            "feed": ["stock", "stock"],
            "kind": ["change", "change"],
            "plan_id": ["p1", "p1"],
            "job_id": [1, 2],
            "status": ["Failed", "Succeeded"],
            "items": [5, 5],
            "failures": [5, 0],
            "queued_at": [at, at],
            "run_time_s": [1.0, 2.0],
            "lead_time_s": [3.0, 4.0],
            "restarted_from": [None, None],
        },
        schema_overrides={"restarted_from": pl.Int64},
    )


def test_jobs_view_filters_restarts_and_charts(settings: Settings) -> None:
    loads: list[dict[str, Any]] = []
    restarts: list[list[int]] = []

    def load(s: Settings, **kw: Any) -> JobReport:
        loads.append(kw)
        return JobReport(s, outcomes().filter(pl.col("status") == "Succeeded"), **kw)

    def restart(s: Settings, job_ids: list[int], **kw: Any) -> list[int]:
        restarts.append(job_ids)
        return [3]

    view = widgets.JobsView(JobReport(settings, outcomes(), period="30d"), load=load, restart=restart)
    assert view.failed.options == (1,) and not view.restart.disabled
    assert "<b>2</b> jobs" in view.summary.value and len(view.charts.outputs) == 5
    view.failed.value = (1,)
    view.restart.click()
    assert restarts == [[1]] and loads == [{"feed": None, "status": None, "period": "30d"}]
    assert view.restart.disabled and "<b>1</b> jobs" in view.summary.value
    view.feed.value, view.status.value, view.period.value = "stock", "Failed", "all"
    view.refresh.click()
    assert loads[-1] == {"feed": "stock", "status": "Failed", "period": None}
