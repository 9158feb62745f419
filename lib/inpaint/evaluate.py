"""Evaluation of reconstructions (notebook 02_inpainting): image quality and recognition at a
threshold fixed on undamaged pairs. Pure numpy functions.

The paper's point is "recover accuracy while keeping a low FAR". So the verification threshold
is set ONCE per recogniser, on original-vs-original pairs at a target FAR (1e-2, 1e-3), and
then applied unchanged to original-vs-damaged and original-vs-reconstructed pairs (the same
image pairs, the second image replaced): the TAR shows what is recovered, the FAR actually
obtained shows whether the reconstruction also makes impostors look alike.
"""

from __future__ import annotations

import numpy as np

from lib import runcache
from lib.evaluation import quality, verification


@runcache.memoized("inpaint/quality_table")
def quality_table(reference, conditions: dict, masks) -> "pd.DataFrame":
    """Mean PSNR / SSIM of each condition's images against ``reference`` (uint8 (N, H, W, 3)),
    over the whole image and inside the damage mask. One row per condition."""
    import pandas as pd

    rows = []
    for name, images in conditions.items():
        rows.append({"condition": name,
                     "psnr": float(np.mean(quality.psnr_batch(reference, images))),
                     "ssim": float(np.mean(quality.ssim_batch(reference, images))),
                     "psnr_mask": float(np.mean(quality.psnr_batch(reference, images, masks))),
                     "ssim_mask": float(np.mean(quality.ssim_batch(reference, images, masks)))})
    return pd.DataFrame(rows).set_index("condition")


def all_pairs(identities) -> dict:
    """Every unordered pair (a < b) of a label array: {"a", "b", "same"}."""
    labels = np.asarray(identities)
    if labels.ndim != 1 or labels.size < 2:
        raise ValueError(f"identities must be a 1-D array of at least 2 labels; got shape {labels.shape}")
    a, b = np.triu_indices(labels.size, k=1)
    return {"a": a, "b": b, "same": labels[a] == labels[b]}


def person_pairs(meta, rows) -> dict:
    """Every pair of the images at ``rows`` (positions in ``meta``), genuine = same PERSON
    (lib.data.faceset.person_labels: a person's two sessions are one person, never an impostor pair);
    ``a``/``b`` index ``rows``."""
    from lib.data.faceset import person_labels

    return all_pairs(person_labels(meta)[np.asarray(rows)])


def _unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def condition_scores(reference_emb, condition_emb, pairs) -> np.ndarray:
    """Cosine of reference image a vs condition image b for every pair."""
    if np.shape(reference_emb) != np.shape(condition_emb):
        raise ValueError(f"embeddings differ in shape: {np.shape(reference_emb)} vs {np.shape(condition_emb)}")
    r, c = _unit(reference_emb), _unit(condition_emb)
    # one (N, N) product, then the pairs picked from it: all_pairs' N(N-1)/2 pairs would otherwise gather
    # two (pairs, D) copies (~4 GB for 1,000 images)
    return (r @ c.T)[np.asarray(pairs["a"]), np.asarray(pairs["b"])]


def fixed_threshold_report(reference_emb, conditions: dict, pairs, fars=(1e-2, 1e-3)) -> "pd.DataFrame":
    """TAR and obtained FAR per condition at thresholds fixed on reference-vs-reference pairs.

    Args:
        reference_emb: (N, D) embeddings of the undamaged images.
        conditions: {name: (N, D) embeddings of the same images after damage / reconstruction};
            include the reference itself under "original" to get the calibration row.
        pairs: ``all_pairs`` output (or any {"a", "b", "same"}).
    Returns one row per (condition, target FAR): threshold, tar, far (obtained), n_genuine, n_impostor.
    """
    import pandas as pd

    same = np.asarray(pairs["same"], bool)
    base = condition_scores(reference_emb, reference_emb, pairs)
    calib = verification.tar_at_far(base, same, fars)
    rows = []
    for name, emb in conditions.items():
        s = condition_scores(reference_emb, emb, pairs)
        for far in fars:
            t = calib[float(far)]["threshold"]
            rows.append({"condition": name, "target_far": float(far), "threshold": t,
                         "tar": float(np.mean(s[same] > t)) if np.isfinite(t) else np.nan,
                         "far": float(np.mean(s[~same] > t)) if np.isfinite(t) else np.nan,
                         "n_genuine": int(same.sum()), "n_impostor": int((~same).sum())})
    return pd.DataFrame(rows)


def far_excess_p(far_obtained: float, target: float, n_impostor: int) -> float:
    """One-sided exact binomial p-value that a FAR of ``far_obtained`` over ``n_impostor`` impostor pairs
    arises from a true FAR of ``target``: how surprising the false accepts are if the threshold, fixed on
    another condition, still had the target rate. Pairs that share images are not independent, so the
    p-value is optimistic about excess; it says whether an overshoot is within counting noise (a few
    false accepts of 497,500) or a real shift of the impostor scores. NaN when nothing can be counted."""
    from scipy.stats import binomtest

    if not (np.isfinite(far_obtained) and n_impostor > 0 and 0 < target < 1):
        return float("nan")
    k = int(round(far_obtained * n_impostor))
    return float(binomtest(k, int(n_impostor), target, alternative="greater").pvalue)


@runcache.memoized("inpaint/roc")
def roc_by_condition(reference_emb, conditions: dict, pairs) -> dict:
    """{condition: {"fpr", "tpr", "auc"}} of reference-vs-condition scores (for lib.plots.roc_curves)."""
    same = np.asarray(pairs["same"], bool)
    out = {}
    for name, emb in conditions.items():
        s = condition_scores(reference_emb, emb, pairs)
        fpr, tpr, _ = verification.roc(s, same)
        out[name] = {"fpr": fpr, "tpr": tpr, "auc": verification.auc(s, same)}
    return out


def paired_tar_gain(reference_emb, emb_a, emb_b, pairs, persons, far: float = 1e-3, *, n: int = 1000,
                    seed: int = 0) -> dict:
    """TAR of condition B minus condition A at the threshold fixed on reference-vs-reference pairs at
    ``far``, on the same genuine pairs, with a paired bootstrap over ``persons`` (the person of every
    image the pairs index; a genuine pair belongs to its person): lib.evaluation.paired.paired_bootstrap's
    {"diff", "lo", "hi", "p", "n_groups"} plus both TARs and the threshold."""
    from lib.evaluation.paired import paired_bootstrap

    same = np.asarray(pairs["same"], bool)
    t = verification.tar_at_far(condition_scores(reference_emb, reference_emb, pairs), same, (far,))[float(far)]["threshold"]
    if not np.isfinite(t):
        return {"diff": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan, "n_groups": 0, "tar_a": np.nan, "tar_b": np.nan,
                "threshold": t}
    hit_a = condition_scores(reference_emb, emb_a, pairs)[same] > t
    hit_b = condition_scores(reference_emb, emb_b, pairs)[same] > t
    res = paired_bootstrap(hit_a, hit_b, np.asarray(persons)[np.asarray(pairs["a"])[same]], n=n, seed=seed)
    return {**res, "tar_a": float(hit_a.mean()), "tar_b": float(hit_b.mean()), "threshold": float(t)}
