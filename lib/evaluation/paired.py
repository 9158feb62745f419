"""Paired tests: is method B better than method A on the SAME items? Pure numpy/scipy functions.

Two methods scored on the same pairs or persons differ by much less than either varies from one test
set to another, so their gap is judged on the paired outcomes:

- :func:`paired_bootstrap`: the mean of B's per-item outcome minus A's (e.g. TAR: genuine pairs
  accepted), with a percentile interval from resampling GROUPS (persons) with replacement. Pairs of
  one person are not independent; resampling persons keeps them together.
- :func:`mcnemar`: the exact McNemar test of two classifiers' right/wrong decisions on the same
  items (verification accuracy): only the discordant items count, and under "no difference" each of
  them is as likely to favour A as B (a binomial test with p = 1/2).
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
