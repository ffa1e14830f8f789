"""What every ``norce-feeds`` command shares: exit codes, settings with helpful errors, error words, tables.

Examples
--------
>>> suggest("stok", ["stock", "prices"])
" (did you mean 'stock'?)"
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import ConfigError, ToolkitError

if TYPE_CHECKING:
    import polars as pl

    from toolkit.config import Settings

EXIT_OK, EXIT_CHECKS, EXIT_USAGE, EXIT_GUARD, EXIT_JOB_FAILED, EXIT_UNKNOWN, EXIT_LOCKED = 0, 1, 2, 3, 4, 5, 6
EXIT_NOT_SENT, EXIT_STATE = 7, 8


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` (difflib), or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_settings(path: str, *, feed: str | None = None) -> Settings:
    """``load_settings(path)``; a missing file names where it was looked for and how to start, and an
    unknown ``feed`` is refused with the closest feed name."""
    from toolkit.config import load_settings

    file = Path(path)
    if not file.is_file():
        where = file.parent.resolve()
        msg = (
            f"no settings file {file.name} in {where} (looked for {where / file.name}); run "
            f"`norce-feeds init` there to write a commented one, or pass --settings PATH"
        )
        raise ConfigError(msg)
    settings = load_settings(file)
    if feed is not None:
        check_feed(settings, feed)
    return settings


def check_feed(settings: Settings, feed: str) -> None:
    """ConfigError naming the closest feed when ``feed`` is not a feed of ``settings``."""
    if feed not in settings.feeds:
        known = ", ".join(sorted(settings.feeds)) or "none"
        msg = f"{settings.path}: no feed {feed!r}{suggest(feed, settings.feeds)}; known feeds: {known}"
        raise ConfigError(msg)


def said(exc: ToolkitError) -> str:
    """The error in the CLI's words: a refusal names the flags that override it, not Python's.

    >>> said(ToolkitError("too much; pass allow_mass_deactivation=True (with an override_reason) to send "
    ...                   "it anyway"))
    'too much; add --allow-mass-deactivation --reason TEXT to send it anyway'
    """
    from toolkit._refusals import OVERRIDE

    return str(exc).replace(OVERRIDE, "add --allow-mass-deactivation --reason TEXT to send it anyway")


def keep_rejected(settings_path: str, feed: str, exc: ToolkitError) -> None:
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


def exit_code(exc: ToolkitError) -> int:
    """The documented exit code of an error (1 for any not listed)."""
    from toolkit import errors
    from toolkit.apply import BaselineMoved
    from toolkit.ledger import StateDamaged

    codes: list[tuple[type[ToolkitError], int]] = [
        (errors.ConfigError, EXIT_USAGE),
        (errors.CheckFailed, EXIT_CHECKS),
        (errors.GuardRefused, EXIT_GUARD),
        (BaselineMoved, EXIT_GUARD),
        (errors.JobFailed, EXIT_JOB_FAILED),
        (errors.OutcomeUnknown, EXIT_UNKNOWN),
        (errors.FeedLocked, EXIT_LOCKED),
        (StateDamaged, EXIT_STATE),
        (errors.JobTimeout, 1),
        (errors.ConnectAPIError, EXIT_NOT_SENT),
    ]
    return next((code for kind, code in codes if isinstance(exc, kind)), 1)


def print_table(frame: pl.DataFrame) -> None:
    """Print a frame as a Markdown table, every row and column, blanks for nulls."""
    import polars as pl

    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=10_000,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        fmt_str_lengths=64,
    ):
        print(frame.select(pl.all().cast(pl.String).fill_null("")))  # a blank, not "null"


def plural(n: int, word: str) -> str:
    """``1 request``, ``3 requests``.

    >>> plural(1, "request"), plural(3, "batch")
    ('1 request', '3 batches')
    """
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith(('ch', 's')) else 's'}"
