"""norce-feeds: plan, send and track the feeds of norce.toml through Norce Commerce Connect.

Exit codes: 0 ok, 1 checks failed (or another error), 2 usage or settings error (or no terminal to
ask on and no --yes), 3 guard refused (or a saved plan whose baseline moved), 4 a job failed, 5 outcome
unknown (run `resume`), 6 the feed is locked by another run, 7 a batch was not accepted (Connect refused it or
kept failing; run `resume` once fixed), 8 the state directory is damaged (the message says how to go on).

Each command parses its arguments, calls one toolkit function and maps its errors to those codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from toolkit.cli_base import (
    EXIT_CHECKS,
    EXIT_GUARD,
    EXIT_JOB_FAILED,
    EXIT_LOCKED,
    EXIT_NOT_SENT,
    EXIT_OK,
    EXIT_STATE,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    exit_code,
    keep_rejected,
    print_table,
    read_settings,
    said,
)
from toolkit.cli_send import report_run
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.config import Settings

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = [
    "EXIT_CHECKS",
    "EXIT_GUARD",
    "EXIT_JOB_FAILED",
    "EXIT_LOCKED",
    "EXIT_NOT_SENT",
    "EXIT_OK",
    "EXIT_STATE",
    "EXIT_UNKNOWN",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

Command = Callable[[argparse.Namespace], int]
SETTINGS_HELP = "settings file (default: norce.toml); before or after the command"


def _settings_arg(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's default must not hide a --settings given before the subcommand
    p.add_argument("--settings", default=argparse.SUPPRESS, help=SETTINGS_HELP)


def _add_sandbox(sub: Subparsers) -> None:
    p = sub.add_parser("sandbox", help="serve the local Connect sandbox")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--state", default=None, help="SQLite file that keeps state across restarts")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a generated certificate")
    p.add_argument("--rate-limit", type=int, default=60, help="requests per minute per client")
    p.add_argument("--token-ttl", type=int, default=3600, help="token lifetime in seconds")
    p.add_argument("--job-delay", type=float, default=0.0, help="seconds each job stage takes")
    p.add_argument("--client-id", default="sandbox")
    p.add_argument("--client-secret", default=None, help="default: $NORCE_SANDBOX_CLIENT_SECRET")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    p.add_argument(
        "--subscriber", action="append", default=[], metavar="URL", help="send JobCompletedEvents to URL"
    )
    p.add_argument("--subscriber-ca", default=None, help="CA bundle to trust for https subscribers")
    p.set_defaults(run=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    import os

    from toolkit.sandbox import run_server

    secret = args.client_secret or os.environ.get("NORCE_SANDBOX_CLIENT_SECRET") or None
    run_server(
        host=args.host,
        port=args.port,
        state=args.state,
        tls=args.tls,
        rate_limit=args.rate_limit,
        token_ttl=args.token_ttl,
        job_delay=args.job_delay,
        client_id=args.client_id,
        client_secret=secret,
        allow_remote=args.allow_remote,
        subscribers=args.subscriber,
        subscriber_ca=args.subscriber_ca,
    )
    return EXIT_OK


def _add_events(sub: Subparsers) -> None:
    p = sub.add_parser("events", help="receive Norce's JobCompletedEvents into the ledger (a webhook)")
    _settings_arg(p)
    p.add_argument("--profile", default=None, help="the profile whose events these are")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8780)
    p.add_argument("--tls-cert", default=None, help="certificate (PEM) to serve HTTPS with")
    p.add_argument("--tls-key", default=None, help="its private key (PEM)")
    p.add_argument("--behind-proxy", action="store_true", help="plain HTTP behind a reverse proxy's HTTPS")
    p.set_defaults(run=_run_events)


def _run_events(args: argparse.Namespace) -> int:
    from pathlib import Path

    from toolkit.events import run_receiver

    run_receiver(
        read_settings(args.settings),
        profile=args.profile,
        host=args.host,
        port=args.port,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
        behind_proxy=args.behind_proxy,
    )
    return EXIT_OK


def _add_resume(sub: Subparsers) -> None:
    p = sub.add_parser("resume", help="continue the feed's interrupted submission")
    p.add_argument("feed", help="a feed of norce.toml")
    p.add_argument("--wait", action="store_true", help="wait for the jobs, then promote")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the jobs")
    _settings_arg(p)
    p.set_defaults(run=_run_resume)


def _run_resume(args: argparse.Namespace) -> int:
    from toolkit.cli_send import progress
    from toolkit.runs import NothingToResume, resume_feed

    bar = progress()
    try:
        result = resume_feed(
            read_settings(args.settings, feed=args.feed),
            args.feed,
            wait=args.wait,
            progress=bar,
            timeout=args.timeout,
        )
    except NothingToResume as exc:
        print(exc)
        return EXIT_OK
    return report_run(result, bar)  # the result line says how long it took and spent waiting


def _period(text: str) -> object:
    from toolkit.config import parse_period

    try:
        return parse_period(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_jobs(sub: Subparsers) -> None:
    p = sub.add_parser("jobs", help="list job outcomes from the ledger")
    p.add_argument("--feed", default=None, help="only this feed")
    p.add_argument(
        "--failures",
        action="store_true",
        help="list the failed items instead: feed, job, key, source file and row, message",
    )
    p.add_argument("--since", type=_period, default=None, help="only jobs queued in this period (7d)")
    p.add_argument(
        "--csv",
        default=None,
        metavar="FILE",
        help="write every column (plan, batch, times) as CSV to FILE, or - for stdout",
    )
    _settings_arg(p)
    p.set_defaults(run=_run_jobs)


def _run_jobs(args: argparse.Namespace) -> int:
    from toolkit.outcomes import job_table
    from toolkit.runs import read_job_outcomes

    settings = read_settings(args.settings, feed=args.feed)  # a misspelt feed is an error, not no jobs
    if args.failures:
        return _print_failures(settings, args)
    frame = read_job_outcomes(settings, feed=args.feed, since=args.since)
    if args.csv == "-":
        sys.stdout.write(frame.write_csv())
    elif args.csv:
        frame.write_csv(args.csv)
        print(f"{frame.height} jobs written to {args.csv}")
    elif frame.height:
        print_table(job_table(frame))
    else:
        print("no jobs yet")
    return EXIT_OK


def _print_failures(settings: Settings, args: argparse.Namespace) -> int:
    from toolkit.held_back import read_failures
    from toolkit.workspace import Workspace

    with Workspace.of(settings).ledger() as ledger:
        frame = read_failures(ledger, feed=args.feed)
    if args.csv == "-":
        sys.stdout.write(frame.write_csv())
    elif args.csv:
        frame.write_csv(args.csv)
        print(f"{frame.height} failed item{'' if frame.height == 1 else 's'} written to {args.csv}")
    elif frame.height:
        print_table(frame.select("feed", "job_id", "key", "source", "row", "message"))
    else:
        print("no failed items")
    return EXIT_OK


def _add_report(sub: Subparsers) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of plans, checks, changes and jobs")
    p.add_argument("--feed", default=None, help="only this feed")
    p.add_argument("--since", type=_period, default=None, help="only this period (7d); default all time")
    p.add_argument("--out", required=True, metavar="FILE.html", help="the HTML file to write")
    _settings_arg(p)
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from toolkit.html_report import write_report

    settings = read_settings(args.settings, feed=args.feed)
    print(f"report written to {write_report(settings, args.out, feed=args.feed, since=args.since)}")
    return EXIT_OK


def _add_prune(sub: Subparsers) -> None:
    p = sub.add_parser(
        "prune", help="remove the directories of old finished plans (bodies, origins, failures)"
    )
    p.add_argument(
        "--older-than",
        type=_period,
        default=None,
        metavar="PERIOD",
        help="plans last touched before this (default 14d: the window in which restart resends from them)",
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    _settings_arg(p)
    p.set_defaults(run=_run_prune)


def _run_prune(args: argparse.Namespace) -> int:
    from toolkit.pruning import prune_plans
    from toolkit.restarts import RESTART_WINDOW

    settings = read_settings(args.settings)
    done = prune_plans(settings, older_than=args.older_than or RESTART_WINDOW, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for folder in done.removed:
        print(f"{verb} {folder}")
    freed = f"{done.freed_bytes / 1e9:.1f} GB" if done.freed_bytes >= 1e8 else f"{done.freed_bytes:,} bytes"
    print(f"{verb} {len(done.removed)} plan directories ({freed}); kept {done.kept}")
    return EXIT_OK


def _add_status(sub: Subparsers) -> None:
    p = sub.add_parser(
        "status",
        help="where each feed stands: baseline, last full feed, next kind, unfinished submission, lock",
    )
    p.add_argument("--feed", default=None, help="only this feed")
    _settings_arg(p)
    p.set_defaults(run=_run_status)


def _run_status(args: argparse.Namespace) -> int:
    import polars as pl

    from toolkit.status import feed_status

    frame = feed_status(read_settings(args.settings, feed=args.feed), feed=args.feed)
    stamp = "%Y-%m-%d %H:%M"
    print_table(
        frame.select(
            "feed",
            "entity",
            pl.col("baseline").fill_null("none yet"),
            "baseline_rows",
            pl.col("promoted_at").dt.strftime(stamp).alias("promoted (UTC)"),
            pl.col("last_full_at").dt.strftime(stamp).alias("last full (UTC)"),
            "next_kind",
            pl.col("pending_removals").alias("pending removals"),
            pl.format("{} ({})", "open_plan", "open_state").alias("unfinished"),
            "locked_by",
        )
    )
    for feed, problem in frame.filter(pl.col("problem").is_not_null()).select("feed", "problem").rows():
        print(f"{feed}: {problem}", file=sys.stderr)
    unfinished = frame.filter(pl.col("open_state").is_in(["sending", "submitted"]))["feed"].to_list()
    if unfinished:
        print(f"unfinished submissions: run `norce-feeds resume FEED` for {', '.join(unfinished)}")
    for feed, n in frame.filter(pl.col("pending_removals") > 0).select("feed", "pending_removals").rows():
        print(
            f"{feed}: {n} removed items stay live until a full feed removes them "
            f"(`norce-feeds submit {feed} --kind full`)"
        )
    return EXIT_CHECKS if frame["problem"].null_count() < frame.height else EXIT_OK


def _add_restart(sub: Subparsers) -> None:
    p = sub.add_parser("restart", help="restart a failed job (Job/Restart, else resend its batch)")
    p.add_argument("job_id", type=int, help="the job id, as `norce-feeds jobs` shows it")
    p.add_argument("--wait", action="store_true", help="wait for the job, then promote")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the job")
    p.add_argument(
        "--force",
        action="store_true",
        help="restart even when a newer job of the feed succeeded since (older values win)",
    )
    _settings_arg(p)
    p.set_defaults(run=_run_restart)


def _run_restart(args: argparse.Namespace) -> int:
    from toolkit.runs import restart_feed_job

    result = restart_feed_job(
        read_settings(args.settings), args.job_id, wait=args.wait, timeout=args.timeout, force=args.force
    )
    return report_run(result)


def _add_plan(sub: Subparsers) -> None:
    from toolkit.cli_send import run_plan

    p = sub.add_parser("plan", help="plan a feed or --all (nothing is sent): print it, write the plan")
    p.add_argument("feed", nargs="?", default=None, help="a feed of norce.toml")
    p.add_argument(
        "--all",
        action="store_true",
        help="every feed, in the order submit --all sends them; one table with totals",
    )
    p.add_argument("--kind", choices=("auto", "change", "full"), default="auto")
    p.add_argument(
        "--out",
        default=None,
        help="plan directory for `norce-feeds apply DIR` (default: "
        "<state_dir>/plans/<plan id>; --all: DIR/<feed>)",
    )
    p.add_argument("--source", default=None, help="read this file or glob instead of the feed's source")
    p.add_argument(
        "--allow-mass-deactivation",
        action="store_true",
        help="plan even if the guard would refuse (recorded with --reason)",
    )
    p.add_argument("--reason", default=None, help="why the guard is overridden")
    _settings_arg(p)
    p.set_defaults(run=run_plan)


def _sending_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--yes",
        action="store_true",
        help="send without asking (the summary is still printed); needed when there is no terminal",
    )
    p.add_argument(
        "--wait", action="store_true", help="wait for the jobs; promote the snapshot when all succeeded"
    )
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the jobs")
    _settings_arg(p)


def _add_submit(sub: Subparsers) -> None:
    from toolkit.cli_send import run_submit

    p = sub.add_parser("submit", help="plan a feed (or --all), show its summary, send it (and wait for it)")
    p.add_argument("feed", nargs="?", default=None, help="a feed of norce.toml")
    p.add_argument(
        "--all",
        action="store_true",
        help="every feed, in dependency order (products and price lists before the rows that "
        "name them, companies before customers): one table with totals, one question, "
        "waiting for each group's jobs; a feed that fails does not stop others",
    )
    p.add_argument("--plan", default=None, metavar="DIR", help="send the plan saved in DIR (as apply)")
    p.add_argument("--kind", choices=("auto", "change", "full"), default="auto")
    p.add_argument("--source", default=None, help="read this file or glob instead of the feed's source")
    p.add_argument(
        "--allow-mass-deactivation",
        action="store_true",
        help="send even if the guard would refuse (needs --reason; recorded)",
    )
    p.add_argument("--reason", default=None, help="why the guard is overridden")
    _sending_args(p)
    p.set_defaults(run=run_submit)


def _add_apply(sub: Subparsers) -> None:
    from toolkit.cli_send import run_apply

    p = sub.add_parser(
        "apply",
        help="send exactly the plan `plan FEED --out DIR` wrote, if the feed's baseline has not moved since",
    )
    p.add_argument("directory", metavar="DIR", help="a plan directory written by `norce-feeds plan`")
    _sending_args(p)
    p.set_defaults(run=run_apply)


def _add_init(sub: Subparsers) -> None:
    p = sub.add_parser("init", help="write a commented norce.toml to start from")
    p.add_argument(
        "--feed",
        action="append",
        default=None,
        metavar="NAME=ENTITY",
        help="a feed to describe, such as stock=onhands (repeatable; default: stock=onhands)",
    )
    _settings_arg(p)
    p.set_defaults(run=_run_init)


def _run_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from toolkit.init_template import write_settings_template

    path = write_settings_template(Path(args.settings), feeds=args.feed or ["stock=onhands"])
    print(f"wrote {path}: fill in each feed's source and columns, then run `norce-feeds plan --all`")
    return EXIT_OK


_COMMANDS: list[Callable[[Subparsers], None]] = [
    _add_init,
    _add_status,
    _add_plan,
    _add_apply,
    _add_submit,
    _add_resume,
    _add_jobs,
    _add_report,
    _add_restart,
    _add_prune,
    _add_events,
    _add_sandbox,
]  # the order of a day's work, as --help lists them


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("norce-toolkit")
    except PackageNotFoundError:  # run from a checkout that was never installed
        from toolkit import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    intro, codes, _ = __doc__.split("\n\n", 2)
    parser = argparse.ArgumentParser(
        prog="norce-feeds",
        description=intro,
        epilog=codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--settings", default="norce.toml", help=SETTINGS_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors print one clear line and map to the documented exit codes."""
    args = build_parser().parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except ToolkitError as exc:
        print(f"error: {said(exc)}", file=sys.stderr)
        if getattr(args, "feed", None) and isinstance(args.feed, str):
            keep_rejected(args.settings, args.feed, exc)
        return exit_code(exc)
    except ModuleNotFoundError as exc:
        from toolkit.extras import missing_extra_message

        msg = missing_extra_message(exc, what=f"norce-feeds {args.command}")
        if msg is None:
            raise
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
