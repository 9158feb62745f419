"""Face verification on pairs: scores, the 10-fold LFW protocol, ROC, EER, TAR@FAR.

Convention throughout: a pair is declared "same person" when ``score > threshold``
(scores are cosine similarities, higher = more alike). A score equal to the threshold is
therefore rejected; FAR, TAR and accuracies below all use this one rule.

The LFW protocol (``lfw_protocol``) follows the low-res thesis (docs/lowres.md), which
evaluates with FaceX-Zoo's ``test_protocol/lfw/lfw_evaluator.py``:

- 10 folds; for each test fold the threshold is chosen on the 9 other folds by
  maximising TPR - FPR over 1000 thresholds ``min + (max - min) / 1000 * k``,
  k = 1..1000, where min/max are the extreme scores of those 9 folds (FaceX-Zoo's
  ``getThreshold``; pass ``threshold_range=(-1, 1)`` for a fixed cosine grid instead);
  ties go to the lowest threshold (``np.argmax``);
- the accuracy on the test fold at that threshold; reported as the mean over folds and
  ``std(ddof=1) / sqrt(n_folds)`` (FaceX-Zoo's "standard error", ddof=1 as there).

Differences from FaceX-Zoo, both only on exact score ties: FaceX-Zoo counts a test score
equal to the threshold as an error for both classes, here it is "different"; FaceX-Zoo
divides by 600, here by the fold size (600 on LFW).

``criterion="accuracy"`` is insightface's ``eval/verification.py`` variant: the threshold
maximises accuracy on the 9 folds. insightface scans squared L2 distances
``np.arange(0, 4, 0.01)`` between unit embeddings, i.e. cosine thresholds
``1 - d / 2``; ``threshold_range=(-0.995, 1.0), n_thresholds=400`` reproduces that grid
(insightface breaks ties towards the highest cosine threshold, here the lowest).
"""

from __future__ import annotations

import numpy as np

CRITERIA = ("tpr_minus_fpr", "accuracy")
DEFAULT_FARS = (1e-1, 1e-2, 1e-3)


# ---------------------------------------------------------------------------- inputs
def _scores_same(scores, same):
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(same)
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise ValueError("same must be boolean or 0/1")
        y = y.astype(bool)
    y = y.ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores ({s.size}) and same ({y.size}) differ in length")
    if s.size == 0:
        raise ValueError("no pairs")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    return s, y


def _both_classes(y, what="pairs"):
    if y.all() or not y.any():
        raise ValueError(f"{what} need both genuine and impostor pairs "
                         f"({int(y.sum())} genuine, {int((~y).sum())} impostor)")


def _fold_ids(folds, n: int) -> np.ndarray:
    """An int k -> k contiguous folds (sklearn KFold(shuffle=False) sizes); else an array."""
    if np.isscalar(folds):
        k = int(folds)
        if k < 2 or k > n:
            raise ValueError(f"need 2 <= folds <= number of pairs ({n}), got {k}")
        sizes = np.full(k, n // k)
        sizes[: n % k] += 1
        return np.repeat(np.arange(k), sizes)
    f = np.asarray(folds).ravel()
    if f.size != n:
        raise ValueError(f"folds has {f.size} entries for {n} pairs")
    if np.unique(f).size < 2:
        raise ValueError("need at least 2 distinct folds")
    return f


# ---------------------------------------------------------------------------- scores
def pair_scores(emb_a, emb_b, eps: float = 1e-12) -> np.ndarray:
    """Cosine similarity of row i of ``emb_a`` with row i of ``emb_b`` (rows L2-normalised,
    norms clamped at ``eps`` so a zero vector scores 0)."""
    a = np.asarray(emb_a, dtype=np.float64)
    b = np.asarray(emb_b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"emb_a and emb_b must be (n, d) arrays of one shape, got {a.shape} and {b.shape}")
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), eps)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), eps)
    return np.einsum("ij,ij->i", a, b)


def accuracy_at_threshold(scores, same, threshold: float) -> float:
    """Share of pairs decided correctly by ``score > threshold``."""
    s, y = _scores_same(scores, same)
    return float(np.mean((s > threshold) == y))


def far_frr_at_threshold(scores, same, threshold: float) -> tuple[float, float]:
    """(FAR, FRR): impostor pairs with ``score > threshold``, genuine pairs with ``score <= threshold``."""
    s, y = _scores_same(scores, same)
    _both_classes(y)
    return float(np.mean(s[~y] > threshold)), float(np.mean(s[y] <= threshold))


# ---------------------------------------------------------------------------- LFW protocol
def _grid(train: np.ndarray, n_thresholds: int, threshold_range) -> np.ndarray:
    if threshold_range is None:  # FaceX-Zoo: (min, max] of the training scores
        lo, hi = train.min(), train.max()
        return lo + (hi - lo) / n_thresholds * np.arange(1, n_thresholds + 1)
    lo, hi = threshold_range
    return np.linspace(lo, hi, n_thresholds)


def _above(sorted_scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of ``sorted_scores`` are > each threshold."""
    return sorted_scores.size - np.searchsorted(sorted_scores, thresholds, side="right")


def best_threshold(scores, same, n_thresholds: int = 1000, *, criterion: str = "tpr_minus_fpr",
                   threshold_range=None) -> float:
    """The threshold on a grid that maximises ``criterion`` on these pairs (first one on ties).

    Args:
        scores, same: pair scores and same-person flags.
        n_thresholds: grid size.
        criterion: "tpr_minus_fpr" (FaceX-Zoo) or "accuracy" (insightface).
        threshold_range: None for FaceX-Zoo's grid over the scores' (min, max]; else
            (lo, hi) for ``np.linspace(lo, hi, n_thresholds)``.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if n_thresholds < 1:
        raise ValueError("n_thresholds must be >= 1")
    s, y = _scores_same(scores, same)
    _both_classes(y, "threshold selection")
    grid = _grid(s, n_thresholds, threshold_range)
    tp = _above(np.sort(s[y]), grid)
    fp = _above(np.sort(s[~y]), grid)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if criterion == "tpr_minus_fpr":
        objective = tp / n_pos - fp / n_neg
    else:
        objective = (tp + (n_neg - fp)) / s.size
    return float(grid[int(np.argmax(objective))])


def lfw_protocol(scores, same, folds=10, n_thresholds: int = 1000, *, criterion: str = "tpr_minus_fpr",
                 threshold_range=None) -> dict:
    """k-fold verification accuracy with the threshold chosen on the other folds.

    Args:
        scores: (n,) pair scores (cosine similarities).
        same: (n,) booleans, True for a genuine pair.
        folds: (n,) fold id of each pair (LFW pairs.txt: ``index // 600``), or an int k for
            k contiguous folds in pair order (insightface's ``KFold(shuffle=False)``).
        n_thresholds: thresholds scanned on the training folds (1000 in the thesis).
        criterion: "tpr_minus_fpr" (FaceX-Zoo, the thesis) or "accuracy" (insightface).
        threshold_range: None for FaceX-Zoo's grid over the training scores' (min, max];
            (lo, hi) for ``np.linspace(lo, hi, n_thresholds)``.

    Returns:
        dict with ``acc`` (mean test-fold accuracy), ``acc_se`` (std(ddof=1)/sqrt(k), the
        thesis' "±"), ``acc_std``, ``fold_acc`` and ``fold_threshold`` (arrays in sorted
        fold order), ``folds`` (the fold ids), ``threshold_mean``, ``criterion``, ``n_folds``, and
        ``correct`` ((n,) bool: each pair's decision at its fold's threshold was right; what a paired test
        of two models on the same pairs compares, lib.evaluation.paired.mcnemar).
    """
    s, y = _scores_same(scores, same)
    f = _fold_ids(folds, s.size)
    ids = np.unique(f)
    correct = np.zeros(s.size, bool)
    accs, thresholds = [], []
    for fold in ids:
        test = f == fold
        if not (~test)[y].any() or not (~test)[~y].any():
            raise ValueError(f"the folds other than {fold!r} lack genuine or impostor pairs")
        t = best_threshold(s[~test], y[~test], n_thresholds, criterion=criterion,
                           threshold_range=threshold_range)
        thresholds.append(t)
        correct[test] = (s[test] > t) == y[test]
        accs.append(np.mean(correct[test]))
    accs = np.asarray(accs)
    std = float(np.std(accs, ddof=1))
    return {"acc": float(accs.mean()), "acc_se": std / np.sqrt(ids.size), "acc_std": std,
            "fold_acc": accs, "fold_threshold": np.asarray(thresholds), "folds": ids,
            "threshold_mean": float(np.mean(thresholds)), "criterion": criterion, "n_folds": int(ids.size),
            "correct": correct}


# ---------------------------------------------------------------------------- ROC family
def roc(scores, same, drop_intermediate: bool = True):
    """(fpr, tpr, thresholds) from ``sklearn.metrics.roc_curve`` (thresholds[0] is inf)."""
    from sklearn.metrics import roc_curve

    s, y = _scores_same(scores, same)
    _both_classes(y)
    return roc_curve(y, s, drop_intermediate=drop_intermediate)


def auc(scores, same) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``)."""
    from sklearn.metrics import roc_auc_score

    s, y = _scores_same(scores, same)
    _both_classes(y)
    return float(roc_auc_score(y, s))


def eer(scores, same, return_threshold: bool = False):
    """Equal error rate: FAR = FRR (= 1 - TPR), linearly interpolated between the two ROC
    points where FRR - FAR changes sign. With ``return_threshold``: (eer, threshold), the
    threshold interpolated likewise between the thresholds of the two points, in this
    module's ``score > t`` convention (sklearn's ROC point for ``score >= s_i`` is
    ``score > s_(i+1)``, the next lower distinct score), so that with perfectly separated
    scores the EER threshold is the highest impostor score."""
    fpr, tpr, thr = roc(scores, same, drop_intermediate=False)
    thr = np.r_[thr[1:], np.nextafter(thr[-1], -np.inf)]
    diff = (1 - tpr) - fpr  # 1 at the origin, -1 at (1, 1), non-increasing
    i = int(np.argmax(diff <= 0))
    if diff[i] == 0 or i == 0:
        value, t = float(fpr[i]), float(thr[i])
    else:
        w = diff[i - 1] / (diff[i - 1] - diff[i])
        value = float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))
        t = float(thr[i - 1] + w * (thr[i] - thr[i - 1]))
    return (value, t) if return_threshold else value


def _far_count(far: float, n_neg: int) -> int:
    """The largest k with k / n_neg <= far (floating point checked both ways)."""
    k = int(np.floor(far * n_neg))
    if (k + 1) / n_neg <= far:
        k += 1
    while k > 0 and k / n_neg > far:
        k -= 1
    return k


def threshold_at_far(neg: np.ndarray, far: float, floor: float | None = None) -> float:
    """The threshold of :func:`tar_at_far` for impostor scores ``neg`` (1-D) and a target ``far``.

    With n impostors at most k = floor(FAR * n) may be accepted: the threshold is the (k+1)-th
    highest impostor score (found by a partial sort), so ``score > threshold`` accepts at most k.
    NaN with fewer than 1 / FAR impostors; with k = n (FAR = 1), just below ``floor`` (default the
    lowest impostor score; pass the lowest of all scores to accept every pair).
    """
    far = float(far)
    if not 0 < far <= 1:
        raise ValueError(f"target FAR must lie in (0, 1], got {far}")
    k = _far_count(far, neg.size) if neg.size else 0
    if k == 0:  # fewer than 1 / far impostor pairs
        return np.nan
    if k >= neg.size:  # FAR = 1: accept everything
        low = neg.min() if floor is None else min(floor, neg.min())
        return float(np.nextafter(low, -np.inf))
    return float(np.partition(neg, neg.size - 1 - k)[neg.size - 1 - k])


def tar_at_far(scores, same, fars=DEFAULT_FARS) -> dict:
    """TAR at target FARs, the threshold set from the impostor scores alone (:func:`threshold_at_far`).

    For a target FAR with n impostor pairs at most k = floor(FAR * n) may be accepted: the
    threshold is the (k+1)-th highest impostor score, so that ``score > threshold`` accepts
    at most k impostors (fewer on ties) and the FAR obtained never exceeds the target.
    With fewer than 1 / FAR impostor pairs the target cannot be resolved: the point is NaN
    with ``enough_impostors=False`` (never a silently optimistic value).

    Returns:
        {far: {"tar", "threshold", "far" (obtained), "n_impostor", "enough_impostors"}}.
    """
    s, y = _scores_same(scores, same)
    _both_classes(y)
    neg, pos = s[~y], s[y]
    out = {}
    for far in fars:
        far = float(far)
        t = threshold_at_far(neg, far, floor=s.min())
        if np.isnan(t):
            out[far] = {"tar": np.nan, "threshold": np.nan, "far": np.nan,
                        "n_impostor": int(neg.size), "enough_impostors": False}
            continue
        out[far] = {"tar": float(np.mean(pos > t)), "threshold": t, "far": float(np.mean(neg > t)),
                    "n_impostor": int(neg.size), "enough_impostors": True}
    return out


def far_key(far: float) -> str:
    return f"{far:.0e}".replace("e-0", "e-")


def verification_report(scores, same, folds=10, fars=DEFAULT_FARS, n_thresholds: int = 1000,
                        criterion: str = "tpr_minus_fpr") -> dict:
    """Every verification number in one flat dict (one table row per model / resolution).

    Keys: n_pairs, n_genuine, n_impostor; acc, acc_se, acc_std, threshold_mean (the
    k-fold protocol; skipped when ``folds`` is None); auc; eer, eer_threshold; and per
    target FAR (``1e-2`` style): ``tar@far=1e-2``, ``far@far=1e-2`` (obtained),
    ``threshold@far=1e-2``, ``enough@far=1e-2``.
    """
    s, y = _scores_same(scores, same)
    _both_classes(y)
    out = {"n_pairs": int(s.size), "n_genuine": int(y.sum()), "n_impostor": int((~y).sum())}
    if folds is not None:
        proto = lfw_protocol(s, y, folds, n_thresholds, criterion=criterion)
        out.update({k: proto[k] for k in ("acc", "acc_se", "acc_std", "threshold_mean")})
    out["auc"] = auc(s, y)
    out["eer"], out["eer_threshold"] = eer(s, y, return_threshold=True)
    for far, r in tar_at_far(s, y, fars).items():
        key = far_key(far)
        out[f"tar@far={key}"] = r["tar"]
        out[f"far@far={key}"] = r["far"]
        out[f"threshold@far={key}"] = r["threshold"]
        out[f"enough@far={key}"] = r["enough_impostors"]
    return out


# ---------------------------------------------------------------------------- pair lists
def _sample_unique(rng, pool, quota: int, what: str) -> np.ndarray:
    """``quota`` distinct (a, b) index pairs with a < b from ``pool`` (_Genuine/_Impostor).

    Draws (person first, then images: every person is equally likely, whatever their
    number of images) with duplicates rejected; when the pairs are few compared with the
    quota, or rejection stalls (a few people hold most of the pairs), the remaining pairs
    are drawn from the full enumeration instead."""
    if quota > pool.total:
        raise ValueError(f"{what}: {quota} pairs requested but only {pool.total} distinct ones exist")
    if quota == 0:
        return np.empty((0, 2), dtype=np.int64)
    seen: dict = {}
    if pool.total > 4 * quota:
        for _ in range(20):
            for a, b in pool.draw(rng, 2 * (quota - len(seen)) + 8):
                seen.setdefault((min(a, b), max(a, b)), None)
                if len(seen) == quota:
                    return np.asarray(list(seen), dtype=np.int64).reshape(-1, 2)
    if len(seen) < quota:
        rest = pool.enumerate()
        if seen:
            taken = np.asarray(list(seen), dtype=np.int64)
            rest = rest[~np.isin(rest[:, 0] * (rest.max() + 1) + rest[:, 1],
                                 taken[:, 0] * (rest.max() + 1) + taken[:, 1])]
        pick = rest[np.sort(rng.choice(len(rest), size=quota - len(seen), replace=False))]
        seen.update(dict.fromkeys(map(tuple, pick.tolist())))
    return np.asarray(list(seen), dtype=np.int64).reshape(-1, 2)


class _Genuine:
    def __init__(self, groups):
        self.groups = [g for g in groups if len(g) >= 2]
        self.total = sum(len(g) * (len(g) - 1) // 2 for g in self.groups)

    def enumerate(self):
        rows = [np.stack(np.triu_indices(len(g), 1), 1) for g in self.groups]
        return np.concatenate([g[r] for g, r in zip(self.groups, rows)]) if rows else np.empty((0, 2), int)

    def draw(self, rng, m):
        for gi in rng.integers(len(self.groups), size=m):
            g = self.groups[gi]
            i, j = rng.choice(len(g), size=2, replace=False)
            yield int(g[i]), int(g[j])


class _Impostor:
    def __init__(self, groups):
        self.groups = groups
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        self.total = int((sizes.sum() ** 2 - (sizes ** 2).sum()) // 2)

    def enumerate(self):
        out = []
        for i, gi in enumerate(self.groups):
            for gj in self.groups[i + 1:]:
                a, b = np.meshgrid(gi, gj, indexing="ij")
                out.append(np.stack([np.minimum(a, b).ravel(), np.maximum(a, b).ravel()], 1))
        return np.concatenate(out) if out else np.empty((0, 2), int)

    def draw(self, rng, m):
        for _ in range(m):
            i, j = rng.choice(len(self.groups), size=2, replace=False)
            yield int(rng.choice(self.groups[i])), int(rng.choice(self.groups[j]))


def pair_structure(ids, pairs) -> dict:
    """How many persons an LFW-style pair list really compares: ``persons`` (in any pair), ``folds``,
    ``persons_per_fold`` (the fewest in a fold) and ``impostor_person_pairs`` (distinct pairs of persons among the
    impostor pairs). Folds hold disjoint persons (as LFW's) and impostor pairs stay inside a fold, so with few
    persons every impostor pair of a fold compares the same few persons: 16 persons in 8 folds give only 8
    person pairs, and the accuracy measures those 8 (``ids``: the person of every image row of the pairs)."""
    ids = np.asarray(ids)
    a, b, fold = np.asarray(pairs["a"]), np.asarray(pairs["b"]), np.asarray(pairs["fold"])
    imp = ~np.asarray(pairs["same"]).astype(bool)
    pa, pb = ids[a[imp]], ids[b[imp]]
    person_pairs = {(x, y) if x <= y else (y, x) for x, y in zip(pa.tolist(), pb.tolist())}
    per_fold = [np.unique(ids[np.concatenate([a[fold == f], b[fold == f]])]).size for f in np.unique(fold)]
    return {"persons": int(np.unique(ids[np.concatenate([a, b])]).size), "folds": len(per_fold),
            "persons_per_fold": int(min(per_fold)), "impostor_person_pairs": len(person_pairs)}


def make_pairs(identities, n_genuine: int, n_impostor: int, rng: np.random.Generator, folds: int = 10) -> dict:
    """LFW-style pair lists (View 2) from a label array, deterministic for a given ``rng``.

    Identities are shared out over ``folds`` folds (no person in two folds, as in LFW);
    each fold gets ``n_genuine / folds`` genuine pairs (two images of one person) and
    ``n_impostor / folds`` impostor pairs (two people), remainders going to the first
    folds. Pairs are distinct within and across folds, never an image with itself, and are
    listed fold by fold, genuine first, with a < b.

    Args:
        identities: (n_images,) identity label per image (ints or strings).
        n_genuine, n_impostor: total pairs of each kind.
        rng: ``np.random.default_rng(seed)``.
        folds: number of folds (1 for a single list).

    Returns:
        dict of (n_pairs,) arrays: ``a``, ``b`` (image indices), ``same`` (bool), ``fold``.

    Raises:
        ValueError: when a fold cannot get its pairs, e.g. every identity has a single
            image (no genuine pair), or too few identities for the folds.
    """
    labels = np.asarray(identities).ravel()
    if labels.size == 0:
        raise ValueError("no identities given")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy Generator (np.random.default_rng(seed))")
    folds = int(folds)
    if folds < 1 or n_genuine < 0 or n_impostor < 0:
        raise ValueError("folds must be >= 1 and pair counts >= 0")
    uniq, inverse = np.unique(labels, return_inverse=True)
    groups = [np.flatnonzero(inverse == k) for k in range(uniq.size)]
    multi = [k for k, g in enumerate(groups) if len(g) >= 2]
    if n_genuine > 0 and not multi:
        raise ValueError("no genuine pair possible: every identity has a single image")
    if folds > uniq.size:
        raise ValueError(f"{folds} folds need at least {folds} identities, got {uniq.size}")
    # Share identities out: those with >= 2 images and singletons separately, so that
    # every fold gets its share of both.
    single = [k for k, g in enumerate(groups) if len(g) < 2]
    fold_of = np.empty(uniq.size, dtype=np.int64)
    for subset in (multi, single):
        order = rng.permutation(np.asarray(subset, dtype=np.int64))
        fold_of[order] = np.arange(order.size) % folds
    quota_g = np.full(folds, n_genuine // folds) + (np.arange(folds) < n_genuine % folds)
    quota_i = np.full(folds, n_impostor // folds) + (np.arange(folds) < n_impostor % folds)
    a, b, same, fold = [], [], [], []
    for f in range(folds):
        fgroups = [groups[k] for k in np.flatnonzero(fold_of == f)]
        gen, imp = _Genuine(fgroups), _Impostor(fgroups)
        pg = _sample_unique(rng, gen, int(quota_g[f]),
                            f"fold {f} genuine ({len(gen.groups)} identities with >= 2 images)")
        pi = _sample_unique(rng, imp, int(quota_i[f]),
                            f"fold {f} impostor ({len(fgroups)} identities)")
        for p, flag in ((pg, True), (pi, False)):
            a.append(p[:, 0]), b.append(p[:, 1])
            same.append(np.full(len(p), flag)), fold.append(np.full(len(p), f))
    return {"a": np.concatenate(a).astype(np.int64), "b": np.concatenate(b).astype(np.int64),
            "same": np.concatenate(same).astype(bool), "fold": np.concatenate(fold).astype(np.int64)}
