"""The request budget: at most ``limit`` requests in any ``window`` seconds, shared by processes.

Connect allows 60 requests a minute per customer. A budget is a token bucket whose tokens come back
one window after they were spent (a sliding-window log), so no window of that length ever holds more
than ``limit`` requests, whatever the server's window alignment. With ``burst`` it is a classic bucket
instead (``burst`` tokens, refilled at ``limit`` per ``window``), as for the token endpoint's
"3 a minute, burst 20".

The state lives in memory, or in a small JSON file locked with ``fcntl.flock`` so that every process of
the machine using the same file (two notebooks, a cron job) spends from the same budget.

Examples
--------
>>> now = [0.0]
>>> budget = RequestBudget(2, window=10.0, margin=0.0, clock=lambda: now[0],
...                        sleep=lambda s: now.__setitem__(0, now[0] + s))
>>> [budget.acquire() for _ in range(3)]
[0.0, 0.0, 10.0]
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Clock", "RequestBudget", "Sleep", "WaitHook", "shared_budget"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]
WaitHook = Callable[[float, str], None]
"""Told ``(seconds, why)`` just before a wait: the budget's pacing, a ``Retry-After``, a backoff."""
logger = logging.getLogger("toolkit.connect")

_REGISTRY: dict[tuple[Any, ...], RequestBudget] = {}
_REGISTRY_LOCK = threading.Lock()


class RequestBudget:
    """A request budget of ``limit`` per ``window`` seconds, in memory or in a locked file.

    Parameters
    ----------
    limit
        Requests allowed per window (per minute for Connect).
    window
        The window in seconds.
    burst
        None for a sliding window; a number for a classic token bucket of that size refilled at
        ``limit`` per ``window``.
    path
        The state file shared by processes; None keeps the state in this object.
    margin
        Seconds added to the window, so latency between the client's and the server's clocks
        never lets two requests one window apart land inside one server window. Default: 1 % of
        the window, at least 0.05 s.
    clock, sleep
        Wall-clock time and sleeping; processes sharing a file must share the clock.
    """

    def __init__(
        self,
        limit: int = 60,
        window: float = 60.0,
        *,
        burst: int | None = None,
        path: str | Path | None = None,
        margin: float | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if limit < 1 or window <= 0 or (burst is not None and burst < 1):
            msg = f"a budget needs limit >= 1, window > 0 and burst >= 1, found {limit}, {window}, {burst}"
            raise ValueError(msg)
        self.limit, self.window, self.burst = limit, float(window), burst
        self.margin = max(0.05, 0.01 * window) if margin is None else margin
        self.path = Path(path) if path is not None else None
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        kind = f"burst={self.burst}, " if self.burst is not None else ""
        return f"RequestBudget({self.limit}, window={self.window}, {kind}path={self.path})"

    @property
    def reason(self) -> str:
        """Why a request waits for this budget, as a progress line says it.

        >>> RequestBudget(60).reason, RequestBudget(3, burst=20).reason, RequestBudget(5, 1).reason
        ('rate limit 60/min', 'rate limit 3/min', 'rate limit 5/1s')
        """
        per = "min" if self.window == 60.0 else f"{self.window:g}s"
        return f"rate limit {self.limit}/{per}"

    def acquire(self, *, on_wait: WaitHook | None = None, why: str | None = None) -> float:
        """Wait until a request may be sent, spend one token and return the time it was spent.

        ``on_wait(seconds, why or self.reason)`` is called before each wait.
        """
        while True:
            stamp, wait = self._update(self._take)
            if wait <= 0:
                return float(stamp)
            logger.debug("budget %s/%ss exhausted: waiting %.2f s", self.limit, self.window, wait)
            if on_wait is not None:
                on_wait(wait, why or self.reason)
            self._sleep(wait)

    def settle(self, stamp: float) -> None:
        """Move a spent token from ``stamp`` to now: the request it paid for has been answered.

        Counting from the answer rather than from the sending keeps the budget safe however long
        a request took to reach the server.
        """
        if self.burst is None:
            self._update(lambda state, now: _move(state, stamp, now))

    def spent(self) -> list[float]:
        """The times of the tokens spent in the current window (sliding budgets only)."""
        return list(self._update(lambda state, now: (list(self._live(state, now)), 0.0))[0])

    def _take(self, state: dict[str, Any], now: float) -> tuple[float, float]:
        if self.burst is not None:
            return _take_bucket(state, now, self.limit / self.window, self.burst)
        stamps = self._live(state, now)
        if len(stamps) < self.limit:
            state["spent"] = [*stamps, now]
            return now, 0.0
        state["spent"] = stamps
        return now, stamps[len(stamps) - self.limit] + self.window + self.margin - now

    def _live(self, state: dict[str, Any], now: float) -> list[float]:
        horizon = now - self.window - self.margin
        return sorted(s for s in state.get("spent", []) if s > horizon)

    def _update(self, change: Callable[[dict[str, Any], float], tuple[Any, float]]) -> tuple[Any, float]:
        with self._lock:
            if self.path is None:
                return change(self._state, self._clock())
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except FileNotFoundError:  # the state directory was deleted meanwhile: start a new file
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                state = self._read(fd)
                result = change(state, self._clock())
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, orjson.dumps(state))
                return result
            finally:
                os.close(fd)  # closing releases the flock

    def _read(self, fd: int) -> dict[str, Any]:
        raw = b"".join(iter(lambda: os.read(fd, 65536), b""))
        if not raw:
            return {}
        try:
            state = orjson.loads(raw)
            if isinstance(state, dict):
                return state
        except orjson.JSONDecodeError:
            pass
        # a torn file must not open the floodgates: count the whole window as spent
        logger.warning("budget file %s is unreadable; treating the window as spent", self.path)
        now = self._clock()
        return {"spent": [now] * self.limit, "tokens": 0.0, "at": now}


def _take_bucket(state: dict[str, Any], now: float, rate: float, size: int) -> tuple[float, float]:
    at = float(state.get("at", now))
    tokens = min(float(size), float(state.get("tokens", size)) + max(0.0, now - at) * rate)
    if tokens >= 1:
        state.update(tokens=tokens - 1, at=now)
        return now, 0.0
    state.update(tokens=tokens, at=now)
    return now, (1 - tokens) / rate


def _move(state: dict[str, Any], stamp: float, now: float) -> tuple[None, float]:
    spent = state.get("spent", [])
    if stamp in spent:
        spent[spent.index(stamp)] = max(stamp, now)
        state["spent"] = sorted(spent)
    return None, 0.0


def shared_budget(
    key: str,
    limit: int,
    window: float = 60.0,
    *,
    burst: int | None = None,
    state_dir: str | Path | None = None,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
) -> RequestBudget:
    """The budget every client of ``key`` in this process uses; file-backed with a ``state_dir``.

    The file is ``<state_dir>/budget/<key>.json``, so processes on the machine share it too.

    >>> shared_budget("doc", 60) is shared_budget("doc", 60)
    True
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    path = Path(state_dir) / "budget" / f"{safe}.json" if state_dir is not None else None
    ident = (safe, limit, float(window), burst, str(path.resolve()) if path else None, clock, sleep)
    with _REGISTRY_LOCK:
        budget = _REGISTRY.get(ident)
        if budget is None:
            budget = RequestBudget(limit, window, burst=burst, path=path, clock=clock, sleep=sleep)
            _REGISTRY[ident] = budget
        return budget
