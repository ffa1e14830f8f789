"""What the demo expected, what it found, and ``out/summary.md``.

The expectations come from the sample's manifest.json: the first day sent goes out as full feeds and
later days as change feeds, every job succeeds without failed items, a day whose stock export is
truncated (``stock_truncated_to``) is refused by the guard, a day with ``bad_price_rows`` has exactly
those price rows rejected while the valid ones are sent, and the catalog check passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from toolkit.demo.catalog import CatalogCheck
from toolkit.demo.days import FeedDay

__all__ = ["DemoRun", "render_summary", "surprises"]

STOCK_FILE, PRICES_FILE = "erp_stock.csv", "erp_prices.csv"
_LEGEND = (
    "Per day and feed: **items** are the Connect items sent (products: one per product, with its "
    "variants and SKUs); **added / changed / removed** count source rows against the baseline "
    "(products: SKUs); **requests** are the import calls (batches), each answered by one **job**; "
    "**baseline** says whether the day's snapshot became the new baseline (all its jobs succeeded)."
)


@dataclass(frozen=True)
class DemoRun:
    """Everything the summary shows."""

    days: Sequence[int]
    feed_days: Sequence[FeedDay]
    catalog: Sequence[CatalogCheck]
    failed_items: dict[int, int]  # job id -> failed items (from the ledger)
    manifest: dict[str, Any]
    seconds: float
    started: str
    sandbox: str
    workers: int
    rate_limit: int
    out: str
    deactivated: dict[tuple[int, str], list[str]] = field(default_factory=dict)  # rejected, yet deactivated
    status: pl.DataFrame | None = None  # toolkit.status.feed_status after the last day
    requests: tuple[int, int] = (0, 0)  # the plans' requests and their lower bound (PlanSummary.min_requests)

    def changes(self, day: int) -> dict[str, Any]:
        changes: dict[str, Any] = self.manifest.get("days", {}).get(f"day{day}", {}).get("changes", {})
        return changes

    def date(self, day: int) -> str:
        return str(self.manifest.get("days", {}).get(f"day{day}", {}).get("date", "?"))


def surprises(run: DemoRun) -> list[str]:
    """Everything that did not go as the manifest says it should (empty: all as expected)."""
    found = [s for fd in run.feed_days for s in _feed_surprises(run, fd)]
    found += [
        f"day {day}, feed {feed}: {len(keys)} rows the checks rejected had their item deactivated in "
        f"Connect (a rejected row's key counted as removed): {', '.join(keys)}"
        for (day, feed), keys in run.deactivated.items()
    ]
    found += [f"catalog check, feed {c.feed}: {c.describe()}" for c in run.catalog if not c.passed]
    found += _status_surprises(run.status)
    return found


def _status_surprises(status: pl.DataFrame | None) -> list[str]:
    """After the run no feed may hold a broken baseline, an unfinished submission or a lock."""
    if status is None:
        return []
    found = []
    for row in status.iter_rows(named=True):
        if row["problem"]:
            found.append(f"status, feed {row['feed']}: {row['problem']}")
        if row["open_state"] in ("sending", "submitted"):
            found.append(f"status, feed {row['feed']}: plan {row['open_plan']} left {row['open_state']}")
        if row["locked_by"]:
            found.append(f"status, feed {row['feed']}: its lock is still held by {row['locked_by']}")
    return found


def _expects_refusal(run: DemoRun, fd: FeedDay) -> bool:
    later = fd.day != min(run.days)  # without a baseline a truncated export is just a small full feed
    return later and fd.source.name == STOCK_FILE and "stock_truncated_to" in run.changes(fd.day)


def _feed_surprises(run: DemoRun, fd: FeedDay) -> list[str]:
    where = f"day {fd.day}, feed {fd.feed}"
    if _expects_refusal(run, fd):
        submit_error = fd.errors.get("submit", ("", ""))[0]
        ok = fd.refused and submit_error == "GuardRefused" and not fd.job_ids
        return [] if ok else [f"{where}: expected the guard to refuse the truncated export ({fd.verdict})"]
    if fd.errors:
        return [f"{where}: {name} notebook failed: {e}: {v}" for name, (e, v) in fd.errors.items()]
    found = [] if fd.verdict.startswith("ok") else [f"{where}: {fd.verdict}"]
    wanted = "full" if fd.day == min(run.days) else "change"
    found += [] if fd.kind == wanted else [f"{where}: a {fd.kind} feed, expected a {wanted} feed"]
    if fd.plan.get("batches"):
        failed = {j: n for j in fd.job_ids if (n := run.failed_items.get(j, 0))}
        bad = [s for s in fd.statuses if s != "Succeeded"] + [
            f"job {j}: {n} failed items" for j, n in failed.items()
        ]
        found += [f"{where}: {', '.join(map(str, bad))}"] if bad else []
        found += [] if fd.submit.get("promoted") else [f"{where}: the snapshot was not promoted"]
    return found + _rejected_surprises(run, fd, where)


def _rejected_surprises(run: DemoRun, fd: FeedDay, where: str) -> list[str]:
    rows = set(fd.rejected["_row"].cast(pl.Int64).to_list()) if fd.rejected.height else set()
    if fd.source.name == PRICES_FILE and "bad_price_rows" in run.changes(fd.day):
        wanted = {int(r["row"]) for r in run.manifest.get("bad_price_rows", [])}
        missed = sorted(wanted - rows)
        return [f"{where}: bad price rows not rejected: {missed}"] if missed else []
    return [f"{where}: {len(rows)} rows rejected, expected none"] if rows else []


# --- summary.md ---------------------------------------------------------------------------------
def render_summary(run: DemoRun, found: Sequence[str]) -> str:
    """The markdown of ``out/summary.md``."""
    verdict = "**as expected** (exit 0)" if not found else f"**{len(found)} unexpected outcome(s)** (exit 1)"
    lines = [
        "# Demo: four days of an outdoor-gear shop's feeds through Norce Commerce Connect (sandbox)",
        "",
        f"- Result: {verdict}",
        f"- Run: {run.started}, {_duration(run.seconds)} in total, {run.workers} worker(s), "
        f"days {', '.join(map(str, run.days))}, feeds {', '.join(sorted({fd.feed for fd in run.feed_days}))}",
        f"- Sandbox: {run.sandbox}",
        f"- State: {run.out}/state (settings: {run.out}/norce.toml)",
    ]
    lines.append(requests_line(*run.requests))
    lines += [f"- Unexpected: {s}" for s in found]
    lines += ["", _LEGEND]
    for day in run.days:
        lines += _day_section(run, day)
    lines += _catalog_section(run)
    lines += _status_section(run)
    lines += [
        "",
        "## Where to look",
        "",
        f"- executed notebooks: `{run.out}/notebooks/dayN/` (01-preview-feed-FEED, 02-submit-feed-FEED)"
        f" and `{run.out}/notebooks/03-job-outcomes.ipynb`",
        f"- what each notebook wrote (summary.json, rejected.csv, changes.csv): `{run.out}/runs/dayN/FEED/`",
        f"- charts of the job outcomes (SVG and PNG): `{run.out}/charts/`",
        "- open the notebooks interactively, with a sandbox running: `make lab`",
    ]
    return "\n".join(lines) + "\n"


def requests_line(requests: int, floor: int) -> str:
    """The week's requests beside their lower bound.

    >>> requests_line(41, 40)
    '- Requests: 41 sent by the plans, lower bound 40 (+2.5%)'
    """
    over = f"+{(requests - floor) / floor:.1%}" if floor else "no requests"
    return f"- Requests: {requests} sent by the plans, lower bound {floor} ({over})"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _day_section(run: DemoRun, day: int) -> list[str]:
    rows = [fd for fd in run.feed_days if fd.day == day]
    kinds = {fd.kind for fd in rows if not fd.refused}
    label = f"{kinds.pop()} feeds" if len(kinds) == 1 else "mixed feeds"
    lines = ["", f"## Day {day} ({run.date(day)}): {label}", ""]
    if changes := _changes_text(run.changes(day)):
        lines += [f"Changes in the sample on this day: {changes}.", ""]
    lines += [
        "| feed | entity | kind | items | added | changed | removed | requests | jobs "
        "| failed items | rejected rows | baseline |",
        "|---|---|---|--:|--:|--:|--:|--:|---|--:|--:|---|",
    ]
    lines += [_row(run, fd) for fd in rows]
    for fd in rows:
        lines += _notes(fd)
    return lines


def _changes_text(changes: dict[str, Any]) -> str:
    parts = []
    for name, value in changes.items():
        text = name.replace("_", " ")
        if isinstance(value, list):
            parts.append(f"{text}: {len(value)}")
        elif isinstance(value, dict):
            parts.append(f"{text}: {', '.join(f'{k} {v}' for k, v in value.items())}")
        else:
            parts.append(f"{text}: {value}")
    return "; ".join(parts)


def _row(run: DemoRun, fd: FeedDay) -> str:
    p = fd.plan
    if fd.refused or not p:
        why = "**refused by the guard**" if fd.refused else f"**failed**: {_cell(fd.verdict)}"
        return f"| {fd.feed} | {fd.entity} | - | {why} | | | | 0 | none | | {fd.rejected.height} | kept |"
    statuses = fd.statuses
    jobs = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses))) or "none (nothing to send)"
    failed = sum(run.failed_items.get(j, 0) for j in fd.job_ids)
    promoted = "promoted" if fd.submit.get("promoted") else "kept"
    return (
        f"| {fd.feed} | {fd.entity} | {fd.kind} | {p.get('items', 0)} | {p.get('added', 0)} | "
        f"{p.get('changed', 0)} | {p.get('removed', 0)} | {p.get('batches', 0)} | {jobs} | {failed} | "
        f"{fd.rejected.height} | {promoted} |"
    )


def _notes(fd: FeedDay) -> list[str]:
    lines = []
    if fd.refused:
        lines += ["", f"**{fd.feed}** was refused, nothing was sent and its baseline stays: {fd.verdict}"]
        if "submit" in fd.errors:
            lines += [f"(notebook 02 stopped with `{fd.errors['submit'][0]}`, as a scheduled run would)"]
    if fd.rejected.height:
        sent = "nothing was sent" if fd.refused or not fd.plan else "the valid rows were sent"
        lines += [
            "",
            f"**{fd.feed}**: {fd.rejected.height} rejected rows held back ({sent}):",
            "",
            "| file | row | key | column | check | value | reason |",
            "|---|--:|---|---|---|---|---|",
        ]
        cols = ["_source", "_row", "key", "column", "check", "value", "reason"]
        for r in fd.rejected.select(c for c in cols if c in fd.rejected.columns).iter_rows():
            lines.append("| " + " | ".join(_cell(v) for v in r) + " |")
    return lines


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _status_section(run: DemoRun) -> list[str]:
    if run.status is None:
        return []
    lines = [
        "",
        "## Where the feeds stand",
        "",
        f"As `norce-feeds status --settings {run.out}/norce.toml` shows it: each feed's baseline, "
        "what `--kind auto` would send next, and anything left unfinished.",
        "",
        "| feed | baseline snapshot | rows | promoted (UTC) | last full (UTC) | next | unfinished |",
        "|---|---|--:|---|---|---|---|",
    ]
    for r in run.status.iter_rows(named=True):
        promoted, full = (r[c] and f"{r[c]:%Y-%m-%d %H:%M}" for c in ("promoted_at", "last_full_at"))
        left = r["open_plan"] and f"{r['open_plan']} ({r['open_state']})"
        cells = (r["feed"], r["baseline"] or "none", r["baseline_rows"], promoted, full, r["next_kind"], left)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _catalog_section(run: DemoRun) -> list[str]:
    passed = all(c.passed for c in run.catalog)
    lines = [
        "",
        "## Catalog check",
        "",
        "The sandbox's catalog read back (active items) against the valid rows of the last snapshot "
        "the toolkit accepted for each feed (its baseline), compared on the feed's key and columns.",
        "",
        f"Result: **{'passed' if passed else 'FAILED'}**",
        "",
        "| feed | entity | baseline snapshot | rows expected | rows in Connect | result |",
        "|---|---|---|--:|--:|---|",
    ]
    lines += [
        f"| {c.feed} | {c.entity} | {c.baseline or '-'} | {c.expected} | {c.found} | {c.describe()} |"
        for c in run.catalog
    ]
    return lines
