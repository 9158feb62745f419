"""What the two fine-tuning methods share (04_lowres): the base backbone, the step loop's
bookkeeping, and the run cache (runs/lowres/<method>/<hash>/model.pt + history.csv).

Both start from the ArcFace model of ``lib.lowres.methods`` (the shared ``fr/arcface`` baseline
on the default profile) and save only the backbone, which is what evaluation embeds with.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

FINAL = "model.pt"
HISTORY = "history.csv"


def create_like(train_cfg: Mapping):
    """An untrained backbone of the ``TrainConfig`` changes ``train_cfg`` (to load a state into)."""
    from lib.recognition.backbones import create_backbone
    from lib.recognition.train import TrainConfig

    c = TrainConfig(**dict(train_cfg))
    return create_backbone(c.backbone, **dict(c.backbone_kwargs))


def copy_backbone(backbone):
    """A deep copy to fine-tune, so the cached base model in memory stays as it was."""
    return copy.deepcopy(backbone).cpu()


def cached_finetune(name: str, key: Mapping, train_cfg: Mapping, run: Callable[[], tuple]):
    """``run() -> (backbone, history DataFrame)`` once per ``key`` under runs/lowres/<name>/; later
    calls load the saved backbone. Returns (backbone in eval mode on CPU, history, cache dir)."""
    import torch

    from lib import io, runcache

    def build(tmp: Path) -> None:
        backbone, history = run()
        with io.atomic_path(tmp / FINAL) as f:
            torch.save({"backbone": backbone.state_dict()}, f)
        io.write_text(tmp / HISTORY, history.to_csv(index=False))

    out = runcache.cached(f"lowres/{name}", dict(key), build)
    backbone = create_like(train_cfg)
    state = torch.load(out / FINAL, map_location="cpu", weights_only=True)
    backbone.load_state_dict(state["backbone"])
    backbone.eval()
    history = pd.read_csv(out / HISTORY) if (out / HISTORY).is_file() else pd.DataFrame()
    return backbone, history, out


def is_cached(name: str, key: Mapping) -> bool:
    from lib import runcache

    return (runcache.artifact_dir(f"lowres/{name}", dict(key)) / "config.json").is_file()


def step_lr(lr: float, epoch: int, milestones, gamma: float) -> float:
    """MultiStepLR as the originals: lr * gamma ** (number of milestones <= epoch)."""
    return lr * gamma ** sum(epoch >= m for m in milestones)


def hflip(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror each image with probability 0.5 (the originals' ``transform``)."""
    flip = rng.random(len(batch)) < 0.5
    out = batch.copy()
    out[flip] = out[flip, :, ::-1]
    return out
