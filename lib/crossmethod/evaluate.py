"""One protocol for every method and condition: each probe against each gallery person.

Pure functions of embeddings. A probe is compared with every gallery person's template (max
cosine over the template's embeddings: the real gallery image, plus generated ones when a
method augments the gallery); the comparison with its own person is a genuine pair, every
other an impostor pair. Verification: TAR at FAR = 1e-2 and 1e-3 (threshold from the impostor
scores of that condition, lib.evaluation.verification.tar_at_far), EER. Identification:
closed-set rank-1 over the same scores.

Uncertainty: ``bootstrap_ranking`` resamples the benchmark's PERSONS with replacement (the unit
that was sampled; probes of one person are not independent) and recomputes every condition's TAR
from the kept scores, the same draw for every method, so a method's gain over the baseline gets a
paired 95 % interval.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from lib import runcache

FARS = (1e-2, 1e-3)


def evaluate_condition(gallery_emb, gallery_persons, probe_emb, probe_persons, fars=FARS,
                       keep_scores: dict | None = None, cache: bool = False) -> dict:
    """Metrics of one probe set: ``tar@far=1e-2``, ``tar@far=1e-3`` (NaN when the condition has
    fewer than 1/FAR impostor comparisons), ``eer``, ``rank1``, and the pair counts.

    ``keep_scores``: a dict that receives ``scores`` (probes x gallery persons) and ``same``
    (the genuine mask) for :func:`bootstrap_ranking`. ``cache=True`` keeps the metrics in the run cache
    (runs/crossmethod/metrics), keyed by the scores' content: the EER's full ROC sorts every impostor
    score (~0.1 s per condition, 306 conditions in 05), which a warm run then skips."""
    from lib.evaluation.identification import identity_scores

    persons, scores = identity_scores(gallery_emb, gallery_persons, probe_emb)
    probe_persons = np.asarray(probe_persons)
    unknown = np.setdiff1d(probe_persons, persons)
    if unknown.size:
        raise ValueError(f"probes of persons {unknown[:5].tolist()} have no gallery template (closed set)")
    same = probe_persons[:, None] == persons[None, :]
    if keep_scores is not None:
        keep_scores.update(scores=np.asarray(scores, np.float32), same=same)
    out = {"n_probes": int(len(probe_persons)), **_verification(scores, same, tuple(fars), cache=cache)}
    out["rank1"] = float(np.mean(persons[scores.argmax(1)] == probe_persons))
    return out


@runcache.memoized("crossmethod/metrics")
def _verification(scores, same, fars) -> dict:
    """Pair counts, TAR at each FAR and EER of one condition's (probes x persons) ``scores``."""
    from lib.evaluation import verification as ver

    s, y = scores.ravel(), same.ravel()
    out = {"n_genuine": int(y.sum()), "n_impostor": int((~y).sum())}
    for far, r in ver.tar_at_far(s, y, fars).items():
        out[f"tar@far={ver.far_key(far)}"] = r["tar"]
    out["eer"] = float(ver.eer(s, y))
    return out


def evaluate_method(name: str, bench, embed_fn, *, gallery_extra=None, probe_transform=None,
                    scores: dict | None = None, cache: bool = False) -> pd.DataFrame:
    """Every condition of ``bench`` for one method; one row per condition.

    Args:
        embed_fn: uint8 (n, 112, 112, 3) -> (n, d) embeddings (the method's recogniser).
        gallery_extra: optional ``fn(gallery_emb) -> (extra_emb, extra_persons)``: embeddings added
            to the gallery templates (FRA's generated poses).
        probe_transform: optional ``fn(condition) -> images``: what the method does to a probe
            before matching (inpainting); it sees the probe only (blind), never the clean image.
        scores: a dict that receives ``{(name, axis, level): {"scores", "same"}}`` per condition,
            for :func:`bootstrap_ranking`.
        cache: keep each condition's metrics in the run cache (:func:`evaluate_condition`).
    """
    g = embed_fn(bench.gallery_images)
    g_persons = np.asarray(bench.gallery_persons)
    if gallery_extra is not None:
        extra, extra_persons = gallery_extra(g)
        g, g_persons = np.vstack([g, extra]), np.r_[g_persons, np.asarray(extra_persons)]
    rows = []
    for c in bench.conditions:
        images = c.images if probe_transform is None else probe_transform(c)
        kept = None if scores is None else scores.setdefault((name, c.axis, c.level), {})
        r = evaluate_condition(g, g_persons, embed_fn(images), c.persons, keep_scores=kept, cache=cache)
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


def _resampled_tar(scores: np.ndarray, person_rows: list, draw: np.ndarray, far: float) -> float:
    """TAR at ``far`` when the gallery persons (columns) are ``draw`` (indices, with repeats).

    Each drawn copy brings its person's probes (``person_rows[j]``: the probe rows of person j); a
    probe's comparison with its own copy is genuine, with a copy of another person an impostor, with
    another copy of its own person dropped. The threshold is tar_at_far's (``threshold_at_far``).
    """
    from lib.evaluation.verification import threshold_at_far

    rows = np.concatenate([person_rows[j] for j in draw])
    copy = np.repeat(np.arange(draw.size), [person_rows[j].size for j in draw])
    sub = scores[np.ix_(rows, draw)]
    genuine = copy[:, None] == np.arange(draw.size)[None, :]
    impostor = ~genuine & (draw[copy][:, None] != draw[None, :])
    neg, pos = sub[impostor], sub[genuine]
    t = threshold_at_far(neg, far, floor=sub.min())
    if np.isnan(t) or pos.size == 0:
        return np.nan
    return float(np.mean(pos > t))


def bootstrap_ranking(scores, *, metric: str = "tar@far=1e-3", baseline: str = "baseline", n_boot: int = 200,
                      seed: int = 0, level: float = 0.95, cache: bool = False) -> pd.DataFrame:
    """Bootstrap intervals, over persons, of each method's mean ``metric`` over the difficulty
    conditions (clean excluded) and of its gain over ``baseline``.

    Args:
        scores: ``{(method, axis, level): {"scores", "same"}}`` from ``evaluate_method(...,
            scores=)``; every condition shares the gallery persons (the columns). Or a list of such dicts,
            one per replication (other seeds' models, the same persons): each draw's value is then the mean
            over the replications, so the interval is that of the mean over seeds.
        metric: ``tar@far=<far>``.
        n_boot: resamples; each draws the gallery persons with replacement, the same draw for
            every method, condition and replication (paired), and conditions that cannot resolve the FAR
            in a draw (too few impostors) are left out of that draw's mean.
    Returns: per method ``mean`` (on all persons), ``mean_low``/``mean_high`` (percentile interval),
    and where ``baseline`` is present ``gain``, ``gain_low``, ``gain_high`` and ``p_gain_above_0``
    (the share of draws in which the method beats the baseline), and with replications ``gain_r<i>`` (each
    replication's own gain on all persons). ``cache=True`` keeps the result in the run cache
    (runs/crossmethod/bootstrap), keyed by the scores' content and the arguments.
    """
    reps = list(scores) if isinstance(scores, (list, tuple)) else [scores]
    if cache:
        from lib import runcache

        flat = [[[list(k), v["scores"], v["same"]] for k, v in r.items()] for r in reps]
        key = {"scores": flat[0] if len(flat) == 1 else flat, "metric": metric, "baseline": baseline,
               "n_boot": n_boot, "seed": seed, "level": level, "version": 1}
        return runcache.memo("crossmethod/bootstrap", key,
                             lambda: bootstrap_ranking(scores, metric=metric, baseline=baseline, n_boot=n_boot,
                                                       seed=seed, level=level))
    if not metric.startswith("tar@far="):
        raise ValueError(f"metric {metric!r}: the bootstrap recomputes TAR, expected 'tar@far=<far>'")
    far = float(metric.split("=", 1)[1])
    hard = [{k: v for k, v in r.items() if k[1] != "clean"} for r in reps]
    if not all(hard):
        raise ValueError("no difficulty conditions in scores: pass the dict filled by evaluate_method(..., scores=)")
    methods = list(dict.fromkeys(k[0] for h in hard for k in h))
    n_persons = {v["same"].shape[1] for h in hard for v in h.values()}
    if len(n_persons) != 1:
        raise ValueError(f"conditions have different gallery sizes {sorted(n_persons)}; the bootstrap draws one "
                         "set of persons for all")
    n = n_persons.pop()
    rng = np.random.default_rng(seed)
    draws = [np.arange(n)] + [rng.integers(0, n, n) for _ in range(n_boot)]
    per_rep = np.stack([_draw_means(h, methods, draws, far) for h in hard])  # (replications, draws, methods)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a draw in which a method resolves no condition: NaN
        means = np.nanmean(per_rep, axis=0)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out = pd.DataFrame({"mean": means[0]}, index=pd.Index(methods, name="method"))
    out[["mean_low", "mean_high"]] = np.nanpercentile(means[1:], q, axis=0).T
    if baseline in methods:
        b = methods.index(baseline)
        gains = means - means[:, [b]]
        out["gain"] = gains[0]
        out[["gain_low", "gain_high"]] = np.nanpercentile(gains[1:], q, axis=0).T
        out["p_gain_above_0"] = np.mean(gains[1:] > 0, axis=0)
        if len(reps) > 1:
            for i, r in enumerate(per_rep):
                out[f"gain_r{i}"] = r[0] - r[0, b]
    return out


def _draw_means(hard: dict, methods: list, draws: list, far: float) -> np.ndarray:
    """(draws, methods): each method's mean TAR over its difficulty conditions in each draw of persons."""
    n = draws[0].size
    rows = {k: [np.flatnonzero(v["same"][:, j]) for j in range(n)] for k, v in hard.items()}
    means = np.full((len(draws), len(methods)), np.nan)
    for b, draw in enumerate(draws):
        for i, m in enumerate(methods):
            vals = [_resampled_tar(v["scores"], rows[k], draw, far) for k, v in hard.items() if k[0] == m]
            means[b, i] = np.nanmean(vals) if np.isfinite(vals).any() else np.nan
    return means


def with_intervals(rank: pd.DataFrame, ci: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """``rank`` (from :func:`ranking`) with the bootstrap intervals of :func:`bootstrap_ranking` as
    text columns ``95% CI`` (of the mean over the difficulty conditions) and ``gain 95% CI``."""
    out = rank.copy()
    ci = ci.reindex(out.index)
    out["95% CI"] = [f"[{a:.{digits}f}, {b:.{digits}f}]" for a, b in zip(ci["mean_low"], ci["mean_high"])]
    if "gain_low" in ci:
        out["gain 95% CI"] = [f"[{a:+.{digits}f}, {b:+.{digits}f}]" for a, b in zip(ci["gain_low"], ci["gain_high"])]
    return out
