from __future__ import annotations

import json

import pytest


def _fig():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(np.linspace(0, 1, 50) ** 2, label="curve")
    ax.set_title("déterministe")
    ax.legend()
    return fig


def test_save_is_byte_identical_and_recorded(isolated_dirs):
    from lib import figures
    from lib.notebook import NotebookRun

    run = NotebookRun("00_demo", "default", {"seed": 1})
    fig = _fig()
    png = figures.save(fig, "demo/curve", run=run)
    first = png.read_bytes(), png.with_suffix(".pdf").read_bytes()
    figures.save(_fig(), "demo/curve", run=run)
    assert (png.read_bytes(), png.with_suffix(".pdf").read_bytes()) == first
    manifest = json.loads((isolated_dirs / "figures" / "MANIFEST.json").read_text())
    entry = manifest["figures"]["demo/curve"]
    assert entry["notebook"] == "00_demo" and entry["profile"] == "default"
    assert entry["params_hash"] == run.params_hash and len(entry["png_sha256"]) == 64
    assert {"git_commit", "time"} <= set(entry)


def test_figures_of_images_are_saved_as_png_only(isolated_dirs):
    import numpy as np

    from lib import figures, plots

    grid = plots.image_grid([np.zeros((8, 8, 3), np.uint8)] * 2, ncols=2)
    assert figures.has_images(grid) and not figures.has_images(_fig())
    stale = isolated_dirs / "figures" / "demo" / "grid.pdf"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"%PDF- an earlier version")
    png = figures.save(grid, "demo/grid")
    assert png.is_file() and not stale.exists()


def test_bad_figure_name(isolated_dirs):
    from lib import figures

    with pytest.raises(ValueError, match="must be lower-case"):
        figures.save(_fig(), "Data Prep/x.png")
