"""Results of several trainings (seeds) of the same models, averaged into one.

A notebook that retrains its models with other seeds evaluates each training on the same test items and
reports the mean; its paired tests stay per seed (lib.evaluation.paired.replicated turns them into one
verdict)."""

from __future__ import annotations

import numbers

import numpy as np


def mean_of_runs(runs):
    """The mean of results that share one nested structure (dicts, possibly nested, of numbers).

    Every number is averaged over the runs; a key whose value is not a number in every run (per-item arrays,
    decision strings, ...) is left out, as it has no meaningful mean. Keys must be the same in every run:
    a key missing from one run is an error naming it, never an average over fewer runs.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("mean_of_runs needs at least one run")
    if all(isinstance(r, dict) for r in runs):
        keys = list(runs[0])
        for i, r in enumerate(runs[1:], 1):
            if set(r) != set(keys):
                raise ValueError(f"run {i} has keys {sorted(set(r) ^ set(keys), key=str)} that run 0 does not share")
        out = {}
        for k in keys:
            v = mean_of_runs([r[k] for r in runs])
            if v is not None:
                out[k] = v
        return out
    if all(isinstance(r, numbers.Real) and not isinstance(r, bool) for r in runs):
        return float(np.mean(runs))
    return None
