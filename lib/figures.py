"""Save figures deterministically and record them in MANIFEST.json.

``save(fig, "data_prep/detections")`` writes figures/data_prep/detections.png and, for a figure
drawn in vectors (plots), a .pdf copy (for the profile of the running notebook) with fixed metadata,
so the same figure gives the same PNG bytes run after run, and records the figure (notebook,
profile, parameters hash, git commit, time, PNG sha256) in the profile's MANIFEST.json.

A figure that shows images (any ``imshow``: contact sheets, overlays, heat maps drawn as images) gets
no PDF: it would only wrap the same pixels, and writing it took about as long as the PNG (~0.5 s for a
grid of 40 faces).
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from lib import io as atomic
from lib import paths, provenance

DPI = 120
_NAME = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")
# Fixed metadata: no software version, no creation date -> reproducible bytes.
_PNG_META = {"Software": None}
_PDF_META = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}


def render(fig, fmt: str) -> bytes:
    """The bytes of ``fig`` in ``fmt`` ('png' or 'pdf') with fixed metadata."""
    buf = io.BytesIO()
    meta = _PNG_META if fmt == "png" else _PDF_META
    fig.savefig(buf, format=fmt, dpi=DPI, metadata=meta, bbox_inches="tight", pad_inches=0.05)
    return buf.getvalue()


def has_images(fig) -> bool:
    """Whether any axes of ``fig`` shows an image (``imshow``/``figimage``): such a figure is saved as PNG only."""
    return bool(fig.images) or any(ax.images for ax in fig.axes)


def manifest_path(profile: str) -> Path:
    return paths.figures_dir(profile) / "MANIFEST.json"


def save(fig, name: str, *, run=None) -> Path:
    """Write ``fig`` as <figures>/<name>.png and, unless it shows images, .pdf; return the PNG path.

    Args:
        fig: a matplotlib Figure.
        name: lower-case path without extension, e.g. "data_prep/detections".
        run: the notebook's :class:`lib.notebook.NotebookRun` (its ``save_figure`` passes itself);
            None outside a notebook run: the default profile, no notebook recorded.
    """
    if not _NAME.match(name):
        raise ValueError(f"figure name {name!r} must be lower-case words joined by '/' or '_'")
    profile = run.profile if run else "default"
    base = paths.figures_dir(profile) / name
    png = render(fig, "png")
    atomic.write_bytes(base.with_suffix(".png"), png)
    if has_images(fig):
        base.with_suffix(".pdf").unlink(missing_ok=True)  # no stale vector copy of an earlier version
    else:
        atomic.write_bytes(base.with_suffix(".pdf"), render(fig, "pdf"))
    entry = {
        "notebook": run.name if run else None,
        "profile": profile,
        "params_hash": run.params_hash if run else None,
        "git_commit": provenance.git_commit(),
        "time": provenance.now(),
        "png_sha256": hashlib.sha256(png).hexdigest(),
    }
    atomic.update_json(manifest_path(profile), lambda m: m.setdefault("figures", {}).__setitem__(name, entry))
    return base.with_suffix(".png")
