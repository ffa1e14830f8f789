"""The README's "Python API" example runs as written against the real sandbox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fixtures.stock import stock_settings

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def readme_example() -> str:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Python API\n")[1].split("\n## ")[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_python_api_example_plans_previews_submits_waits_and_reports(
    tmp_path: Path, sandbox_clean: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stock_settings(tmp_path, sandbox_clean, [5, 6, 7])
    for key, value in sandbox_clean.environ().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    code = readme_example()
    assert all(step in code for step in ("plan_feed", "preview", "submit(", "wait_for_jobs", "job_outcomes"))
    exec(compile(code, "README.md (Python API)", "exec"), {})
    out = capsys.readouterr().out
    assert "Product/ImportOnhands" in out and "1/1 jobs succeeded; baseline is now" in out, out
    assert sorted(i["OnhandValue"] for i in sandbox_clean.items("onhands")) == [5, 6, 7]
