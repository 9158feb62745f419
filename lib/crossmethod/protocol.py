"""One protocol for every method and condition: each probe against each gallery person.

Pure functions of embeddings. A probe is compared with every gallery person's template (max
cosine over the template's embeddings: the real gallery image, plus generated ones when a
method augments the gallery); the comparison with its own person is a genuine pair, every
other an impostor pair. Verification: TAR at FAR = 1e-2 and 1e-3 (threshold from the impostor
scores of that condition, lib.evaluation.verification.tar_at_far), EER. Identification:
closed-set rank-1 over the same scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FARS = (1e-2, 1e-3)


def evaluate_condition(gallery_emb, gallery_persons, probe_emb, probe_persons, fars=FARS) -> dict:
    """Metrics of one probe set: ``tar@far=1e-2``, ``tar@far=1e-3`` (NaN when the condition has
    fewer than 1/FAR impostor comparisons), ``eer``, ``rank1``, and the pair counts."""
    from lib.evaluation import verification as ver
    from lib.evaluation.identification import identity_scores

    persons, scores = identity_scores(gallery_emb, gallery_persons, probe_emb)
    probe_persons = np.asarray(probe_persons)
    unknown = np.setdiff1d(probe_persons, persons)
    if unknown.size:
        raise ValueError(f"probes of persons {unknown[:5].tolist()} have no gallery template (closed set)")
    same = probe_persons[:, None] == persons[None, :]
    s, y = scores.ravel(), same.ravel()
    out = {"n_probes": int(len(probe_persons)), "n_genuine": int(y.sum()), "n_impostor": int((~y).sum())}
    for far, r in ver.tar_at_far(s, y, fars).items():
        out[f"tar@far={ver.far_key(far)}"] = r["tar"]
    out["eer"] = float(ver.eer(s, y))
    out["rank1"] = float(np.mean(persons[scores.argmax(1)] == probe_persons))
    return out


def evaluate_method(name: str, bench, embed_fn, *, gallery_extra=None, probe_transform=None) -> pd.DataFrame:
    """Every condition of ``bench`` for one method; one row per condition.

    Args:
        embed_fn: uint8 (n, 112, 112, 3) -> (n, d) embeddings (the method's recogniser).
        gallery_extra: optional ``fn(gallery_emb) -> (extra_emb, extra_persons)``: embeddings added
            to the gallery templates (FRA's generated poses).
        probe_transform: optional ``fn(condition) -> images``: what the method does to a probe
            before matching (inpainting); it sees the probe only (blind), never the clean image.
    """
    g = embed_fn(bench.gallery_images)
    g_persons = np.asarray(bench.gallery_persons)
    if gallery_extra is not None:
        extra, extra_persons = gallery_extra(g)
        g, g_persons = np.vstack([g, extra]), np.r_[g_persons, np.asarray(extra_persons)]
    rows = []
    for c in bench.conditions:
        images = c.images if probe_transform is None else probe_transform(c)
        r = evaluate_condition(g, g_persons, embed_fn(images), c.persons)
        rows.append({"method": name, "axis": c.axis, "level": c.level, **r})
    return pd.DataFrame(rows)


def metric_keys(table: pd.DataFrame, metric: str = "tar@far=1e-3", prefix: str = "cross") -> dict:
    """``{prefix}.{method}.{axis}.{level}: value`` for the notebook's summary (NaNs are an error there)."""
    return {f"{prefix}.{m}.{a}.{lv}": v for m, a, lv, v in
            zip(table["method"], table["axis"], table["level"], table[metric])}


def ranking(table: pd.DataFrame, metric: str = "tar@far=1e-3", baseline: str = "baseline") -> pd.DataFrame:
    """Methods ranked by their mean ``metric`` over the difficulty conditions (clean excluded), with
    the mean per axis, the clean value, and the mean gain over ``baseline`` per axis."""
    hard = table[table["axis"] != "clean"]
    per_axis = hard.pivot_table(index="method", columns="axis", values=metric, aggfunc="mean")
    out = per_axis.copy()
    out.insert(0, "clean", table[table["axis"] == "clean"].set_index("method")[metric])
    out["mean (difficulty axes)"] = hard.groupby("method")[metric].mean()
    if baseline in out.index:
        out["gain vs baseline"] = out["mean (difficulty axes)"] - out.loc[baseline, "mean (difficulty axes)"]
    out = out.sort_values("mean (difficulty axes)", ascending=False)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
