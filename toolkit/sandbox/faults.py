"""Seeded fault injection: 500s, 429s, added latency, dropped connections and failing jobs.

Each fault fires for the next N requests in scope (``{"next": N}`` or a bare int) or at random with
a rate (``{"rate": 0.2}`` or a bare float), drawn from ``random.Random(seed)``: the same seed and the
same requests give the same faults. Before the request is handled: ``drop`` (close the connection
without an answer), ``error_500``, ``error_429`` (with ``Retry-After: retry_after``). After an
import is accepted: ``latency`` (``latency_seconds`` more before the answer), ``drop_after_accept``
(the job exists, the answer never comes), ``job_failed`` (the job ends Failed). For each
JobCompletedEvent sent to subscribers (:mod:`toolkit.sandbox.events`), whatever the scope:
``event_lost`` (never sent), ``event_delayed`` (sent ``event_delay_seconds`` later),
``event_duplicated`` (sent twice), ``event_out_of_order`` (held back until the next event went out).

Examples
--------
>>> inj = FaultInjector(parse_faults({"seed": 1, "error_500": 2}))
>>> [inj.draw("imports", "/x").status for _ in range(3)]
[500, 500, None]
>>> third = FaultInjector(parse_faults({"job_failed": {"skip": 2, "next": 1}}))
>>> [third.draw("imports", "/x").fail_job for _ in range(4)]
[False, False, True, False]
>>> a = FaultInjector(parse_faults({"seed": 7, "error_429": 0.5}))
>>> b = FaultInjector(parse_faults({"seed": 7, "error_429": 0.5}))
>>> [a.draw("jobs", "/j").status for _ in range(8)] == [b.draw("jobs", "/j").status for _ in range(8)]
True
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Area = Literal["imports", "jobs", "token", "admin"]
Scope = Literal["connect", "imports", "jobs", "token", "all"]
_SCOPES: dict[str, frozenset[str]] = {
    "connect": frozenset({"imports", "jobs"}),
    "imports": frozenset({"imports"}),
    "jobs": frozenset({"jobs"}),
    "token": frozenset({"token"}),
    "all": frozenset({"imports", "jobs", "token"}),
}
EVENT_KINDS = ("event_lost", "event_delayed", "event_duplicated", "event_out_of_order")
KINDS = ("drop", "error_500", "error_429", "latency", "drop_after_accept", "job_failed", *EVENT_KINDS)


@dataclass(frozen=True)
class Trigger:
    """When a fault fires: the next ``next`` requests (after ``skip``), else with probability ``rate``."""

    next: int = 0
    rate: float = 0.0
    skip: int = 0


@dataclass(frozen=True)
class FaultSpec:
    """What to inject (all off by default)."""

    seed: int | None = None
    scope: Scope = "connect"
    retry_after: int = 1
    latency_seconds: float = 1.0
    triggers: dict[str, Trigger] = field(default_factory=dict)
    event_delay_seconds: float = 1.0


@dataclass(frozen=True)
class EventDecision:
    """The faults drawn for one JobCompletedEvent."""

    lost: bool = False
    delay: float = 0.0
    duplicated: bool = False
    out_of_order: bool = False


@dataclass(frozen=True)
class Decision:
    """The faults drawn for one request."""

    drop: bool = False
    status: int | None = None
    retry_after: int = 1
    latency: float = 0.0
    drop_after: bool = False
    fail_job: bool = False


def parse_faults(spec: dict[str, Any] | None) -> FaultSpec:
    """Read a fault spec (the JSON body of ``POST /_sandbox/faults``); ValueError names the problem."""
    spec = dict(spec or {})
    unknown = set(spec) - {"seed", "scope", "retry_after", "latency_seconds", "event_delay_seconds", *KINDS}
    if unknown:
        msg = (
            f"unknown fault option(s) {sorted(unknown)}; expected seed, scope, retry_after, "
            f"latency_seconds, event_delay_seconds or one of {', '.join(KINDS)}"
        )
        raise ValueError(msg)
    scope = spec.get("scope", "connect")
    if scope not in _SCOPES:
        raise ValueError(f"fault scope {scope!r} is not one of {', '.join(_SCOPES)}")
    retry_after = spec.get("retry_after", 1)
    if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 1:
        raise ValueError(f"retry_after must be an integer >= 1, found {retry_after!r}")
    latency = spec.get("latency_seconds", 1.0)
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
        raise ValueError(f"latency_seconds must be a number >= 0, found {latency!r}")
    delay = spec.get("event_delay_seconds", 1.0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise ValueError(f"event_delay_seconds must be a number >= 0, found {delay!r}")
    triggers = {k: _trigger(k, spec[k]) for k in KINDS if spec.get(k) not in (None, 0)}
    return FaultSpec(spec.get("seed"), scope, retry_after, float(latency), triggers, float(delay))


def _trigger(kind: str, value: Any) -> Trigger:
    if isinstance(value, bool):
        raise ValueError(f"fault {kind}: expected a count, a rate or {{next, rate}}, found {value!r}")
    if isinstance(value, int):
        return Trigger(next=value)
    if isinstance(value, float) and 0 <= value <= 1:
        return Trigger(rate=value)
    if isinstance(value, dict) and set(value) <= {"next", "rate", "skip"}:
        return Trigger(int(value.get("next", 0)), float(value.get("rate", 0.0)), int(value.get("skip", 0)))
    raise ValueError(
        f"fault {kind}: expected a count, a rate in [0, 1] or {{next, rate, skip}}, found {value!r}"
    )


class FaultInjector:
    """Draws the faults of each request from a seeded generator; records what it injected."""

    def __init__(self, spec: FaultSpec | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(spec or FaultSpec())

    def configure(self, spec: FaultSpec) -> None:
        with self._lock:
            self.spec = spec
            self._rng = random.Random(spec.seed)
            self._left = {k: t.next for k, t in spec.triggers.items()}
            self._skip = {k: t.skip for k, t in spec.triggers.items()}
            self._requests = 0
            self.injected: list[dict[str, Any]] = []

    def _fires(self, kind: str) -> bool:
        trigger = self.spec.triggers.get(kind)
        if trigger is None:
            return False
        if self._skip.get(kind, 0) > 0:  # e.g. fail the third job: {"skip": 2, "next": 1}
            self._skip[kind] -= 1
            return False
        if self._left.get(kind, 0) > 0:
            self._left[kind] -= 1
            return True
        return trigger.rate > 0 and self._rng.random() < trigger.rate

    def draw(self, area: Area, path: str) -> Decision:
        """The faults for one request to ``path`` in ``area``."""
        if not self.spec.triggers or area not in _SCOPES[self.spec.scope]:
            return Decision()
        with self._lock:
            self._requests += 1
            fired = next((k for k in ("drop", "error_500", "error_429") if self._fires(k)), None)
            if fired is None:
                post = ("latency", "drop_after_accept", "job_failed") if area == "imports" else ("latency",)
                fired_post = [k for k in post if self._fires(k)]
            else:
                fired_post = []
            for kind in [fired, *fired_post]:
                if kind:
                    self.injected.append({"request": self._requests, "path": path, "fault": kind})
        return Decision(
            drop=fired == "drop",
            status={"error_500": 500, "error_429": 429}.get(fired or ""),
            retry_after=self.spec.retry_after,
            latency=self.spec.latency_seconds if "latency" in fired_post else 0.0,
            drop_after="drop_after_accept" in fired_post,
            fail_job="job_failed" in fired_post,
        )

    def draw_event(self, job_id: int) -> EventDecision:
        """The faults for the JobCompletedEvent of job ``job_id`` (a lost event draws nothing more).

        >>> FaultInjector(parse_faults({"event_lost": 1})).draw_event(7)
        EventDecision(lost=True, delay=0.0, duplicated=False, out_of_order=False)
        """
        if not self.spec.triggers:
            return EventDecision()
        with self._lock:
            fired = (
                ["event_lost"]
                if self._fires("event_lost")
                else [k for k in EVENT_KINDS[1:] if self._fires(k)]
            )
            self.injected.extend({"job": job_id, "fault": kind} for kind in fired)
        return EventDecision(
            lost="event_lost" in fired,
            delay=self.spec.event_delay_seconds if "event_delayed" in fired else 0.0,
            duplicated="event_duplicated" in fired,
            out_of_order="event_out_of_order" in fired,
        )

    def describe(self) -> dict[str, Any]:
        """The current spec, what is left of the next-N counts, and every fault injected so far."""
        with self._lock:
            s = self.spec
            return {
                "seed": s.seed,
                "scope": s.scope,
                "retry_after": s.retry_after,
                "latency_seconds": s.latency_seconds,
                "event_delay_seconds": s.event_delay_seconds,
                "triggers": {
                    k: {f.name: getattr(t, f.name) for f in fields(t) if f.name != "skip" or t.skip}
                    for k, t in s.triggers.items()
                },
                "left": dict(self._left),
                "requests": self._requests,
                "injected": list(self.injected),
            }
