"""The job worker: one thread that runs queued jobs in order, like Connect's import queue.

Queued (6) -> Validating (5) -> Initialized (1) -> Succeeded (2) | Failed (3) | Validation failed (4).
``job_delay`` seconds pass in each of Queued, Validating and Initialized, so a test can watch them, and
the job's run time (:class:`~toolkit.sandbox.runtime.RunTimeModel`, none by default) is spent in
Validating and Initialized. One job runs at a time: later ones stay Queued meanwhile, and a job's Start
is when it left the queue, so lead time (queued to Start) and run time (Start to Stop) both mean something.
The catalog changes and the final status are committed in one transaction: a job is applied once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import orjson

from toolkit.entities import ENTITIES
from toolkit.sandbox.jobs import FAILED, INITIALIZED, SUCCEEDED, VALIDATION_FAILED, JobRecord
from toolkit.sandbox.prepare import Prepared
from toolkit.sandbox.runtime import VALIDATING_SHARE, RunTimeModel
from toolkit.sandbox.spec import RequestError, parse_header
from toolkit.sandbox.store import Store, prepare_import

logger = logging.getLogger("toolkit.sandbox")


class JobWorker:
    """Runs the store's pending jobs one at a time, oldest first, in a daemon thread."""

    on_done: Callable[[int], None] = staticmethod(lambda job_id: None)  # told each job id it ran

    def __init__(
        self,
        store: Store,
        *,
        delay: Callable[[], float],
        run_time: Callable[[], RunTimeModel] = RunTimeModel,
    ) -> None:
        self._store, self._delay, self._run_time = store, delay, run_time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._prepared: dict[int, Prepared] = {}
        self._thread: threading.Thread | None = None
        self._generation = 0  # bumped by forget(): a job of an older generation is abandoned

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def enqueue(self, job_id: int, prepared: Prepared | None = None) -> None:
        """Wake the worker for a new job; ``prepared`` spares parsing the payload again."""
        if prepared is not None:
            self._prepared[job_id] = prepared
        self._wake.set()

    def forget(self) -> None:
        """Abandon the job in progress and cached payloads (the sandbox was reset)."""
        self._generation += 1
        self._prepared.clear()

    def _sleep(self, generation: int, extra: float = 0.0) -> bool:
        """Wait one stage (and ``extra`` seconds of run time); True when the worker stops or the job
        was abandoned meanwhile."""
        deadline = time.monotonic() + self._delay() + extra
        while time.monotonic() < deadline:
            if self._stop.wait(min(0.02, max(deadline - time.monotonic(), 0))):
                return True
            if generation != self._generation:
                return True
        return self._stop.is_set() or generation != self._generation

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._store.lock:
                job = self._store.jobs.next_pending()
            if job is None:
                self._wake.wait()
                self._wake.clear()
                continue
            try:
                self._process(job)
            except Exception:  # a broken job must not stop the queue
                logger.exception("sandbox job %s failed", job.id)
                self._finish(job.id, FAILED, "internal error while applying the import")
            self.on_done(job.id)  # the sandbox's JobCompletedEvents (toolkit.sandbox.events)

    def _process(self, job: JobRecord) -> None:
        generation = self._generation
        if self._sleep(generation):  # Queued
            return
        with self._store.transaction():
            self._store.jobs.begin(job.id)  # Validating, Start is now
        run_time = self._run_time().seconds(job.id, items=job.totals)
        if self._sleep(generation, run_time * VALIDATING_SHARE):
            return
        errors = orjson.loads(job.errors)
        if errors:
            with self._store.transaction():
                self._store.jobs.log_many(job.id, [(3, m, r) for r, m in errors])
                failed = len({r for r, _ in errors})
                self._store.jobs.set_status(job.id, VALIDATION_FAILED, fail=failed)
            self._prepared.pop(job.id, None)
            return
        self._status(job.id, INITIALIZED)
        if self._sleep(generation, run_time * (1 - VALIDATING_SHARE)):
            return
        if job.fail_injected:
            self._prepared.pop(job.id, None)
            self._finish(job.id, FAILED, "injected fault: the job failed")
            return
        self._apply(job, self._prepared.pop(job.id) if job.id in self._prepared else _prepare(job))

    def _apply(self, job: JobRecord, prepared: Prepared) -> None:
        entries: list[tuple[int, str, int | None]] = []
        with self._store.transaction():
            if self._store.jobs.get(job.id) is None:  # the sandbox was reset meanwhile
                return
            counts = self._store.apply(prepared, lambda s, m, r: entries.append((s, m, r)))
            entries.append(
                (
                    1,
                    f"{prepared.total} items: {counts.inserts} inserted, "
                    f"{counts.updates} updated, {counts.fail} failed",
                    None,
                )
            )
            self._store.jobs.log_many(job.id, entries)
            self._store.jobs.set_status(
                job.id, SUCCEEDED, inserts=counts.inserts, updates=counts.updates, fail=counts.fail
            )

    def _status(self, job_id: int, status: int) -> None:
        with self._store.transaction():
            self._store.jobs.set_status(job_id, status)

    def _finish(self, job_id: int, status: int, message: str) -> None:
        with self._store.transaction():
            self._store.jobs.log(job_id, 3, message)
            self._store.jobs.set_status(job_id, status)


def _prepare(job: JobRecord) -> Prepared:
    """Parse a stored payload again (after a restart of the sandbox, or for a restarted job)."""
    entity = ENTITIES[job.entity]
    try:
        header = parse_header(entity, job.header)
    except RequestError as exc:  # accepted once, so this cannot happen unless the file was edited
        raise ValueError(exc.message) from None
    return prepare_import(entity, header, orjson.loads(job.payload))
