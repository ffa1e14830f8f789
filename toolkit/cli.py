"""norce-feeds: plan, send and track the feeds of norce.toml through Norce Commerce Connect.

Exit codes: 0 ok, 1 checks failed (or another error), 2 usage or settings error, 3 guard refused,
4 a job failed, 5 outcome unknown (run `resume`), 6 the feed is locked by another run, 7 a batch was
not accepted (Connect refused it or kept failing; run `resume` once fixed), 8 the state directory is
damaged (the message says how to go on).

Each command parses its arguments, calls one toolkit function and maps its errors to those codes.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from toolkit.errors import ConfigError, ToolkitError

if TYPE_CHECKING:
    import polars as pl

    from toolkit.config import Settings

EXIT_OK, EXIT_CHECKS, EXIT_USAGE, EXIT_GUARD, EXIT_JOB_FAILED, EXIT_UNKNOWN, EXIT_LOCKED = 0, 1, 2, 3, 4, 5, 6
EXIT_NOT_SENT, EXIT_STATE = 7, 8

Command = Callable[[argparse.Namespace], int]


def _settings_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", default="norce.toml", help="settings file (default: norce.toml)")


def _add_sandbox(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    p.set_defaults(run=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    import os

    from toolkit.sandbox import run_server

    secret = args.client_secret or os.environ.get("NORCE_SANDBOX_CLIENT_SECRET") or None
    run_server(
        host=args.host, port=args.port, state=args.state, tls=args.tls,
        rate_limit=args.rate_limit, token_ttl=args.token_ttl, job_delay=args.job_delay,
        client_id=args.client_id, client_secret=secret, allow_remote=args.allow_remote,
    )  # fmt: skip
    return EXIT_OK


def _add_submit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("submit", help="plan a feed (or --all), show its summary, send it (and wait for it)")
    p.add_argument("feed", nargs="?", default=None, help="a feed of norce.toml")
    p.add_argument("--all", action="store_true",
                   help="every feed, in dependency order (products and price lists before the rows that "
                        "name them, companies before customers), waiting for each group's jobs; a feed "
                        "that fails does not stop the others")  # fmt: skip
    p.add_argument("--kind", choices=("auto", "change", "full"), default="auto")
    p.add_argument("--source", default=None, help="read this file or glob instead of the feed's source")
    p.add_argument("--yes", action="store_true", help="send without asking (the summary is still printed)")
    p.add_argument("--wait", action="store_true",
                   help="wait for the jobs; promote the snapshot when all succeeded")  # fmt: skip
    p.add_argument("--allow-mass-deactivation", action="store_true",
                   help="send even if the guard would refuse (needs --reason; recorded)")  # fmt: skip
    p.add_argument("--reason", default=None, help="why the guard is overridden")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the jobs")
    _settings_arg(p)
    p.set_defaults(run=_run_submit)


def _run_submit(args: argparse.Namespace) -> int:
    from toolkit.config import load_settings
    from toolkit.progress import ProgressBar
    from toolkit.runs import plan_and_submit

    if args.allow_mass_deactivation and not args.reason:
        print("error: --allow-mass-deactivation needs --reason TEXT (it is recorded)", file=sys.stderr)
        return EXIT_USAGE
    if args.all or args.feed is None:
        return _submit_all(args)
    result = plan_and_submit(
        load_settings(args.settings), args.feed, kind=args.kind, source=args.source, wait=args.wait,
        confirm=_show if args.yes else _confirm, allow_mass_deactivation=args.allow_mass_deactivation,
        override_reason=args.reason, progress=ProgressBar(disable=None), timeout=args.timeout,
    )  # fmt: skip
    return _report_run(result)


def _submit_all(args: argparse.Namespace) -> int:
    from toolkit.config import load_settings
    from toolkit.daily import submit_all
    from toolkit.progress import ProgressBar

    if not _all_alone(args):
        return EXIT_USAGE
    confirm = _show if args.yes else _confirm
    results = submit_all(load_settings(args.settings), kind=args.kind, confirm=confirm,
                         progress=ProgressBar(disable=None), timeout=args.timeout)  # fmt: skip
    print("\nall feeds:")
    for done in results:
        print(textwrap.indent(str(done), "  "))
        if done.error is not None:
            _keep_rejected(args.settings, done.feed, done.error)
    failed = [d for d in results if not d.ok]
    if not failed:
        return EXIT_OK
    return _exit_code(failed[0].error) if failed[0].error is not None else EXIT_JOB_FAILED


def _all_alone(args: argparse.Namespace) -> bool:
    """--all, and none of the options that are about one feed (else say why)."""
    given = {"FEED": args.feed, "--source": args.source, "--out": getattr(args, "out", None),
             "--allow-mass-deactivation": args.allow_mass_deactivation}  # fmt: skip
    clash = [name for name, value in given.items() if value]
    if args.all and not clash:
        return True
    said = f"--all runs every feed: not with {', '.join(clash)}" if clash else "give a FEED, or --all"
    print(f"error: {said}", file=sys.stderr)
    return False


def _show(plan: object) -> bool:
    """Print the plan's summary (a cron log then says what was sent); send it."""
    describe = getattr(plan, "describe", None)
    print(describe() if callable(describe) else plan, flush=True)
    return True


def _confirm(plan: object) -> bool:
    _show(plan)
    batches = len(getattr(plan, "batches", ()))
    try:
        answer = input(f"send {batches} batch(es) to Connect? [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def _report_run(result: object) -> int:
    if result is None:
        print("nothing sent")
        return EXIT_OK
    print(result)
    return EXIT_JOB_FAILED if getattr(result, "succeeded", True) is False else EXIT_OK


def _add_resume(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("resume", help="continue the feed's interrupted submission")
    p.add_argument("feed", help="a feed of norce.toml")
    p.add_argument("--wait", action="store_true", help="wait for the jobs, then promote")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the jobs")
    _settings_arg(p)
    p.set_defaults(run=_run_resume)


def _run_resume(args: argparse.Namespace) -> int:
    from toolkit.config import load_settings
    from toolkit.progress import ProgressBar
    from toolkit.runs import NothingToResume, resume_feed

    try:
        result = resume_feed(load_settings(args.settings), args.feed, wait=args.wait,
                             progress=ProgressBar(disable=None), timeout=args.timeout)  # fmt: skip
    except NothingToResume as exc:
        print(exc)
        return EXIT_OK
    return _report_run(result)


def _period(text: str) -> object:
    from toolkit.config import parse_period

    try:
        return parse_period(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_jobs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("jobs", help="list job outcomes from the ledger")
    p.add_argument("--feed", default=None, help="only this feed")
    p.add_argument("--since", type=_period, default=None, help="only jobs queued in this period (7d)")
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="write every column (plan, batch, times) as CSV to FILE, or - for stdout")
    _settings_arg(p)
    p.set_defaults(run=_run_jobs)


def _run_jobs(args: argparse.Namespace) -> int:
    from toolkit.config import load_settings
    from toolkit.outcomes import job_table
    from toolkit.runs import read_job_outcomes

    settings = load_settings(args.settings)
    if args.feed is not None:
        settings.feed(args.feed)  # a misspelt feed is an error, not an empty list
    frame = read_job_outcomes(settings, feed=args.feed, since=args.since)
    if args.csv == "-":
        sys.stdout.write(frame.write_csv())
    elif args.csv:
        frame.write_csv(args.csv)
        print(f"{frame.height} jobs written to {args.csv}")
    elif frame.height:
        _print_table(job_table(frame))
    else:
        print("no jobs yet")
    return EXIT_OK


def _add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="where each feed stands: baseline, last full feed, next kind, "
                                      "unfinished submission, lock")  # fmt: skip
    p.add_argument("--feed", default=None, help="only this feed")
    _settings_arg(p)
    p.set_defaults(run=_run_status)


def _run_status(args: argparse.Namespace) -> int:
    import polars as pl

    from toolkit.config import load_settings
    from toolkit.status import feed_status

    frame = feed_status(load_settings(args.settings), feed=args.feed)
    stamp = "%Y-%m-%d %H:%M"
    _print_table(frame.select(
        "feed", "entity", pl.col("baseline").fill_null("none yet"), "baseline_rows",
        pl.col("promoted_at").dt.strftime(stamp).alias("promoted (UTC)"),
        pl.col("last_full_at").dt.strftime(stamp).alias("last full (UTC)"), "next_kind",
        pl.format("{} ({})", "open_plan", "open_state").alias("unfinished"),
        "locked_by",
    ))  # fmt: skip
    for feed, problem in frame.filter(pl.col("problem").is_not_null()).select("feed", "problem").rows():
        print(f"{feed}: {problem}", file=sys.stderr)
    unfinished = frame.filter(pl.col("open_state").is_in(["sending", "submitted"]))["feed"].to_list()
    if unfinished:
        print(f"unfinished submissions: run `norce-feeds resume FEED` for {', '.join(unfinished)}")
    return EXIT_CHECKS if frame["problem"].null_count() < frame.height else EXIT_OK


def _print_table(frame: pl.DataFrame) -> None:
    import polars as pl

    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, tbl_formatting="ASCII_MARKDOWN",
                   fmt_str_lengths=64):  # fmt: skip
        print(frame.select(pl.all().cast(pl.String).fill_null("")))  # a blank, not "null"


def _add_restart(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("restart", help="restart a failed job (Job/Restart, else resend its batch)")
    p.add_argument("job_id", type=int, help="the job id, as `norce-feeds jobs` shows it")
    p.add_argument("--wait", action="store_true", help="wait for the job, then promote")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the job")
    p.add_argument("--force", action="store_true",
                   help="restart even when a newer job of the feed succeeded since (older values win)")
    _settings_arg(p)
    p.set_defaults(run=_run_restart)


def _run_restart(args: argparse.Namespace) -> int:
    from toolkit.config import load_settings
    from toolkit.runs import restart_feed_job

    result = restart_feed_job(load_settings(args.settings), args.job_id, wait=args.wait,
                              timeout=args.timeout, force=args.force)  # fmt: skip
    return _report_run(result)


def _add_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plan", help="plan a feed or --all (nothing is sent): print it, write the plan")
    p.add_argument("feed", nargs="?", default=None, help="a feed of norce.toml")
    p.add_argument("--all", action="store_true", help="every feed, in the order submit --all sends them")
    p.add_argument("--kind", choices=("auto", "change", "full"), default="auto")
    p.add_argument("--out", default=None, help="plan directory (default: <state_dir>/plans/<plan id>)")
    p.add_argument("--source", default=None, help="read this file or glob instead of the feed's source")
    p.add_argument("--allow-mass-deactivation", action="store_true",
                   help="plan even if the guard would refuse (recorded with --reason)")  # fmt: skip
    p.add_argument("--reason", default=None, help="why the guard is overridden")
    _settings_arg(p)
    p.set_defaults(run=_run_plan)


def _run_plan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from toolkit.config import load_settings
    from toolkit.feeds import plan_feed

    settings = load_settings(args.settings)
    if args.all or args.feed is None:
        return _plan_all(args, settings) if _all_alone(args) else EXIT_USAGE
    plan = plan_feed(settings, args.feed, kind=args.kind, source=args.source,
                     allow_mass_deactivation=args.allow_mass_deactivation,
                     override_reason=args.reason)  # fmt: skip
    out = plan.save(Path(args.out) if args.out else settings.state_dir / "plans" / plan.id)
    print(plan.describe())
    print(f"plan written to {out}")
    if plan.rejected.height:
        print(f"the {plan.rejected.height} rejected rows, with their reasons: {out / 'rejected.parquet'}")
    return EXIT_OK


def _plan_all(args: argparse.Namespace, settings: Settings) -> int:
    from toolkit.daily import feed_groups
    from toolkit.feeds import plan_feed

    failed: list[ToolkitError] = []
    for feed in (f for group in feed_groups(settings, list(settings.feeds)) for f in group):
        try:
            plan = plan_feed(settings, feed, kind=args.kind)
        except ToolkitError as exc:  # the other feeds are still planned
            print(f"{feed}: {type(exc).__name__}: {said(exc)}", file=sys.stderr)
            _keep_rejected(args.settings, feed, exc)
            failed.append(exc)
            continue
        print(plan.describe())
        print(f"plan written to {plan.save(settings.state_dir / 'plans' / plan.id)}")
    return _exit_code(failed[0]) if failed else EXIT_OK


_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_status,
    _add_plan,
    _add_submit,
    _add_resume,
    _add_jobs,
    _add_restart,
    _add_sandbox,
]  # the order of a day's work, as --help lists them


def build_parser() -> argparse.ArgumentParser:
    intro, codes, _ = __doc__.split("\n\n", 2)
    parser = argparse.ArgumentParser(prog="norce-feeds", description=intro, epilog=codes,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
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
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ToolkitError as exc:
        print(f"error: {said(exc)}", file=sys.stderr)
        if getattr(args, "feed", None):
            _keep_rejected(args.settings, args.feed, exc)
        return _exit_code(exc)
    except KeyboardInterrupt:
        return 130


def said(exc: ToolkitError) -> str:
    """The error in the CLI's words: a refusal names the flags that override it, not Python's.

    >>> said(ToolkitError("too much; pass allow_mass_deactivation=True (with an override_reason) to send "
    ...                   "it anyway"))
    'too much; add --allow-mass-deactivation --reason TEXT to send it anyway'
    """
    from toolkit._refusals import OVERRIDE

    return str(exc).replace(OVERRIDE, "add --allow-mass-deactivation --reason TEXT to send it anyway")


def _keep_rejected(settings_path: str, feed: str, exc: ToolkitError) -> None:
    """When checks stop a plan, write every rejected row (with its reason) where the user can read it."""
    from datetime import UTC, datetime

    from toolkit.config import load_settings
    from toolkit.errors import CheckFailed

    rejected = getattr(exc, "rejected", None)
    if not isinstance(exc, CheckFailed) or rejected is None:
        return
    try:
        folder = load_settings(settings_path).state_dir / "rejected"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{feed}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.csv"
        rejected.write_csv(path)
    except (ToolkitError, OSError) as problem:
        print(f"the rejected rows could not be written: {problem}", file=sys.stderr)
        return
    print(f"the {rejected.height} rejected rows, with their reasons: {path}", file=sys.stderr)


def _exit_code(exc: ToolkitError) -> int:
    from toolkit import errors
    from toolkit.ledger import StateDamaged

    codes: list[tuple[type[ToolkitError], int]] = [
        (errors.CheckFailed, EXIT_CHECKS),
        (errors.GuardRefused, EXIT_GUARD),
        (errors.JobFailed, EXIT_JOB_FAILED),
        (errors.OutcomeUnknown, EXIT_UNKNOWN),
        (errors.FeedLocked, EXIT_LOCKED),
        (StateDamaged, EXIT_STATE),
        (errors.JobTimeout, 1),
        (errors.ConnectAPIError, EXIT_NOT_SENT),
    ]
    return next((code for kind, code in codes if isinstance(exc, kind)), 1)


if __name__ == "__main__":
    sys.exit(main())
