"""submit / resume / wait_for_jobs / restart_failed / job_outcomes against a fake Connect client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from run_fakes import T0, FakeClient, FakePlan, FakeStore, make_plan

from toolkit import restarts, runs
from toolkit.entities import JobStatus
from toolkit.errors import ConnectAPIError, FeedLocked, JobFailed, JobTimeout, LedgerError, OutcomeUnknown
from toolkit.ledger import Ledger
from toolkit.records import Reason
from toolkit.runs import JobLookup, job_outcomes, restart_failed, resume, submit, wait_for_jobs

FAST = JobLookup(attempts=2, delay=0.0)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite", clock=lambda: T0) as led:
        yield led


@pytest.fixture(autouse=True)
def fake_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (runs, restarts):  # the two callers of sending.load_plan
        monkeypatch.setattr(module, "load_plan", lambda rec: FakePlan.load(rec.directory))


def states(ledger: Ledger, plan_id: str = "plan-1") -> list[str]:
    return [b.state for b in ledger.batches(plan_id)]


def test_submit_records_saves_and_sends_in_order(ledger: Ledger) -> None:
    plan, client, events = make_plan(), FakeClient(), []
    sub = submit(plan, client, ledger, progress=events.append, lookup=FAST)
    assert sub.is_complete and sub.sent == 3 and sub.job_ids == (101, 102, 103)
    assert [client.bodies[j] for j in sub.job_ids] == [b.body for b in plan.batches]
    assert (ledger.directory / "plans" / plan.id / "plan.pickle").exists()
    assert ledger.plan(plan.id).state == "submitted"
    assert [e["event"] for e in events] == ["start", "batch", "batch", "batch", "done"]
    assert [e["requests_left"] for e in events] == [3, 2, 1, 0, 0]
    assert events[1]["eta_s"] == pytest.approx(2.0) and events[1]["job_id"] == 101
    assert "3/3 batches accepted" in str(sub)


def test_submit_twice_sends_nothing_again(ledger: Ledger) -> None:
    plan, client = make_plan(), FakeClient()
    submit(plan, client, ledger, lookup=FAST)
    again = submit(plan, client, ledger, lookup=FAST)
    assert (again.sent, client.calls, again.job_ids) == (0, 3, (101, 102, 103))


def test_lost_answer_is_found_in_job_list(ledger: Ledger) -> None:
    client = FakeClient(faults={2: "lost"})
    sub = submit(make_plan(), client, ledger, lookup=FAST)
    assert sub.is_complete and (sub.sent, sub.found) == (3, 1) and len(client.jobs) == 3
    assert ledger.batch("plan-1", 1).job_id == 102
    assert Reason.FOUND_IN_LIST in [e.reason for e in ledger.events(plan_id="plan-1")]


def test_job_of_another_batch_is_never_claimed(ledger: Ledger) -> None:
    client = FakeClient(faults={2: "dropped"})  # batch 1 has 3 items; batch 0 (job 101) has 2
    plan = make_plan(sizes=(3, 3))
    with pytest.raises(OutcomeUnknown, match="no matching job"):
        submit(plan, client, ledger, lookup=FAST)
    assert states(ledger) == ["accepted", "unknown"] and client.list_calls == 2


def test_unknown_batch_is_looked_up_then_resent_by_resume(ledger: Ledger) -> None:
    client = FakeClient(faults={2: "dropped"})
    with pytest.raises(OutcomeUnknown):
        submit(make_plan(), client, ledger, lookup=FAST)
    assert states(ledger) == ["accepted", "unknown", "planned"]
    sub = resume("stock", client=client, ledger=ledger, lookup=FAST)
    assert sub.is_complete and sub.sent == 2 and len(client.jobs) == 3
    assert ledger.batch("plan-1", 1).attempts == 2


def test_crash_between_send_and_record_resumes_without_resending(ledger: Ledger) -> None:
    plan, client = make_plan(), FakeClient()
    ledger.record_plan(plan, directory=plan.save(ledger.directory / "plans" / plan.id))
    ledger.mark_sending(plan.id, 0)
    ledger.mark_accepted(plan.id, 0, client.import_items("onhands", plan.batches[0].body, {}).job_id)
    ledger.mark_sending(plan.id, 1)
    client.import_items("onhands", plan.batches[1].body, {})  # accepted, then the process died
    sub = resume("stock", client=client, ledger=ledger, lookup=FAST)
    assert (sub.sent, sub.found, client.calls, sub.job_ids) == (1, 1, 3, (101, 102, 103))


def test_refused_batch_is_marked_failed_and_resent_later(ledger: Ledger) -> None:
    client = FakeClient(faults={1: "refused"})
    with pytest.raises(ConnectAPIError, match="400"):
        submit(make_plan(), client, ledger, lookup=FAST)
    assert states(ledger)[0] == "failed" and "400" in (ledger.batch("plan-1", 0).error or "")
    assert resume("stock", client=client, ledger=ledger, lookup=FAST).is_complete


def test_resume_without_open_plan(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="no unfinished submission"):
        resume("stock", client=FakeClient(), ledger=ledger)


def test_second_run_fails_fast(ledger: Ledger) -> None:
    with Ledger(ledger.path) as other:
        holder = other.acquire("stock")
        with pytest.raises(FeedLocked, match=holder):
            submit(make_plan(), FakeClient(), ledger)
    assert ledger.plans() == []


def test_all_succeeded_promotes(ledger: Ledger) -> None:
    client, store = FakeClient(), FakeStore()
    sub = submit(make_plan(), client, ledger, lookup=FAST)
    outcome = wait_for_jobs(sub, client, ledger, store, timeout=5, poll_interval=0)
    assert outcome.succeeded and outcome.promoted == "snap-2" and store.promoted == ["snap-2"]
    assert ledger.plan("plan-1").state == "succeeded" and outcome.raise_for_status() is outcome
    assert [j.status for j in outcome.jobs] == [2, 2, 2]
    assert "baseline is now snap-2" in str(outcome)


def test_a_failed_job_keeps_the_baseline(ledger: Ledger) -> None:
    client, store = FakeClient(), FakeStore()
    sub = submit(make_plan(), client, ledger, lookup=FAST)
    client.outcomes[102] = JobStatus.Failed
    outcome = wait_for_jobs(sub, client, ledger, store, timeout=5, poll_interval=0)
    # what the other two jobs carried moves on; batch 1's items keep their baseline rows
    assert not outcome.succeeded and store.promoted == ["partial-1"] and outcome.promoted == "partial-1"
    assert "partial: 3 held-back items" in outcome.notes[0]
    (failure,) = outcome.failures
    assert (failure.job_id, failure.index, failure.status) == (102, 1, "Failed")
    assert failure.log[-1] == "[error] PartNo X1 unknown (row 2)"
    assert ledger.plan("plan-1").state == "failed"
    assert ledger.job(102).log_tail[-1]["message"] == "PartNo X1 unknown"
    with pytest.raises(JobFailed, match="1 of 3 jobs failed") as info:
        outcome.raise_for_status()
    assert info.value.log_tail == list(failure.log)


def test_wait_refuses_unaccepted_batches(ledger: Ledger) -> None:
    client = FakeClient(faults={3: "dropped"})
    with pytest.raises(OutcomeUnknown) as info:
        submit(make_plan(), client, ledger, lookup=FAST)
    sub = runs.Submission(make_plan(), tuple(ledger.batches("plan-1")))
    assert info.value.endpoint == "Product/ImportOnhands"
    with pytest.raises(LedgerError, match=r"batches \[2\] are not accepted"):
        wait_for_jobs(sub, client, ledger, FakeStore())


def test_timeout_is_raised_after_recording(ledger: Ledger) -> None:
    client = FakeClient()
    sub = submit(make_plan(), client, ledger, lookup=FAST)
    client.never_finish = True
    with pytest.raises(JobTimeout):
        wait_for_jobs(sub, client, ledger, FakeStore(), timeout=0.01, poll_interval=0)
    assert ledger.job(101).status == JobStatus.Queued and ledger.plan("plan-1").state == "submitted"


def test_superseded_or_moved_baseline_is_not_promoted(ledger: Ledger) -> None:
    client, store = FakeClient(), FakeStore()
    old = submit(make_plan("old"), client, ledger, lookup=FAST)
    new = submit(make_plan("new"), client, ledger, lookup=FAST)
    assert ledger.plan("old").state == "superseded"
    assert wait_for_jobs(old, client, ledger, store, timeout=5, poll_interval=0).promoted is None
    moved = FakeStore(baseline="snap-9")
    outcome = wait_for_jobs(new, client, ledger, moved, timeout=5, poll_interval=0)
    assert outcome.promoted is None and "baseline moved" in outcome.notes[0]
    assert wait_for_jobs(new, client, ledger, store, timeout=5, poll_interval=0).promoted == "snap-2"


def fail_then(client: FakeClient, ledger: Ledger, statuses: dict[int, JobStatus]) -> Any:
    sub = submit(make_plan(), client, ledger, lookup=FAST)
    client.outcomes.update(statuses)
    outcome = wait_for_jobs(sub, client, ledger, FakeStore(), timeout=5, poll_interval=0)
    assert not outcome.succeeded
    return sub


def test_restart_uses_job_restart_then_promotes(ledger: Ledger) -> None:
    client, store = FakeClient(), FakeStore()
    sub = fail_then(client, ledger, {102: JobStatus.Failed})
    again = restart_failed(sub, client, ledger, lookup=FAST)
    assert client.restarts == [102] and client.calls == 3 and again.job_ids == (101, 104, 103)
    assert ledger.job(104).restarted_from == 102 and ledger.plan("plan-1").state == "submitted"
    outcome = wait_for_jobs(again, client, ledger, store, timeout=5, poll_interval=0)
    assert outcome.succeeded and store.promoted == ["snap-2"]


def test_restart_with_the_same_job_id(ledger: Ledger) -> None:
    client = FakeClient()
    sub = fail_then(client, ledger, {101: JobStatus.Failed})
    client.restart_same_id = True
    again = restart_failed("plan-1", client, ledger, job_ids=[101], lookup=FAST)
    assert again.job_ids == (101, 102, 103) and [j.restarted_from for j in ledger.jobs()][-1] == 101
    assert sub.plan_id == again.plan_id


def test_validation_failed_or_old_jobs_are_resubmitted(ledger: Ledger) -> None:
    client = FakeClient()
    fail_then(client, ledger, {101: JobStatus.ValidationFailed, 103: JobStatus.Failed})
    again = restart_failed("plan-1", client, ledger, now=T0 + timedelta(days=15), lookup=FAST)
    assert client.restarts == [] and client.calls == 5 and again.sent == 2
    assert [j.restarted_from for j in ledger.jobs()][-2:] == [101, 103]
    assert [e.reason for e in ledger.events(plan_id="plan-1")].count(Reason.RESUBMITTED) == 2


def test_refused_restart_falls_back_to_resubmission(ledger: Ledger) -> None:
    client = FakeClient()
    fail_then(client, ledger, {101: JobStatus.Failed})
    client.jobs[101] = client.jobs[101].__class__(101, JobStatus.Queued)  # server disagrees
    restart_failed("plan-1", client, ledger, lookup=FAST)
    reasons = [e.reason for e in ledger.events(plan_id="plan-1")]
    assert Reason.RESTART_REFUSED in reasons and Reason.RESUBMITTED in reasons


def test_job_outcomes_rows_and_durations(ledger: Ledger) -> None:
    client = FakeClient()
    sub = fail_then(client, ledger, {102: JobStatus.Failed})
    wait_for_jobs(
        restart_failed(sub, client, ledger, lookup=FAST),
        client,
        ledger,
        FakeStore(),
        timeout=5,
        poll_interval=0,
    )
    frame = job_outcomes(ledger)
    assert frame.schema == pl.Schema(runs.OUTCOME_SCHEMA)
    assert frame.select("job_id", "status", "restarted_from").rows() == [
        (101, "Succeeded", None),
        (102, "Failed", None),
        (103, "Succeeded", None),
        (104, "Succeeded", 102),
    ]
    assert frame["run_time_s"].to_list() == [3.0] * 4
    assert frame["lead_time_s"].to_list() == [4.0] * 4  # queued at T0, stopped at T0 + 4 s
    assert frame["items"].to_list() == [2, 3, 2, 3] and frame["failures"].to_list() == [0, 3, 0, 0]
    assert job_outcomes(ledger, since=timedelta(days=1)).height == 4
    assert job_outcomes(ledger, since=T0 + timedelta(hours=1)).height == 0
    assert job_outcomes(ledger, feed="prices").height == 0


def test_a_finished_plan_submitted_again_is_refused(ledger: Ledger) -> None:
    """A plan id names a source against a baseline: sending it again would send its batches twice."""
    client, store = FakeClient(), FakeStore()
    first = submit(make_plan(), client, ledger, lookup=FAST)
    wait_for_jobs(first, client, ledger, store, timeout=5, poll_interval=0)
    with pytest.raises(runs.PlanAlreadySent, match=r"plan plan-1 .*jobs 101, 102, 103.*succeeded"):
        submit(make_plan(), client, ledger, lookup=FAST)
    assert client.calls == 3 and Reason.REPLANNED not in [e.reason for e in ledger.events(plan_id="plan-1")]


def test_a_failed_plan_is_refused_and_its_failed_job_restarted(ledger: Ledger) -> None:
    client, store = FakeClient(), FakeStore()
    fail_then(client, ledger, {102: JobStatus.Failed})
    with pytest.raises(runs.PlanAlreadySent, match="restart its failed jobs"):
        submit(make_plan(), client, ledger, lookup=FAST)
    again = restart_failed("plan-1", client, ledger, lookup=FAST)
    outcome = wait_for_jobs(again, client, ledger, store, timeout=5, poll_interval=0)
    assert outcome.succeeded and store.promoted == ["snap-2"]


def test_cli_override_needs_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    from toolkit.cli import main

    assert main(["submit", "stock", "--yes", "--allow-mass-deactivation"]) == 2
    assert "--reason" in capsys.readouterr().err


def test_progress_bar_follows_submit(ledger: Ledger) -> None:
    import io

    from toolkit.progress import ProgressBar

    bar = ProgressBar(file=io.StringIO())
    submit(make_plan(), FakeClient(), ledger, progress=bar, lookup=FAST)
    assert bar.n == 3 and bar.postfix == {"requests_left": 0, "eta": "0s"}
