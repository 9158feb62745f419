"""FRL (face representation learning) sources: where FRA's identity embeddings come from.

- ``dlib``, ``sface``: the offline pretrained recognisers (lib.faces.embed), 128-D.
- ``arcface``, ``cosface``, ``magface``: the paper's three base models. On the default
  profile they are backbones trained here with those heads on a training corpus (``train_fs``:
  synth_webface, persons disjoint from the KDEF-like set, as the paper's models learnt from MS1M and
  were tested on KDEF; lib.recognition.split_models.train_on_split: cached by config and data hash,
  shared with the other notebooks); the evaluation persons are never seen. On the full profile the user's checkpoints are
  loaded instead (``checkpoint=``), fed the way the FRA code fed them:
  MagFace iresnet100 (BGR, x/255), ArcFace = insightface iresnet100 loaded into the same
  class and fed the same way (the FRA code's choice, not insightface's (x-127.5)/127.5 RGB),
  CosFace sphere20 at 96 x 112 (the FRA code's transposed cv2.resize) with BGR (x-127.5)/128.

Embeddings are returned raw (not L2-normalised) as the FRA code uses them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lib import runcache

PRETRAINED = ("dlib", "sface")
TRAINED = ("arcface", "cosface", "magface")
SOURCES = PRETRAINED + TRAINED

# How the FRA code (step1_generate_dataset.py) built and fed each user checkpoint (docs/fra.md).
CHECKPOINT_MODELS = {
    "magface": {"backbone": "magface_iresnet100", "preprocess": None},
    "arcface": {"backbone": "magface_iresnet100", "preprocess": {"channels": "BGR", "mean": 0.0, "std": 255.0}},
    "cosface": {"backbone": "sphere20", "input_size": (96, 112),
                "preprocess": {"channels": "BGR", "mean": 127.5, "std": 128.0, "fit": "resize"}},
}


def train_labels(meta) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training split and their contiguous class labels (by identity)."""
    from lib.recognition.split_models import split_labels

    return split_labels(meta, "train")


def train_backbone(head: str, fs, *, train_cfg: Mapping | None = None, progress: bool = True):
    """The FRL backbone trained with ``head`` on ``fs``'s training identities (cached, shared with
    the other notebooks through lib.recognition.split_models); returns a TrainResult."""
    from lib.recognition.split_models import train_on_split

    if head not in TRAINED:
        raise ValueError(f"unknown trained FRL source {head!r}; choose from {TRAINED}")
    return train_on_split(fs, {**dict(train_cfg or {}), "head": head}, progress=progress)


def load_checkpoint_model(source: str, checkpoint):
    """A user's MagFace/ArcFace/CosFace checkpoint in the backbone the FRA code used for it."""
    from lib.recognition.backbones import create_backbone, load_checkpoint

    if source not in CHECKPOINT_MODELS:
        raise ValueError(f"no checkpoint recipe for {source!r}; choose from {sorted(CHECKPOINT_MODELS)}")
    spec = dict(CHECKPOINT_MODELS[source])
    kwargs = {"input_size": spec["input_size"]} if "input_size" in spec else {}
    model = create_backbone(spec["backbone"], preprocess=spec["preprocess"], **kwargs)
    load_checkpoint(model, checkpoint)
    return model.eval()


def _resolved_train_cfg(head: str, train_cfg: Mapping | None) -> dict:
    from lib.recognition.train import TrainConfig

    return TrainConfig(**{**dict(train_cfg or {}), "head": head}).key()


def embeddings(source: str, fs, *, train_cfg: Mapping | None = None, checkpoint=None, train_fs=None,
               progress: bool = True) -> np.ndarray:
    """(N, D) raw embeddings of every image of ``fs`` from FRL ``source`` (cached in runs/frl/).

    ``train_fs``: the FaceSet whose training persons a trained source learns from (None: ``fs``'s own
    training split, which the paper's protocol then tests on: the leak it has)."""
    from lib.recognition.embedders import embed
    from lib.recognition.split_models import data_key

    if source not in SOURCES:
        raise ValueError(f"unknown FRL source {source!r}; choose from {SOURCES}")
    trained_here = source in TRAINED and checkpoint is None
    # The resolved TrainConfig (not just the changes): when a library default changes, the FR model
    # is retrained under a new key, and so are its embeddings.
    key = {"source": source, "images_sha256": fs.card["arrays"]["images.npy"]["sha256"],
           "train_cfg": _resolved_train_cfg(source, train_cfg) if trained_here else None,
           "checkpoint": str(checkpoint) if checkpoint else None}
    if trained_here and train_fs is not None:
        key["train_data"] = data_key(train_fs, "train")

    def compute() -> dict:
        if source in PRETRAINED:
            from lib.faces.embed import create_embedder

            model = create_embedder(source)
        elif checkpoint:
            model = load_checkpoint_model(source, checkpoint)
        else:
            model = train_backbone(source, fs if train_fs is None else train_fs, train_cfg=train_cfg,
                                   progress=progress).backbone
        import os

        return {"embeddings": embed(model, np.asarray(fs.images), batch_size=256, workers=min(os.cpu_count() or 1, 4))}

    return runcache.cached_arrays(f"frl/{source}", key, compute)["embeddings"]
