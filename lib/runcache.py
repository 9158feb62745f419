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
import re
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


def cached_resumable(name: str, key: dict, train: Callable[[Path], object], files: tuple[str, ...],
                     **kw) -> tuple[Path, object]:
    """A training run cached under runs/<name>/<hash(key)>/ that resumes if it was stopped.

    ``train(work)`` trains with its checkpoints in ``runs/<name>/<hash>.work/`` (it resumes from
    what it finds there) and leaves ``files`` there, the first of them the final model; they are
    copied into the cache and the work directory is removed. Returns (the cached directory,
    ``train``'s result when it ran now, else None: the caller loads the model from the directory).
    A run that stops before writing the final model caches nothing and keeps its checkpoints.
    """
    import shutil

    from lib.device import rank_and_world

    target = artifact_dir(name, key)
    work = target.with_name(target.name + ".work")
    rank, world = rank_and_world()
    if world > 1 and rank != 0:
        # Under torchrun the ranks train together; rank 0 alone writes the checkpoints (``train``'s rule)
        # and the cache entry. Every rank decides from the same state (the entry exists or not) before
        # any of them trains, so they all train or all load.
        if target.is_dir() and (target / "config.json").exists() and not forced():
            return target, None
        return work, train(work)
    trained: dict = {}

    def build(tmp: Path) -> None:
        result = train(work)
        if not (work / files[0]).is_file():
            raise RuntimeError(f"training of {name} stopped before it wrote {files[0]}; nothing cached. Rerun to "
                               f"resume from the checkpoint kept in {work}")
        for f in files:
            if (work / f).is_file():
                shutil.copy2(work / f, tmp / f)
        trained["result"] = result

    out = cached(name, key, build, **kw)
    if "result" in trained:
        shutil.rmtree(work, ignore_errors=True)
        return out, trained["result"]
    return out, None


def cached_json(name: str, config: dict, compute: Callable[[], dict], **kw) -> dict:
    """Cache a JSON-able result (metrics, small tables)."""
    out = cached(name, config, lambda d: atomic.write_json(d / "value.json", compute()), **kw)
    return atomic.read_json(out / "value.json")


_ARRAY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
MMAP_MIN_BYTES = 1 << 20  # smaller arrays are read whole; mapping them saves nothing


def _save_arrays(d: Path, arrays: dict) -> None:
    import numpy as np

    bad = [k for k in arrays if not isinstance(k, str) or not _ARRAY_NAME.fullmatch(k)]
    if bad:
        raise ValueError(f"array names {bad} cannot be file names: use letters, digits, '_', '.', '-'")
    (d / "arrays").mkdir()
    for k, v in arrays.items():
        np.save(d / "arrays" / f"{k}.npy", np.asarray(v), allow_pickle=False)
    atomic.write_json(d / "arrays" / "names.json", list(arrays))


def load_arrays(out: Path) -> dict:
    """The arrays of a :func:`cached_arrays` artifact, in the order they were given.

    Stored one .npy per array and memory-mapped copy-on-write when large (>= ``MMAP_MIN_BYTES``): a
    warm run that only hashes or slices a 1 GB probe set reads the pages it touches, not the file, and
    a caller that writes into an array changes its own copy, never the cache. Artifacts written before
    this layout (one ``arrays.npz``) are read whole as before."""
    import numpy as np

    if (out / "arrays.npz").is_file():
        with np.load(out / "arrays.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    loaded = {}
    for k in atomic.read_json(out / "arrays" / "names.json"):
        f = out / "arrays" / f"{k}.npy"
        big = f.stat().st_size >= MMAP_MIN_BYTES
        loaded[k] = np.asarray(np.load(f, mmap_mode="c" if big else None, allow_pickle=False))
    return loaded


def cached_arrays(name: str, config: dict, compute: Callable[[], dict], **kw) -> dict:
    """Cache a dict of numpy arrays (embeddings, scores, probe sets), one .npy each, read back by
    :func:`load_arrays` (large ones memory-mapped)."""
    return load_arrays(cached(name, config, lambda d: _save_arrays(d, compute()), **kw))


def memo_array(name: str, key: dict, compute: Callable[[], object], *, freeze: bool = False, **kw):
    """Cache one numpy array (embeddings, reconstructions) under a key of arrays, modules, tables and
    values, digested by content as in :func:`memo`; stored as .npy (no pickle, large ones memory-mapped).

    ``freeze=True`` returns it read-only with its content digest known (lib.fingerprint.freeze), the digest
    kept in the artifact beside the array (``digest.json``, written once, so it lives and dies with what it
    describes): a large result that later computations key on (05's reconstructed probe sets, ~56 MB each,
    keyed by the embeddings memo) is then hashed once instead of on every warm run."""
    from lib import fingerprint

    k = fingerprint.digest(key)
    (stored,) = cached_arrays(name, k, lambda: {"x": compute()}, **kw).values()  # the one array
    if freeze:
        known = artifact_dir(name, k) / "digest.json"
        if not known.is_file():  # first load of this artifact: hash what was stored, once
            atomic.write_json(known, {"x": fingerprint.array_digest(stored)})
        fingerprint.freeze(stored, atomic.read_json(known)["x"])
    return stored


def memo(name: str, key: dict, compute: Callable[[], object], **kw):
    """Cache any picklable result of ``compute()`` under a key of arrays, modules, tables and values.

    The key goes through :func:`lib.fingerprint.digest` (content hashes), so the result is reused
    only for equal inputs; put a ``version`` in ``key`` and bump it when ``compute``'s code changes.
    Used for evaluations that are pure functions of cached models and data (a warm ``make paper``
    then only reads them back).
    """
    import pickle

    from lib.fingerprint import digest

    def build(d: Path) -> None:
        with open(d / "value.pkl", "wb") as f:
            pickle.dump(compute(), f, protocol=pickle.HIGHEST_PROTOCOL)

    out = cached(name, digest(key), build, **kw)
    with open(out / "value.pkl", "rb") as f:
        return pickle.load(f)  # noqa: S301 -- written by this function into the local run cache


def memoized(name: str, version: int = 1):
    """Decorator: the function gains a keyword ``cache``; with ``cache=True`` its result is kept
    under runs/<name>/ by :func:`memo`, keyed by the content of every argument and ``version``
    (bump it when the function's code changes). Without ``cache`` it is the plain function.
    """
    import functools

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, cache: bool = False, **kwargs):
            if not cache:
                return fn(*args, **kwargs)
            key = {"function": f"{fn.__module__}.{fn.__qualname__}", "version": version,
                   "args": list(args), "kwargs": kwargs}
            return memo(name, key, lambda: fn(*args, **kwargs))

        return wrapper

    return decorate
