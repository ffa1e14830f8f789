"""Progress of a submission: a ``tqdm.auto`` bar fed by the events ``runs.submit`` emits.

``submit(..., progress=callback)`` calls ``callback(event)`` with dicts like
``{"event": "batch", "plan_id": ..., "feed": ..., "batches": 12, "accepted": 5, "requests_left": 7,
"eta_s": 7.0, "index": 4, "job_id": 1005, "found": False}`` (``event`` is ``start``, ``batch`` or
``done``; ``eta_s`` is the time the remaining requests take at the request budget). ``ProgressBar``
shows them as a bar in a terminal or a notebook.

Examples
--------
>>> import io
>>> bar = ProgressBar(file=io.StringIO())
>>> bar({"event": "start", "feed": "stock", "batches": 2, "accepted": 0, "requests_left": 2,
...      "eta_s": 2.0})
>>> bar({"event": "batch", "feed": "stock", "batches": 2, "accepted": 1, "requests_left": 1,
...      "eta_s": 1.0})
>>> bar.n, bar.postfix
(1, {'requests_left': 1, 'eta': '1s'})
>>> bar({"event": "done", "feed": "stock", "batches": 2, "accepted": 2, "requests_left": 0,
...      "eta_s": 0.0})
"""

from __future__ import annotations

from typing import IO, Any

from tqdm.auto import tqdm

__all__ = ["ProgressBar", "format_eta"]


def format_eta(seconds: float) -> str:
    """Seconds as ``1h02m``, ``3m05s`` or ``42s``.

    >>> format_eta(3725), format_eta(185), format_eta(42.4)
    ('1h02m', '3m05s', '42s')
    """
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class ProgressBar:
    """A callable for ``submit(progress=...)``: batches accepted, requests left and ETA at the budget.

    Parameters
    ----------
    file
        Where a terminal bar is written (stderr by default).
    disable
        True hides the bar (headless runs); None hides it when ``file`` is not a terminal.
    """

    def __init__(self, *, file: IO[str] | None = None, disable: bool | None = False) -> None:
        self._file, self._disable = file, disable
        self._bar: Any = None
        self.n = 0
        self.postfix: dict[str, Any] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start" or self._bar is None:
            self._open(event)
        if kind == "batch":
            self._bar.update(event["accepted"] - self._bar.n)
        self.n = int(event["accepted"])
        self.postfix = {"requests_left": event["requests_left"], "eta": format_eta(event["eta_s"])}
        self._bar.set_postfix(self.postfix, refresh=kind != "batch")
        if kind == "done":
            self._bar.close()

    def _open(self, event: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = tqdm(total=event["batches"], initial=event["accepted"], unit="batch",
                         desc=f"{event.get('feed', '')} batches", file=self._file,
                         disable=self._disable, dynamic_ncols=True)  # fmt: skip
