"""DeriveNet fine-tuning from the ArcFace model (04_lowres; docs/lowres.md).

The low-res project's ``finetuning/derive_net.py`` + ``head/dmargin.py`` (after Singh et al.,
"DeriveNet for (very) low resolution image classification", TPAMI 2021):

- LR input: 112 -> 16 -> 112 (bilinear); f = backbone(LR);
- reconstruction g(f): Linear(D, 1024) -> Linear(1024, 2048) -> Linear(2048, 112*112*3), no
  non-linearity (as the original), trained to give back the HR image (the normalised tensor);
- class centres C_y: the running mean of the (detached) reconstructions of class y, the current
  batch included;
- ReCent loss: lambda * sum_i (||HR_i - g(f_i)||^2 + ||g(f_i) - C_{y_i}||^2), lambda = 1e-3;
- D-Margin: raw logits f W (W xavier, no normalisation); the target logit gets
  cos(C_y, C_y) added, i.e. **+1** (the original adds the cosine between the class centre of
  y and every centre, then keeps only the target column, whose value is always 1; a positive
  term makes the target easier, so it is a negative margin). ``dmargin`` sets the value.

**The original never updates the backbone.** Its optimiser holds only g and a classifier
(``ClassificationModel``) that the loss never uses; the D-Margin weight W is not in it either.
So the saved ``DeriveNet.pt`` has the ArcFace backbone's weights; only its BatchNorm running
statistics change (the backbone runs in train mode on the LR inputs), which is the whole
difference an evaluation of it can see. ``update_backbone=False`` reproduces that (g alone
learns; the returned backbone's weights equal the base's, its BN statistics do not; tested);
``update_backbone=True`` (default here) trains the backbone, W and g together, the method as
described.

Other departures: the loss is ReCent mean over the batch + CE mean (the original divides the sum
of ReCent and the batch-mean CE by B, shrinking CE by 1/B); the unused classifier is left out;
on the CPU profile g reconstructs a ``recon_size`` (32 px) image with hidden sizes (512, 1024)
(a 112*112*3 output layer from 2048 units is 77 M weights); ``DeriveNetConfig.paper()`` has
112 px and (1024, 2048), SGD lr 0.1, momentum 0.5, wd 1e-4, batch 16, steps 5/10/15 x0.5.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from lib.lowres.crb import degrade
from lib.lowres.finetune import copy_backbone, hflip, step_lr


@dataclass(frozen=True)
class DeriveNetConfig:
    """Defaults = the CPU profile; ``paper()`` = the original script."""

    epochs: int = 1
    batch_size: int = 32
    images_per_epoch: int | None = 512  # None: every training image once (the original)
    lr: float = 0.01
    momentum: float = 0.5
    weight_decay: float = 1e-4
    milestones: tuple = ()
    gamma: float = 0.5
    low_side: int = 16
    recon_size: int = 32
    hidden: tuple = (512, 1024)
    lambda_recent: float = 1e-3
    dmargin: float = 1.0
    update_backbone: bool = True
    hflip: bool = True
    seed: int = 0
    device: str = "auto"

    @classmethod
    def paper(cls, **changes) -> "DeriveNetConfig":
        return cls(**{"epochs": 18, "batch_size": 16, "images_per_epoch": None, "lr": 0.1, "milestones": (5, 10, 15),
                      "recon_size": 112, "hidden": (1024, 2048), "update_backbone": False, **changes})

    def key(self) -> dict:
        d = asdict(self)
        d.pop("device")
        d["milestones"], d["hidden"] = list(d["milestones"]), list(d["hidden"])
        return d


def reconstruction_net(embedding_size: int, recon_size: int, hidden=(1024, 2048)):
    """g: Linear layers D -> hidden... -> recon_size^2 * 3, no activations (the original's ReconstructModel)."""
    from torch import nn

    sizes = [int(embedding_size), *map(int, hidden), int(recon_size) ** 2 * 3]
    return nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])


class ClassCentres:
    """Running sums and counts of reconstructions per class (torch tensors, no gradient)."""

    def __init__(self, num_classes: int, dim: int):
        import torch

        self.sums = torch.zeros(num_classes, dim)
        self.counts = torch.zeros(num_classes)

    def update_and_get(self, recon, labels):
        """Add the batch (detached) first, as the original, and return C_y per sample."""
        r = recon.detach().cpu()
        lab = labels.cpu()
        self.sums.index_add_(0, lab, r)
        self.counts.index_add_(0, lab, r.new_ones(len(lab)))
        return (self.sums[lab] / self.counts[lab, None]).to(recon.device)


def recent_loss(hr, recon, centres, lam: float):
    """ReCent: lam * mean_i (||hr_i - recon_i||^2 + ||recon_i - C_i||^2) (flattened tensors)."""
    return lam * (((hr - recon) ** 2).sum(1) + ((recon - centres) ** 2).sum(1)).mean()


def dmargin_logits(raw, labels, value: float = 1.0):
    """Raw logits with ``value`` added to the target column (the original's D-Margin: +1)."""
    return raw + value * __import__("torch").nn.functional.one_hot(labels, raw.shape[1]).to(raw.dtype)


def finetune(backbone, images, labels, cfg: DeriveNetConfig = DeriveNetConfig(), *, progress: bool = False):
    """Fine-tune a copy of ``backbone`` with DeriveNet on uint8 ``images`` and int ``labels``.
    Returns (backbone in eval mode on CPU, history DataFrame per epoch)."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from lib.allocator import keep_freed_memory
    from lib.device import select_device
    from lib.recognition.backbones import get_preprocess, preprocess
    from lib.recognition.train import checked_step
    from lib.seeding import numpy_rng, seed_everything

    labels = np.asarray(labels, dtype=np.int64)
    seed_everything(cfg.seed)
    keep_freed_memory()  # each step's buffers stay mapped: fewer page faults, the same numbers
    device = select_device(cfg.device)
    model = copy_backbone(backbone).to(device)
    spec = get_preprocess(model)
    target_spec = spec.with_size(cfg.recon_size)
    num_classes = int(labels.max()) + 1
    dim = int(model.embedding_size)
    g = reconstruction_net(dim, cfg.recon_size, cfg.hidden).to(device)
    w = torch.nn.Parameter(torch.empty(dim, num_classes, device=device))
    torch.nn.init.xavier_normal_(w)
    params = list(g.parameters())
    if cfg.update_backbone:
        params += list(model.parameters()) + [w]
    else:
        model.requires_grad_(False)
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    centres = ClassCentres(num_classes, cfg.recon_size ** 2 * 3)
    n = cfg.images_per_epoch or len(labels)
    steps = max(1, n // cfg.batch_size)
    rows = []
    bar = tqdm(total=cfg.epochs * steps, desc="derivenet", disable=not progress)
    for epoch in range(cfg.epochs):
        order = numpy_rng(cfg.seed, "derivenet", epoch).permutation(len(labels))
        order = np.resize(order, steps * cfg.batch_size)
        for group in opt.param_groups:
            group["lr"] = step_lr(cfg.lr, epoch, cfg.milestones, cfg.gamma)
        model.train()  # as the original, also when frozen: BatchNorm running statistics follow the LR inputs
        sums = {"loss": 0.0, "recent": 0.0, "ce": 0.0}
        for s in range(steps):
            idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            hr = np.asarray(images[np.sort(idx)])[np.argsort(np.argsort(idx))]
            if cfg.hflip:
                hr = hflip(hr, numpy_rng(cfg.seed, "derivenet_step", epoch, s))
            y = torch.as_tensor(labels[idx], device=device)
            f = model(preprocess(degrade(hr, cfg.low_side), spec, device=device)).float()
            recon = g(f)
            target = preprocess(hr, target_spec, device=device).flatten(1)
            rc = recent_loss(target, recon, centres.update_and_get(recon, y), cfg.lambda_recent)
            ce = F.cross_entropy(dmargin_logits(f @ w, y, cfg.dmargin), y)
            loss = rc + ce
            checked_step(opt, loss, f"DeriveNet fine-tuning, epoch {epoch} step {s}", cfg.lr)
            sums["loss"] += loss.item()
            sums["recent"] += rc.item()
            sums["ce"] += ce.item()
            bar.update(1)
        rows.append({"epoch": epoch + 1, **{k: v / steps for k, v in sums.items()}})
    bar.close()
    model.requires_grad_(True)
    model.eval()
    return model.cpu(), pd.DataFrame(rows)
