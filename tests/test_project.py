"""The project's own promises: two commands, a curated public API, CI that runs the tests."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_complete() -> None:
    public = {
        n
        for n, v in vars(toolkit).items()
        if not n.startswith("_") and not isinstance(v, type(toolkit)) and n not in {"annotations", "Any"}
    }
    assert public | set(toolkit._LAZY) == set(toolkit.__all__)

    # isort style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
    def order(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert toolkit.__all__ == sorted(toolkit.__all__, key=order)


def test_core_import_stays_light() -> None:
    """A pipeline that plans and submits never imports JupyterLab's stack or the sandbox's server."""
    heavy = ("altair", "ipywidgets", "uvicorn", "starlette")
    code = f"import sys, toolkit; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_error_is_exported() -> None:
    from toolkit import errors

    assert set(errors.__all__) <= set(toolkit.__all__)


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_test_does_not_reinstall_when_up_to_date() -> None:
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("not installed through make")
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "pip install" not in dry.stdout
    assert "pytest" in dry.stdout


def test_makefile_installs_when_pyproject_changes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "$(STAMP): pyproject.toml" in makefile
    assert "-m venv" in makefile
    for target in ("demo:", "test:"):
        assert f"{target} $(STAMP)" in makefile


def test_ci_runs_make_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_cli_help_lists_commands_and_the_exit_codes_the_readme_gives() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "toolkit.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    commands = out[out.index("{") + 1 : out.index("}")].split(",")
    assert {"init", "status", "plan", "apply", "submit", "resume", "jobs", "restart", "sandbox"} <= set(
        commands
    )
    readme = (ROOT / "README.md").read_text()
    assert [c for c in commands if f"norce-feeds {c}" not in readme] == []  # each one documented
    codes = " ".join(out[out.index("Exit codes:") :].split())
    assert codes in " ".join((ROOT / "README.md").read_text().split())


def test_library_code_never_reads_os_environ() -> None:
    offenders = []
    entry_points = {"cli.py", "demo.py", "__main__.py"}  # entry points read the environment, libraries don't
    for path in (ROOT / "toolkit").rglob("*.py"):
        if path.name in entry_points or "demo" in path.relative_to(ROOT).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    # load_settings(environ=None) falls back to os.environ: the one allowed read
    assert all(o.startswith("toolkit/config.py") for o in offenders), offenders


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_the_code_is_ruff_clean_and_formatted(command: list[str]) -> None:
    """``make lint`` runs both; the suite does too, so CI (``make test``) checks the format."""
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is installed with the dev extra")
    done = subprocess.run(
        [str(ruff), *command, "toolkit", "tests", "bench"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
