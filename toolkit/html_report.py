"""A self-contained HTML report of what was sent: plans, checks, changes, jobs and failures.

One file to open offline or attach to a ticket: styles inline, charts inline as SVG (drawn with
vl-convert, so no script and nothing fetched from a CDN), tables as in the notebooks
(:func:`toolkit.display.html_table`). :func:`write_report` is what ``norce-feeds report`` and the demo
call; :func:`render_report` gives the HTML.

Sections: the plans of the period by business day (sent or refused, with why), rows rejected by the
checks (file, line, key, column, reason), changes per field, the feed-health charts, every job and the
failed ones with the end of their Connect log.

Examples
--------
>>> import pathlib, tempfile
>>> from toolkit.config import Settings
>>> s = Settings(pathlib.Path("norce.toml"), pathlib.Path(tempfile.mkdtemp()), {}, {})
>>> "<h1>" in render_report(s)
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import altair as alt
import polars as pl

from toolkit import charts
from toolkit.config import Settings
from toolkit.display import html_table
from toolkit.feed_health import FeedHealth, plan_days
from toolkit.reports import ledger_path, restartable

__all__ = ["render_report", "write_report"]

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:24px;color:#212121;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #cfd8dc}"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}.meta{color:#546e7a}"
    "pre{background:#f5f5f5;padding:6px;white-space:pre-wrap;font-size:12px}"
)
_REJECTED = ["file", "line", "key", "column", "check", "value", "reason"]


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>{body}"


def _svgs(drawn: Mapping[str, alt.TopLevelMixin]) -> str:
    return "<div class='charts'>" + "".join(charts.render(c).data for c in drawn.values()) + "</div>"


def _rejected(settings: Settings, plan_ids: list[str]) -> pl.DataFrame:
    """Rows the checks rejected in the plans saved under the state directory."""
    frames = []
    for plan_id in plan_ids:
        path = settings.state_dir / "plans" / plan_id / "rejected.parquet"
        if path.exists():
            frame = pl.read_parquet(path)
            if frame.height:
                frames.append(frame.with_columns(pl.lit(plan_id).alias("plan")))
    if not frames:
        return pl.DataFrame()
    rows = pl.concat(frames, how="diagonal_relaxed")
    named = rows.with_columns(
        pl.col("_source").str.split("/").list.last().alias("file"), pl.col("_row").alias("line")
    )
    return named.select("plan", *[c for c in _REJECTED if c in named.columns])


def _field_counts(settings: Settings, plans: pl.DataFrame) -> pl.DataFrame:
    from toolkit.ledger import Ledger

    rows: dict[tuple[str, str], int] = {}
    with Ledger(ledger_path(settings)) as ledger:
        for record in ledger.plans():
            if record.id in set(plans["plan_id"].drop_nulls().to_list()):
                for name, n in dict(record.summary.get("field_counts") or {}).items():
                    rows[(record.feed, name)] = rows.get((record.feed, name), 0) + int(n)
    data = [(feed, name, n) for (feed, name), n in rows.items()]
    return pl.DataFrame(data, schema={"feed": pl.String, "field": pl.String, "rows": pl.Int64}, orient="row")


def _failures(settings: Settings, jobs: pl.DataFrame) -> str:
    from toolkit.ledger import Ledger

    failed = restartable(jobs)
    if failed.height == 0:
        return "<p>No failed jobs and no failed items.</p>"
    parts = [html_table(failed.select("job_id", "feed", "status", "items", "failures"))]
    with Ledger(ledger_path(settings)) as ledger:
        for job_id in failed["job_id"].to_list()[:20]:
            tail = ledger.job(int(job_id)).log_tail
            text = "\n".join(str(e.get("message", "")) for e in tail) or "no log kept"
            parts.append(f"<p>job {job_id}:</p><pre>{html.escape(text)}</pre>")
    return "".join(parts)


def _health(settings: Settings, feed: str | None, since: datetime | None) -> FeedHealth:
    from toolkit.feed_health import feed_jobs
    from toolkit.ledger import Ledger

    with Ledger(ledger_path(settings)) as ledger:
        plans = plan_days(ledger, since=since, feed=feed)
        return FeedHealth(plans, feed_jobs(ledger, plans, since, feed))


def render_report(
    settings: Settings,
    *,
    feed: str | None = None,
    since: timedelta | None = None,
    now: datetime | None = None,
) -> str:
    """The report's HTML for ``feed`` (all when None) over the last ``since`` (all time when None)."""
    now = now or datetime.now(UTC)
    health = _health(settings, feed, now - since if since else None)
    plans = health.plans.sort("business_day", "feed")
    fields = _field_counts(settings, plans)
    scope = f"{feed or 'all feeds'}, {'last ' + str(since) if since else 'all time'}"
    jobs = health.jobs
    body = [
        f"<h1>Feed run report</h1><p class='meta'>{html.escape(scope)}; made "
        f"{now.astimezone():%Y-%m-%d %H:%M:%S} from {html.escape(str(settings.path))}</p>",
        _section("Plans by business day", html_table(plans, rows=200)),
        _section("Feed health by business day", html_table(health.table(), rows=200)),
        _section(
            "Rows rejected by the checks",
            html_table(_rejected(settings, plans["plan_id"].drop_nulls().to_list()), rows=100),
        ),
        _section(
            "Changes per field",
            _svgs({"fields": charts.changes_per_field(fields.group_by("field").agg(pl.col("rows").sum()))})
            + html_table(fields, rows=100),
        ),
        _section("Charts", _svgs(health.charts())),
        _section(
            "Jobs",
            html_table(
                jobs.reverse()
                .select(
                    "job_id",
                    "feed",
                    "business_day",
                    "status",
                    "items",
                    "inserts",
                    "updates",
                    "failures",
                    "queued_at",
                    "wait_s",
                    "run_time_s",
                )
                .rename({"wait_s": "lead_time_s"}),
                rows=200,
            ),
        ),
        _section("Failures", _failures(settings, jobs)),
    ]
    head = f"<meta charset='utf-8'><title>Feed run report: {html.escape(scope)}</title><style>{_CSS}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>\n"


def write_report(
    settings: Settings, path: str | Path, *, feed: str | None = None, since: timedelta | None = None
) -> Path:
    """Write :func:`render_report` to ``path`` (its folder created); return the path.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from toolkit.config import Settings
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_report(Settings(d / "norce.toml", d, {}, {}), d / "r.html").suffix
    '.html'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(settings, feed=feed, since=since), encoding="utf-8")
    return path
