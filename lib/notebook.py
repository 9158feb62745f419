"""What every notebook does first and last: ``begin`` (parameters, seeds, context) and
``summary`` (print the key numbers rounded, write figures/metrics/<notebook>.json).

Introduced by notebooks/00_data_prep.ipynb; used by every notebook::

    run = lib.notebook.begin("00_data_prep", globals())   # after the parameters cell
    ...
    run.summary({"detect.yunet.rate": 0.93, ...})          # the cell nbval checks
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from lib import io as atomic
from lib import figures, paths, profiles, provenance, seeding



@dataclass
class NotebookRun:
    name: str
    profile: str
    params: dict = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.params.get("seed", 0))

    @property
    def params_hash(self) -> str:
        return provenance.config_hash(self.params)

    @property
    def figures_dir(self) -> Path:
        return paths.figures_dir(self.profile)

    @property
    def metrics_path(self) -> Path:
        return self.figures_dir / "metrics" / f"{self.name}.json"

    def save_figure(self, fig, name: str) -> None:
        """Save through :func:`lib.figures.save`. Returns None on purpose: a notebook's last
        expression is printed, and a path of this machine must not land in committed outputs."""
        figures.save(fig, name, run=self)

    def summary(self, metrics: dict, digits: int = 3) -> dict:
        """Print ``metrics`` rounded, one per line in sorted order, and write them as JSON.

        Keys are dotted names; values must be finite numbers (a NaN is a bug upstream,
        so it is an error here rather than a silently missing number).
        """
        flat = {}
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "item"):
                raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}")
            value = float(value.item() if hasattr(value, "item") else value)
            if not math.isfinite(value):
                raise ValueError(f"metric {key!r} is {value}; fix the computation that produced it")
            flat[key] = round(value, digits)
        atomic.write_json(self.metrics_path, flat)
        width = max((len(k) for k in flat), default=0)
        for key in sorted(flat):
            print(f"{key:<{width}}  {flat[key]:.{digits}f}")
        return flat

    def conclude(self, paragraphs) -> None:
        """Show the notebook's conclusion: Markdown paragraphs whose numbers the calling cell computed
        from this run's results (so the prose cannot drift from the numbers)."""
        from IPython.display import Markdown, display

        display(Markdown("\n\n".join(paragraphs)))


def begin(name: str, namespace: dict) -> NotebookRun:
    """Start notebook ``name``: collect its parameters from ``namespace`` (the notebook's
    globals), seed everything with ``seed``, and return the run (``run.save_figure``, ``run.summary``).

    In the smoke profile tqdm progress bars are disabled so nbval outputs stay stable.
    """
    import warnings

    # tqdm.auto (imported by third-party packages such as timm's hub code) warns once per kernel
    # that ipywidgets is missing; progress bars are off in executed notebooks anyway.
    warnings.filterwarnings("ignore", message="IProgress not found")
    declared = profiles.notebook_parameters(name)
    missing = sorted(k for k in declared if k not in namespace)
    if missing:
        raise NameError(f"{name}: parameters {missing} are declared but not defined; run the parameters cell first")
    params = {k: namespace[k] for k in declared}
    profile = params.get("profile", "default")
    if profile not in paths.PROFILES:
        raise ValueError(f"{name}: unknown profile {profile!r}; choose from {paths.PROFILES}")
    if profile in paths.BUILD_PROFILES:
        os.environ["TQDM_DISABLE"] = "1"
    if "seeds" in params:
        _check_seeds(name, params["seeds"], params.get("seed", 0))
    seeding.seed_everything(int(params.get("seed", 0)))
    return NotebookRun(name=name, profile=profile, params=params)


def _check_seeds(name: str, seeds, seed) -> None:
    """A replicated notebook's ``seeds``: distinct integers, the first its own ``seed`` (the models the other
    notebooks share; the others are retrainings)."""
    ok = isinstance(seeds, (list, tuple)) and len(seeds) > 0 and all(isinstance(s, int) and not isinstance(s, bool)
                                                                      for s in seeds)
    if not ok or seeds[0] != seed or len(set(seeds)) != len(seeds):
        example = [seed, seed + 1] if isinstance(seed, int) else [0, 1]
        raise ValueError(f"{name}: seeds={seeds!r} must be a list of distinct integers whose first is seed={seed!r} "
                         f"(the notebook's own models; the others retrain them), e.g. {example}")
