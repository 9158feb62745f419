"""Evaluation protocols of 04_lowres on held-out identities (docs/lowres.md).

Three tests, each a pure function of an ``embed_fn(images_uint8) -> (N, D)`` and its data:

- ``lfw_resolutions``: LFW view-2 style verification, both images of every pair degraded to
  t x t and back to 112 (``lib.data.degrade.down_up``, cv2.INTER_LINEAR both ways, as the
  thesis), t in {7, 14, 28, 56, 112}; ``lib.evaluation.verification.lfw_protocol`` (threshold on 9
  folds maximising TPR - FPR over 1000 thresholds; mean accuracy and std/sqrt(10)).
- ``closed_set_distances``: SCface-style closed-set rank-1 (``identification.closed_set``) with a
  high-resolution gallery and probe sets per "distance".
- ``verification_tar``: QMUL-SurvFace-style verification reporting TAR@FAR (the official
  protocol), plus the 10-fold accuracy the thesis gave.

On the engine data (``engine_suite``) the probes are simulated: SCface distances d1/d2/d3 are
surveillance degradations ``surveillance(images, side, blur, noise)`` at 16 / 24 / 32 px (d1 is
the farthest, 4.2 m, as SCface numbers them), QMUL pairs are both images at 20 px with blur and
noise (QMUL-SurvFace faces are ~24 x 20 px). On real data (``real_suite``, the full profile) the
same functions run on LFW (pairs.txt folds, degraded to t), SCface (mugshot gallery, the probes of
cameras 1-5 per distance as they are) and QMUL-SurvFace (its pairs as they are).

Unconstrained test conditions (``photometric="wild"``, the default): every engine identity keeps one
background tint, light and colour balance through all its images (lib/data/engine/sessions.py) and
one hair colour, so identities stay separable from a 7 x 7 thumbnail and the rendered images show no
resolution effect at all (measured: ArcFace 0.98 at 7 px, 0.97 at 112). LFW photos vary these per
image. ``wild`` gives every test image its own background colour (engine parsing mask), channel gains
and brightness offset, then converts to grey (all three channels equal), so identity must come from
the face itself; ``hair=True`` gives every image its own hair colour too (lib.lowres.cues measures
what that changes). ``photometric="none"`` keeps the rendered images.

Engine protocol choices: test identities only (never seen in training); images of the poses
HL/S/HR (LFW-like near-frontal; the engine's +-60 degree profiles are a pose test, not a
resolution test); the SCface gallery is each identity's frontal neutral image at 112, the probes
``probes_per_identity`` other images per identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from lib.data.degrade import down_up, wild
from lib.evaluation.identification import closed_set
from lib.evaluation.verification import lfw_protocol, pair_scores, tar_at_far

RESOLUTIONS = (7, 14, 28, 56, 112)
DISTANCES = {"d1": {"side": 16, "blur": 1.0, "noise": 6.0},  # 4.20 m: the smallest faces
             "d2": {"side": 24, "blur": 0.8, "noise": 5.0},  # 2.60 m
             "d3": {"side": 32, "blur": 0.6, "noise": 4.0}}  # 1.00 m
QMUL = {"side": 20, "blur": 0.8, "noise": 5.0}
FARS = (1e-2, 1e-3)


def degrade_all(images, t: int) -> np.ndarray:
    """Every uint8 image down to ``t x t`` and back (bilinear both ways; t >= side: unchanged copy)."""
    images = np.asarray(images)
    return np.stack([down_up(im, int(t)) for im in images])


def surveillance(images, side: int, blur: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A surveillance-camera look: area-downsample to ``side`` px, Gaussian blur (sigma ``blur`` in
    low-res pixels), Gaussian noise (sd ``noise`` grey levels), rounded, back to the size bilinearly."""
    images = np.asarray(images)
    out = np.empty_like(images)
    for i, im in enumerate(images):
        h, w = im.shape[:2]
        small = cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
        if blur > 0:
            small = cv2.GaussianBlur(small, (0, 0), blur)
        small = np.clip(np.rint(small + rng.normal(0, noise, small.shape)), 0, 255).astype(np.uint8)
        out[i] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


# ------------------------------------------------------------------------------------ tests
def lfw_resolutions(embed_fn: Callable, images, pairs: Mapping, resolutions: Sequence[int] = RESOLUTIONS) -> dict:
    """{t: lfw_protocol result} with both images of every pair degraded to ``t``.

    ``pairs``: a, b (rows of ``images``), same, fold (as ``verification.make_pairs`` or LFW's pairs.csv).
    """
    a, b = np.asarray(pairs["a"]), np.asarray(pairs["b"])
    rows = np.concatenate([a, b])
    uniq, inv = np.unique(rows, return_inverse=True)
    base = np.asarray(images[uniq])
    out = {}
    for t in resolutions:
        emb = embed_fn(degrade_all(base, t))
        s = pair_scores(emb[inv[:len(a)]], emb[inv[len(a):]])
        out[int(t)] = lfw_protocol(s, np.asarray(pairs["same"]).astype(bool), np.asarray(pairs["fold"]))
    return out


def closed_set_distances(embed_fn: Callable, gallery_images, gallery_ids, probes: Mapping) -> dict:
    """{distance: closed_set result}; ``probes`` = {name: (probe_images, probe_ids)}."""
    g = embed_fn(np.asarray(gallery_images))
    return {name: closed_set(g, gallery_ids, embed_fn(np.asarray(imgs)), ids) for name, (imgs, ids) in probes.items()}


def verification_tar(embed_fn: Callable, images, pairs: Mapping, fars: Sequence[float] = FARS, folds=None) -> dict:
    """TAR@FAR (``verification.tar_at_far``) and the 10-fold accuracy on ``pairs`` (a, b, same; optional fold),
    the images used as given. Pairs without ``fold`` get 10 random balanced folds (seeded)."""
    a, b = np.asarray(pairs["a"]), np.asarray(pairs["b"])
    same = np.asarray(pairs["same"]).astype(bool)
    uniq, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    emb = embed_fn(np.asarray(images[uniq]))
    s = pair_scores(emb[inv[:len(a)]], emb[inv[len(a):]])
    if folds is None:
        folds = pairs["fold"] if "fold" in pairs else np.random.default_rng(0).permutation(len(s)) % 10
    proto = lfw_protocol(s, same, np.asarray(folds))
    return {"tar": {f: r["tar"] for f, r in tar_at_far(s, same, fars).items()}, "acc": proto["acc"],
            "acc_se": proto["acc_se"], "scores": s, "same": same}


# ------------------------------------------------------------------------------------ suites
@dataclass(frozen=True)
class EngineProtocol:
    """The engine suite's parameters (defaults = the default profile)."""

    # LFW-style pairs (half genuine) in folds of disjoint persons. LFW has 10 x 600; 600 pairs give a
    # standard error of 1.0-1.4 accuracy points, as large as the effects compared, so 3,000.
    num_pairs: int = 3000
    # LFW-style pool: near-frontal images (LFW's faces are within about +-30 deg), every emotion; the
    # frontal pose alone gives a small test set too few genuine pairs (synth_kdef's 16 test persons: under 1,500).
    lfw_poses: tuple = ("HL", "S", "HR")
    qmul_pairs: int = 2000  # QMUL-style pairs, 1/3 genuine (1333 impostors: FAR 1e-2 and 1e-3 resolvable)
    poses: tuple = ("HL", "S", "HR")  # QMUL-style and SCface-probe pool
    probes_per_identity: int = 6
    photometric: str = "wild"  # "wild": per-image background, colour and brightness, grey; "none": as rendered
    hair: bool = False  # under "wild", a new hair colour per image too (lib.lowres.cues; False: as rendered)
    resolutions: tuple = RESOLUTIONS
    distances: dict = field(default_factory=lambda: {k: dict(v) for k, v in DISTANCES.items()})
    qmul: dict = field(default_factory=lambda: dict(QMUL))
    seed: int = 0

    def key(self) -> dict:
        d = asdict(self)
        for k in ("poses", "lfw_poses", "resolutions"):
            d[k] = list(d[k])
        if not self.hair:  # the hair as rendered: the key protocols had before ``hair`` existed
            d.pop("hair")
        return d


def wild_images(fs, rows, seed: int, hair: str | None = None, cache: bool = False) -> np.ndarray:
    """``fs``'s images at ``rows`` under the "wild" conditions (module docstring; engine parsing maps give the
    background and hair), drawn from stream (seed, "wild"). ``hair``: None keeps the rendered hair, "recolour" gives
    each image's hair its own colour (``EngineProtocol.hair``), "background" paints it with the background's
    (lib.lowres.cues). ``cache=True`` keeps them in the run cache (runs/lowres/wild, by the FaceSet's content, the
    rows, the seed and ``hair``) and returns them frozen (lib.fingerprint.freeze)."""
    from lib.data.engine.labels import wild_masks
    from lib.seeding import numpy_rng

    if hair not in (None, "recolour", "background"):
        raise ValueError(f"hair must be None, 'recolour' or 'background', got {hair!r}")

    def draw():
        images = np.asarray(fs.images[rows])
        background, hair_mask = wild_masks(fs.array("parsing")[rows])
        if hair == "background":
            return wild(images, background | hair_mask, numpy_rng(seed, "wild"))
        return wild(images, background, numpy_rng(seed, "wild"), hair=hair_mask if hair == "recolour" else None)

    if not cache:
        return draw()
    from lib import runcache

    variant = {"recolour": {"hair": True}, "background": {"hair": "background"}}.get(hair, {})  # None: the first key
    key = {"faceset": fs, "rows": rows, "seed": seed, "version": 1, **variant}
    return runcache.memo_array("lowres/wild", key, draw, freeze=True)


def engine_lfw(fs, cfg: EngineProtocol = EngineProtocol(), cache: bool = False) -> dict:
    """The test images (``rows`` of ``fs``'s TEST identities at the protocol's poses, under its photometric
    conditions; ``ids`` their persons) and the LFW-style pairs of :func:`engine_suite`, without its SCface- and
    QMUL-style parts (for an LFW-only evaluation). Deterministic. ``cache=True`` keeps the "wild" images in
    the run cache (runs/lowres/wild, by the FaceSet's content, the rows and the seed; ~9 s for synth_bench)
    and returns them frozen (lib.fingerprint.freeze)."""
    from lib.data.faceset import person_labels
    from lib.evaluation.verification import make_pairs
    from lib.seeding import numpy_rng

    m = fs.meta
    rows = np.flatnonzero((m["split"] == "test").to_numpy() & m["pose"].isin([*cfg.poses, *cfg.lfw_poses]).to_numpy())
    if rows.size == 0:
        raise ValueError(f"the FaceSet has no test images at poses {cfg.poses}")
    ids = person_labels(m)[rows]  # a person's two sessions are one identity here
    if cfg.photometric == "wild":
        images = wild_images(fs, rows, cfg.seed, hair="recolour" if cfg.hair else None, cache=cache)
    elif cfg.photometric == "none":
        images = np.asarray(fs.images[rows])
    else:
        raise ValueError(f"photometric must be 'wild' or 'none', got {cfg.photometric!r}")
    n_ids = np.unique(ids).size
    folds = max(2, min(10, n_ids // 2))  # LFW: 10 folds of disjoint people; >= 2 identities per fold
    pool = np.flatnonzero(np.isin(m["pose"].to_numpy()[rows], cfg.lfw_poses))
    n_gen = cfg.num_pairs // 2
    lfw = make_pairs(ids[pool], n_gen, cfg.num_pairs - n_gen, numpy_rng(cfg.seed, "lfw_pairs"), folds=folds)
    lfw["a"], lfw["b"] = pool[lfw["a"]], pool[lfw["b"]]
    return {"images": images, "ids": ids, "rows": rows, "lfw_pairs": lfw, "resolutions": tuple(cfg.resolutions)}


def engine_suite(fs, cfg: EngineProtocol = EngineProtocol(), cache: bool = False) -> dict:
    """Images and pairs of the three tests on ``fs``'s TEST identities (module docstring). Deterministic.
    ``cache``: the "wild" test images from the run cache (:func:`engine_lfw`)."""
    from lib.data.faceset import person_column
    from lib.evaluation.verification import make_pairs
    from lib.seeding import numpy_rng

    suite = engine_lfw(fs, cfg, cache=cache)
    images, ids, rows = suite["images"], suite["ids"], suite["rows"]
    m = fs.meta
    in_pool = np.isin(m["pose"].to_numpy()[rows], cfg.poses)
    n_gen = cfg.qmul_pairs // 3
    qpool = np.flatnonzero(in_pool)
    qmul = make_pairs(ids[qpool], n_gen, cfg.qmul_pairs - n_gen, numpy_rng(cfg.seed, "qmul_pairs"), folds=1)
    qmul = {"a": qpool[qmul["a"]], "b": qpool[qmul["b"]], "same": qmul["same"]}  # one list, as QMUL-SurvFace
    qmul_images = surveillance(images, rng=numpy_rng(cfg.seed, "qmul_noise"), **cfg.qmul)
    # SCface-style: gallery = the frontal neutral image (else the first S image) per identity at 112
    sub = m.iloc[rows].reset_index(drop=True)
    gallery = []
    for _, grp in sub.groupby(person_column(sub), sort=True):
        front = grp[(grp["pose"] == "S") & (grp["emotion"] == "neutral")]
        frontal = grp[grp["pose"] == "S"]
        gallery.append(int((front if len(front) else frontal if len(frontal) else grp).index[0]))
    gallery = np.asarray(gallery)
    rng = numpy_rng(cfg.seed, "scface_probes")
    probe_rows = np.concatenate([rng.permutation(np.setdiff1d(np.flatnonzero((ids == k) & in_pool), gallery))
                                 [:cfg.probes_per_identity] for k in np.unique(ids)])
    probes = {d: (surveillance(images[probe_rows], rng=numpy_rng(cfg.seed, "scface", d), **p), ids[probe_rows])
              for d, p in cfg.distances.items()}
    return {**suite, "qmul_images": qmul_images, "qmul_pairs": qmul, "gallery": (images[gallery], ids[gallery]),
            "probes": probes}


def real_suite(lfw_dir=None, scface_dir=None, qmul_dir=None, resolutions: Sequence[int] = RESOLUTIONS) -> dict:
    """The same tests on converted real FaceSets (lib.data.sources: lfw, scface, qmul); any may be None."""
    from lib.data.faceset import read_faceset
    from lib.data.sources import lfw as lfw_src
    from lib.data.sources import qmul as qmul_src

    suite: dict = {"resolutions": tuple(resolutions)}
    if lfw_dir:
        p = lfw_src.read_pairs(lfw_dir)
        suite["images"] = read_faceset(lfw_dir, verify="fast").images
        suite["lfw_pairs"] = {"a": p["a"].to_numpy(), "b": p["b"].to_numpy(), "same": p["same"].to_numpy(),
                              "fold": p["fold"].to_numpy()}
    if scface_dir:
        fs = read_faceset(scface_dir, verify="fast")
        m = fs.meta
        gal = np.flatnonzero((m["role"] == "gallery").to_numpy())
        suite["gallery"] = (np.asarray(fs.images[gal]), m["identity"].to_numpy()[gal])
        suite["probes"] = {}
        for d in (1, 2, 3):
            r = np.flatnonzero(((m["role"] == "probe") & (m["distance"] == d)).to_numpy())
            if r.size:
                suite["probes"][f"d{d}"] = (np.asarray(fs.images[r]), m["identity"].to_numpy()[r])
    if qmul_dir:
        p = qmul_src.read_pairs(qmul_dir)
        suite["qmul_images"] = read_faceset(qmul_dir, verify="fast").images
        suite["qmul_pairs"] = {"a": p["a"].to_numpy(), "b": p["b"].to_numpy(), "same": p["same"].to_numpy()}
    return suite


def evaluate(embed_fn: Callable, suite: Mapping) -> dict:
    """Flat metrics of one model on a suite: ``lfw.<t>``, ``lfw_se.<t>``, ``scface.<d>``,
    ``qmul.tar_far1e-2`` (and 1e-3), ``qmul.acc``; and ``lfw_correct.<t>`` / ``scface_correct.<d>``, each
    LFW-style pair's decision / each SCface-style probe's rank-1 hit as a string of 0/1 (right or wrong, in
    pair / probe order) for :func:`paired_accuracy` / :func:`paired_rank1`."""
    out: dict = {}
    if "lfw_pairs" in suite:
        for t, r in lfw_resolutions(embed_fn, suite["images"], suite["lfw_pairs"], suite["resolutions"]).items():
            out[f"lfw.{t}"], out[f"lfw_se.{t}"] = r["acc"], r["acc_se"]
            out[f"lfw_correct.{t}"] = "".join("1" if c else "0" for c in r["correct"])
    if "gallery" in suite:
        for d, r in closed_set_distances(embed_fn, *suite["gallery"], suite["probes"]).items():
            out[f"scface.{d}"] = r["rank1"]
            out[f"scface_correct.{d}"] = "".join("1" if k == 1 else "0" for k in r["ranks"])
    if "qmul_pairs" in suite:
        r = verification_tar(embed_fn, suite["qmul_images"], suite["qmul_pairs"])
        for far, tar in r["tar"].items():
            out[f"qmul.tar_far{far:.0e}".replace("e-0", "e-")] = tar
        out["qmul.acc"] = r["acc"]
    return out


def backbone_embedder(backbone, batch_size: int = 256) -> Callable:
    """``embed_fn`` of a trained backbone (lib.recognition.embedders.embed, no flip)."""
    from lib.recognition.embedders import embed

    return lambda images: embed(backbone, np.asarray(images), batch_size=batch_size)


def evaluate_cached(backbone, suite: Mapping, *, model_key: Mapping, suite_key: Mapping) -> dict:
    """``evaluate`` once per (model, suite) under runs/lowres/eval/ (warm notebook runs embed nothing).
    Numbers that cannot be resolved (TAR at a FAR below 1 / impostor pairs: NaN) are left out."""
    from lib import runcache

    def compute() -> dict:
        return {k: v if isinstance(v, str) else float(v) for k, v in evaluate(backbone_embedder(backbone), suite).items()
                if isinstance(v, str) or np.isfinite(v)}

    return runcache.cached_json("lowres/eval", {"model": dict(model_key), "suite": dict(suite_key), "version": 3},
                                compute)


def _decisions(correct: str) -> np.ndarray:
    """A 0/1 decision string of ``evaluate`` (``lfw_correct.<t>``, ``scface_correct.<d>``) as a bool array."""
    return np.frombuffer(correct.encode(), np.uint8) == ord("1")


def fold_accuracies(result: Mapping, pairs: Mapping, t: int) -> np.ndarray:
    """Accuracy in each fold (in fold order) of one model at resolution ``t``, from ``evaluate``'s
    ``lfw_correct.<t>`` (each pair's decision at its fold's threshold) and the pairs' ``fold``."""
    correct = _decisions(result[f"lfw_correct.{t}"])
    fold = np.asarray(pairs["fold"])
    if correct.size != fold.size:
        raise ValueError(f"lfw_correct.{t} holds {correct.size} decisions but the pairs are {fold.size}: "
                         "give the pairs the result was computed on")
    return np.array([correct[fold == f].mean() for f in np.unique(fold)])


def paired_accuracy(results: Mapping, baseline: str = "arcface", resolutions: Sequence[int] = RESOLUTIONS):
    """McNemar's test of every method against ``baseline`` on the same LFW-style pairs, per resolution.

    ``results``: {method: evaluate()'s dict} (with ``lfw_correct.<t>``). Returns a DataFrame with one row per
    (method, resolution): ``acc`` and ``baseline_acc``, ``diff`` (method minus baseline), ``only_method`` and
    ``only_baseline`` (pairs only one of the two got right) and the exact two-sided ``p``."""
    return _paired(results, baseline, "lfw_correct", [int(t) for t in resolutions], "resolution")


def paired_rank1(results: Mapping, baseline: str = "arcface", distances: Sequence[str] = ("d1", "d2", "d3")):
    """McNemar's test of every method against ``baseline`` on the same SCface-style probes, per distance: each
    probe identified right (rank 1) or not (``scface_correct.<d>``). Columns as :func:`paired_accuracy`'s, with
    ``distance`` and ``acc`` the rank-1 rate."""
    return _paired(results, baseline, "scface_correct", list(distances), "distance")


def _paired(results: Mapping, baseline: str, prefix: str, levels: list, column: str):
    """McNemar rows of every method against ``baseline`` from the 0/1 decision strings ``<prefix>.<level>``."""
    import pandas as pd

    from lib.evaluation.paired import mcnemar

    if baseline not in results:
        raise ValueError(f"no results of the baseline {baseline!r}; have {sorted(results)}")
    rows = []
    for m, r in results.items():
        for t in levels:
            key = f"{prefix}.{t}"
            if m == baseline or key not in r:
                continue
            a, b = _decisions(results[baseline][key]), _decisions(r[key])
            test = mcnemar(a, b)
            rows.append({"method": m, column: t, "acc": b.mean(), "baseline_acc": a.mean(),
                         "diff": test["diff"], "only_method": test["b_only"], "only_baseline": test["a_only"],
                         "p": test["p"]})
    return pd.DataFrame(rows, columns=["method", column, "acc", "baseline_acc", "diff", "only_method", "only_baseline",
                                       "p"])
