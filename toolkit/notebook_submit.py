"""What notebook 02 calls to send a preview's plan: :func:`submit_feed` and its :class:`SubmitResult`.

A result says how the run ended (``ending``) and why (``reason``), with the exit code ``norce-feeds
submit`` gives in the same case, so a headless notebook fails as loudly as a cron line:
:meth:`SubmitResult.raise_for_outcome` raises for a refused guard, failed checks, failed jobs or failed
items, and "nothing to send" is a success. ``toolkit.notebook`` re-exports both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from toolkit.errors import CheckFailed, GuardRefused, JobFailed
from toolkit.reports import ledger_path, summary_json, write_summary

if TYPE_CHECKING:
    from toolkit.feeds import Plan
    from toolkit.preview import Preview
    from toolkit.runs import Outcome
    from toolkit.sending import JobsClient

__all__ = ["EXIT_CODES", "Ending", "StatusCallback", "SubmitResult", "submit_feed"]

StatusCallback = Callable[[dict[int, str]], None]

# --- submit ---------------------------------------------------------------------------------
Ending = Literal[
    "succeeded", "nothing to send", "dry run", "jobs failed", "items failed", "guard refused", "checks failed"
]
# the CLI's exit code for each ending (toolkit.cli), so a headless notebook means what a cron line means
EXIT_CODES: dict[str, int] = {
    "succeeded": 0,
    "nothing to send": 0,
    "dry run": 0,
    "jobs failed": 4,
    "items failed": 4,
    "guard refused": 3,
    "checks failed": 1,
}


@dataclass(frozen=True)
class SubmitResult:
    """What ``submit_feed`` did: a dry run's figures, or the jobs and their outcome.

    ``ending`` says how it ended and ``reason`` why, in words; ``exit_code`` is what ``norce-feeds
    submit`` exits with in the same case, and :meth:`raise_for_outcome` raises when it is not 0.
    """

    feed: str
    plan_id: str | None
    dry_run: bool
    batches: int
    items: int
    job_ids: tuple[int, ...] = ()
    statuses: Mapping[int, str] = field(default_factory=dict)
    outcome: Outcome | None = field(default=None, repr=False)
    verdict: str = "ok"
    ending: Ending = "dry run"
    reason: str = ""

    @property
    def succeeded(self) -> bool | None:
        """True when everything was sent and taken (or there was nothing to send), None for a dry run."""
        return None if self.ending == "dry run" else self.exit_code == 0

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.ending]

    def raise_for_outcome(self) -> SubmitResult:
        """Raise what the CLI would exit non-zero for (guard refused, checks failed, jobs or items
        failed), naming the feed and the reason; else return self.

        Examples
        --------
        >>> SubmitResult("stock", None, False, 0, 0, ending="nothing to send").raise_for_outcome().ending
        'nothing to send'
        """
        kinds = {"guard refused": GuardRefused, "checks failed": CheckFailed}
        if self.exit_code == 0:
            return self
        raise kinds.get(self.ending, JobFailed)(f"{self.feed}: {self.ending}: {self.reason}")

    def summary(self) -> dict[str, Any]:
        out = {
            "feed": self.feed,
            "plan_id": self.plan_id,
            "dry_run": self.dry_run,
            "batches": self.batches,
            "items": self.items,
            "job_ids": list(self.job_ids),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "verdict": self.verdict,
            "outcome": self.ending,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "succeeded": self.succeeded,
            "promoted": self.outcome.promoted if self.outcome else None,
        }
        return summary_json(out)

    def write(self, directory: str | Path) -> dict[str, Any]:
        summary = self.summary()
        write_summary(directory, "summary.json", summary)
        return summary

    def __str__(self) -> str:
        if self.dry_run or self.plan_id is None or not self.batches:
            return f"{self.feed}: {self.ending}: {self.reason}"
        ok = sum(v == "Succeeded" for v in self.statuses.values())
        return (
            f"{self.feed}: {self.batches} batches ({self.items} items) sent, "
            f"{ok} of {len(self.statuses)} jobs succeeded; {self.ending}: {self.reason}"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how IPython shows it
        printer.text(str(self))


def _items(plan: Plan) -> int:
    return sum(b.item_count for b in plan.batches)


def submit_feed(
    preview: Preview,
    *,
    submit: bool = False,
    timeout: float = 600.0,
    poll_interval: float = 2.0,
    progress: Callable[[dict[str, Any]], None] | None = None,
    on_status: StatusCallback | None = None,
    output_dir: str | Path | None = None,
    business_day: str | None = None,
) -> SubmitResult:
    """Submit the preview's plan (``submit=True``) and wait for its jobs; else a dry run.

    A send (or a refusal of one) is recorded in the ledger with its ``business_day``, the date the
    source's data is from (``YYYY-MM-DD``; empty: today), which the feed-health view groups by.

    ``progress`` receives ``runs.submit``'s events, ``on_status`` the job statuses at every poll.
    A preview without a plan (guard refused, checks failed) sends nothing and ends so, with its
    verdict as the reason: ``raise_for_outcome()`` turns any failed ending into an error. Raises
    JobTimeout when jobs are still running after ``timeout`` seconds.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> refused = SimpleNamespace(plan=None, feed="stock", refused=True, verdict="guard refused: 90 %")
    >>> submit_feed(refused).summary()["exit_code"]
    3
    """
    plan = preview.plan
    if plan is None:
        ending: Ending = "guard refused" if preview.refused else "checks failed"
        result = SubmitResult(
            preview.feed,
            None,
            not submit,
            0,
            0,
            verdict=preview.verdict,
            ending=ending,
            reason=preview.verdict,
        )
    elif not plan.batches:
        result = SubmitResult(
            preview.feed,
            plan.id,
            not submit,
            0,
            0,
            verdict=preview.verdict,
            ending="nothing to send",
            reason="no change against the baseline",
        )
    else:
        result = SubmitResult(
            preview.feed,
            plan.id,
            not submit,
            len(plan.batches),
            _items(plan),
            verdict=preview.verdict,
            reason="nothing sent",
        )
        if submit:
            result = _send(preview, plan, result, timeout, poll_interval, progress, on_status)
    if submit and getattr(preview, "settings", None) is not None:
        _record_day(preview, result, business_day)
    if output_dir is not None:
        result.write(output_dir)
    return result


def _record_day(preview: Preview, result: SubmitResult, business_day: str | None) -> None:
    from toolkit.feed_health import record_business_day
    from toolkit.ledger import Ledger

    with Ledger(ledger_path(preview.settings)) as ledger:
        record_business_day(ledger, preview, business_day=business_day or None, ending=result.ending)


def _ending(outcome: Outcome, items: int) -> tuple[Ending, str]:
    """How a sent plan ended: every job taken whole, or which jobs or items failed."""
    if outcome.succeeded:
        promoted = f"; baseline is now {outcome.promoted}" if outcome.promoted else ""
        return "succeeded", f"{len(outcome.jobs)} jobs succeeded{promoted}"
    jobs = [f for f in outcome.failures if f.status != "Succeeded"]
    first = (jobs or list(outcome.failures))[0]
    failed_items = sum(f.fail or 0 for f in outcome.failures)
    said = (
        f"{failed_items} of {items} items failed in {len(outcome.failures)} jobs "
        f"(job {first.job_id}: {first.status}, {first.fail or 0} failed items"
        + (f", {first.log[-1]}" if first.log else "")
        + "); the baseline did not move"
    )
    if jobs:
        return "jobs failed", f"{len(jobs)} of {len(outcome.jobs)} jobs failed; {said}"
    return "items failed", said


def _send(
    preview: Preview,
    plan: Plan,
    result: SubmitResult,
    timeout: float,
    poll_interval: float,
    progress: Callable[[dict[str, Any]], None] | None,
    on_status: StatusCallback | None,
) -> SubmitResult:
    from toolkit.connect import ConnectClient
    from toolkit.ledger import Ledger
    from toolkit.runs import submit, wait_for_jobs
    from toolkit.snapshots import SnapshotStore

    settings = preview.settings
    store = SnapshotStore(settings.state_dir / "snapshots")
    profile = settings.profile_of(preview.feed)
    with (
        Ledger(ledger_path(settings)) as ledger,
        ConnectClient(profile, state_dir=settings.state_dir) as client,
    ):
        submission = submit(plan, client, ledger, progress=progress)
        ids = submission.job_ids
        if on_status is not None:
            _watch(client, ids, on_status, timeout, poll_interval)
        outcome = wait_for_jobs(
            submission, client, ledger, store, timeout=timeout, poll_interval=poll_interval
        )
    statuses = {int(j.job_id): _status_name(j.status) for j in outcome.jobs}
    if on_status is not None:
        on_status(statuses)
    ending, reason = _ending(outcome, result.items)
    return replace(
        result, job_ids=tuple(ids), statuses=statuses, outcome=outcome, ending=ending, reason=reason
    )


def _status_name(status: Any) -> str:
    from toolkit.entities import JobStatus

    return JobStatus(int(status)).name


def _watch(
    client: JobsClient, ids: Sequence[int], on_status: StatusCallback, timeout: float, poll_interval: float
) -> None:
    """Report the jobs' statuses at every poll until all are done (or the time is up).

    The client polls with one Job/List a round for all pending jobs, not one Job/Get per job.
    """
    from toolkit.errors import JobTimeout

    def report(jobs: Mapping[int, Any]) -> None:
        on_status({i: _status_name(j.status) for i, j in jobs.items()})

    with contextlib.suppress(JobTimeout):
        client.wait_for_jobs(ids, timeout=timeout, poll_interval=poll_interval, on_poll=report)
