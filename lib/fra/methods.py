"""The FRA pipeline steps of notebooks/01_fra as functions, so 05_cross_method gets the very same
cached models: landmark maps, the two pair sets, the FRA models per FRL source and protocol, and
the held-out generation requests with their posture maps.

    maps, found = pipeline.landmark_maps_cached(fs, "dlib")
    pairs, notes = pipeline.protocol_pairs(fs.meta, found, num_pairs=1000, seed=0)
    model = pipeline.fra_model(fs, "arcface", "heldout", maps=maps, embeddings=emb, pairs=pairs["heldout"],
                               landmark_source="dlib", num_pairs=1000, fra={"epochs": 1, "batch_size": 64}).model
    requests, posture = pipeline.heldout_generation(fs.meta, found, gallery_poses=["S"], seed=0)
    generated = lib.fra.train.generate(model, maps, emb, posture, requests["source"].to_numpy())

``retrained_gains`` reruns the two identity protocols with every model retrained under another seed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lib import runcache

NEGATIVES = ["neg_identity", "neg_pose", "neg_emotion"]
PROTOCOLS = ("paper", "heldout")


def _images_sha(fs) -> str:
    return fs.card["arrays"]["images.npy"]["sha256"]


def landmark_maps_cached(fs, landmark_source: str = "dlib") -> tuple[np.ndarray, np.ndarray]:
    """(maps (N, 112, 112) bool, found (N,) bool) for every image of ``fs``, cached in runs/fra/maps.

    ``landmark_source``: "dlib" (the paper: dlib's 68 points found on the image; misses are
    ``found == False``) or "engine" (the generator's exact 68 points, from ``landmarks68``).
    """
    from lib.fra import landmark_maps

    if landmark_source not in ("dlib", "engine"):
        raise ValueError(f"landmark_source {landmark_source!r}: choose 'dlib' (as the paper) or 'engine'")

    def compute() -> dict:
        if landmark_source == "engine":
            maps = landmark_maps.maps_from_points(fs.array("landmarks68"), fs.images.shape[1:3])
            return {"maps": maps, "found": maps.reshape(len(maps), -1).any(1)}
        maps, found, _ = landmark_maps.maps_from_images(np.asarray(fs.images), workers=os.cpu_count() or 1)
        return {"maps": maps, "found": found}

    out = runcache.cached_arrays("fra/maps", {"images": _images_sha(fs), "source": landmark_source}, compute)
    return out["maps"], out["found"]


def protocol_pairs(meta, found, *, num_pairs: int, seed: int = 0) -> tuple[dict, list[str]]:
    """The pairs of both protocols: ``paper`` from the TEST identities (FRA sees the evaluation
    data, as published), ``heldout`` from the TRAINING identities. Only images with a landmark
    map take part; pairs without a qualifying negative are dropped and reported in ``notes``."""
    from lib.fra import pairs as fra_pairs

    found = np.asarray(found, bool)
    rows = {"paper": (meta["split"] == "test").to_numpy() & found,
            "heldout": (meta["split"] == "train").to_numpy() & found}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs = {k: fra_pairs.make_pairs(meta[r], num_samples=num_pairs, seed=seed) for k, r in rows.items()}
    notes = [str(w.message) for w in caught]
    return {k: p[(p[NEGATIVES] >= 0).all(axis=1)].reset_index(drop=True) for k, p in pairs.items()}, notes


def fra_model(fs, source: str, protocol: str, *, maps, embeddings, pairs, landmark_source: str, num_pairs: int,
              fra: Mapping | None = None, fr_train: Mapping | None = None, checkpoint=None, seed: int = 0,
              progress: bool = False):
    """The FRA model of FRL ``source`` for ``protocol`` (trained once, then from runs/fra/<source>_<protocol>/).

    The cache key holds everything 01_fra's model depends on (images, landmark source, FRL source
    and how it was trained or loaded, protocol, pair count, FRA config): a caller that passes
    the same values gets the notebook's model, never a silent retrain on other data.
    Returns the :class:`lib.fra.train.FRAResult` (``.model``, ``.history``).
    """
    from lib.fra import train as fra_train

    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r}: choose from {PROTOCOLS}")
    cfg = fra_train.FRAConfig.paper(source, **{**dict(fra or {}), "seed": seed})
    key = fra_data_key(fs, source, protocol, embeddings=embeddings, landmark_source=landmark_source,
                       num_pairs=num_pairs, fr_train=fr_train, checkpoint=checkpoint)
    return fra_train.train_fra_cached(f"fra/{source}_{protocol}", cfg, maps, embeddings, pairs, data_key=key,
                                      progress=progress)


def fra_data_key(fs, source: str, protocol: str, *, embeddings, landmark_source: str, num_pairs: int,
                 fr_train: Mapping | None = None, checkpoint=None) -> dict:
    """The data part of an FRA model's cache key. It holds the CONTENT of the FRL embeddings, so an
    FRL backbone trained differently (another TrainConfig default, another checkpoint) can never
    bring back an FRA model trained on the old embeddings."""
    from lib.fingerprint import array_digest

    return {"images": _images_sha(fs), "landmarks": landmark_source, "frl": source, "fr_train": dict(fr_train or {}),
            "checkpoint": str(checkpoint or ""), "pairs": protocol, "num_pairs": num_pairs,
            "embeddings": array_digest(np.asarray(embeddings, np.float32))}


def posture_pool(meta, found) -> tuple[dict, np.ndarray]:
    """Where posture maps may come from: TRAINING images with a landmark map, grouped by (pose, emotion).
    Returns ({(pose, emotion): positions}, row labels); ``labels[positions]`` are meta row labels."""
    train_rows = (meta["split"] == "train").to_numpy() & np.asarray(found, bool)
    return meta[train_rows].groupby(["pose", "emotion"]).indices, meta[train_rows].index.to_numpy()


def retrained_gains(fs, seed: int, *, sources: Sequence[str], pairs: Mapping, maps, requests, posture, train_fs=None,
                    fr_train: Mapping | None = None, checkpoints: Mapping | None = None, landmark_source: str,
                    num_pairs: int, fra: Mapping | None = None, eval_seed: int = 0,
                    gallery_poses: Sequence[str] = ("S",), identity_col: str = "identity",
                    own_seed: int = 0) -> pd.DataFrame:
    """01_fra's identity gains with every model retrained under another ``seed``: the replication of a gain.

    What changes with the seed: the trained FRL backbones (ArcFace, CosFace, MagFace heads; their shared
    pretraining too, ``fr_train``'s seed) and every FRA model. What stays: the test images, the pairs, the
    generation requests and posture maps, the SVM protocols' own draws (``eval_seed``), the pretrained FRLs
    (dlib, SFace) and loaded checkpoints. One row per (source, protocol), the columns of
    :func:`lib.fra.evaluate.gain_table` (``leaking``, ``baseline``, ``augmented``, ``gain``) plus McNemar's ``p``
    (the same test images without and with FRA) and ``seed``. 01's own models (``own_seed``, its first seed) are
    trained with ``fr_train`` as given (lib.recognition.config.fr_train_at), so at that seed this function finds
    them instead of training a copy.
    """
    from lib.fra import evaluate, frl, train as fra_train
    from lib.recognition.config import fr_train_at

    fr = fr_train_at(fr_train, seed, own_seed)
    test = fs.meta[fs.meta["split"] == "test"]
    rows = []
    for s in sources:
        ck = (checkpoints or {}).get(s)
        emb = frl.embeddings(s, fs, train_cfg=fr, checkpoint=ck, train_fs=train_fs, progress=False)
        for proto, p in pairs.items():
            model = fra_model(fs, s, proto, maps=maps, embeddings=emb, pairs=p, landmark_source=landmark_source,
                              num_pairs=num_pairs, fra=fra, fr_train=fr, checkpoint=ck, seed=seed).model
            if proto == "paper":
                gen = fra_train.generate(model, maps, emb, p["posture"], p["input"], cache=True)
                r = evaluate.paper_protocol(emb, fs.meta, p, gen, seed=eval_seed, cache=True)
                acc, test_p, leaking = r["results"]["identity"], r["mcnemar"]["identity"]["p"], r["leaking"]
            else:
                gen = fra_train.generate(model, maps, emb, posture, requests["source"].to_numpy(), cache=True)
                acc = evaluate.heldout_protocol(emb[test.index], test, (requests, gen), gallery_poses=gallery_poses,
                                                seed=eval_seed, identity_col=identity_col, cache=True)
                test_p, leaking = acc["mcnemar"]["p"], acc["leaking"]
            base, aug = acc["baseline"]["accuracy"], acc["augmented"]["accuracy"]
            rows.append({"source": s, "protocol": "paper" if proto == "paper" else "held-out", "leaking": leaking,
                         "baseline": base, "augmented": aug, "gain": aug - base, "p": test_p, "seed": seed})
    return pd.DataFrame(rows)


def heldout_generation(meta, found, *, gallery_poses: Sequence[str] = ("S",), seed: int = 0):
    """What the held-out protocol asks FRA to generate, with a posture map for each request.

    For every TEST gallery image (``gallery_poses``, every session of the person) x missing pose: the posture map of a random
    TRAINING identity's image at that pose and emotion (with a landmark map). Requests with no
    such map are dropped (their count is ``dropped``). Returns (requests DataFrame, posture row
    labels, dropped).
    """
    from lib.fra import evaluate

    from lib.data.faceset import person_column

    # the held-out protocol is ours: its classes are persons (a person's two sessions are one class)
    requests = evaluate.heldout_requests(meta[meta["split"] == "test"], gallery_poses=gallery_poses,
                                         identity_col=person_column(meta))
    rng = np.random.default_rng(seed)
    pool, labels = posture_pool(meta, found)
    posture = np.array([labels[rng.choice(pool[(p, e)])] if (p, e) in pool else -1
                        for p, e in zip(requests["pose"], requests["emotion"])], dtype=np.int64)
    keep = posture >= 0
    return requests[keep].reset_index(drop=True), posture[keep], int((~keep).sum())
