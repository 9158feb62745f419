"""Paired tests: is method B better than method A on the SAME items? Pure numpy/scipy functions.

Two methods scored on the same pairs or persons differ by much less than either varies from one test
set to another, so their gap is judged on the paired outcomes:

- :func:`paired_bootstrap`: the mean of B's per-item outcome minus A's (e.g. TAR: genuine pairs
  accepted), with a percentile interval from resampling GROUPS (persons) with replacement. Pairs of
  one person are not independent; resampling persons keeps them together.
- :func:`mcnemar`: the exact McNemar test of two classifiers' right/wrong decisions on the same
  items (verification accuracy): only the discordant items count, and under "no difference" each of
  them is as likely to favour A as B (a binomial test with p = 1/2).
- :func:`replicated`: one verdict from the same test run on several trainings (seeds) of the models:
  resolved only when every seed resolves the same direction (the intersection-union test).
"""

from __future__ import annotations

import numpy as np


def paired_bootstrap(a, b, groups, *, n: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean of ``b - a`` over items, with a ``level`` percentile interval over ``n`` resamples of the groups.

    Args:
        a, b: per-item outcomes (bool or float, same shape (N,)) of the two methods on the same items.
        groups: (N,) group label of each item (the person); resampling draws groups, all their items.
    Returns {"diff", "lo", "hi", "p", "n_groups"}: the observed difference of the means (ratio
    estimator: items of the drawn groups pooled), the interval, and a two-sided bootstrap p-value
    (twice the smaller share of resampled differences on either side of 0; 1/n at best).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"a and b must be non-empty 1-D arrays of one shape; got {a.shape} and {b.shape}")
    if not 0 < level < 1 or n < 1:
        raise ValueError(f"level must be in (0, 1) and n >= 1; got {level}, {n}")
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    if g.shape != a.shape:
        raise ValueError(f"groups must have one label per item ({len(a)}); got shape {np.shape(groups)}")
    k = int(g.max()) + 1
    sa, sb, cnt = (np.bincount(g, weights=w, minlength=k) for w in (a, b, np.ones_like(a)))
    rng = np.random.default_rng(seed)
    w = rng.multinomial(k, np.full(k, 1.0 / k), size=n).astype(np.float64)  # (n, k) draws per group
    tot = w @ cnt
    d = (w @ sb - w @ sa) / np.maximum(tot, 1e-12)
    alpha = (1 - level) / 2
    p = min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0)))
    return {"diff": float(b.mean() - a.mean()), "lo": float(np.quantile(d, alpha)), "hi": float(np.quantile(d, 1 - alpha)),
            "p": float(max(p, 1.0 / n)), "n_groups": k}


def mcnemar(correct_a, correct_b) -> dict:
    """Exact McNemar test of two methods' correct/incorrect decisions on the same items.

    Returns {"a_only", "b_only", "p", "diff"}: the items only A (only B) got right, the two-sided exact
    binomial p-value of the discordant split, and the accuracy difference B - A."""
    from scipy.stats import binomtest

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"correct_a and correct_b must be non-empty 1-D arrays of one shape; got {a.shape} and {b.shape}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(b & ~a))
    p = 1.0 if a_only + b_only == 0 else float(binomtest(b_only, a_only + b_only, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p": p, "diff": float(b.mean() - a.mean())}


def replicated(tests, by, *, seed_col: str = "seed", alpha: float = 0.05):
    """One verdict per comparison tested on several trainings (seeds) of the same models.

    A paired test on one training says whether the two MODELS differ on these items; whether the METHODS
    differ also depends on the training's own noise, which only a retraining shows. Here a difference is
    called resolved only when every seed resolves it in the same direction: the intersection-union test,
    whose p-value is the largest of the seeds' p-values (set to 1 when the seeds' differences do not all
    share one sign), so it is below ``alpha`` exactly when each seed's test is.

    Args:
        tests: long table with the ``by`` columns, ``seed_col``, ``diff`` (method minus reference) and ``p``,
            one row per comparison and seed (e.g. :func:`mcnemar` results of each seed's models).
        by: the columns that name one comparison (e.g. ``["head", "augmentation", "condition"]``).
    Returns one row per comparison: the ``by`` columns, ``diff`` (mean over the seeds), ``diff_s<seed>`` and
    ``p_s<seed>`` (each seed's own), ``seeds``, ``p`` (the intersection-union p-value) and ``verdict``:
    ``"better"``/``"worse"`` (p < alpha) or ``"not resolved"``; a comparison resolved by some seeds only is
    ``"not resolved"`` too, and its per-seed p-values show it.
    """
    import pandas as pd

    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by, seed_col, "diff", "p"] if c not in tests.columns]
    if missing:
        raise ValueError(f"tests lack the column(s) {missing}; they have {list(tests.columns)}")
    if tests.duplicated([*by, seed_col]).any():
        raise ValueError(f"tests have more than one row for a comparison and {seed_col}")
    rows = []
    for key, g in tests.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        d, p = g["diff"].to_numpy(float), g["p"].to_numpy(float)
        same_sign = bool(np.all(d > 0) or np.all(d < 0))
        p_iut = float(p.max()) if same_sign else 1.0
        row = dict(zip(by, key), diff=float(d.mean()), seeds=len(g), p=p_iut,
                   verdict="not resolved" if p_iut >= alpha else ("better" if d[0] > 0 else "worse"))
        row |= {f"diff_s{s}": float(v) for s, v in zip(g[seed_col], d)}
        row |= {f"p_s{s}": float(v) for s, v in zip(g[seed_col], p)}
        rows.append(row)
    return pd.DataFrame(rows)
