"""Progress of a submission: a ``tqdm.auto`` bar fed by the events ``runs.submit`` and
``outcomes.wait_for_jobs`` emit.

``submit(..., progress=callback)`` calls ``callback(event)`` with dicts like
``{"event": "batch", "plan_id": ..., "feed": ..., "batches": 12, "accepted": 5, "requests_left": 7,
"eta_s": 7.0, "index": 4, "job_id": 1005, "found": False}`` (``event`` is ``start``, ``batch`` or
``done``; ``eta_s`` is the time the remaining requests take at the request budget). While the client
waits (its request budget, a 429's ``Retry-After``, a retry's backoff) it gets ``wait`` events, the
same fields plus ``seconds`` and ``why`` (``"rate limit 60/min"``, ``"429 Retry-After"``,
``"retry after 503"``), their ``eta_s`` counting the wait. ``wait_for_jobs(..., progress=callback)``
sends a ``job`` event whenever a job's status changes: ``job_id``, ``status`` (``"Queued"``,
``"Succeeded"``, ...), ``done``, ``finished`` and ``jobs`` (how many finished, of how many),
``items``, ``run_time_s`` and ``waited_s`` (since the waiting began).

``ProgressBar`` shows them: batches, then jobs, with what is being waited for and why; in a terminal
one line per finished job. It writes nothing when disabled (``disable=None``: when ``file`` is not a
terminal) but still keeps the figures ``summary`` reports.

Examples
--------
>>> import io
>>> bar = ProgressBar(file=io.StringIO())
>>> bar({"event": "start", "feed": "stock", "batches": 2, "accepted": 0, "requests_left": 2,
...      "eta_s": 2.0})
>>> bar({"event": "wait", "feed": "stock", "batches": 2, "accepted": 0, "requests_left": 2,
...      "eta_s": 14.0, "seconds": 12.0, "why": "429 Retry-After"})
>>> bar.text
'waiting 12s: 429 Retry-After, requests_left=2, eta=14s'
>>> bar({"event": "batch", "feed": "stock", "batches": 2, "accepted": 1, "requests_left": 1,
...      "eta_s": 1.0})
>>> bar.n, bar.postfix, bar.text
(1, {'requests_left': 1, 'eta': '1s'}, 'requests_left=1, eta=1s')
>>> bar({"event": "done", "feed": "stock", "batches": 2, "accepted": 2, "requests_left": 0,
...      "eta_s": 0.0})
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["ProgressBar", "WaitEvents", "eta_seconds", "format_eta", "job_line"]


def format_eta(seconds: float) -> str:
    """Seconds as ``1h02m``, ``3m05s`` or ``42s``.

    >>> format_eta(3725), format_eta(185), format_eta(42.4)
    ('1h02m', '3m05s', '42s')
    """
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def eta_seconds(requests_left: int, *, rate: int, waiting: float = 0.0) -> float:
    """Seconds until the last request is sent: a wait under way, then the requests at the budget.

    The wait (a ``Retry-After``, the budget's pacing) comes before the next request can go, so it adds
    to the time ``requests_left`` requests take at ``rate`` a minute.

    >>> eta_seconds(3, rate=60), eta_seconds(3, rate=60, waiting=24.0), eta_seconds(0, rate=60, waiting=5)
    (3.0, 27.0, 5.0)
    """
    return max(0.0, waiting) + requests_left * 60.0 / rate


def job_line(event: dict[str, Any]) -> str:
    """The line a finished job gets: status, items and run time, as far as Connect told them.

    >>> job_line({"job_id": 1234, "status": "Succeeded", "items": 500, "run_time_s": 3.21})
    'job 1234: Succeeded, 500 items, 3.2 s'
    >>> job_line({"job_id": 7, "status": "Failed", "items": 1, "run_time_s": None})
    'job 7: Failed, 1 item'
    """
    parts = [f"job {event['job_id']}: {event['status']}"]
    items = event.get("items")
    if items is not None:
        parts.append(f"{items} item{'' if items == 1 else 's'}")
    if event.get("run_time_s") is not None:
        parts.append(f"{event['run_time_s']:.1f} s")
    return ", ".join(parts)


class WaitEvents:
    """Tells ``progress`` of a client's waits as ``wait`` events, with where the submission stands.

    ``where`` is the submission's current event (``requests_left`` counts the request under way);
    ``attached(client)`` sets the client's ``on_wait`` hook for a block. With ``progress`` None,
    nothing is attached.

    >>> told = []
    >>> waits = WaitEvents(told.append, rate=60, where={"event": "send", "requests_left": 3})
    >>> waits(24.0, "429 Retry-After")
    >>> told
    [{'event': 'wait', 'requests_left': 3, 'seconds': 24.0, 'why': '429 Retry-After', 'eta_s': 27.0}]
    """

    def __init__(
        self, progress: Callable[[dict[str, Any]], None] | None, *, rate: int, where: dict[str, Any]
    ) -> None:
        self.progress, self.rate, self.where = progress, rate, where

    def __call__(self, seconds: float, why: str) -> None:
        if self.progress is None:
            return
        left = int(self.where.get("requests_left", 0))
        self.progress(
            {
                **self.where,
                "event": "wait",
                "seconds": round(seconds, 3),
                "why": why,
                "eta_s": eta_seconds(left, rate=self.rate, waiting=seconds),
            }
        )

    @contextmanager
    def attached(self, client: object) -> Iterator[None]:
        """Set ``client.on_wait`` (a ConnectClient has it) to this for the block, then restore it."""
        if self.progress is None or not hasattr(client, "on_wait"):
            yield
            return
        before = client.on_wait
        client.on_wait = self
        try:
            yield
        finally:
            client.on_wait = before


class ProgressBar:
    """A callable for ``progress=``: batches sent, then jobs finished, and what is being waited for.

    Parameters
    ----------
    file
        Where a terminal bar is written (stderr by default).
    disable
        True hides the bar (headless runs); None hides it when ``file`` is not a terminal.
    clock
        Seconds, for the run's duration in ``summary`` (from the first event on).
    """

    def __init__(
        self,
        *,
        file: IO[str] | None = None,
        disable: bool | None = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._file, self._disable, self._clock = file, disable, clock
        self._bar: Any = None
        self._phase = ""
        self._started: float | None = None
        self.n = 0
        self.finished = 0
        self.postfix: dict[str, Any] = {}
        self.text = ""
        self.waited = {"the rate limit": 0.0, "retries": 0.0}
        self.jobs_waited: float | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self._started is None:
            self._started = self._clock()
        kind = event.get("event")
        if kind == "plan":
            self._plan(event)
        elif kind == "job":
            self._job(event)
        elif kind == "wait":
            self._wait(event)
        else:
            self._batch(event)

    def summary(self) -> str:
        """How long sending and waiting took (from the first event), and how much of it was waiting.

        >>> now = [0.0]
        >>> bar = ProgressBar(disable=True, clock=lambda: now[0])
        >>> bar({"event": "wait", "seconds": 12.0, "why": "rate limit 60/min"})
        >>> bar({"event": "job", "job_id": 1, "status": "Succeeded", "done": True, "finished": 1,
        ...      "jobs": 1, "waited_s": 25.0})
        >>> now[0] = 41.0
        >>> bar.summary()
        'took 41s (12s waiting for the rate limit, 25s for jobs)'
        """
        spans = [(s, what) for what, s in self.waited.items() if s > 0]
        if self.jobs_waited is not None:
            spans.append((self.jobs_waited, "jobs"))
        said = ", ".join(
            f"{format_eta(s)} {'waiting ' if i == 0 else ''}for {what}" for i, (s, what) in enumerate(spans)
        )
        now = self._clock()
        took = f"took {format_eta(now - (now if self._started is None else self._started))}"
        return f"{took} ({said})" if said else took

    def _batch(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start" or self._phase != "batches":
            self._open(event["batches"], event["accepted"], "batch", f"{event.get('feed', '')} batches")
        self.n = int(event["accepted"])
        self.postfix = {"requests_left": event["requests_left"], "eta": format_eta(event["eta_s"])}
        self._show(", ".join(f"{k}={v}" for k, v in self.postfix.items()), refresh=kind != "batch")
        if kind == "batch":  # after the postfix: the update redraws the bar with it
            self._bar.update(event["accepted"] - self._bar.n)
        if kind == "done":
            self._close()

    def _plan(self, event: dict[str, Any]) -> None:
        """A planning step (reading, checking, diffing, batching): a bar of steps, closed at the last."""
        if self._phase != "plan":
            self._open(event["steps"], 0, "step", f"{event.get('feed', '')} planning")
        self._show(str(event["what"]), refresh=False)
        self._bar.update(
            int(event["step"]) - 1 - self._bar.n
            if event["step"] < event["steps"]
            else event["steps"] - self._bar.n
        )
        if event["step"] >= event["steps"]:
            self._close()

    def _wait(self, event: dict[str, Any]) -> None:
        seconds, why = float(event["seconds"]), str(event["why"])
        paced = why.startswith(("rate limit", "429"))
        self.waited["the rate limit" if paced else "retries"] += seconds
        if "batches" not in event:  # a wait outside a submission: counted, not shown
            return
        if self._phase != "batches":
            self._open(event["batches"], event["accepted"], "batch", f"{event.get('feed', '')} batches")
        self.postfix = {"requests_left": event["requests_left"], "eta": format_eta(event["eta_s"])}
        shown = ", ".join(f"{k}={v}" for k, v in self.postfix.items())
        self._show(f"waiting {format_eta(seconds)}: {why}, {shown}")

    def _job(self, event: dict[str, Any]) -> None:
        self.jobs_waited = max(self.jobs_waited or 0.0, float(event.get("waited_s") or 0.0))
        if self._phase != "jobs":
            self._open(event["jobs"], 0, "job", f"{event.get('feed', '')} jobs")
        self.finished = int(event["finished"])
        self._show(f"job {event['job_id']}: {event['status']}", refresh=False)
        self._bar.update(self.finished - self._bar.n)
        self._bar.refresh()
        if event.get("done") and not self._bar.disable:
            type(self._bar).write(job_line(event), file=self._file or sys.stderr)
        if self.finished >= int(event["jobs"]):
            self._close()

    def _show(self, text: str, *, refresh: bool = True) -> None:
        self.text = text
        self._bar.set_postfix_str(text, refresh=refresh)

    def _open(self, total: int, initial: int, unit: str, desc: str) -> None:
        from tqdm.auto import tqdm

        self._close()
        self._bar = tqdm(
            total=total,
            initial=initial,
            unit=unit,
            desc=desc,
            file=self._file,
            disable=self._disable,
            dynamic_ncols=True,
        )
        self._phase = {"batch": "batches", "job": "jobs", "step": "plan"}[unit]

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._phase = ""
