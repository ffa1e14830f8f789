"""Notebook 02 run headless by the papermill command line, as cron runs it, against the real sandbox.

It exits non-zero when the CLI would (items failed, guard refused, checks failed), zero for nothing to
send, and summary.json names the outcome and its reason. The README's papermill and cron lines run
here as written; the only change is cron's ``cd /srv/feeds``, which goes to a workspace laid out like
a checkout (norce.toml, data/, notebooks/, .venv).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nb_workspace import NOTEBOOKS, ROOT

pytestmark = pytest.mark.slow

NORCE_TOML = """\
[settings]
state_dir = ".norce"

[profiles.sandbox]
base_url = "http://127.0.0.1:9"
client_id = "sandbox"
scope = "sandbox"
rate_limit_per_minute = 100000

[feeds.stock]
entity = "onhands"
profile = "sandbox"
account = "ERP"
source = "data/stock.csv"
"""
STOCK = "PartNo,WarehouseCode,LocationCode,OnhandValue,IsActive\nA,W,L,1,true\nB,W,L,2,true\nC,W,L,3,true\n"
BAD = "PartNo,WarehouseCode,LocationCode,OnhandValue\nA,W,L,x\nB,W,L,y\nC,W,L,3\n"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def checkout(root: Path) -> Path:
    """A directory laid out like the repository: norce.toml, data/, notebooks/ and .venv."""
    (root / "data").mkdir(parents=True)
    (root / "norce.toml").write_text(NORCE_TOML)
    (root / "data" / "stock.csv").write_text(STOCK)
    (root / "data" / "bad.csv").write_text(BAD)
    (root / "notebooks").mkdir()
    for notebook in NOTEBOOKS.glob("*.ipynb"):  # only the notebooks (other runs leave sockets there)
        shutil.copy(notebook, root / "notebooks" / notebook.name)
    (root / ".venv").symlink_to(Path(sys.prefix))
    return root


@pytest.fixture
def repo(tmp_path: Path, sandbox: Any) -> Path:
    sandbox.reset()
    return checkout(tmp_path / "feeds")


def environ(sandbox: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NORCE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **sandbox.environ()}


def shell(line: str, cwd: Path, sandbox: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=environ(sandbox), capture_output=True, text=True, timeout=300
    )


def papermill(repo: Path, sandbox: Any, *params: str) -> tuple[int, dict[str, Any]]:
    """``papermill notebooks/02-submit-feed.ipynb ...`` from the checkout; exit code and summary."""
    (repo / "out" / "submit" / "summary.json").unlink(missing_ok=True)
    args = " ".join(f"-p {p}" for p in params)
    done = shell(
        f"papermill notebooks/02-submit-feed.ipynb out.ipynb -p interactive False {args}", repo, sandbox
    )
    return done.returncode, json.loads((repo / "out" / "submit" / "summary.json").read_text())


def seed_skus(sandbox: Any) -> None:
    from test_notebook import seed_skus as seed

    seed(sandbox, ["A", "B", "C"])


def test_items_failed_exits_non_zero(repo: Path, sandbox: Any) -> None:
    code, summary = papermill(repo, sandbox, "feed stock", "submit True")  # no SKUs: every row fails
    assert code != 0
    assert summary["outcome"] == "items failed" and summary["exit_code"] == 4
    assert summary["succeeded"] is False and "3 of 3 items failed" in summary["reason"]


def test_guard_refused_exits_non_zero(repo: Path, sandbox: Any) -> None:
    seed_skus(sandbox)
    assert papermill(repo, sandbox, "feed stock", "submit True")[0] == 0
    (repo / "data" / "stock.csv").write_text(STOCK.split("B,W,L")[0])
    code, summary = papermill(repo, sandbox, "feed stock", "kind change", "submit True")
    assert code != 0 and summary["outcome"] == "guard refused" and summary["exit_code"] == 3
    assert "deactivate 2 of 3" in summary["reason"] and summary["job_ids"] == []


def test_checks_failed_exits_non_zero(repo: Path, sandbox: Any) -> None:
    code, summary = papermill(repo, sandbox, "feed stock", "source data/bad.csv", "submit True")
    assert code != 0 and summary["outcome"] == "checks failed" and summary["exit_code"] == 1
    assert summary["reason"].startswith("checks failed") and not sandbox.stats()["jobs"]


def test_nothing_to_send_exits_zero(repo: Path, sandbox: Any) -> None:
    seed_skus(sandbox)
    first = papermill(repo, sandbox, "feed stock", "submit True")
    assert first[0] == 0 and first[1]["outcome"] == "succeeded" and first[1]["promoted"]
    code, summary = papermill(repo, sandbox, "feed stock", "submit True")
    assert code == 0 and summary["outcome"] == "nothing to send" and summary["succeeded"] is True


def readme_lines(program: str) -> list[str]:
    spans = (
        re.findall(r"`([^`\n]*papermill notebooks/02[^`\n]*)`", README)
        if program == "papermill"
        else [
            line
            for block in re.findall(r"```cron\n(.*?)```", README, flags=re.S)
            for line in block.splitlines()
            if line.strip()
        ]
    )
    assert spans, f"the README shows no {program} line"
    return spans


def test_the_readme_papermill_line_runs_as_written(repo: Path, sandbox: Any) -> None:
    seed_skus(sandbox)
    for line in readme_lines("papermill"):
        done = shell(line, repo, sandbox)
        assert done.returncode == 0, done.stderr[-3000:]
        assert list((repo / "runs").glob("stock-*.ipynb"))
        summary = json.loads((repo / "out" / "submit" / "summary.json").read_text())
        assert summary["outcome"] == "succeeded", summary


def test_the_readme_cron_lines_run_as_written(repo: Path, sandbox: Any) -> None:
    seed_skus(sandbox)
    (repo / "logs").mkdir()
    for line in readme_lines("cron"):
        command = line.split(None, 5)[5].replace("cd /srv/feeds", f"cd {repo}")  # the schedule aside
        done = shell(command, repo, sandbox)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
