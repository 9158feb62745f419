"""Verification on held-out identities, clean and with one image of each pair occluded.

Protocol (ours; the paper's evaluation scripts are not published): LFW-style pairs among the
TEST identities (``lib.evaluation.verification.make_pairs``, 10 folds, identities never shared
between folds), 10-fold accuracy with the threshold chosen on the other folds (``lfw_protocol``)
and the EER. Occluded: the same pairs, the second image replaced by its occluded version
(one fixed occlusion per image and kind, seeded), for each kind in :data:`OCCLUSIONS`:
the CelebA-C damage, a sunglasses-like band and a face-mask-like mouth occlusion
(lib.data.degrade). ``acc_occluded``/``eer_occluded`` average the three kinds.
"""

from __future__ import annotations

import numpy as np

OCCLUSIONS = ("celeba_c", "band", "mouth")


def occlude(images: np.ndarray, kind: str, seed: int = 0, cache: bool = False) -> np.ndarray:
    """Every image occluded once with ``kind`` (image i uses rng stream (seed, kind, i)). ``cache=True`` keeps
    the result in the run cache (runs/fserasing/occluded, by the images' content, kind and seed) and returns
    it frozen (lib.fingerprint.freeze): every model's cached embeddings key on it."""
    from lib.data import degrade
    from lib.seeding import numpy_rng

    fns = {"celeba_c": degrade.celeba_c_damage, "band": degrade.band_occlusion, "mouth": degrade.mouth_occlusion}
    if kind not in fns:
        raise ValueError(f"occlusion {kind!r}; choose one of {tuple(fns)}")
    if cache:
        from lib import runcache

        return runcache.memo_array("fserasing/occluded", {"images": images, "kind": kind, "seed": seed, "version": 1},
                                   lambda: occlude(images, kind, seed), freeze=True)
    return np.stack([fns[kind](im, numpy_rng(seed, "occlude", kind, i))[0] for i, im in enumerate(images)])


def heldout_pairs(meta, n_pairs: int, seed: int = 0, folds: int = 10) -> dict:
    """Half genuine, half impostor pairs among the test persons (``folds`` capped at half their number), in folds
    of disjoint persons; ``rows``: the test rows that some pair uses (their positions in ``meta``), which ``a`` and
    ``b`` index. Every impostor pair stays inside its fold, so the test needs many persons: 16 persons make 8
    folds of two and only 8 pairs of persons among all impostors (lib.evaluation.verification.pair_structure)."""
    from lib.data.faceset import person_labels
    from lib.evaluation.verification import make_pairs

    is_test = (meta["split"] == "test").to_numpy()
    test = meta[is_test]
    if test.empty:
        raise ValueError("the FaceSet has no test identities to verify")
    ids = person_labels(test)  # genuine = same person, whichever session
    folds = max(1, min(folds, len(set(ids)) // 2))  # each fold needs 2 identities (smoke has 8 in all)
    pairs = make_pairs(ids, n_pairs // 2, n_pairs // 2, np.random.default_rng(seed), folds)
    used, inv = np.unique(np.concatenate([pairs["a"], pairs["b"]]), return_inverse=True)
    n = len(pairs["a"])
    return {**pairs, "a": inv[:n], "b": inv[n:], "rows": np.flatnonzero(is_test)[used]}


def verification(emb_a: np.ndarray, emb_b: np.ndarray, pairs: dict) -> dict:
    """10-fold accuracy and EER of pairs (a from ``emb_a``, b from ``emb_b``)."""
    from lib.evaluation.verification import eer, lfw_protocol, pair_scores

    s = pair_scores(emb_a[pairs["a"]], emb_b[pairs["b"]])
    proto = lfw_protocol(s, pairs["same"], pairs["fold"])
    return {"acc": proto["acc"], "eer": eer(s, pairs["same"]), "scores": s, "correct": proto["correct"]}


def evaluate_model(backbone, test_images: np.ndarray, occluded: dict, pairs: dict) -> dict:
    """Clean and occluded verification of one backbone. ``occluded``: {kind: occluded test images}."""
    from lib.recognition.embedders import embed

    clean = embed(backbone, test_images, normalize=True, cache=True)
    out = {"clean": verification(clean, clean, pairs)}
    for kind, imgs in occluded.items():
        out[kind] = verification(clean, embed(backbone, imgs, normalize=True, cache=True), pairs)
    kinds = list(occluded)
    out["summary"] = {"acc_clean": out["clean"]["acc"], "eer_clean": out["clean"]["eer"],
                      "acc_occluded": float(np.mean([out[k]["acc"] for k in kinds])),
                      "eer_occluded": float(np.mean([out[k]["eer"] for k in kinds]))}
    return out


def paired_tests(results: dict, reference: str = "none"):
    """McNemar's test of every (head, augmentation) against the same head's ``reference`` augmentation on the same
    pairs: clean, and occluded (the three occlusion kinds' pairs pooled). One row per (head, augmentation, condition):
    ``diff`` (accuracy minus the reference's, over the pairs), ``only_aug``/``only_ref`` (pairs only one got right), ``p``."""
    import pandas as pd

    from lib.evaluation.paired import mcnemar

    def correct(r, cond):
        kinds = [k for k in r if k not in ("clean", "summary")] if cond == "occluded" else [cond]
        return np.concatenate([r[k]["correct"] for k in kinds])

    rows = []
    for (head, aug), r in results.items():
        ref = results.get((head, reference))
        if aug == reference or ref is None:
            continue
        for cond in ("clean", "occluded"):
            t = mcnemar(correct(ref, cond), correct(r, cond))
            rows.append({"head": head, "augmentation": aug, "condition": cond, "diff": t["diff"],
                         "only_aug": t["b_only"], "only_ref": t["a_only"], "p": t["p"]})
    return pd.DataFrame(rows, columns=["head", "augmentation", "condition", "diff", "only_aug", "only_ref", "p"])


def results_table(results: dict):
    """Long table: head, augmentation, condition (clean + each occlusion), acc, eer."""
    import pandas as pd

    rows = []
    for (head, aug), r in results.items():
        for cond, v in r.items():
            if cond != "summary":
                rows.append({"head": head, "augmentation": aug, "condition": cond, "acc": v["acc"], "eer": v["eer"]})
    return pd.DataFrame(rows)
