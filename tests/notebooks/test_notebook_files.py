"""The committed notebooks stay thin: no def or class, outputs cleared, a proper parameters cell."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
SECRET_WORDS = ("secret", "token", "password")


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_the_three_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01-preview-feed.ipynb",
        "02-submit-feed.ipynb",
        "03-job-outcomes.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_function_or_class_is_defined(path: Path) -> None:
    for cell in code_cells(path):
        tree = ast.parse(cell.source)
        kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
        defined = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, kinds)]
        assert not defined, f"{path.name}: a cell defines {defined}; move it into toolkit/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_cleared(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata
    for cell in code_cells(path):
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_holds_commented_literals_and_no_secret(path: Path) -> None:
    first = code_cells(path)[0]
    assert first.metadata.get("tags") == ["parameters"]
    names = []
    for line in first.source.splitlines():
        code, _, comment = line.partition("#")
        assert comment.strip() and "=" not in comment, f"{path.name}: {line!r} needs a comment without '='"
        target, value = (s.strip() for s in code.split("=", 1))
        ast.literal_eval(value)
        names.append(target)
    assert {"settings_path", "interactive", "output_dir"} <= set(names)
    assert not [n for n in names if any(w in n.lower() for w in SECRET_WORDS)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_second_cell_imports_toolkit_and_loads_settings(path: Path) -> None:
    source = code_cells(path)[1].source
    assert "from toolkit" in source and "load_settings(find_settings(settings_path))" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_markdown_cell_starts_with_a_stray_marker(path: Path) -> None:
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    assert not [c.source[:20] for c in cells if c.source.startswith("MD")]


def test_job_outcomes_draws_each_chart_once() -> None:
    source = "\n".join(c.source for c in code_cells(NOTEBOOKS[2]))
    assert "report.chart(" not in source and source.count("gallery(report.charts())") == 1
