"""Provenance of outputs: git commit, config hashes, timestamps."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import subprocess

from lib import paths


def config_hash(config, length: int = 12) -> str:
    """Stable short sha256 of a JSON-able config (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=_jsonable, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def _jsonable(obj):
    import pathlib

    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot hash config value of type {type(obj).__name__}: {obj!r}")


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD commit of the checkout, with '-dirty' if tracked files changed; 'unknown' outside git."""
    root = paths.repo_root()
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10)
        if head.returncode:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=30)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
