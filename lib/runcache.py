"""The run cache: store an artifact under runs/ keyed by a hash of its config.

``cached("fr/arcface", config, build)`` returns the directory of a finished artifact:
the first call runs ``build(tmpdir)`` (which writes files into ``tmpdir``), later calls
with an equal config return the stored directory at once. ``FORCE=1`` in the
environment (or ``force=True``) rebuilds. An artifact becomes visible only when
``build`` returns (atomic rename), so an interrupted build never looks finished.

Layout: runs/<name>/<hash>/{config.json, ...whatever build wrote}.

Every call is logged in this process (``log()``: name, hash, "loaded" or "built"), so a notebook
that must reuse earlier notebooks' results (05_cross_method) can show that it retrained nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from lib import io as atomic
from lib import paths, provenance


_LOG: list[dict] = []


def log(since: int = 0) -> list[dict]:
    """The cache calls of this process from position ``since``: dicts with name, hash, status."""
    return [dict(e) for e in _LOG[since:]]


def artifact_dir(name: str, config: dict) -> Path:
    return paths.runs_dir() / name / provenance.config_hash(config)


def forced() -> bool:
    return os.environ.get("FORCE", "").strip() not in ("", "0", "false", "False")


def cached(name: str, config: dict, build: Callable[[Path], None], *, force: bool | None = None) -> Path:
    """Return runs/<name>/<hash(config)>/, building it with ``build(tmpdir)`` if needed."""
    target = artifact_dir(name, config)
    force = forced() if force is None else force
    if target.is_dir() and (target / "config.json").exists() and not force:
        _LOG.append({"name": name, "hash": target.name, "status": "loaded"})
        return target
    _LOG.append({"name": name, "hash": target.name, "status": "built"})
    with atomic.atomic_dir(target) as tmp:
        build(tmp)
        atomic.write_json(tmp / "config.json", {"name": name, "config": config,
                                                 "created": provenance.now(),
                                                 "git_commit": provenance.git_commit()})
    return target


def cached_json(name: str, config: dict, compute: Callable[[], dict], **kw) -> dict:
    """Cache a JSON-able result (metrics, small tables)."""
    out = cached(name, config, lambda d: atomic.write_json(d / "value.json", compute()), **kw)
    return atomic.read_json(out / "value.json")


def cached_arrays(name: str, config: dict, compute: Callable[[], dict], **kw) -> dict:
    """Cache a dict of numpy arrays (embeddings, scores) as one .npz."""
    import numpy as np

    def build(d: Path) -> None:
        arrays = compute()
        np.savez(d / "arrays.npz", **arrays)

    out = cached(name, config, build, **kw)
    with np.load(out / "arrays.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
