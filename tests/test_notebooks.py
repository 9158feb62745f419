"""Every notebook follows the companion's conventions and has an nbval baseline."""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from lib import profiles

from .conftest import REPO

NOTEBOOKS = profiles.notebook_names()


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0] == "00_data_prep"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", n) for n in NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_structure(name):
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and "reproduces" in cells[0].source, "first cell says what it reproduces"
    assert "colab-setup" in cells[1].metadata.get("tags", []), "Colab cell right after the title"
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "profile = " in params[0].source and "seed = " in params[0].source
    *_, summary, conclusion = [c for c in cells if c.cell_type == "code"]
    assert "# NBVAL_CHECK_OUTPUT" in summary.source and ".summary(" in summary.source, "the summary cell nbval compares"
    assert "conclusion" in conclusion.metadata.get("tags", []) and ".conclude(" in conclusion.source, \
        "it ends with its conclusion in prose, numbers computed (run.conclude)"
    assert f'begin("{name}"' in "".join(c.source for c in cells)
    for c in cells:
        if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", []):
            tree = ast.parse("\n".join(l for l in c.source.splitlines() if not l.lstrip().startswith(("!", "%"))))
            assert not any(isinstance(n, ast.ClassDef) for n in ast.walk(tree)), "no classes in notebooks"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_nbval_baseline_exists_and_is_smoke(name):
    path = REPO / "tests" / "nbval" / f"{name}.ipynb"
    assert path.exists(), f"missing nbval baseline: run make nbval-baseline"
    nb = nbformat.read(path, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'profile = "smoke"' in injected[0].source
    summary = [c for c in nb.cells if "# NBVAL_CHECK_OUTPUT" in c.source]
    assert summary and summary[-1].outputs, "baseline summary cell has outputs to compare"


def _code_cells(path) -> list[str]:
    """The code a notebook runs, without papermill's injected parameters (they differ by profile)."""
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def _first_difference(a: list[str], b: list[str]) -> int | None:
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    return diff[0] if diff else (None if len(a) == len(b) else min(len(a), len(b)))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_nbval_baseline_runs_the_notebooks_code(name):
    """nbval executes the copies in tests/nbval/: they must run the notebook's own code."""
    at = _first_difference(_code_cells(REPO / "notebooks" / f"{name}.ipynb"), _code_cells(REPO / "tests" / "nbval" / f"{name}.ipynb"))
    assert at is None, (f"tests/nbval/{name}.ipynb differs from notebooks/{name}.ipynb at code cell {at}: "
                        "run make nbval-baseline after editing a notebook, and commit both")


def test_a_stale_nbval_copy_is_detected(tmp_path):
    nb = nbformat.read(REPO / "notebooks" / "00_data_prep.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[-2].source += "\nx = 1"
    nbformat.write(nb, tmp_path / "stale.ipynb")
    original = _code_cells(REPO / "notebooks" / "00_data_prep.ipynb")
    assert _first_difference(original, _code_cells(tmp_path / "stale.ipynb")) == len(original) - 2
    assert _first_difference(original, original[:-1]) == len(original) - 1


def test_committed_outputs_hold_no_machine_paths():
    roots = {str(REPO), "/tmp/"}
    files = [*(REPO / "notebooks").glob("*.ipynb"), *(REPO / "tests" / "nbval").glob("*.ipynb"),
             *(REPO / "figures").glob("*.json"), *(REPO / "figures" / "metrics").glob("*.json")]
    for f in files:
        text = f.read_text(encoding="utf-8")
        leaked = [r for r in roots if r in text]
        assert not leaked, f"{f.relative_to(REPO)} contains machine paths {leaked}"
