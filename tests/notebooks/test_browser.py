"""The notebooks in a real JupyterLab, driven by headless Chromium (Playwright).

Recipe: /work/shared/recipes/jupyterlab-browser-test.md. Lab runs once per session over a tiny workspace
with the sandbox's variables in its environment; each test opens a parameterized copy of a notebook,
runs all cells, clicks through the widgets by their ``t-...`` classes and saves screenshots into
test-artifacts/. The preview screenshot is also kept as docs/img/preview-feed.png for the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nb_workspace import ROOT, parameterized_copy

pytestmark = [pytest.mark.slow, pytest.mark.browser]

IDLE = """() => { const w = window.jupyterapp?.shell.currentWidget;
  return w?.sessionContext?.session?.kernel?.status === 'idle'; }"""
RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
ERROR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
TIMEOUT = 90_000  # ms; a cold kernel plus altair's import can take a while on two cores


def open_and_run(page: Any, lab: Any, name: str, **parameters: Any) -> None:
    """Open a copy of ``notebooks/<name>`` (settings pointing at the workspace) and run all cells."""
    parameterized_copy(name, lab.root, settings_path=str(lab.root / "norce.toml"), **parameters)
    page.set_default_timeout(TIMEOUT)
    page.goto(lab.url(name))
    page.wait_for_function(IDLE)
    page.evaluate(RUN_ALL)


def wait_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([s, t]) => [...document.querySelectorAll(s)].some(e => e.innerText.includes(t))",
        arg=[selector, text],
    )


def assert_no_errors(page: Any) -> None:
    errors = page.locator(f"{STDERR}, {ERROR}")
    assert errors.count() == 0, errors.all_inner_texts()
    shown = [t for t in page.locator(".t-output").all_inner_texts() if t.strip()]
    assert not shown, shown  # a widget callback failed


def shot(locator: Any, *paths: Path) -> None:
    locator.scroll_into_view_if_needed()
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        locator.screenshot(path=str(path))


def test_preview_shows_header_of_picked_feed(lab: Any, page: Any, artifacts: Path) -> None:
    open_and_run(page, lab, "01-preview-feed.ipynb", feed="stock")
    wait_text(page, ".t-rejected", "SKU-4")  # stock's bad row, with its reason
    wait_text(page, ".t-header", "SkuOnhandFieldsThatAreSet")
    page.locator(".t-feed select").select_option("companies")
    page.locator(".t-pick").click()
    wait_text(page, ".t-preview-verdict", "companies")
    wait_text(page, ".t-header", "CompanyFieldsThatAreSet")
    wait_text(page, ".t-endpoint", "Customer/ImportCompanies")
    assert "C1" in page.locator(".t-items").inner_text()
    page.wait_for_function(IDLE)
    assert_no_errors(page)
    app = page.locator(".t-preview-app")
    shot(app, artifacts / "01-preview-feed.png", ROOT / "docs" / "img" / "preview-feed.png")


def test_submit_reaches_succeeded(lab: Any, page: Any, artifacts: Path, sandbox: Any) -> None:
    sandbox.reset()
    open_and_run(page, lab, "02-submit-feed.ipynb", feed="stock")
    page.locator(".t-feed select").select_option("companies")
    page.locator(".t-pick").click()
    wait_text(page, ".t-header", "CompanyFieldsThatAreSet")
    wait_text(page, ".t-verdict", "verdict: ok")
    page.locator(".t-dry-run input").uncheck()
    page.locator(".t-confirm").click()
    wait_text(page, ".t-job-status", "Succeeded")
    wait_text(page, ".t-statuses", "1 of 1 jobs succeeded")
    page.wait_for_function(IDLE)
    assert_no_errors(page)
    assert {i["Code"] for i in sandbox.items("companies")} == {"C1", "C2"}
    shot(page.locator(".t-preview-app"), artifacts / "02-submit-feed.png")


def test_job_outcomes_render_charts(lab: Any, page: Any, artifacts: Path, sandbox: Any) -> None:
    from toolkit import load_settings
    from toolkit.notebook import preview_feed, submit_feed

    settings = load_settings(lab.root / "norce.toml", environ=sandbox.environ())
    submit_feed(preview_feed(settings, "companies"), submit=True, timeout=60)  # at least one job
    open_and_run(page, lab, "03-job-outcomes.ipynb")
    wait_text(page, ".t-jobs-summary", "jobs")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-RenderedSVG img').length >= 10")  # 5 in the view, 5 cells
    sizes = page.locator(".jp-RenderedSVG img").evaluate_all(
        "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(sizes) >= 10 and all(w > 0 and h > 0 for w, h in sizes), sizes
    assert page.locator(".t-jobs-charts .jp-RenderedSVG img").count() == 5
    page.wait_for_function(IDLE)
    assert_no_errors(page)
    shot(page.locator(".t-jobs-view"), artifacts / "03-job-outcomes.png")
