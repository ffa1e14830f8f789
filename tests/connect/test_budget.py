"""The request budget: never more than ``limit`` in any window, shared through a locked file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from connect_fakes import FakeClock

from toolkit.connect.budget import RequestBudget, shared_budget


def _max_in_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps[i:] if t < s + window) for i, s in enumerate(stamps))


def test_sliding_window_never_exceeds_the_limit(clock: FakeClock) -> None:
    budget = RequestBudget(60, window=60.0, clock=clock, sleep=clock.sleep)
    stamps = [budget.acquire() for _ in range(130)]
    assert _max_in_window(stamps, 60.0) == 60
    # the first 60 go at once, then each waits for its predecessor's token to come back
    assert stamps[59] == stamps[0] and stamps[60] > stamps[0] + 60


def test_settle_counts_from_the_answer(clock: FakeClock) -> None:
    budget = RequestBudget(1, window=10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    stamp = budget.acquire()
    clock.advance(4)  # the request took 4 s
    budget.settle(stamp)
    assert budget.acquire() == stamp + 14


def test_burst_bucket_gives_the_burst_then_the_rate(clock: FakeClock) -> None:
    budget = RequestBudget(3, window=60.0, burst=20, clock=clock, sleep=clock.sleep)
    stamps = [budget.acquire() for _ in range(23)]
    assert stamps[19] == stamps[0]
    assert [round(s - stamps[0]) for s in stamps[20:]] == [20, 40, 60]


def test_a_file_budget_is_shared_by_its_users(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "budget" / "p.json"
    first = RequestBudget(5, window=10.0, path=path, clock=clock, sleep=clock.sleep)
    second = RequestBudget(5, window=10.0, path=path, clock=clock, sleep=clock.sleep)
    stamps = [b.acquire() for _ in range(6) for b in (first, second)]
    assert _max_in_window(stamps, 10.0) == 5
    assert len(json.loads(path.read_text())["spent"]) == 2  # 12 = 5 + 5 + 2


def test_a_torn_file_counts_as_a_spent_window(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"spent": [1, 2')
    budget = RequestBudget(2, window=10.0, margin=0.0, path=path, clock=clock, sleep=clock.sleep)
    start = clock.now
    assert budget.acquire() == start + 10
    assert clock.sleeps == [10.0]


def test_threads_share_one_budget(clock: FakeClock) -> None:
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.sleep(seconds)

    budget = RequestBudget(10, window=1.0, clock=clock, sleep=sleep)
    stamps: list[float] = []
    workers = [
        threading.Thread(target=lambda: stamps.extend(budget.acquire() for _ in range(5))) for _ in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(stamps) == 20
    assert _max_in_window(stamps, 1.0) <= 10


def test_shared_budget_is_one_object_per_key(tmp_path: Path) -> None:
    a = shared_budget("prof@h", 60, state_dir=tmp_path)
    assert shared_budget("prof@h", 60, state_dir=tmp_path) is a
    assert a.path == tmp_path / "budget" / "prof_h.json"
    assert shared_budget("prof@h", 60) is not a
    assert shared_budget("other", 60, state_dir=tmp_path) is not a


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="limit >= 1"):
        RequestBudget(0)


_WORKER = textwrap.dedent("""
    import os, pathlib, sys, time
    from toolkit.connect.budget import shared_budget
    budget = shared_budget("two", 5, window=1.0, state_dir=sys.argv[1])
    ready = pathlib.Path(sys.argv[1], f"ready-{os.getpid()}")
    ready.touch()
    while len(list(ready.parent.glob("ready-*"))) < 2:  # both start together, however slow a start
        time.sleep(0.01)
    for _ in range(int(sys.argv[2])):
        print(budget.acquire(), flush=True)
""")


@pytest.mark.slow
def test_two_processes_sharing_a_state_dir_stay_under_the_limit(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tmp_path), "12"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    stamps = [float(line) for out in outs for line in out.split()]
    assert len(stamps) == 24
    assert _max_in_window(stamps, 1.0) <= 5
    # and the two really did interleave (neither ran alone through the whole budget)
    assert min(float(o.split()[-1]) for o in outs) > max(float(o.split()[0]) for o in outs)
