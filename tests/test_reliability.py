"""Issue 22: no change lost, no batch sent twice, with the faults injected for real.

Two stock feeds (two warehouses, one endpoint) run in two processes against one sandbox with dropped
answers; a proxy in front of the sandbox answers 502/504 after forwarding an import; files of the
state directory are damaged on disk. Each test reads the sandbox's catalog and job list back.
"""

from __future__ import annotations

import http.server
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from toolkit.cli import main
from toolkit.config import Settings, load_settings
from toolkit.ledger import Ledger
from toolkit.runs import open_run

pytestmark = pytest.mark.slow

SECRET = "reliability-secret-51c2"
FAULTS_SEEN: dict[str, int] = {}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(client_secret=SECRET, rate_limit=100_000) as server:
        yield server


class Stock:
    """norce.toml with the stock feeds ``w1`` and ``w2`` (one warehouse each) and their CSVs."""

    def __init__(self, root: Path, sandbox: Any, *, max_items: int = 5, base_url: str | None = None) -> None:
        self.root, self.sandbox = root, sandbox
        feeds = "".join(
            f'''
[feeds.{w}]
entity = "onhands"
profile = "sandbox"
account = "ERP"
source = "{w}.csv"
[feeds.{w}.policies]
max_items = {max_items}
max_deactivation_ratio = 1.0
'''
            for w in ("w1", "w2")
        )
        (root / "norce.toml").write_text(
            f"""[settings]
state_dir = "state"
[profiles.sandbox]
base_url = "http://127.0.0.1:9"
client_id = "sandbox"
scope = "sandbox"
application_key = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
rate_limit_per_minute = 100000
timeout_seconds = 10
{feeds}""",
            encoding="utf-8",
        )
        self.environ = {**sandbox.environ(), **({"NORCE_SANDBOX_BASE_URL": base_url} if base_url else {})}
        self.rows: dict[str, dict[str, int]] = {}
        self.seeded = _seed_products(sandbox)

    @property
    def settings(self) -> Settings:
        return load_settings(self.root / "norce.toml", environ=self.environ)

    def write(self, feed: str, values: dict[str, int]) -> None:
        self.rows[feed] = values
        lines = ["PartNo,WarehouseCode,LocationCode,OnhandValue"]
        lines += [f"{part},{feed.upper()},L1,{value}" for part, value in values.items()]
        (self.root / f"{feed}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def catalog(self) -> set[tuple[str, str, float]]:
        return {
            (i["PartNo"], i["WarehouseCode"], float(i["OnhandValue"]))
            for i in self.sandbox.items("onhands")
            if i.get("IsActive", True)
        }

    def source(self) -> set[tuple[str, str, float]]:
        return {(p, f.upper(), float(v)) for f, rows in self.rows.items() for p, v in rows.items()}

    def jobs(self) -> list[Any]:
        """The sandbox's stock jobs (not the one that made the SKUs)."""
        with open_run(self.settings, "w1") as run:
            return [j for j in run.client.list_jobs() if j.job_id not in self.seeded]

    def ledger(self) -> Ledger:
        return Ledger(self.settings.state_dir / "ledger.sqlite")

    def cli(self, *args: str) -> int:
        return main([*args, "--settings", str(self.root / "norce.toml")])


@pytest.fixture
def stock(tmp_path: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Stock:
    sandbox.reset()
    sandbox.set_faults()
    for key, value in sandbox.environ().items():
        monkeypatch.setenv(key, value)
    return Stock(tmp_path, sandbox)


def _seed_products(sandbox: Any) -> set[int]:
    """The SKUs P0000..P0099 the stock rows name (on-hands of unknown SKUs are skipped); the job ids."""
    import polars as pl

    from toolkit.connect import ConnectClient
    from toolkit.payloads import build_header, build_items

    codes = pl.DataFrame({"PartNo": [f"P{i:04d}" for i in range(100)]})
    frame = codes.select(
        pl.col("PartNo").alias("Code"),
        pl.lit("ACME").alias("ManufacturerCode"),
        pl.col("PartNo").alias("ManufacturerPartNo"),
        "PartNo",
    )
    with ConnectClient(sandbox.profile(rate_limit_per_minute=100_000)) as client:
        header = build_header("products", account=10000, fields=frame.columns)
        job = client.import_items("products", build_items("products", frame), header).job_id
        assert client.wait_for_jobs([job], timeout=60.0, poll_interval=0.05)[job].succeeded
    return {int(job)}


def parts(n: int, *, value: int = 1, start: int = 0) -> dict[str, int]:
    return {f"P{i:04d}": value + i for i in range(start, start + n)}


def assert_no_duplicates(stock: Stock, batches: int) -> None:
    """Every job the sandbox made is recorded once, for one batch, and there is one per batch."""
    jobs = stock.jobs()
    with stock.ledger() as ledger:
        rows = ledger._rows("SELECT job_id, plan_id, idx FROM jobs")
    assert len({r[0] for r in rows}) == len(rows), "a job recorded for two batches"
    assert len({(r[1], r[2]) for r in rows}) == len(rows), "a batch with two jobs"
    assert sorted(j.job_id for j in jobs) == sorted(r[0] for r in rows)
    assert len(jobs) == batches


# --- 1. two feeds of one entity at once, with dropped answers -------------------------------------
BOTH = """
import sys
from toolkit.config import load_settings
from toolkit.errors import OutcomeUnknown
from toolkit.runs import plan_and_submit, resume_feed

settings, feed = load_settings(sys.argv[1]), sys.argv[2]
wait = {"wait": True, "timeout": 60.0, "poll_interval": 0.05}
try:
    out = plan_and_submit(settings, feed, **wait)
except OutcomeUnknown as exc:
    print("unknown:", exc, flush=True)
    out = None
for _ in range(30):
    if out is not None:
        break
    try:
        out = resume_feed(settings, feed, **wait)
    except OutcomeUnknown as exc:
        print("unknown:", exc, flush=True)
print("RESULT", bool(out and out.succeeded and out.promoted), flush=True)
"""


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_two_feeds_of_one_entity_with_dropped_answers_lose_nothing(stock: Stock, seed: int) -> None:
    stock.write("w1", parts(40))
    stock.write("w2", parts(40, value=500))
    stock.sandbox.set_faults(seed=seed, drop_after_accept=0.2, scope="imports")
    env = {**os.environ, **stock.environ}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BOTH, str(stock.root / "norce.toml"), feed],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for feed in ("w1", "w2")
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    injected = stock.sandbox._sandbox.faults.describe()["injected"]
    dropped = sum(f["fault"] == "drop_after_accept" for f in injected)
    FAULTS_SEEN[f"two feeds seed {seed}"] = dropped
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0 and "RESULT True" in out, out + err
    assert dropped > 0
    assert stock.catalog() == stock.source()
    assert_no_duplicates(stock, batches=16)


# --- 2. a gateway answers 502/504 after forwarding an import ----------------------------------------
class GatewayProxy(http.server.ThreadingHTTPServer):
    """Forwards everything to the sandbox; the first ``fail`` imports get ``status`` once forwarded."""

    def __init__(self, target: str, status: int, fail: int) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.target, self.status, self.fail, self.forwarded = target, status, fail, 0
        self.http = httpx.Client(base_url=target, timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(http.server.BaseHTTPRequestHandler):
    server: GatewayProxy

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        answer = self.server.http.request(self.command, self.path, content=body, headers=headers)
        if self.command == "POST" and "/Import" in self.path and self.server.fail > 0:
            self.server.fail -= 1
            self.server.forwarded += 1
            self._answer(self.server.status, b"<html>Bad Gateway</html>", "text/html")
            return
        self._answer(answer.status_code, answer.content, answer.headers.get("content-type", "text/plain"))

    def _answer(self, status: int, content: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = _relay

    def log_message(self, *args: Any) -> None:
        return None


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_after_forwarding_is_found_not_resent(
    tmp_path: Path, sandbox: Any, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.reset()
    sandbox.set_faults()
    proxy = GatewayProxy(sandbox.base_url, status, fail=3)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        for key, value in {**sandbox.environ(), "NORCE_SANDBOX_BASE_URL": proxy.url}.items():
            monkeypatch.setenv(key, value)
        stock = Stock(tmp_path, sandbox, base_url=proxy.url)
        stock.write("w1", parts(15))
        assert stock.cli("submit", "w1", "--yes", "--wait") == 0
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.http.close()
    stock.environ = sandbox.environ()  # read the jobs back from the sandbox itself
    FAULTS_SEEN[f"gateway {status}"] = proxy.forwarded
    assert proxy.forwarded == 3 and stock.catalog() == stock.source()
    assert_no_duplicates(stock, batches=3)


# --- 4. previews during a submission -------------------------------------------------------------
def test_twelve_previews_during_a_submission_still_promote(stock: Stock) -> None:
    stock.write("w1", parts(12))
    assert stock.cli("submit", "w1", "--yes") == 0  # sent, not waited for: the plan stays open
    with stock.ledger() as ledger:
        (plan,) = ledger.plans("w1")
    for i in range(12):
        stock.write("w1", parts(12, value=100 + i))
        assert stock.cli("plan", "w1") == 0
    snapshots = stock.settings.state_dir / "snapshots" / "w1"
    assert (snapshots / f"{plan.snapshot_id}.parquet").exists()
    assert stock.cli("resume", "w1", "--wait") == 0
    with stock.ledger() as ledger:
        assert ledger.plan(plan.id).state == "succeeded"
    stock.rows["w1"] = parts(12)
    assert stock.catalog() == stock.source()


# --- 3. a lost state dir and a half-empty export ------------------------------------------------
def test_a_lost_state_dir_and_a_half_empty_export_deactivate_nothing(
    stock: Stock, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    stock.write("w1", parts(40))
    assert stock.cli("submit", "w1", "--kind", "full", "--yes", "--wait") == 0
    shutil.rmtree(stock.settings.state_dir)
    stock.write("w1", parts(20))  # half the export lost on the way
    assert stock.cli("submit", "w1", "--kind", "full", "--yes", "--wait") == 0
    assert "neither a baseline nor a min_rows policy" in capsys.readouterr().out
    assert {p for p, *_ in stock.catalog()} == set(parts(40))  # all 40 still active in Norce
    shutil.rmtree(stock.settings.state_dir)
    stock.write("w1", parts(4))  # one request: its FullFile covers the warehouse
    code = stock.cli(
        "submit",
        "w1",
        "--kind",
        "full",
        "--yes",
        "--wait",
        "--allow-mass-deactivation",
        "--reason",
        "warehouse W1 emptied",
    )
    assert code == 0 and {p for p, *_ in stock.catalog()} == set(parts(4))  # only when told, with why


# --- 6. values that go back and forth -------------------------------------------------------------
def test_values_going_back_and_forth_always_promote(stock: Stock, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = parts(40), parts(40, value=7)
    for values in (a, b, a, b, b):
        stock.write("w1", values)
        assert stock.cli("submit", "w1", "--yes", "--wait") == 0
        out = capsys.readouterr().out
        assert "not promoted" not in out, out
        assert stock.catalog() == stock.source()
    with stock.ledger() as ledger:
        plans = ledger.plans("w1")
        assert len({p.id for p in plans}) == 5 and {p.state for p in plans} == {"succeeded"}
        assert len(ledger.jobs()) == 4 * 8 and ledger.batches(plans[-1].id) == []  # the repeated B: nothing
    assert stock.cli("status") == 0
    assert "unfinished submissions" not in capsys.readouterr().out


# --- 5. state damage ------------------------------------------------------------------------------
def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_a_corrupt_ledger_page_is_one_line_with_exit_8(
    stock: Stock, capsys: pytest.CaptureFixture[str]
) -> None:
    stock.write("w1", parts(30))
    assert stock.cli("submit", "w1", "--yes", "--wait") == 0
    path = stock.settings.state_dir / "ledger.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    data[page : len(data)] = os.urandom(len(data) - page)  # every page but the header's
    path.write_bytes(bytes(data))
    capsys.readouterr()
    for command in (["resume", "w1"], ["submit", "w1", "--yes"], ["status"]):
        code = stock.cli(*command)
        if command == ["status"]:
            assert code == 1 and "damaged" in capsys.readouterr().err
            continue
        assert code == 8, command
        assert "ledger" in _one_line_error(capsys)


CRASH = """
import os, signal, sys
from toolkit.config import load_settings
from toolkit.runs import plan_and_submit

def killer(event):
    if event["event"] == "batch" and event["accepted"] >= 2:
        os.kill(os.getpid(), signal.SIGKILL)

plan_and_submit(load_settings(sys.argv[1]), "w1", progress=killer)
"""


def test_a_deleted_ledger_with_an_open_submission_resends_nothing_accepted(
    stock: Stock, capsys: pytest.CaptureFixture[str]
) -> None:
    stock.write("w1", parts(20))
    env = {**os.environ, **stock.environ}
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, str(stock.root / "norce.toml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr
    assert len(stock.jobs()) == 2
    for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"):
        (stock.settings.state_dir / name).unlink(missing_ok=True)
    capsys.readouterr()
    assert stock.cli("submit", "w1", "--yes") == 8
    assert "resume w1" in _one_line_error(capsys)
    assert stock.cli("resume", "w1", "--wait") == 0
    assert stock.catalog() == stock.source()
    assert_no_duplicates(stock, batches=4)


DELETE_STATE = """
import shutil, sys
from toolkit.config import load_settings
from toolkit.cli import main

def hook(event):
    if event["event"] == "batch" and event["accepted"] == 1:
        shutil.rmtree(load_settings(sys.argv[1]).state_dir)

import toolkit.runs as runs
real = runs.submit
runs.submit = lambda *a, **k: real(*a, **{**k, "progress": hook})
sys.exit(main(["submit", "w1", "--yes", "--settings", sys.argv[1]]))
"""


def test_state_dir_deleted_mid_run_stops_sending_with_one_line(stock: Stock) -> None:
    stock.write("w1", parts(20))
    env = {**os.environ, **stock.environ}
    proc = subprocess.run(
        [sys.executable, "-c", DELETE_STATE, str(stock.root / "norce.toml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 8, proc.stderr
    assert "Traceback" not in proc.stderr and "was deleted during the run" in proc.stderr
    assert len(stock.jobs()) == 1  # nothing sent once the ledger was gone


@pytest.mark.parametrize("damage", ["manifest without batches", "garbage rejected.parquet"])
def test_a_damaged_saved_plan_is_one_line_and_submit_continues_it(
    stock: Stock, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    stock.write("w1", parts(20))
    env = {**os.environ, **stock.environ}
    subprocess.run(
        [sys.executable, "-c", CRASH, str(stock.root / "norce.toml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    with stock.ledger() as ledger:
        (plan,) = ledger.plans("w1")
    directory = Path(str(plan.directory))
    if damage == "manifest without batches":
        import json

        manifest = json.loads((directory / "manifest.json").read_text())
        del manifest["batches"]
        (directory / "manifest.json").write_text(json.dumps(manifest))
    else:
        (directory / "rejected.parquet").write_bytes(b"not parquet at all")
    capsys.readouterr()
    assert stock.cli("resume", "w1") == 8
    assert "submit w1" in _one_line_error(capsys)
    assert stock.cli("submit", "w1", "--yes", "--wait") == 0
    assert stock.catalog() == stock.source()
    assert_no_duplicates(stock, batches=4)


# --- the smaller ones -------------------------------------------------------------------------------
def test_resume_with_nothing_to_resume_exits_0(stock: Stock, capsys: pytest.CaptureFixture[str]) -> None:
    assert stock.cli("resume", "w1") == 0
    assert "nothing to resume" in capsys.readouterr().out


def test_429_that_outlasts_the_retries_exits_7(stock: Stock, capsys: pytest.CaptureFixture[str]) -> None:
    stock.write("w1", parts(3))
    stock.sandbox.set_faults(error_429=1.0, scope="imports", retry_after=1)
    assert stock.cli("submit", "w1", "--yes") == 7
    assert "429" in _one_line_error(capsys)
    stock.sandbox.set_faults()
    assert stock.cli("resume", "w1", "--wait") == 0 and stock.catalog() == stock.source()


def test_restart_of_a_superseded_job_is_refused_unless_forced(
    stock: Stock, capsys: pytest.CaptureFixture[str]
) -> None:
    stock.write("w1", parts(3))
    assert stock.cli("submit", "w1", "--yes", "--wait") == 0
    old = stock.jobs()[0].job_id
    stock.write("w1", parts(3, value=50))
    assert stock.cli("submit", "w1", "--yes", "--wait") == 0
    newer = max(j.job_id for j in stock.jobs())
    capsys.readouterr()
    assert stock.cli("restart", str(old)) == 1
    line = _one_line_error(capsys)
    assert f"job {old}" in line and f"job {newer}" in line and "--force" in line
    assert stock.catalog() == stock.source()
    assert stock.cli("restart", str(old), "--force", "--wait") == 0
    stock.rows["w1"] = parts(3)
    assert stock.catalog() == stock.source()  # forced: the older values are back


def test_sandbox_on_a_busy_port_is_one_line(sandbox: Any, capsys: pytest.CaptureFixture[str]) -> None:
    port = httpx.URL(sandbox.base_url).port
    assert main(["sandbox", "--port", str(port), "--client-secret", "x"]) == 2
    assert "choose another --port" in _one_line_error(capsys)


def test_reliability_figures_are_printed() -> None:
    print("faults injected:", FAULTS_SEEN)
