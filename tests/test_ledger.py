"""The ledger: plans, batches, jobs, promotions, events and the feed lock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from run_fakes import T0, FakeClient, make_plan

from toolkit.errors import FeedLocked, LedgerError
from toolkit.ledger import Ledger
from toolkit.locks import process_started
from toolkit.records import Reason


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path / "state" / "ledger.sqlite", clock=lambda: T0) as led:
        yield led


def test_wal_mode_and_tables(ledger: Ledger) -> None:
    con = sqlite3.connect(ledger.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"plans", "batches", "jobs", "promotions", "events", "locks"} <= tables


def test_record_plan_is_idempotent_and_keeps_batches(ledger: Ledger) -> None:
    plan = make_plan(allow_mass_deactivation=True, override_reason="supplier dropped a range")
    first = ledger.record_plan(plan, directory=Path("/x"))
    again = ledger.record_plan(plan)
    assert first == again and first.state == "planned" and first.summary == {"changed": 3}
    assert first.allow_mass_deactivation and first.override_reason == "supplier dropped a range"
    batches = ledger.batches(plan.id)
    assert [(b.index, b.item_count, b.state) for b in batches] == [
        (0, 2, "planned"),
        (1, 3, "planned"),
        (2, 2, "planned"),
    ]
    reasons = [e.reason for e in ledger.events(plan_id=plan.id)]
    assert reasons == [Reason.PLANNED, Reason.GUARD_OVERRIDE]


def test_batch_state_changes(ledger: Ledger) -> None:
    plan = make_plan(sizes=(2, 3))
    ledger.record_plan(plan)
    sending = ledger.mark_sending(plan.id, 0)
    assert (sending.state, sending.attempts, sending.sent_at) == ("sending", 1, T0)
    assert ledger.plan(plan.id).state == "sending"
    accepted = ledger.mark_accepted(plan.id, 0, 501)
    assert (accepted.state, accepted.job_id) == ("accepted", 501)
    assert ledger.job(501).queued_at == T0 and ledger.known_job_ids() == {501}
    ledger.mark_sending(plan.id, 1)
    assert ledger.mark_unknown(plan.id, 1, "read timeout").state == "unknown"
    assert ledger.mark_failed(plan.id, 1, "400").error == "400"
    ledger.mark_sending(plan.id, 1)
    ledger.mark_accepted(plan.id, 1, 502)
    assert ledger.batch(plan.id, 1).attempts == 2
    assert ledger.plan(plan.id).state == "submitted"
    with pytest.raises(LedgerError, match="no batch 7"):
        ledger.batch(plan.id, 7)


def test_record_job_and_restart_rows(ledger: Ledger) -> None:
    plan = make_plan(sizes=(2,))
    ledger.record_plan(plan)
    ledger.mark_sending(plan.id, 0)
    ledger.mark_accepted(plan.id, 0, 101)
    client = FakeClient()
    client._new_job(b"[1,2]", 2, "Product/ImportOnhands")
    job = ledger.record_job(client.finish(101), log_tail=[{"severity": 3, "message": "bad"}])
    assert (job.status, job.totals, job.run_time_s, job.log_tail[0]["message"]) == (2, 2, 3.0, "bad")
    ledger.mark_accepted(plan.id, 0, 101, reason=Reason.RESTARTED, restarted_from=101)
    assert [j.restarted_from for j in ledger.jobs(plan.id)] == [None, 101]
    assert ledger.job(101).status is None  # the newest run of job 101 has not been seen yet
    with pytest.raises(LedgerError, match="no job 9"):
        ledger.job(9)


def test_new_plan_supersedes_open_ones(ledger: Ledger) -> None:
    ledger.record_plan(make_plan("a"))
    ledger.record_plan(make_plan("b"))
    assert ledger.plan("a").state == "superseded"
    assert ledger.open_plan("stock").id == "b"
    assert ledger.open_plan("prices") is None


def test_promotion_marks_the_plan_succeeded(ledger: Ledger) -> None:
    ledger.record_plan(make_plan())
    ledger.record_promotion("stock", "snap-2", "plan-1")
    assert ledger.plan("plan-1").state == "succeeded"
    assert ledger.promotions("stock")[0]["snapshot_id"] == "snap-2"
    assert ledger.events(feed="stock")[-1].reason is Reason.PROMOTED


def test_every_state_change_is_one_transaction(ledger: Ledger) -> None:
    plan = make_plan(sizes=(2,))
    ledger.record_plan(plan)
    with pytest.raises(LedgerError), ledger._tx() as con:
        con.execute("UPDATE batches SET state='sending'")
        raise LedgerError("boom")
    assert ledger.batch(plan.id, 0).state == "planned"


def test_lock_is_exclusive_and_reentrant(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as one, Ledger(path) as two:
        with one.lock("stock") as holder:
            assert holder.startswith(f"{os.uname().nodename}:{os.getpid()}:")
            with one.lock("stock"):
                pass
            assert one.holder("stock") == holder  # still held after the inner block
            with pytest.raises(FeedLocked, match=f"locked by {holder}"):
                two.acquire("stock")
            with two.lock("prices"):
                pass
        assert one.holder("stock") is None
        with two.lock("stock"):
            pass


def test_lock_of_a_dead_process_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    code = f"import os, toolkit.ledger as t; t.Ledger({str(path)!r}).acquire('stock'); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True)
    with Ledger(path) as ledger:
        dead = ledger.holder("stock")
        assert dead is not None and f":{os.getpid()}:" not in dead
        holder = ledger.acquire("stock")
        assert holder != dead
        assert ledger.events(feed="stock")[-1].reason is Reason.STALE_LOCK_BROKEN


def test_lock_held_by_a_live_process_is_not_broken(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    code = (
        f"from toolkit.ledger import Ledger; import sys, time; Ledger({str(path)!r}).acquire('stock');"
        "print('held', flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with Ledger(path) as ledger, pytest.raises(FeedLocked, match=f":{child.pid}:"):
            ledger.acquire("stock")
    finally:
        child.communicate("")
    assert process_started(child.pid) is None


def test_concurrent_writers_queue(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.record_plan(make_plan(sizes=(1,) * 40))

    def work(indexes: range) -> None:
        with Ledger(path) as led:
            for i in indexes:
                led.mark_sending("plan-1", i)
                led.mark_accepted("plan-1", i, 1000 + i)

    threads = [threading.Thread(target=work, args=(range(k, 40, 4),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Ledger(path) as ledger:
        assert {b.state for b in ledger.batches("plan-1")} == {"accepted"}
        assert ledger.plan("plan-1").state == "submitted"


def test_events_carry_their_reason_codes(ledger: Ledger) -> None:
    event = ledger.event(Reason.RESTART_REFUSED, feed="stock", job_id=4, detail={"error": "too old"})
    stored = ledger.events(feed="stock")[-1]
    assert stored == event and stored.at == T0 and stored.detail == {"error": "too old"}


def test_job_rows_since(ledger: Ledger) -> None:
    ledger.record_plan(make_plan(sizes=(2,)))
    ledger.mark_sending("plan-1", 0)
    ledger.mark_accepted("plan-1", 0, 7)
    assert len(ledger.job_rows()) == 1
    assert ledger.job_rows(since=T0 + timedelta(seconds=1)) == []


def test_failed_plans_are_superseded_and_finished_ones_rearmed(ledger: Ledger) -> None:
    ledger.record_plan(make_plan("a", sizes=(2,)))
    ledger.mark_sending("a", 0)
    ledger.mark_accepted("a", 0, 7)
    ledger.set_plan_state("a", "failed")
    ledger.record_plan(make_plan("b"))
    assert ledger.plan("a").state == "superseded"
    again = ledger.record_plan(make_plan("a", sizes=(2,)))
    assert again.state == "planned" and ledger.plan("b").state == "superseded"
    (batch,) = ledger.batches("a")
    assert (batch.state, batch.job_id, batch.attempts) == ("planned", None, 1)
    assert ledger.known_job_ids() == {7} and ledger.open_plan("stock").id == "a"
