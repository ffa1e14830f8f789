"""The demo's own workspace under ``out/``: a copy of norce.toml whose state lives in ``out/state``.

The demo never touches the developer's ``.norce``: it writes ``out/norce.toml`` (the repo's settings
with ``state_dir = "state"``, the sources as absolute paths and the demo's request rate) and points every
notebook at it. Each day's file of a feed is the file of the same name in ``data/sample/dayN``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from toolkit.config import Settings, load_settings
from toolkit.errors import ConfigError

__all__ = ["ROOT", "Workspace", "day_source", "demo_settings_text", "read_manifest", "select"]

T = TypeVar("T", str, int)

ROOT = Path(__file__).resolve().parents[2]
_OWNED = ("norce.toml", "state", "sandbox.sqlite", "notebooks", "runs", "charts", "summary.md", "report.html")


@dataclass(frozen=True)
class Workspace:
    """Where one demo keeps its settings, state, executed notebooks, results and charts."""

    out: Path
    sample: Path = ROOT / "data" / "sample"
    notebooks: Path = ROOT / "notebooks"

    @property
    def settings_path(self) -> Path:
        return self.out / "norce.toml"

    @property
    def sandbox_state(self) -> Path:
        """The sandbox's SQLite catalog, kept so that ``--lab`` can reuse a finished demo."""
        return self.out / "sandbox.sqlite"

    @property
    def charts(self) -> Path:
        return self.out / "charts"

    @property
    def summary_path(self) -> Path:
        return self.out / "summary.md"

    def executed(self, day: int | None, name: str) -> Path:
        """Where an executed notebook goes: ``out/notebooks/dayN/<name>`` (or ``out/notebooks/<name>``)."""
        folder = self.out / "notebooks" / (f"day{day}" if day is not None else "")
        return folder / name

    def results(self, day: int, feed: str, what: str) -> Path:
        """The ``output_dir`` of a headless notebook: ``out/runs/dayN/<feed>/<what>``."""
        return self.out / "runs" / f"day{day}" / feed / what

    def has_state(self) -> bool:
        """True when a previous demo left settings, snapshots and a sandbox catalog to reuse."""
        state = self.out / "state" / "snapshots"
        return self.settings_path.is_file() and self.sandbox_state.is_file() and state.is_dir()

    def clear(self) -> None:
        """Remove what an earlier demo wrote here (only the demo's own files and folders)."""
        for name in _OWNED:
            path = self.out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        for extra in self.out.glob("sandbox.sqlite-*"):  # SQLite's WAL and shared-memory files
            extra.unlink()

    def write_settings(self, *, rate_limit: int, source: Path = ROOT / "norce.toml") -> Settings:
        """Write ``out/norce.toml`` from ``source`` and load it (checking what was rewritten)."""
        self.out.mkdir(parents=True, exist_ok=True)
        text = demo_settings_text(
            source.read_text(encoding="utf-8"), root=source.parent, rate_limit=rate_limit
        )
        self.settings_path.write_text(text, encoding="utf-8")
        settings = load_settings(self.settings_path, environ={})
        _check_settings(settings, self.out / "state", rate_limit)
        return settings


def demo_settings_text(text: str, *, root: Path, rate_limit: int) -> str:
    """The demo's copy of a norce.toml: state in ``./state``, absolute sources, the demo's rate.

    Only ``state_dir`` of ``[settings]``, ``rate_limit_per_minute`` of profiles and ``source`` of
    feeds are rewritten (a mapping may well have a column named ``source``).

    Examples
    --------
    >>> text = ('[settings]\\nstate_dir = ".norce"\\n[feeds.a]\\nsource = "data/a.csv"\\n'
    ...         '[feeds.a.mapping]\\nsource = "Source"\\n')
    >>> print(demo_settings_text(text, root=Path("/repo"), rate_limit=60), end="")  # doctest: +ELLIPSIS
    # Written by `python -m toolkit.demo` from /repo/norce.toml...
    [settings]
    state_dir = "state"
    [feeds.a]
    source = "/repo/data/a.csv"
    [feeds.a.mapping]
    source = "Source"
    """
    lines, table = [], ""
    for line in text.splitlines(keepends=True):
        if header := re.match(r"\s*\[([^\]]+)\]", line):
            table = header[1].strip()
        lines.append(_rewrite(line, table, root, rate_limit))
    return _HEADER.format(source=root / "norce.toml") + "".join(lines)


_HEADER = (
    "# Written by `python -m toolkit.demo` from {source}: the demo's state lives\n"
    "# in ./state (never in the developer's .norce); sources are absolute. Rewritten by every demo.\n"
)


def _rewrite(line: str, table: str, root: Path, rate_limit: int) -> str:
    parts = table.split(".")
    if table == "settings":
        return re.sub(r'^state_dir\s*=\s*"[^"]*"', 'state_dir = "state"', line)
    if parts[0] == "profiles" and len(parts) == 2:
        return re.sub(r"^rate_limit_per_minute\s*=\s*\d+", f"rate_limit_per_minute = {rate_limit}", line)
    if parts[0] == "feeds" and len(parts) == 2:
        return re.sub(r'^source\s*=\s*"([^"]*)"', lambda m: f'source = "{root / m[1]}"', line)
    return line


def _check_settings(settings: Settings, state: Path, rate_limit: int) -> None:
    problems = [] if settings.state_dir.resolve() == state.resolve() else [f"state_dir {settings.state_dir}"]
    problems += [
        f"profile {p.name}: rate {p.rate_limit_per_minute}"
        for p in settings.profiles.values()
        if p.rate_limit_per_minute != rate_limit
    ]
    problems += [
        f"feed {f.name}: source {f.source}"
        for f in settings.feeds.values()
        if not Path(f.source).is_absolute()
    ]
    if problems:
        msg = f"{settings.path}: the demo could not rewrite {', '.join(problems)}"
        raise ConfigError(msg)


def day_source(settings: Settings, feed: str, day: int, *, sample: Path = ROOT / "data" / "sample") -> Path:
    """The file of ``feed`` for ``day``: the feed's file name in ``<sample>/day<day>``."""
    path = sample / f"day{day}" / Path(settings.feed(feed).source).name
    if not path.is_file():
        msg = f"feed {feed!r}: no file {path.name} for day {day} in {path.parent}"
        raise ConfigError(msg)
    return path


def read_manifest(sample: Path = ROOT / "data" / "sample") -> dict[str, Any]:
    """The sample's manifest.json: counts, each day's changes and the bad rows of day 4."""
    data: dict[str, Any] = json.loads((sample / "manifest.json").read_text(encoding="utf-8"))
    return data


def select(names: Sequence[T], wanted: Sequence[T] | None, what: str) -> list[T]:
    """``wanted`` (in the order of ``names``), or all ``names``; a ConfigError names unknown ones."""
    if not wanted:
        return list(names)
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        msg = f"unknown {what} {', '.join(map(str, unknown))}; expected some of {', '.join(map(str, names))}"
        raise ConfigError(msg)
    return [n for n in names if n in wanted]
