"""An injectable clock and the two rate limits of the sandbox.

Connect calls: at most ``limit`` requests per ``window`` seconds per client (sliding window). The
token endpoint: a token bucket per client address (3 per minute, burst 20). Both read the
sandbox's clock, so a test advances time instead of waiting.

Examples
--------
>>> clock = Clock()
>>> window = SlidingWindow(limit=2, window=60.0, clock=clock)
>>> window.hit("c"), window.hit("c"), round(window.hit("c"))
(None, None, 60)
>>> clock.advance(60.0)
>>> window.hit("c") is None
True
>>> bucket = TokenBucket(per_minute=3, burst=1, clock=clock)
>>> bucket.hit("127.0.0.1"), round(bucket.hit("127.0.0.1"))
(None, 20)
"""

from __future__ import annotations

import threading
import time
from collections import deque


class Clock:
    """Wall-clock time plus an offset that tests move forward."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def reset(self) -> None:
        self._offset = 0.0


class SlidingWindow:
    """At most ``limit`` hits per ``window`` seconds per key; ``hit`` returns the wait when refused."""

    def __init__(self, *, limit: int, window: float, clock: Clock) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        now = self._clock.now()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.0)
            hits.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


class TokenBucket:
    """``per_minute`` tokens per minute per key, holding at most ``burst``."""

    def __init__(self, *, per_minute: float, burst: int, clock: Clock) -> None:
        self.rate, self.burst, self._clock = per_minute / 60.0, burst, clock
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        now = self._clock.now()
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._state[key] = (tokens - 1.0, now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._state.clear()
