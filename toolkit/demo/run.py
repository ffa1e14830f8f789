"""``python -m toolkit.demo``: four days of the sample shop's feeds through the notebooks, headless.

Starts the sandbox with TLS (the client trusts its CA through ``NORCE_SANDBOX_CA_BUNDLE``), runs
notebooks 01 and 02 for every feed and day with papermill, notebook 03 at the end, checks the catalog
and writes ``out/summary.md``. Exit code 0 when everything went as the sample's manifest says it
should (day 4's stock refused included), 1 when something else happened, 2 for bad options.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.config import Settings, load_settings
from toolkit.daily import feed_groups
from toolkit.demo.catalog import check_catalog, deactivated_keys
from toolkit.demo.days import FeedDay, run_day
from toolkit.demo.kernels import NotebookRun, kernel_pool
from toolkit.demo.report import DemoRun, render_summary, surprises
from toolkit.demo.workspace import ROOT, Workspace, read_manifest, select
from toolkit.html_report import write_report
from toolkit.status import feed_status
from toolkit.workspace import (
    Workspace as StateDir,  # the state directory's layout (the demo's own Workspace is out/)
)

if TYPE_CHECKING:
    from toolkit.sandbox import SandboxServer

__all__ = ["CONNECT_RATE", "DemoOptions", "run_demo", "sandbox_environment"]

CONNECT_RATE = 60  # requests a minute per client, as in Norce Commerce Connect
RUN_TIME_SCALE = 0.05  # sandbox jobs run 0.5 to 3 s (queued one after the other), so lead times show
OUTCOMES = "03-job-outcomes.ipynb"
Echo = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    """What to run: which days and feeds (empty: all), where to, how many kernels side by side."""

    days: tuple[int, ...] = ()
    feeds: tuple[str, ...] = ()
    out: Path = ROOT / "out"
    workers: int = 2
    rate_limit: int = CONNECT_RATE
    lab: bool = False
    open_browser: bool = True


@dataclass(frozen=True)
class _Context:
    ws: Workspace
    settings: Settings
    days: tuple[int, ...]
    feeds: tuple[str, ...]
    manifest: dict[str, Any] = field(repr=False)


@contextmanager
def sandbox_environment(ws: Workspace, *, rate_limit: int) -> Iterator[SandboxServer]:
    """A TLS sandbox keeping its catalog in ``out/sandbox.sqlite``, its NORCE_SANDBOX_* in os.environ.

    The kernels papermill and JupyterLab start inherit the environment: that is how the URL, the CA
    bundle and the client secret reach ``load_settings``, never as a notebook parameter.
    """
    from toolkit.sandbox import serve

    saved = dict(os.environ)
    secret = os.environ.get("NORCE_SANDBOX_CLIENT_SECRET")  # a given one (tests), else a random one
    with serve(tls=True, rate_limit=rate_limit, state=ws.sandbox_state, client_secret=secret) as server:
        os.environ.update(server.environ())
        server.configure(run_time_scale=RUN_TIME_SCALE)
        try:
            yield server
        finally:
            os.environ.clear()
            os.environ.update(saved)


def prepare(options: DemoOptions, *, fresh: bool = True) -> _Context:
    """The workspace (cleared when ``fresh``), the demo's settings and the days and feeds to run."""
    ws = Workspace(options.out)
    if fresh:
        ws.clear()
        ws.write_settings(rate_limit=options.rate_limit)
    settings = load_settings(ws.settings_path, environ={})
    manifest = read_manifest(ws.sample)
    known = sorted(int(k.removeprefix("day")) for k in manifest.get("days", {}))
    days = tuple(select(known, options.days, "days"))
    feeds = tuple(select(list(settings.feeds), options.feeds, "feeds"))
    return _Context(ws, settings, days, feeds, manifest)


def run_demo(options: DemoOptions, *, echo: Echo = print) -> int:
    """Run the demo; write ``out/summary.md``; 0 when everything went as expected, else 1."""
    start, started = time.monotonic(), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ctx = prepare(options)
    with sandbox_environment(ctx.ws, rate_limit=options.rate_limit) as server:
        echo(_banner(server.base_url, options, ctx))
        feed_days = run_days(ctx, options, echo=echo, outcomes=True)
        settings = load_settings(ctx.ws.settings_path)
        catalog = check_catalog(settings, ctx.feeds, server.items)
        deactivated = _deactivated_rejected(settings, feed_days, server)
        failed = _failed_items(settings)
        requests = _requests(settings)
        status = feed_status(settings)
        write_report(settings, ctx.ws.out / "report.html")
        sandbox = (
            f"{server.base_url} over TLS (its own CA, trusted by the client through "
            f"NORCE_SANDBOX_CA_BUNDLE); {_limits(options)}"
        )
    run = DemoRun(
        ctx.days,
        feed_days,
        catalog,
        failed,
        ctx.manifest,
        time.monotonic() - start,
        started,
        sandbox,
        options.workers,
        options.rate_limit,
        str(ctx.ws.out),
        deactivated,
        status,
        requests,
    )
    found = surprises(run)
    ctx.ws.summary_path.write_text(render_summary(run, found), encoding="utf-8")
    echo(_footer(run, found, ctx.ws))
    return 1 if found else 0


def run_days(ctx: _Context, options: DemoOptions, *, echo: Echo, outcomes: bool) -> list[FeedDay]:
    """Every day in turn, each in fresh kernels (as separate scheduled runs would be)."""
    groups = feed_groups(ctx.settings, ctx.feeds)
    feed_days: list[FeedDay] = []
    for day in ctx.days:
        date = ctx.manifest["days"][f"day{day}"].get("date", "?")
        order = " -> ".join(map(",".join, groups))
        echo(f"\nDay {day} ({date}): notebooks 01 and 02 for {len(ctx.feeds)} feeds, in groups {order}")
        with kernel_pool(workers=options.workers, cwd=ctx.ws.notebooks) as pool:
            feed_days += run_day(pool, ctx.ws, ctx.settings, day, groups, echo=echo)
            if outcomes and day == ctx.days[-1]:
                echo("Job outcomes: notebook 03, charts into " + str(ctx.ws.charts))
                (result,) = pool.map([[_outcomes_run(ctx)]])[0]
                if result.error:
                    echo(f"  notebook 03 failed: {result.error[0]}: {result.error[1]}")
    return feed_days


def _outcomes_run(ctx: _Context) -> NotebookRun:
    return NotebookRun(
        ctx.ws.notebooks / OUTCOMES,
        ctx.ws.executed(None, OUTCOMES),
        {
            "settings_path": str(ctx.ws.settings_path),
            "interactive": False,
            "period": "",
            "output_dir": str(ctx.ws.charts),
        },
        "job outcomes",
    )


def _deactivated_rejected(
    settings: Settings, feed_days: Sequence[FeedDay], server: SandboxServer
) -> dict[tuple[int, str], list[str]]:
    """Per day and feed that was sent: keys of its rejected rows that Connect now holds deactivated."""
    found = {}
    for fd in feed_days:
        if fd.rejected.height and not fd.refused and "key" in fd.rejected.columns:
            keys = deactivated_keys(settings, fd.feed, fd.rejected["key"].to_list(), server.items(fd.entity))
            if keys:
                found[(fd.day, fd.feed)] = keys
    return found


def _requests(settings: Settings) -> tuple[int, int]:
    """The requests of every plan the ledger recorded, and their lower bound."""
    with StateDir.of(settings).ledger() as ledger:
        plans = [p.summary for p in ledger.plans()]
    return sum(int(s.get("requests", 0)) for s in plans), sum(int(s.get("min_requests", 0)) for s in plans)


def _failed_items(settings: Settings) -> dict[int, int]:
    from toolkit.runs import read_job_outcomes

    frame = read_job_outcomes(settings)
    return {int(j): int(f or 0) for j, f in frame.select("job_id", "failures").iter_rows()}


def _limits(options: DemoOptions) -> str:
    if options.rate_limit == CONNECT_RATE:
        rate = f"{CONNECT_RATE} requests a minute per client, as Connect"
    else:
        rate = (
            f"{options.rate_limit} requests a minute per client, CONFIGURED FOR THE DEMO "
            f"(Connect allows {CONNECT_RATE})"
        )
    return f"{rate}; token endpoint 3 a minute, burst 20, as Connect (one login per kernel)"


def _banner(base_url: str, options: DemoOptions, ctx: _Context) -> str:
    return (
        f"Sandbox {base_url} (TLS) with its catalog in {ctx.ws.sandbox_state}\n"
        f"Limits: {_limits(options)}\n"
        f"Settings {ctx.ws.settings_path}, state {ctx.ws.out / 'state'}; "
        f"{options.workers} notebook(s) side by side, one kernel each per day"
    )


def _footer(run: DemoRun, found: Sequence[str], ws: Workspace) -> str:
    head = (
        "\nAll as expected"
        if not found
        else f"\n{len(found)} UNEXPECTED outcome(s):\n  " + "\n  ".join(found)
    )
    passed = "passed" if all(c.passed for c in run.catalog) else "FAILED"
    refused = ", ".join(f"day {fd.day} {fd.feed}" for fd in run.feed_days if fd.refused)
    note = [f"The guard refusing {refused} (a truncated export) is expected."] if refused else []
    return "\n".join(
        [
            head,
            *note,
            f"Total {run.seconds:.0f} s.",
            f"Catalog check: {passed} ({len(run.catalog)} feeds compared with the sandbox's catalog).",
            f"Summary:              {ws.summary_path}",
            f"Executed notebooks:   {ws.out / 'notebooks'}/dayN/",
            f"Charts (SVG, PNG):    {ws.charts}/ (feed health by business day, job outcomes)",
            f"Report (HTML):        {ws.out / 'report.html'} (self-contained, opens offline)",
            "Open the notebooks interactively, with a sandbox running: make lab",
        ]
    )
