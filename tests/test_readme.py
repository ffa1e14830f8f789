"""No command in the README that nothing runs: every command it shows names something real.

Commands are taken from fenced ``sh``/``cron`` blocks, the CLI table and inline code spans:
``make X`` needs a Makefile target X; ``norce-feeds CMD --opt`` a subcommand whose ``--help`` exits 0
and lists every option shown; ``python -m MOD --opt`` a runnable module that lists the options;
``papermill notebooks/N.ipynb ... -p NAME`` a notebook with parameter NAME; ``bench/X.py --opt`` a
script that takes the option.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_PROGRAMS = ("make ", "norce-feeds ", "python -m ", "papermill ", "bench/bench_")


def _fenced(languages: tuple[str, ...]) -> list[str]:
    blocks = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)
    return [line for lang, body in blocks if lang in languages for line in body.splitlines()]


def _inline() -> list[str]:
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    return [span.replace("\\|", "|") for span in re.findall(r"`([^`\n]+)`", prose)]


def _commands() -> list[str]:
    """Each command from its program on (``cd /srv && .venv/bin/norce-feeds ...`` -> ``norce-feeds ...``)."""
    found = []
    for text in _fenced(("sh", "bash", "cron")) + _inline():
        text = text.split("#")[0].replace(".venv/bin/", "")
        for part in re.split(r"&&|;", text):
            starts = [part.find(p) for p in _PROGRAMS if p in part]
            if starts:
                found.append(part[min(starts) :].strip())
    return sorted(set(found))


COMMANDS = _commands()


def _of(program: str) -> list[str]:
    return [c for c in COMMANDS if c.startswith(program)]


def _options(command: str) -> list[str]:
    return re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", command)


def test_the_readme_shows_commands_of_every_kind() -> None:
    assert {"make demo", "make test", "make lab"} <= set(_of("make "))
    assert len(_of("norce-feeds ")) >= 6 and _of("papermill ") and _of("python -m ")


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"(?m)^([A-Za-z][\w-]*):", text))


@pytest.mark.parametrize("command", _of("make "))
def test_make_targets_exist(command: str) -> None:
    target = command.split()[1]
    assert target in _make_targets(), f"README shows `{command}` but the Makefile has no target {target!r}"


@pytest.mark.parametrize("command", _of("norce-feeds "))
def test_cli_commands_and_their_options_exist(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    sub = command.split()[1]
    with pytest.raises(SystemExit) as exc:
        cli_main([sub, "--help"])
    assert exc.value.code == 0, f"`norce-feeds {sub} --help` failed"
    shown = capsys.readouterr().out
    missing = [o for o in _options(command) if o not in shown]
    assert not missing, f"README shows `{command}`; `norce-feeds {sub}` has no {missing}"


@pytest.mark.parametrize("command", _of("python -m "))
def test_python_modules_run_and_take_the_options(command: str) -> None:
    module = command.split()[2]
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"no module {module}"
    if spec.submodule_search_locations:  # a package runs through its __main__
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} has no __main__"
    if options := _options(command):
        out = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert not [o for o in options if o not in out], (command, out)


def _notebook_parameters(path: Path) -> set[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


@pytest.mark.parametrize("command", _of("papermill "))
def test_papermill_commands_name_a_notebook_and_its_parameters(command: str) -> None:
    words = shlex.split(command)
    notebook = ROOT / words[1]
    assert notebook.is_file(), f"README shows `{command}`; there is no {words[1]}"
    given = {words[i + 1] for i, w in enumerate(words) if w == "-p"}
    assert given <= _notebook_parameters(notebook), (command, given - _notebook_parameters(notebook))


@pytest.mark.parametrize("command", _of("bench/bench_"))
def test_bench_scripts_exist_and_take_the_options(command: str) -> None:
    script = ROOT / command.split()[0]
    assert script.is_file(), f"README shows `{command}`; there is no {script.name}"
    text = script.read_text(encoding="utf-8")
    assert all(o in text for o in _options(command)), command
