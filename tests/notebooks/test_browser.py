"""The notebooks in a real JupyterLab, driven by headless Chromium (Playwright).

Recipe: /work/shared/recipes/jupyterlab-browser-test.md. Lab runs once per session over a tiny workspace
with the sandbox's variables in its environment; each test opens a parameterized copy of a notebook,
runs all cells, clicks through the widgets by their ``t-...`` classes and saves screenshots into
test-artifacts/. With UPDATE_SCREENSHOTS=1 the preview screenshot also refreshes docs/img/preview-feed.png,
the README's picture.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nb_workspace import ROOT, parameterized_copy

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# the notebook just opened is current and its kernel idle (Lab may restore tabs of earlier tests)
IDLE = """(name) => { const w = window.jupyterapp?.shell.currentWidget;
  return w?.context?.path === name && w?.sessionContext?.session?.kernel?.status === 'idle'; }"""
RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
ERROR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
TIMEOUT = 90_000  # ms; a cold kernel plus altair's import can take a while on two cores


def open_and_run(page: Any, lab: Any, name: str, **parameters: Any) -> None:
    """Open a copy of ``notebooks/<name>`` (settings pointing at the workspace) and run all cells."""
    parameterized_copy(name, lab.root, settings_path=str(lab.root / "norce.toml"), **parameters)
    page.set_default_timeout(TIMEOUT)
    page.goto(lab.url(name))
    page.wait_for_function(IDLE, arg=name)
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


def shot(page: Any, selector: str, *paths: Path) -> None:
    """Screenshot one widget whole: a viewport tall enough that Lab's inner scroller holds it."""
    size = page.viewport_size
    box = page.locator(selector).bounding_box()
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(box["height"]) + 300)})
    try:
        locator = page.locator(selector)
        locator.scroll_into_view_if_needed()
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            locator.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


def seed_baseline(lab: Any, sandbox: Any, feed: str) -> None:
    """Send ``feed`` once (in this process) so the notebooks find a baseline and a job."""
    from toolkit import load_settings
    from toolkit.notebook import preview_feed, submit_feed

    settings = load_settings(lab.root / "norce.toml", environ=sandbox.environ())
    result = submit_feed(preview_feed(settings, feed, kind="full"), submit=True, timeout=60)
    assert result.succeeded, result


def test_preview_shows_changes_and_header_of_picked_feed(
    lab: Any, page: Any, artifacts: Path, sandbox: Any
) -> None:
    seed_baseline(lab, sandbox, "companies")
    open_and_run(page, lab, "01-preview-feed.ipynb", feed="companies", source="data/companies-day2.csv")
    wait_text(page, ".t-diff-counts", "changed")
    wait_text(page, ".t-diff-sample", "Beta Nordic AB")  # old -> new of the renamed company
    page.locator(".t-diff-chart img").wait_for(state="visible")
    wait_text(page, ".t-header", "CompanyFieldsThatAreSet")
    page.wait_for_function(IDLE, arg="01-preview-feed.ipynb")
    assert_no_errors(page)
    # UPDATE_SCREENSHOTS=1 refreshes the README's picture; by default the tree stays clean
    readme_shot = [ROOT / "docs" / "img" / "preview-feed.png"] if os.environ.get("UPDATE_SCREENSHOTS") else []
    shot(page, ".t-preview-app", artifacts / "01-preview-feed.png", *readme_shot)

    page.locator(".t-feed select").select_option("stock")
    page.locator(".t-source input").fill("")
    page.locator(".t-pick").click()
    wait_text(page, ".t-preview-verdict", "stock")
    wait_text(page, ".t-header", "SkuOnhandFieldsThatAreSet")
    wait_text(page, ".t-rejected", "SKU-4")  # stock's bad row, with its reason
    wait_text(page, ".t-endpoint", "Product/ImportOnhands")
    assert "SKU-1" in page.locator(".t-items").inner_text()
    page.wait_for_function(IDLE, arg="01-preview-feed.ipynb")
    assert_no_errors(page)
    shot(page, ".t-preview-app", artifacts / "01-preview-feed-stock.png")


def test_submit_reaches_succeeded(lab: Any, page: Any, artifacts: Path, sandbox: Any) -> None:
    sandbox.reset()
    open_and_run(page, lab, "02-submit-feed.ipynb", feed="stock", kind="full")
    page.locator(".t-feed select").select_option("companies")
    page.locator(".t-pick").click()
    wait_text(page, ".t-header", "CompanyFieldsThatAreSet")
    wait_text(page, ".t-verdict", "verdict: ok")
    page.locator(".t-dry-run input").uncheck()
    page.locator(".t-confirm").click()
    wait_text(page, ".t-job-status", "Succeeded")
    wait_text(page, ".t-statuses", "1 of 1 jobs succeeded")
    page.wait_for_function(IDLE, arg="02-submit-feed.ipynb")
    assert_no_errors(page)
    assert {i["Code"] for i in sandbox.items("companies")} == {"C1", "C2"}
    shot(page, ".t-preview-app", artifacts / "02-submit-feed.png")


def test_job_outcomes_render_charts(lab: Any, page: Any, artifacts: Path, sandbox: Any) -> None:
    seed_baseline(lab, sandbox, "companies")  # at least one job in the ledger
    open_and_run(page, lab, "03-job-outcomes.ipynb")
    wait_text(page, ".t-jobs-summary", "jobs")
    page.wait_for_function(
        "() => document.querySelectorAll('.t-jobs-charts .jp-RenderedSVG img').length >= 5"
    )
    sizes = page.locator(".jp-RenderedSVG img").evaluate_all(
        "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])"
    )
    # five feed-health charts in their cell, five job charts in the view: each drawn once
    assert page.locator(".t-jobs-charts .jp-RenderedSVG img").count() == 5
    assert len(sizes) == 10 and all(w > 0 and h > 0 for w, h in sizes), sizes
    page.wait_for_function(IDLE, arg="03-job-outcomes.ipynb")
    assert_no_errors(page)
    shot(page, ".t-jobs-view", artifacts / "03-job-outcomes.png")


CUT = "Code,Name,OrganizationNo,EmailAddress,IsActive\nC1,Acme AB,556000-0001,info@acme.example,true\n"


def jobs_in(sandbox: Any) -> int:
    return sum(sandbox.stats()["jobs"].values())


def pick(page: Any, *, source: str) -> None:
    page.locator(".t-source input").fill(source)
    page.locator(".t-pick").click()


def test_a_plan_is_sent_once_and_a_refused_feed_shows_no_stale_result(
    lab: Any, page: Any, artifacts: Path, sandbox: Any
) -> None:
    sandbox.reset()
    (lab.root / "data" / "companies-cut.csv").write_text(CUT)  # a truncated export: C2 (and C3) missing
    open_and_run(page, lab, "02-submit-feed.ipynb", feed="companies", kind="full")
    wait_text(page, ".t-verdict", "verdict: ok")
    page.locator(".t-dry-run input").uncheck()
    confirm = page.locator(".t-confirm")
    confirm.click()
    wait_text(page, ".t-statuses", "jobs succeeded")
    page.wait_for_function(IDLE, arg="02-submit-feed.ipynb")
    assert jobs_in(sandbox) == 1
    assert confirm.is_disabled() and page.locator(".t-after").is_visible()  # Resume, Restart, New preview
    confirm.dispatch_event("click")  # a click that reaches the kernel anyway is refused there
    wait_text(page, ".t-output", "this plan was sent")
    page.wait_for_function(IDLE, arg="02-submit-feed.ipynb")
    assert jobs_in(sandbox) == 1  # the same plan was not sent twice
    shot(page, ".t-preview-app", artifacts / "02-sent-once.png")

    pick(page, source="data/companies-cut.csv")  # the guard refuses this one
    wait_text(page, ".t-verdict", "guard refused")
    page.wait_for_function(IDLE, arg="02-submit-feed.ipynb")
    assert_no_errors(page)  # the earlier error is gone with the new action
    assert "Succeeded" not in page.locator(".t-statuses").inner_text()  # no stale result
    assert page.locator(".t-job-status").count() == 0 and not confirm.is_disabled()

    page.locator(".t-override input").check()  # an override without a reason is refused
    confirm.click()
    wait_text(page, ".t-output", "needs a reason")
    page.wait_for_function(IDLE, arg="02-submit-feed.ipynb")
    top = page.locator(".t-output").first.bounding_box()
    assert top["y"] < page.locator(".t-verdict").bounding_box()["y"]  # the error is on top
    assert jobs_in(sandbox) == 1 and "guard refused" in page.locator(".t-verdict").inner_text()
    shot(page, ".t-preview-app", artifacts / "02-override-needs-a-reason.png")


# --- after the demo week: screenshots of notebooks 01-03 and the HTML report --------------------------
DEMO_FEEDS = "price-lists,products-erp,prices,stock"
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished demo week: DEMO_OUT when it names one (the full demo), else four feeds run here."""
    given = Path(os.environ.get("DEMO_OUT", "/nonexistent"))
    if (given / "summary.md").exists() and (given / "report.html").exists():
        return given
    out = tmp_path_factory.mktemp("demo")
    command = [sys.executable, "-m", "toolkit.demo", "--out", str(out), "--feeds", DEMO_FEEDS]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def demo_lab(
    demo_out: Path, chromium: Path, tmp_path_factory: pytest.TempPathFactory, lab_server: Any
) -> Iterator[Any]:
    with lab_server(demo_out, tmp_path_factory.mktemp("demo-lab"), {}) as server:
        yield server


def _shots(artifacts: Path, name: str) -> list[Path]:
    docs = [ROOT / "docs" / "img" / name] if os.environ.get("UPDATE_SCREENSHOTS") else []
    return [artifacts / name, *docs]


def _open_demo(page: Any, lab: Any, name: str, **parameters: Any) -> None:
    folder = lab.root / "shots"
    folder.mkdir(exist_ok=True)
    parameterized_copy(name, folder, settings_path=str(lab.root / "norce.toml"), **parameters)
    page.set_default_timeout(TIMEOUT)
    page.goto(lab.url(f"shots/{name}"))
    page.wait_for_function(IDLE, arg=f"shots/{name}")
    page.evaluate(RUN_ALL)


def test_screenshots_of_the_notebooks_after_the_demo_week(demo_lab: Any, page: Any, artifacts: Path) -> None:
    _open_demo(
        page, demo_lab, "01-preview-feed.ipynb", feed="prices", source=str(SAMPLE / "day4" / "erp_prices.csv")
    )
    wait_text(page, ".t-rejected", "PriceSale")  # day 4's bad price rows, with their reasons
    page.wait_for_function(IDLE, arg="shots/01-preview-feed.ipynb")
    assert_no_errors(page)
    shot(page, ".t-preview-app", *_shots(artifacts, "01-preview-feed.png"))

    _open_demo(
        page, demo_lab, "02-submit-feed.ipynb", feed="stock", source=str(SAMPLE / "day4" / "erp_stock.csv")
    )
    wait_text(page, ".t-verdict", "guard refused")  # day 4's truncated stock export
    page.wait_for_function(IDLE, arg="shots/02-submit-feed.ipynb")
    assert_no_errors(page)
    shot(page, ".t-preview-app", *_shots(artifacts, "02-submit-feed.png"))

    _open_demo(page, demo_lab, "03-job-outcomes.ipynb", period="")
    page.wait_for_function(
        "() => document.querySelectorAll('.t-jobs-charts .jp-RenderedSVG img').length >= 5"
    )
    page.wait_for_function(IDLE, arg="shots/03-job-outcomes.ipynb")
    assert_no_errors(page)
    table = page.locator(".jp-Cell", has=page.locator(".t-table", has_text="median lead time")).first
    for day in ("2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06"):
        assert day in table.inner_text()
    shot(
        page,
        ".jp-Cell:has(.t-table:has-text('median lead time'))",
        *_shots(artifacts, "03-feed-health-table.png"),
    )
    gallery = ".jp-Cell:has(.jp-RenderedSVG):not(:has(.t-jobs-charts))"
    shot(page, gallery, *_shots(artifacts, "03-feed-health.png"))
    shot(page, ".t-jobs-view", *_shots(artifacts, "03-job-outcomes.png"))


def test_the_html_report_opens_offline_in_the_browser(demo_out: Path, page: Any, artifacts: Path) -> None:
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto((demo_out / "report.html").as_uri())
    assert [u for u in fetched if not u.startswith("file:")] == []  # nothing from the network
    text = page.locator("body").inner_text()
    assert "guard refused" in text and "2025-03-06" in text and "Rows rejected by the checks" in text
    sizes = page.locator("svg").evaluate_all("s => s.map(e => e.getBoundingClientRect().width)")
    assert len(sizes) >= 6 and all(w > 0 for w in sizes)
    page.set_viewport_size({"width": 1300, "height": 2400})
    for path in _shots(artifacts, "report.png"):
        page.screenshot(path=str(path))
