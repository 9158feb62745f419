"""The companion's directories. Each one can be moved with an environment variable.

| function          | default                      | override          |
|-------------------|------------------------------|-------------------|
| repo_root()       | the checkout holding lib/    | FACEAUG_ROOT      |
| data_dir()        | <root>/data                  | FACEAUG_DATA      |
| runs_dir()        | <root>/runs                  | FACEAUG_RUNS      |
| figures_dir(p)    | <root>/figures (default),    | FACEAUG_FIGURES   |
|                   | <root>/figures/full (full),  |                   |
|                   | <root>/build/<p>/figures     |                   |
|                   | (smoke, rehearsal)           |                   |
| build_dir()       | <root>/build                 | FACEAUG_BUILD     |
| notebooks_dir()   | <root>/notebooks             |                   |

The smoke and rehearsal profiles write their figures under build/, so ``make test`` never
overwrites the committed default-profile figures.
"""

from __future__ import annotations

import os
from pathlib import Path

PROFILES = ("smoke", "default", "full", "rehearsal")
# The profiles whose figures are build outputs (run by ``make test``), never committed.
BUILD_PROFILES = ("smoke", "rehearsal")


def _env_path(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else None


def repo_root() -> Path:
    return _env_path("FACEAUG_ROOT") or Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return _env_path("FACEAUG_DATA") or repo_root() / "data"


def runs_dir() -> Path:
    return _env_path("FACEAUG_RUNS") or repo_root() / "runs"


def build_dir() -> Path:
    return _env_path("FACEAUG_BUILD") or repo_root() / "build"


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


def figures_dir(profile: str = "default") -> Path:
    """Where figures, metrics/ and MANIFEST.json of ``profile`` go."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {PROFILES}")
    override = _env_path("FACEAUG_FIGURES")
    if override:
        return override
    if profile in BUILD_PROFILES:
        return build_dir() / profile / "figures"
    if profile == "full":
        return repo_root() / "figures" / "full"
    return repo_root() / "figures"
