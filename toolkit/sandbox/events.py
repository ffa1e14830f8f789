"""The sandbox sends a JobCompletedEvent to each subscriber when a job ends, like Norce's webhooks.

A job that ends Succeeded, Failed or Validation failed is told to every subscriber URL as
``POST {ClientId, ApplicationId, JobId, StatusId}``. Sending runs in its own thread from a queue, so
the job worker never waits for a subscriber. A subscriber answering 5xx or 429, or not answering, is
tried again with exponential backoff (``backoff`` seconds doubling, at most ``attempts`` tries); any
other answer ends the delivery. The seeded event faults of :mod:`toolkit.sandbox.faults` apply per
event: lost, delayed, duplicated, out of order. Subscriber URLs carry the receiver's secret, so logs
name a subscriber by its number only.

Examples
--------
>>> sender = EventSender(client_id="sandbox", faults=FaultInjector())
>>> sender.subscribe(["http://127.0.0.1:9/events/secret-part"])
>>> sender.describe()
{'subscribers': 1, 'queued': 0, 'sent': 0, 'delivered': 0, 'retried': 0, 'given_up': 0, 'lost': 0}
"""

from __future__ import annotations

import heapq
import itertools
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson

from toolkit.sandbox.faults import FaultInjector

__all__ = ["EventSender"]

logger = logging.getLogger("toolkit.sandbox")
_FINAL = frozenset({2, 3, 4})
_TIMEOUT = httpx.Timeout(5.0).as_dict()
_STATS = ("sent", "delivered", "retried", "given_up", "lost")


@dataclass(frozen=True)
class _Delivery:
    subscriber: int
    body: bytes
    job_id: int
    attempt: int = 1


class EventSender:
    """Queues JobCompletedEvents and posts them to the subscribers from a daemon thread."""

    def __init__(
        self,
        *,
        client_id: str,
        faults: FaultInjector,
        subscribers: Sequence[str] = (),
        ca_bundle: Path | None = None,
        backoff: float = 0.2,
        attempts: int = 8,
    ) -> None:
        self.client_id, self._faults, self._backoff, self._attempts = client_id, faults, backoff, attempts
        self._initial = tuple(subscribers)
        self._urls: tuple[str, ...] = self._initial
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        )
        self._queue: list[tuple[float, int, _Delivery]] = []
        self._held: list[tuple[float, _Delivery]] = []  # out of order: until the next event, or a deadline
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._stats: Counter[str] = Counter()
        self._thread: threading.Thread | None = None

    def subscribe(self, urls: Sequence[str]) -> None:
        """Send the next events to ``urls`` (instead of the subscribers so far)."""
        with self._cond:
            self._urls = tuple(urls)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def reset(self) -> None:
        """Forget queued events and counts; subscribers back to those given at construction."""
        with self._cond:
            self._queue.clear()
            self._held.clear()
            self._stats.clear()
            self._urls = self._initial

    def describe(self) -> dict[str, int]:
        """How many subscribers, events queued, and deliveries sent, delivered, retried, given up, lost."""
        with self._cond:
            queued = len(self._queue) + len(self._held)
            return {"subscribers": len(self._urls), "queued": queued, **{k: self._stats[k] for k in _STATS}}

    def job_finished(self, job_id: int, status: int) -> None:
        """Queue the event of a job that ended with ``status`` (returns at once)."""
        if status not in _FINAL or not self._urls:
            return
        decision = self._faults.draw_event(job_id)
        body = orjson.dumps(
            {"ClientId": self.client_id, "ApplicationId": None, "JobId": job_id, "StatusId": status}
        )
        now = time.monotonic()
        with self._cond:
            if decision.lost:
                self._stats["lost"] += len(self._urls)
                return
            due = now + decision.delay
            deliveries = [_Delivery(i, body, job_id) for i in range(len(self._urls))]
            if decision.out_of_order:
                self._held.extend((due + max(decision.delay, 2.0), d) for d in deliveries)
                return
            for d in deliveries * (2 if decision.duplicated else 1):
                self._push(due, d)
            for _, held in self._held:  # the held events go out after this one
                self._push(due + 0.05, held)
            self._held.clear()
            self._cond.notify_all()

    def _push(self, due: float, delivery: _Delivery) -> None:
        heapq.heappush(self._queue, (due, next(self._seq), delivery))

    def _run(self) -> None:
        # the transport, not a Client: httpx.Client logs each request's URL, and these carry a secret
        with httpx.HTTPTransport(verify=self._verify) as http:
            while (delivery := self._next()) is not None:
                self._deliver(http, delivery)

    def _next(self) -> _Delivery | None:
        """The next delivery that is due, waiting for it; None when the sender stops."""
        with self._cond:
            while not self._stop:
                now = time.monotonic()
                for deadline, held in [h for h in self._held if h[0] <= now]:  # no next event came
                    self._held.remove((deadline, held))
                    self._push(now, held)
                if self._queue and self._queue[0][0] <= now:
                    return heapq.heappop(self._queue)[2]
                waits = [self._queue[0][0] - now] if self._queue else []
                waits += [deadline - now for deadline, _ in self._held]
                self._cond.wait(timeout=min([*waits, 0.5]))
            return None

    def _deliver(self, http: httpx.HTTPTransport, delivery: _Delivery) -> None:
        with self._cond:
            urls = self._urls
            self._stats["sent"] += 1
        if delivery.subscriber >= len(urls):  # unsubscribed meanwhile
            return
        answer = _post(http, urls[delivery.subscriber], delivery.body)
        retry = answer is None or answer == 429 or answer >= 500
        with self._cond:
            if answer is not None and 200 <= answer < 300:
                self._stats["delivered"] += 1
            elif retry and delivery.attempt < self._attempts:
                self._stats["retried"] += 1
                wait = min(self._backoff * 2 ** (delivery.attempt - 1), 30.0)
                self._push(time.monotonic() + wait, replace(delivery, attempt=delivery.attempt + 1))
            else:
                self._stats["given_up"] += 1
                logger.warning(
                    "job %s: subscriber %s answered %s to its event (try %s); not sent again",
                    delivery.job_id,
                    delivery.subscriber + 1,
                    answer if answer is not None else "nothing",
                    delivery.attempt,
                )


def _post(http: httpx.HTTPTransport, url: str, body: bytes) -> int | None:
    """The subscriber's status code, None when it did not answer."""
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    request = httpx.Request("POST", url, content=body, headers=headers, extensions={"timeout": _TIMEOUT})
    try:
        response = http.handle_request(request)
        response.read()
        response.close()
    except httpx.HTTPError:
        return None
    return response.status_code
