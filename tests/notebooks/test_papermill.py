"""Each notebook runs headless with papermill against the real sandbox and writes its summary.

The kernel inherits this process's environment, which is how the sandbox's URL and client secret reach
``load_settings`` (never as a parameter). The executed notebooks must hold neither the secret nor any
bearer token the sandbox issued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import papermill
import pytest
from nb_workspace import NOTEBOOKS, write_workspace

pytestmark = pytest.mark.slow


def run(name: str, workdir: Path, **parameters: Any) -> tuple[str, dict[str, Any]]:
    """Execute ``notebooks/<name>`` headless; return the executed notebook's text and summary.json."""
    out_dir = workdir / "out" / Path(name).stem
    executed = workdir / f"executed-{name}"
    papermill.execute_notebook(
        str(NOTEBOOKS / name),
        str(executed),
        kernel_name="python3",
        cwd=str(workdir),
        parameters={
            "settings_path": str(workdir / "norce.toml"),
            "interactive": False,
            "output_dir": str(out_dir),
            **parameters,
        },
        progress_bar=False,
    )
    return executed.read_text(), json.loads((out_dir / "summary.json").read_text())


def assert_no_secrets(text: str, sandbox: Any) -> None:
    assert sandbox.client_secret not in text
    tokens = list(sandbox._sandbox._tokens)  # every bearer token the sandbox has issued
    assert tokens, "the notebook was expected to log in"
    assert not [t for t in tokens if t in text]


@pytest.fixture(scope="module")
def submitted(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict]]:
    """Notebook 02 run headless with submit True on the companies feed (module-wide workspace)."""
    sandbox.reset()
    workdir = tmp_path_factory.mktemp("papermill")
    write_workspace(workdir)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in sandbox.environ().items():
            mp.setenv(k, v)
        text, summary = run("02-submit-feed.ipynb", workdir, feed="companies", submit=True)
        yield workdir, text, summary


def test_preview_headless_writes_summary_and_rejected_rows(
    workspace: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in sandbox.environ().items():
        monkeypatch.setenv(k, v)
    text, summary = run("01-preview-feed.ipynb", workspace.parent, feed="stock")
    assert summary["feed"] == "stock" and summary["verdict"] == "ok"
    assert summary["check"]["rejected"] >= 1
    assert summary["plan"]["kind"] == "full" and summary["plan"]["items"] == 3
    out = workspace.parent / "out" / "01-preview-feed"
    assert "SKU-4" in (out / "rejected.csv").read_text()
    assert (out / "changes_per_field.svg").read_text().startswith("<svg")
    assert "stock (auto feed): ok" in text and "'verdict'" not in text  # the summary, as a few lines
    assert '"output_type": "error"' not in text
    assert sandbox.client_secret not in text


def test_submit_headless_sends_and_waits_for_success(submitted: tuple[Path, str, dict], sandbox: Any) -> None:
    _, text, summary = submitted
    assert summary["dry_run"] is False and summary["succeeded"] is True
    assert list(summary["statuses"].values()) == ["Succeeded"] * len(summary["job_ids"])
    assert summary["promoted"]
    assert {i["Code"] for i in sandbox.items("companies")} == {"C1", "C2"}
    assert "jobs succeeded" in text and '"output_type": "error"' not in text
    assert_no_secrets(text, sandbox)


def test_submit_headless_dry_run_sends_nothing(
    workspace: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in sandbox.environ().items():
        monkeypatch.setenv(k, v)
    before = sandbox.stats()
    _, summary = run("02-submit-feed.ipynb", workspace.parent, feed="stock")
    assert summary["outcome"] == "dry run" and summary["dry_run"] is True
    assert summary["job_ids"] == [] and summary["batches"] == 1
    assert sandbox.stats().get("jobs") == before.get("jobs")


def test_job_outcomes_headless_writes_charts(submitted: tuple[Path, str, dict], sandbox: Any) -> None:
    workdir, _, _ = submitted
    with pytest.MonkeyPatch.context() as mp:
        for k, v in sandbox.environ().items():
            mp.setenv(k, v)
        text, summary = run("03-job-outcomes.ipynb", workdir, period="1d")
    assert summary["jobs"] >= 1 and summary["by_status"] == {"Succeeded": summary["jobs"]}
    out = workdir / "out" / "03-job-outcomes"
    for chart in ("jobs_per_day", "lead_times", "run_times", "items_per_job", "failures_by_feed"):
        assert (out / f"{chart}.svg").read_text().startswith("<svg")
        assert (out / f"{chart}.png").read_bytes().startswith(b"\x89PNG")
    for chart in (
        "items_by_day",
        "refusals_by_day",
        "jobs_by_day",
        "writes_by_day",
        "lead_and_run_times_by_day",
    ):
        assert (out / f"{chart}.svg").read_text().startswith("<svg")  # the feed health by business day
    assert (out / "feed_health.csv").read_text().startswith("business_day,feed")
    assert text.count('"image/svg+xml"') == 10  # 5 job and 5 feed-health charts, each an offline SVG once
    assert "next kind" in text and "open plan" in text  # where the feeds stand, as norce-feeds status
    assert "cdn.jsdelivr" not in text and '"output_type": "error"' not in text
