"""Shared fixtures: a throw-away companion tree so tests never touch the real figures/."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """Redirect data/, runs/, build/ and figures/ into tmp_path."""
    for var, sub in [("FACEAUG_DATA", "data"), ("FACEAUG_RUNS", "runs"), ("FACEAUG_BUILD", "build"),
                     ("FACEAUG_FIGURES", "figures")]:
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv("FORCE", raising=False)
    return tmp_path


def make_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """Write a minimal notebook: a ``parameters`` cell then code cells."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# test notebook"))
    nb.cells.append(nbformat.v4.new_code_cell(textwrap.dedent(parameters), metadata={"tags": ["parameters"]}))
    for src in cells:
        nb.cells.append(nbformat.v4.new_code_cell(textwrap.dedent(src)))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    """A companion tree (FACEAUG_ROOT) with notebooks/ and params/, no real notebooks."""
    root = tmp_path / "companion"
    (root / "notebooks" / "params").mkdir(parents=True)
    monkeypatch.setenv("FACEAUG_ROOT", str(root))
    for var in ("FACEAUG_DATA", "FACEAUG_RUNS", "FACEAUG_BUILD", "FACEAUG_FIGURES"):
        monkeypatch.delenv(var, raising=False)
    return root


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj))
