"""norce-feeds: thin commands over the toolkit's functions.

Each command parses its arguments, calls one toolkit function and returns an exit code:
0 ok, 1 checks failed, 2 usage or settings error, 3 guard refused, 4 a job failed, 5 outcome unknown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from toolkit.errors import ConfigError, ToolkitError

EXIT_OK, EXIT_CHECKS, EXIT_USAGE, EXIT_GUARD, EXIT_JOB_FAILED, EXIT_UNKNOWN = 0, 1, 2, 3, 4, 5

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
    from toolkit.sandbox import run_server

    run_server(
        host=args.host, port=args.port, state=args.state, tls=args.tls,
        rate_limit=args.rate_limit, token_ttl=args.token_ttl, job_delay=args.job_delay,
        client_id=args.client_id, client_secret=args.client_secret, allow_remote=args.allow_remote,
    )  # fmt: skip
    return EXIT_OK


_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_sandbox,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="norce-feeds", description=__doc__.splitlines()[0])
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
        print(f"error: {exc}", file=sys.stderr)
        return _exit_code(exc)
    except KeyboardInterrupt:
        return 130


def _exit_code(exc: ToolkitError) -> int:
    from toolkit import errors

    codes: list[tuple[type[ToolkitError], int]] = [
        (errors.CheckFailed, EXIT_CHECKS),
        (errors.GuardRefused, EXIT_GUARD),
        (errors.JobFailed, EXIT_JOB_FAILED),
        (errors.OutcomeUnknown, EXIT_UNKNOWN),
    ]
    return next((code for kind, code in codes if isinstance(exc, kind)), 1)


if __name__ == "__main__":
    sys.exit(main())
