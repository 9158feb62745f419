"""Octuplet loss fine-tuning from the ArcFace model (04_lowres; docs/lowres.md).

The low-res project's ``finetuning/octuplet.py`` (after Knoche et al., "Octuplet loss", 2022):
each item is an anchor a and a positive p of one identity and four negatives n1..n4 from four
other identities; LR versions are 112 -> 20 -> 112 (``T.Resize`` both ways, bilinear); with
T(a, p, n) = TripletMarginWithDistanceLoss(distance = 1 - cosine, margin 1.0, mean over the batch),

    L = T(aH, pH, n1H) + T(aH, pL, n2L) + T(aL, pH, n3H) + T(aL, pL, n4L).

All eight images go through the backbone in one forward (train mode, as the original); the
whole backbone is updated. Original optimiser: SGD lr 0.1, momentum 0.9, wd 1e-4, batch 16,
MultiStepLR at epochs 5/10/15 (x0.5), 18 epochs, one item per training image per epoch.

Departures: the four negatives are four *distinct* other identities (the original's dataset
draws each at random, so two may coincide); LR images come from ``lib.data.degrade.down_up``
(cv2 bilinear, no antialiasing; torchvision's ``Resize`` on tensors is bilinear without
antialiasing too); the CPU default fine-tunes on ``items_per_epoch`` items with lr 0.01 (0.1
destroys a small pretrained model in a few steps); ``OctupletConfig.paper()`` has the originals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from lib.lowres.crb import degrade
from lib.lowres.finetune import copy_backbone, hflip, step_lr

N_NEG = 4


@dataclass(frozen=True)
class OctupletConfig:
    """Defaults = the CPU profile; ``paper()`` = the original script."""

    epochs: int = 1
    batch_size: int = 16  # octuplet items per step
    items_per_epoch: int | None = 256  # None: one item per training image (the original)
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple = ()
    gamma: float = 0.5
    margin: float = 1.0
    low_side: int = 20
    hflip: bool = True
    seed: int = 0
    device: str = "auto"

    @classmethod
    def paper(cls, **changes) -> "OctupletConfig":
        return cls(**{"epochs": 18, "batch_size": 16, "items_per_epoch": None, "lr": 0.1,
                      "milestones": (5, 10, 15), **changes})

    def key(self) -> dict:
        d = asdict(self)
        d.pop("device")
        d["milestones"] = list(d["milestones"])
        return d


def sample_items(labels, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 6) row indices: anchor, positive (same label, another image), n1..n4 (four distinct other labels).

    Anchors are a permutation of the rows (cycled when n exceeds them) among labels with >= 2 images.
    """
    labels = np.asarray(labels)
    uniq, inverse = np.unique(labels, return_inverse=True)
    if uniq.size < N_NEG + 1:
        raise ValueError(f"the octuplet loss needs at least {N_NEG + 1} identities, got {uniq.size}")
    groups = [np.flatnonzero(inverse == k) for k in range(uniq.size)]
    eligible = np.concatenate([g for g in groups if len(g) >= 2]) if any(len(g) >= 2 for g in groups) else None
    if eligible is None:
        raise ValueError("the octuplet loss needs identities with at least 2 images (anchor and positive)")
    anchors = rng.permutation(eligible)
    anchors = np.resize(anchors, n) if n > anchors.size else anchors[:n]
    out = np.empty((n, 2 + N_NEG), dtype=np.int64)
    for r, a in enumerate(anchors):
        k = inverse[a]
        g = groups[k]
        out[r, 0], out[r, 1] = a, rng.choice(g[g != a])
        others = rng.choice(np.delete(np.arange(uniq.size), k), size=N_NEG, replace=False)
        out[r, 2:] = [rng.choice(groups[o]) for o in others]
    return out


def octuplet_loss(e: dict, margin: float = 1.0):
    """The four triplet terms from embeddings ``e`` keyed aH aL pH pL n1H n2L n3H n4L; returns (total, terms)."""
    import torch
    import torch.nn.functional as F

    crit = torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: 1.0 - F.cosine_similarity(x, y),
                                                  margin=margin)
    terms = {"hrhr": crit(e["aH"], e["pH"], e["n1H"]), "hrlr": crit(e["aH"], e["pL"], e["n2L"]),
             "lrhr": crit(e["aL"], e["pH"], e["n3H"]), "lrlr": crit(e["aL"], e["pL"], e["n4L"])}
    return sum(terms.values()), terms


ORDER = ("aH", "pH", "n1H", "n2L", "n3H", "n4L", "aL", "pL")


def finetune(backbone, images, labels, cfg: OctupletConfig = OctupletConfig(), *, progress: bool = False):
    """Fine-tune a copy of ``backbone`` on uint8 ``images`` (N, H, W, 3) with int ``labels``.
    Returns (backbone in eval mode on CPU, history DataFrame with one row per epoch)."""
    import torch
    from tqdm import tqdm

    from lib.allocator import keep_freed_memory
    from lib.device import select_device
    from lib.recognition.backbones import get_preprocess, preprocess
    from lib.recognition.train import checked_step
    from lib.seeding import numpy_rng, seed_everything

    seed_everything(cfg.seed)
    keep_freed_memory()  # each step's buffers stay mapped: fewer page faults, the same numbers
    device = select_device(cfg.device)
    model = copy_backbone(backbone).to(device)
    spec = get_preprocess(model)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    n_items = cfg.items_per_epoch or len(labels)
    steps = max(1, n_items // cfg.batch_size)
    rows = []
    bar = tqdm(total=cfg.epochs * steps, desc="octuplet", disable=not progress)
    for epoch in range(cfg.epochs):
        items = sample_items(labels, steps * cfg.batch_size, numpy_rng(cfg.seed, "octuplet", epoch))
        for g in opt.param_groups:
            g["lr"] = step_lr(cfg.lr, epoch, cfg.milestones, cfg.gamma)
        model.train()
        sums = {"loss": 0.0, "hrhr": 0.0, "hrlr": 0.0, "lrhr": 0.0, "lrlr": 0.0}
        for s in range(steps):
            rng = numpy_rng(cfg.seed, "octuplet_step", epoch, s)
            it = items[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            a, p, n1, n2, n3, n4 = (np.asarray(images[np.sort(c)])[np.argsort(np.argsort(c))] for c in it.T)
            if cfg.hflip:
                a, p, n1, n2, n3, n4 = (hflip(x, rng) for x in (a, p, n1, n2, n3, n4))
            low = lambda x: degrade(x, cfg.low_side)  # noqa: E731
            batch = np.concatenate([a, p, n1, low(n2), n3, low(n4), low(a), low(p)])
            x = preprocess(batch, spec, device=device)
            emb = dict(zip(ORDER, model(x).float().chunk(len(ORDER))))
            loss, terms = octuplet_loss(emb, cfg.margin)
            checked_step(opt, loss, f"octuplet fine-tuning, epoch {epoch} step {s}", cfg.lr)
            sums["loss"] += loss.item()
            for k, v in terms.items():
                sums[k] += v.item()
            bar.update(1)
        rows.append({"epoch": epoch + 1, **{k: v / steps for k, v in sums.items()}})
    bar.close()
    model.eval()
    return model.cpu(), pd.DataFrame(rows)
