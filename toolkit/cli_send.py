"""``norce-feeds plan``, ``apply`` and ``submit``: review a plan, then send exactly what was reviewed.

``plan FEED --out DIR`` writes the plan (batches with headers and bodies, plan id, baseline id);
``apply DIR`` (or ``submit --plan DIR``) sends that very plan after checking that the feed's baseline
has not moved since. ``plan --all`` and ``submit --all`` show one table for every feed with a totals row
and ask once. Without a terminal to ask on, sending needs ``--yes`` (exit 2 otherwise), so a cron line
that forgot it fails loudly instead of silently sending nothing.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.cli_base import (
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    exit_code,
    keep_rejected,
    plural,
    print_table,
    read_settings,
    said,
)
from toolkit.workspace import Workspace

if TYPE_CHECKING:
    from toolkit.config import Settings
    from toolkit.daily import FeedResult
    from toolkit.plan_sets import PlannedFeed
    from toolkit.progress import ProgressBar

NO_TERMINAL = "no terminal to ask whether to send; add --yes to send without asking"


def can_ask(args: argparse.Namespace) -> bool:
    """True with --yes or a terminal to ask on; else say why nothing is sent (the caller exits 2)."""
    if getattr(args, "yes", False) or sys.stdin.isatty():
        return True
    print(f"error: {NO_TERMINAL}", file=sys.stderr)
    return False


def show(plan: object) -> bool:
    """Print the plan's summary (a cron log then says what was sent); send it."""
    describe = getattr(plan, "describe", None)
    print(describe() if callable(describe) else plan, flush=True)
    return True


def ask(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def confirm(plan: object) -> bool:
    show(plan)
    summary = getattr(plan, "summary", None)
    requests = int(getattr(summary, "requests", len(getattr(plan, "batches", ()))))
    return ask(f"send {plural(requests, 'request')} to Connect?")


def report_run(result: object, bar: ProgressBar | None = None) -> int:
    """Print what came of the run; its first line ends with how long it took and spent waiting."""
    if result is None:
        print("nothing sent")
        return EXIT_OK
    head, newline, rest = str(result).partition("\n")
    print(f"{head}; {bar.summary()}{newline}{rest}" if bar is not None else result)
    return EXIT_JOB_FAILED if getattr(result, "succeeded", True) is False else EXIT_OK


def progress() -> ProgressBar:
    """The bar on stderr, silent when stderr is not a terminal; it keeps the waiting figures."""
    from toolkit.progress import ProgressBar

    return ProgressBar(disable=None)


# --- plan ------------------------------------------------------------------------------------
def run_plan(args: argparse.Namespace) -> int:
    from toolkit.feeds import plan_feed

    if args.all or args.feed is None:
        return _plan_all(args, read_settings(args.settings)) if all_alone(args) else EXIT_USAGE
    settings = read_settings(args.settings, feed=args.feed)
    plan = plan_feed(
        settings,
        args.feed,
        kind=args.kind,
        source=args.source,
        allow_mass_deactivation=args.allow_mass_deactivation,
        override_reason=args.reason,
    )
    out = plan.save(Path(args.out) if args.out else Workspace.of(settings).plan_dir(plan.id))
    print(plan.describe())
    _written(plan, out)
    return EXIT_OK


def _written(plan: object, out: Path) -> None:
    baseline = getattr(getattr(plan, "baseline", None), "id", None) or "none"
    print(f"plan written to {out}")
    print(f"  plan {getattr(plan, 'id', '')}, made against baseline {baseline}")
    rejected = getattr(plan, "rejected", None)
    if rejected is not None and rejected.height:
        print(f"the {rejected.height} rejected rows, with their reasons: {out / 'rejected.parquet'}")
    print(f"send exactly this plan: norce-feeds apply {out}")


def _plan_all(args: argparse.Namespace, settings: Settings) -> int:
    from toolkit.plan_sets import plan_feeds

    planned = plan_feeds(settings, kind=args.kind)
    for p in planned:
        if p.plan is not None:
            print(p.plan.describe())
            base = Path(args.out) / p.feed if args.out else Workspace.of(settings).plan_dir(p.plan.id)
            _written(p.plan, p.plan.save(base))
    _print_all(args, planned)
    failed = [p.error for p in planned if p.error is not None]
    return _code(failed[0]) if failed else EXIT_OK


def _print_all(args: argparse.Namespace, planned: list[PlannedFeed]) -> None:
    from toolkit.errors import ToolkitError
    from toolkit.plan_sets import plans_table

    print("\nall feeds (! deactivates items):")
    print_table(plans_table(planned))
    for p in planned:
        if isinstance(p.error, ToolkitError):
            print(f"{p.feed}: {type(p.error).__name__}: {said(p.error)}", file=sys.stderr)
            keep_rejected(args.settings, p.feed, p.error)


def _code(error: BaseException) -> int:
    from toolkit.errors import ToolkitError

    return exit_code(error) if isinstance(error, ToolkitError) else 1


def all_alone(args: argparse.Namespace) -> bool:
    """--all, and none of the options that are about one feed (else say why)."""
    given = {
        "FEED": args.feed,
        "--source": args.source,
        "--plan": getattr(args, "plan", None),
        "--allow-mass-deactivation": args.allow_mass_deactivation,
    }
    clash = [name for name, value in given.items() if value]
    if args.all and not clash:
        return True
    said_ = f"--all runs every feed: not with {', '.join(clash)}" if clash else "give a FEED, or --all"
    print(f"error: {said_}", file=sys.stderr)
    return False


# --- apply and submit ------------------------------------------------------------------------
def run_apply(args: argparse.Namespace) -> int:
    from toolkit.apply import apply_plan

    if not can_ask(args):
        return EXIT_USAGE
    bar = progress()
    result = apply_plan(
        read_settings(args.settings),
        args.directory,
        wait=args.wait,
        confirm=show if args.yes else confirm,
        progress=bar,
        timeout=args.timeout,
    )
    return report_run(result, bar)


def run_submit(args: argparse.Namespace) -> int:
    from toolkit.runs import plan_and_submit

    if args.allow_mass_deactivation and not args.reason:
        print("error: --allow-mass-deactivation needs --reason TEXT (it is recorded)", file=sys.stderr)
        return EXIT_USAGE
    if not can_ask(args):
        return EXIT_USAGE
    if args.plan is not None and args.feed is None and not args.all:
        args.directory = args.plan
        return run_apply(args)
    if args.all or args.feed is None:
        return _submit_all(args) if all_alone(args) else EXIT_USAGE
    bar = progress()
    result = plan_and_submit(
        read_settings(args.settings, feed=args.feed),
        args.feed,
        kind=args.kind,
        source=args.source,
        wait=args.wait,
        confirm=show if args.yes else confirm,
        progress=bar,
        allow_mass_deactivation=args.allow_mass_deactivation,
        override_reason=args.reason,
        timeout=args.timeout,
    )
    return report_run(result, bar)


def _submit_all(args: argparse.Namespace) -> int:
    from toolkit.plan_sets import plan_feeds, send_plans

    settings = read_settings(args.settings)
    planned = plan_feeds(settings, kind=args.kind)
    _print_all(args, planned)
    ready = [p for p in planned if p.plan is not None]
    requests = sum(p.plan.summary.requests for p in ready if p.plan is not None)
    question = f"send {plural(requests, 'request')} of {plural(len(ready), 'feed')} to Connect?"
    if ready and not args.yes and not ask(question):
        print("nothing sent")
        return EXIT_OK
    bar = progress()
    results = send_plans(settings, planned, progress=bar, timeout=args.timeout)
    return _report_all(args, results, bar)


def _report_all(args: argparse.Namespace, results: list[FeedResult], bar: ProgressBar) -> int:
    print(f"\nall feeds ({bar.summary()}):")
    for done in results:
        print(textwrap.indent(str(done), "  "))
    failed = [d for d in results if not d.ok]
    if not failed:
        return EXIT_OK
    return exit_code(failed[0].error) if failed[0].error is not None else EXIT_JOB_FAILED
