"""``python -m toolkit.demo``: four days of the sample shop's feeds through the notebooks, headless.

The command line of the demo: :func:`parse_args`, then :func:`main` runs
:func:`toolkit.demo.run.run_demo` (``make demo``) or, with ``--lab``, :func:`toolkit.demo.lab.run_lab`
(``make lab``). Exit code 0 when everything went as the sample's manifest says it should, 1 when
something else happened, 2 for bad options.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from toolkit.demo.lab import run_lab
from toolkit.demo.run import CONNECT_RATE, DemoOptions, run_demo
from toolkit.demo.workspace import ROOT
from toolkit.errors import ToolkitError

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> DemoOptions:
    """The command line of ``python -m toolkit.demo``."""
    p = argparse.ArgumentParser(prog="python -m toolkit.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=_ints, default=(), help="days to run, e.g. 1,2,4 (default: all)")
    p.add_argument("--feeds", type=_names, default=(), help="feeds to run, e.g. prices,stock (default: all)")
    p.add_argument("--out", type=Path, default=ROOT / "out", help="output directory (default: out/)")
    p.add_argument("--workers", type=int, default=2, help="notebooks run side by side (default: 2)")
    p.add_argument(
        "--rate-limit",
        type=int,
        default=CONNECT_RATE,
        help="requests a minute the sandbox and the demo's profile allow "
        f"(default: {CONNECT_RATE}, as Connect)",
    )
    p.add_argument("--lab", action="store_true", help="start JupyterLab on the demo's state instead")
    p.add_argument("--no-browser", dest="open_browser", action="store_false", help="with --lab: no browser")
    ns = p.parse_args(argv)
    return DemoOptions(
        days=ns.days,
        feeds=ns.feeds,
        out=ns.out.resolve(),
        workers=max(1, ns.workers),
        rate_limit=ns.rate_limit,
        lab=ns.lab,
        open_browser=ns.open_browser,
    )


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected day numbers such as 1,2,4, found {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        if options.lab:
            return run_lab(options)
        return run_demo(options)
    except ToolkitError as exc:
        print(f"demo: {type(exc).__name__}: {exc}")
        return 2
