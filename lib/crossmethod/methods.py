"""The methods of the cross-method benchmark, each assembled from models an earlier notebook trained.

Every recogniser is the same architecture with the same training budget: the default
TrainConfig (iresnet_tiny, 64 px, 128-D, 5 epochs) with an ArcFace head on the engine's training
identities, through lib.recognition.split_models (run cache ``fr/...``). Methods differ only in
what the paper changes:

- ``baseline``: the plain ArcFace model (shared by 01-04);
- ``fra_gallery``: the baseline model; each gallery person also enrolls FRA-generated embeddings
  at the benchmark's other poses (01_fra's held-out FRA model for the ``arcface`` FRL source,
  posture maps from TRAINING identities);
- ``inpainting``: the baseline model; every probe goes through 02_inpainting's blind GAN
  generator first (it never sees the clean image nor the mask);
- ``fserasing``: 03_fserasing's ArcFace model trained with FSErasing;
- ``crb``, ``approach1``, ``approach2``: 04_lowres's ArcFace models (cross-resolution batch,
  resolution-dependent margins, sharpness-adaptive margins);
- ``combined``: see :func:`combined_model` (trained here: the one model none of the notebooks has).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Method:
    name: str
    backbone: object  # torch backbone (lib.recognition.backbones), eval mode
    gallery_extra: object = None  # fn(gallery_emb) -> (extra_emb, extra_persons)
    probe_transform: object = None  # fn(Condition) -> images
    notes: str = ""
    sources: list = field(default_factory=list)  # where the parts come from (notebook, cache name)

    def embed_fn(self, batch_size: int = 256):
        from lib.recognition.embedders import embed

        return lambda images: embed(self.backbone, images, batch_size=batch_size)


def baseline_model(fs, fr_train: Mapping | None = None):
    """The shared ArcFace baseline (runs/fr/arcface), trained on ``fs``'s training identities."""
    from lib.recognition.split_models import train_on_split

    return train_on_split(fs, {**dict(fr_train or {}), "head": "arcface"}, progress=False).backbone


def fra_gallery(fs, bench, *, fra_params: Mapping, fr_train: Mapping | None = None, seed: int = 0,
                poses=("HR", "FR")):
    """``fn(gallery_emb) -> (generated, persons)``: FRA embeddings of each gallery image at ``poses``.

    The FRA model is 01_fra's held-out model of the ``arcface`` FRL source, found in the run cache
    with 01's parameters (``fra_params``: landmark_source, num_pairs, fra). Posture maps: a random
    TRAINING identity's image at the pose with the gallery's emotion (neutral) and a landmark map.
    """
    from lib.fra import frl, pipeline

    m = fs.meta
    landmark_source = fra_params.get("landmark_source", "dlib")
    maps, found = pipeline.landmark_maps_cached(fs, landmark_source)
    emb = frl.embeddings("arcface", fs, train_cfg=fr_train, progress=False)
    pairs, _ = pipeline.protocol_pairs(m, found, num_pairs=int(fra_params["num_pairs"]), seed=seed)
    model = pipeline.fra_model(fs, "arcface", "heldout", maps=maps, embeddings=emb, pairs=pairs["heldout"],
                               landmark_source=landmark_source, num_pairs=int(fra_params["num_pairs"]),
                               fra=fra_params.get("fra"), fr_train=fr_train, seed=seed).model
    train_rows = (m["split"] == "train").to_numpy() & np.asarray(found, bool)
    pool = m[train_rows].groupby(["pose", "emotion"]).indices
    labels = m[train_rows].index.to_numpy()
    missing = [p for p in poses if (p, "neutral") not in pool]
    if missing:
        raise ValueError(f"no training image with a landmark map at poses {missing} (neutral): FRA cannot "
                         "generate them")
    rng = np.random.default_rng(seed)
    posture = {p: labels[rng.choice(pool[(p, "neutral")], size=len(bench.gallery_persons))] for p in poses}

    def extra(gallery_emb):
        from lib.fra.train import generate

        n = len(gallery_emb)
        out = [generate(model, maps, gallery_emb.astype(np.float32), posture[p], np.arange(n)) for p in poses]
        return np.vstack(out), np.tile(np.asarray(bench.gallery_persons), len(poses))

    return model, extra
