"""Adapters for the papers' real data sets -> FaceSets (lib.data.faceset).

Each adapter module exposes ``convert(root, out, **params) -> Path``, ``DEFAULTS`` (its
parameters), ``VERSION``, ``ENV`` (the environment variable naming its root) and
``DATA_CARD``. ``prepare(name, root)`` converts once into ``data/<name>/<hash>/`` and reuses
the result; ``python -m lib.data.sources <name> --root PATH`` does the same from a shell.

    from lib.data import sources
    path = sources.prepare("kdef", "/data/KDEF_and_AKDEF/KDEF")
    fs = read_faceset(path)
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from lib import paths, provenance
from lib.data.faceset import faceset_exists

SOURCES = {
    "kdef": "lib.data.sources.kdef",
    "celeba": "lib.data.sources.celeba",
    "celeba_c": "lib.data.sources.celeba_c",
    "facesynthetics": "lib.data.sources.facesynthetics",
    "lfw": "lib.data.sources.lfw",
    "scface": "lib.data.sources.scface",
    "qmul": "lib.data.sources.qmul",
    "webface": "lib.data.sources.webface",
}


def adapter(name: str):
    """The adapter module for ``name`` (a key of SOURCES)."""
    if name not in SOURCES:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(SOURCES)}")
    return importlib.import_module(SOURCES[name])


def params_for(name: str, **params) -> dict:
    """The adapter's DEFAULTS with ``params`` applied; an unknown parameter is an error."""
    mod = adapter(name)
    unknown = sorted(set(params) - set(mod.DEFAULTS))
    if unknown:
        raise ValueError(f"{name}: unknown parameters {unknown}; known: {sorted(mod.DEFAULTS)}")
    return {**mod.DEFAULTS, **params}


def output_dir(name: str, root, **params) -> Path:
    """``data/<name>/<hash>``: the hash covers the adapter version, the resolved root and params."""
    mod = adapter(name)
    key = {"source": name, "version": mod.VERSION, "root": str(Path(root).expanduser().resolve()),
           "params": params_for(name, **params)}
    return paths.data_dir() / name / provenance.config_hash(key)


def prepare(name: str, root=None, *, progress: bool = True, **params) -> Path:
    """Convert data set ``name`` from ``root`` (default: its environment variable) once.

    The FaceSet is reused while the adapter version, root and parameters are unchanged;
    ``FORCE=1`` in the environment converts again.
    """
    mod = adapter(name)
    root = root if root not in (None, "") else os.environ.get(mod.ENV, "")
    from lib.data.sources.common import require_dir

    root = require_dir(root, mod.DATA_CARD, f"the {name} data set (or set ${mod.ENV})")
    out = output_dir(name, root, **params)
    if faceset_exists(out) and os.environ.get("FORCE", "") not in ("1", "true", "yes"):
        return out
    return mod.convert(root, out, progress=progress, **params_for(name, **params))
