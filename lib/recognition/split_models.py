"""FR models trained on a FaceSet's TRAINING persons, cached and shared across notebooks.

Every notebook that needs "a backbone trained with head X on the engine's training
identities" calls :func:`train_on_split`, so equal configurations resolve to the same run
cache entry (runs/fr/<name>/<hash>/): the ArcFace baseline of 01_fra is the one 02-05 reuse,
never retrained silently. Variants (augmentations, cross-resolution batches, adaptive
margins) pass a distinct ``name`` and describe their hook in ``extra_key``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def split_labels(meta, split: str | None = "train") -> tuple[np.ndarray, np.ndarray]:
    """Row indices of ``split`` (None: every row) and their contiguous class labels: one class per PERSON
    (sorted names).

    A person photographed in two sessions (KDEF, the engine: identities "A007" and "B007") is one
    class (lib.data.faceset.person_labels): training the sessions as two classes would teach the
    model to tell a person's session light and background apart, the opposite of recognition.
    """
    from lib.data.faceset import person_labels

    rows = np.arange(len(meta)) if split is None else np.flatnonzero(meta["split"].to_numpy() == split)
    if rows.size == 0:
        raise ValueError(f"the FaceSet has no {split!r} rows: FR models are trained on training identities only")
    names = person_labels(meta)[rows]
    lookup = {k: i for i, k in enumerate(sorted(set(names)))}
    return rows, np.array([lookup[n] for n in names], dtype=np.int64)


def data_key(fs, split: str = "train") -> dict:
    """What identifies the training data of a split: the images' (and parsing maps') checksums,
    the row rule and the label rule."""
    rows, _ = split_labels(fs.meta, split)
    arrays = fs.card["arrays"]
    key = {"images_sha256": arrays["images.npy"]["sha256"], "rows": f"split == {split}", "n": int(rows.size),
           "labels": "person"}
    if "parsing.npy" in arrays:
        key["parsing_sha256"] = arrays["parsing.npy"]["sha256"]
    return key


def wild_regions(fs, rows) -> np.ndarray | None:
    """(n, H, W) uint8: ``fs``'s parsing maps at ``rows`` reduced to what ``TrainConfig.photometric="wild"``
    recolours, lib.recognition.train.REGION_BACKGROUND and REGION_HAIR (0 elsewhere); None without
    parsing maps."""
    if not fs.has("parsing"):
        return None
    from lib.data.engine.labels import wild_masks
    from lib.recognition.train import REGION_BACKGROUND, REGION_HAIR

    background, hair = wild_masks(fs.array("parsing")[rows])
    out = np.zeros(background.shape, np.uint8)
    out[background] = REGION_BACKGROUND
    out[hair] = REGION_HAIR
    return out


def train_on_split(fs, cfg=None, *, name: str | None = None, split: str = "train",
                   extra_key: Mapping | None = None, progress: bool = True, **train_kwargs):
    """Train (or load from the run cache) a backbone on ``fs``'s ``split`` identities.

    Args:
        cfg: a :class:`lib.recognition.train.TrainConfig` or a mapping of changes to its defaults.
        name: run-cache name under ``fr/`` (default: the head's name, e.g. ``fr/arcface``).
        extra_key: describes anything outside ``cfg`` that changes the result (hooks and their
            parameters); required whenever ``batch_hook``/``tensor_hook`` is given.
        train_kwargs: passed to :func:`lib.recognition.train.train` (batch_hook, tensor_hook,
            eval_fn, init_state, ...).
    Returns the :class:`lib.recognition.train.TrainResult` (backbone in eval mode, on CPU).
    """
    from lib.recognition.train import TrainConfig, train_cached

    if not isinstance(cfg, TrainConfig):
        cfg = TrainConfig(**dict(cfg or {}))
    hooked = [k for k in ("batch_hook", "tensor_hook", "init_state") if train_kwargs.get(k) is not None]
    if hooked and not extra_key:
        raise ValueError(f"{hooked} change the trained model: describe them in extra_key so the cache "
                         "never returns a model trained without them")
    if cfg.pretrain and train_kwargs.get("init_state") is None:  # resolved only if this run must be trained
        def init_fn():
            base = pretrained(fs, cfg, split=split, progress=progress)
            return base.backbone.state_dict(), base.head.state_dict()

        train_kwargs["init_fn"] = init_fn
    rows, labels = split_labels(fs.meta, split)
    if cfg.photometric == "wild" and "regions" not in train_kwargs:
        train_kwargs["regions"] = lambda: wild_regions(fs, rows)
    # the images (752 MB for synth_webface) and masks are read only if the run must be trained
    return train_cached(f"fr/{name or cfg.head}", cfg, lambda: np.asarray(fs.images[rows]), labels,
                        data_key=data_key(fs, split), extra_key=extra_key, progress=progress, **train_kwargs)


def pretrained(fs, cfg, *, split: str = "train", progress: bool = True):
    """The TrainResult of ``cfg``'s pretraining run (``TrainConfig.pretrain``) on ``fs``'s ``split``, trained
    once and cached under ``fr/pretrain/<head>``: every fine-tune with the same pretraining settings starts
    from its backbone and from its head's class weights (every head has a classes x embedding ``weight``; the
    classes are the same persons), whatever head the fine-tune trains.

    The pretraining run is the plain loop (no hooks): what the fine-tunes share; each method's hook acts
    during its own fine-tune only."""
    base = cfg.pretrain_config()
    if base is None:
        raise ValueError("this TrainConfig has no pretrain settings: it trains from scratch")
    return train_on_split(fs, base, name=f"pretrain/{base.head}", split=split, progress=progress)


def training_faceset(profile: str, seed: int = 0, webface_root: str = ""):
    """The FaceSet every face-recognition model of ``profile`` learns from: a user's CASIA-WebFace at
    ``webface_root`` (full profile), else the engine's ``synth_webface`` corpus built by 00_data_prep
    (2,000 persons x 10 images on the default profile, none of them a synth_kdef or benchmark person).

    The papers train on a large corpus and test on small sets of other persons (CASIA-WebFace or MS1M vs
    KDEF, LFW, SCface); the notebooks do the same: models learn here, and are tested on synth_kdef's test
    persons and synth_bench."""
    from lib.data.faceset import read_faceset

    if webface_root:
        from lib.data import sources

        return read_faceset(sources.prepare("webface", webface_root), verify="fast")
    from lib.data.engine.corpora import notebook_corpora

    return notebook_corpora(profile, seed, names=("synth_webface",))["synth_webface"]
