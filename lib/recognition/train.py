"""One training loop for every face-recognition model of the companion.

    cfg = TrainConfig(backbone="iresnet_tiny", head="arcface", epochs=8)
    result = train(cfg, images, labels, work_dir=Path("runs/x"))      # or:
    result = train_cached("fr/arcface", cfg, images, labels, data_key=fs.card["arrays"]["images.npy"]["sha256"])

- CPU or CUDA (``device="auto"``); AMP (float16 autocast + GradScaler) on CUDA only; the
  margin head always runs in float32.
- DDP when started under ``torchrun`` (WORLD_SIZE > 1): each rank takes a strided share of
  the epoch's permutation; only rank 0 writes checkpoints and the CSV.
- Checkpoint every ``checkpoint_every`` steps and at every epoch end (``last.pt``, written
  atomically); a new call with the same config resumes from it, bit-exactly on CPU: the epoch
  permutation and every augmentation draw come from ``numpy_rng(seed, ...)`` streams keyed
  by epoch and step, and torch's RNG state is stored.
- A NaN/inf loss stops training with ``TrainingDiverged``, naming the step and the last
  good checkpoint (which is never overwritten by a bad state).
- Per-epoch metrics (loss, train accuracy, lr, images/s, anything ``eval_fn`` returns) go to
  ``history.csv``; tqdm shows progress (TQDM_DISABLE=1 silences it).

Photometric augmentation (``TrainConfig.photometric="wild"``, the default): every training image gets
its own background colour, channel gains, brightness and, with probability ``wild_gray``, grey
(lib.data.degrade.wild), after the flip and before the hooks; with ``wild_hair`` its own hair colour too.
The engine renders a person's images under one light, background and colour balance per session and
with one hair colour; without this a model can separate persons by those and fails on photos taken
otherwise (04_lowres's unconstrained test). Background and hair come from ``regions`` maps
(train_on_split passes the FaceSet's parsing maps reduced to ``REGION_BACKGROUND`` / ``REGION_HAIR``);
without them only gains, brightness and grey vary. ``"none"`` trains on the images as they are.

Hooks (the papers' methods plug in here, not by forking the loop):
- ``batch_hook(images_uint8, indices, rng) -> images`` or ``(images, margins)``: works on
  the uint8 batch (Cross-Resolution Batch, occlusions, Approach1/2 margins computed on the
  image the network actually sees);
  a hook with ``uses_flips = True`` is also given ``flipped=`` (bool per image: mirrored by the loop);
- ``tensor_hook(x, indices, rng) -> x``: works on the normalised tensor (FSErasing).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lib import io, runcache
from lib.allocator import keep_freed_memory
from lib.checkpoint import Checkpointer, TrainingDiverged, load, save_atomic  # noqa: F401 (TrainingDiverged: re-exported)
from lib.data.degrade import wild
from lib.seeding import numpy_rng, seed_everything

REGION_BACKGROUND, REGION_HAIR = 1, 2  # the codes of ``regions`` maps (0: the face, kept)
CHECKPOINT = "last.pt"
FINAL = "model.pt"
HISTORY = "history.csv"


def checked_step(opt, loss, what: str, lr: float) -> None:
    """One plain optimiser step of the smaller training loops (parser, Octuplet, DeriveNet): raise
    :class:`TrainingDiverged` naming ``what`` and the learning rate to lower if ``loss`` is not
    finite, else zero_grad, backward, step."""
    import torch

    if not torch.isfinite(loss):
        raise TrainingDiverged(f"{what}: loss is {loss.item()}; lower lr (now {lr})")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


@dataclass(frozen=True)
class TrainConfig:
    """Defaults-plus-changes: every field has the default-profile value.

    Optimiser defaults follow arcface_torch at small scale (SGD 0.1, momentum 0.9, wd 5e-4)
    with a cosine schedule and a linear warm-up; ``schedule="step"`` with ``milestones``
    (epochs) and ``gamma`` reproduces the low-res paper's steps.
    """

    backbone: str = "iresnet_tiny"
    backbone_kwargs: Mapping = field(default_factory=dict)
    head: str = "arcface"
    head_kwargs: Mapping = field(default_factory=dict)
    # The profiles' budgets are in lib/recognition/config.py (default: a 2-epoch pretraining on synth_webface,
    # then a 0.5-epoch fine-tune per method; the measurements that chose them are there).
    epochs: float = 1  # a fraction ends inside an epoch: round(epochs * steps per epoch) steps in all
    batch_size: int = 64
    optimizer: str = "sgd"  # sgd | adamw
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # cosine | step | constant
    milestones: tuple = ()
    gamma: float = 0.1
    warmup_epochs: float = 0.2
    hflip: bool = True
    photometric: str = "wild"  # "wild": lib.data.degrade.wild per training image (module docstring); "none"
    wild_gray: float = 0.5  # probability of a grey image under "wild" (test sets are grey and colour)
    # under "wild", a new hair colour per image too (regions' REGION_HAIR pixels); off by default: measured in
    # 04_lowres (lib.lowres.cues), it lowers 112 px and 7 px alike, so the hair's colour is not what a thumbnail keeps
    wild_hair: bool = False
    grad_clip: float | None = 5.0
    seed: int = 0
    checkpoint_every: int = 0  # steps; 0 = only at epoch ends
    device: str = "auto"
    amp: bool = True  # on CUDA only
    threads: int | None = None  # torch CPU threads (None: torch's choice)
    # Start from the backbone of a pretraining run on the same data: that run's TrainConfig changes, on top of
    # this config's backbone, backbone_kwargs, seed, device, amp and threads (empty: train from scratch).
    # lib.recognition.split_models.train_on_split trains (or loads) it first and fine-tunes from its backbone;
    # the papers' recognisers learn from scratch, the CPU budget pretrains once and fine-tunes every method.
    pretrain: Mapping = field(default_factory=dict)
    # torch.compile the backbone's forward (TorchInductor) with this mode; "" runs it eagerly, as every
    # profile does. Compiled kernels fuse operations (batch norm, PReLU, additions), so a compiled run is a
    # different run: its last bits differ, and its cache key holds the mode. Inductor runs in the deterministic
    # mode lib.seeding asks for (no kernel chosen by timing it). Measured in lib.speed.recognition.
    compile: str = ""

    COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

    def __post_init__(self):
        if not self.epochs > 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs!r}")
        if self.compile not in self.COMPILE_MODES:
            raise ValueError(f"TrainConfig.compile={self.compile!r}: choose one of {self.COMPILE_MODES} "
                             "('' = no torch.compile)")
        if self.pretrain and "pretrain" in self.pretrain:
            raise ValueError("TrainConfig.pretrain: a pretraining run cannot itself be pretrained (nested 'pretrain')")
        if self.pretrain and {"backbone", "backbone_kwargs"} & set(self.pretrain):
            raise ValueError("TrainConfig.pretrain: the pretraining run trains this config's backbone; "
                             "give 'backbone'/'backbone_kwargs' on the outer config, not inside 'pretrain'")

    def pretrain_config(self) -> TrainConfig | None:
        """The pretraining run's config (None when training from scratch)."""
        if not self.pretrain:
            return None
        inherited = {k: getattr(self, k) for k in ("backbone", "backbone_kwargs", "seed", "device", "amp", "threads",
                                                   "compile")}
        return TrainConfig(**{**inherited, **dict(self.pretrain)})

    def key(self) -> dict:
        """The JSON-able identity of the run (without device/threads: they do not change results on CPU
        beyond float reduction order, and a cached model must be reusable on another machine). A run
        from scratch has no ``pretrain`` entry (the keys of earlier runs stay valid); a fine-tune holds
        its pretraining run's whole key."""
        d = asdict(self)
        for k in ("device", "threads"):
            d.pop(k)
        d["milestones"] = list(d["milestones"])
        if float(self.epochs).is_integer():  # 1 and 1.0 are one run (and the keys of earlier runs stay valid)
            d["epochs"] = int(self.epochs)
        if self.pretrain:
            d["pretrain"] = self.pretrain_config().key()
        else:
            d.pop("pretrain")
        if not self.compile:  # an eager run (every earlier run): its key stays as it was
            d.pop("compile")
        if not (self.wild_hair and self.photometric == "wild"):  # the hair as rendered: the key of earlier runs
            d.pop("wild_hair")
        return d


@dataclass
class TrainResult:
    backbone: object  # the trained torch.nn.Module (eval mode, on CPU)
    head: object
    history: pd.DataFrame
    work_dir: Path
    resumed_from: int | None  # step resumed from, if any


# ----------------------------------------------------------------------------------- building

def build_models(cfg: TrainConfig, num_classes: int):
    """The backbone and head of ``cfg`` (lib.recognition registries)."""
    from lib.recognition.backbones import create_backbone
    from lib.recognition.heads import create_head

    backbone = create_backbone(cfg.backbone, **dict(cfg.backbone_kwargs))
    head = create_head(cfg.head, backbone.embedding_size, num_classes, **dict(cfg.head_kwargs))
    return backbone, head


def _optimizer(cfg: TrainConfig, params):
    import torch

    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer {cfg.optimizer!r}; choose sgd or adamw")


def total_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """Optimiser steps of the whole run: ``cfg.epochs`` epochs (a fraction ends inside the last one)."""
    return max(1, int(round(cfg.epochs * steps_per_epoch)))


def lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up, then cosine/step/constant."""
    total = total_steps(cfg, steps_per_epoch)
    warm = int(round(cfg.warmup_epochs * steps_per_epoch))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "cosine":
        t = (step - warm) / max(1, total - warm)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if cfg.schedule == "step":
        epoch = step / steps_per_epoch
        return cfg.lr * cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    if cfg.schedule == "constant":
        return cfg.lr
    raise ValueError(f"schedule {cfg.schedule!r}; choose cosine, step or constant")


# ------------------------------------------------------------------------------ distributed

@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Under DDP, wait for every rank (no-op alone)."""
        if self.world > 1:
            import torch.distributed as tdist

            tdist.barrier()


def _init_distributed(device_name: str):
    """DDP under torchrun (WORLD_SIZE > 1): NCCL on CUDA, Gloo on CPU. Returns (dist, device)."""
    import torch

    from lib.device import rank_and_world, select_device

    _, world = rank_and_world()
    if world <= 1:
        return _Dist(), select_device(device_name)
    import torch.distributed as tdist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = select_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not tdist.is_initialized():
        tdist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _Dist(tdist.get_rank(), tdist.get_world_size(), local), device


def load_training_checkpoint(path: Path) -> dict:
    """A ``last.pt`` written by ``train`` (lib.checkpoint)."""
    return load(path, "training")


# ------------------------------------------------------------------------------------ train

def _check_data(images, labels, cfg: TrainConfig | None = None, regions=None) -> tuple[np.ndarray, int]:
    """(int64 labels, number of classes) of valid training data; ``cfg``/``regions``: checked too."""
    if cfg is not None and cfg.photometric not in ("wild", "none"):
        raise ValueError(f"photometric must be 'wild' or 'none', got {cfg.photometric!r}")
    if regions is not None and getattr(regions, "shape", None) != getattr(images, "shape", (None,) * 4)[:3]:
        raise ValueError(f"regions maps must have shape {images.shape[:3]}, got {getattr(regions, 'shape', None)}")
    labels = np.asarray(labels)
    if getattr(images, "dtype", None) != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {getattr(images, 'dtype', type(images))} "
                         f"{getattr(images, 'shape', '')}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels must be integers of shape ({len(images)},), got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64), _num_classes(labels)


def _num_classes(labels) -> int:
    """C of integer class labels 0..C-1 (ValueError otherwise)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if len(labels) == 0 or labels.min() < 0:
        raise ValueError("labels must be non-negative class indices 0..C-1 and not empty")
    return int(labels.max()) + 1


@dataclass
class _Run:
    """What one training run holds on this rank (``_setup``)."""

    dist: object
    device: object
    backbone: object
    head: object  # DDP-wrapped when distributed
    head_module: object
    fwd_backbone: object  # DDP-wrapped when distributed
    params: list
    opt: object
    scaler: object
    use_amp: bool
    spec: object


def _setup(cfg: TrainConfig, num_classes: int, init_state: Mapping | None, init_head: Mapping | None = None) -> _Run:
    """Seed, pick the device (and the process group), build the models, the optimiser and the scaler."""
    import torch

    from lib.recognition.backbones import get_preprocess

    if cfg.pretrain and init_state is None:
        raise ValueError("cfg.pretrain names a pretraining run but no init_state was given: train through "
                         "lib.recognition.split_models.train_on_split (it trains or loads that run first), or pass "
                         "its backbone's state_dict() as init_state")
    seed_everything(cfg.seed, threads=cfg.threads)
    keep_freed_memory()  # each step's buffers stay mapped: fewer page faults, the same numbers
    dist, device = _init_distributed(cfg.device)
    backbone, head = build_models(cfg, num_classes)
    if init_state is not None:
        backbone.load_state_dict(dict(init_state))
    if init_head is not None:  # the class weights of a pretraining run on the same classes (every head has them)
        w = init_head.get("weight")
        if w is None or tuple(w.shape) != tuple(head.weight.shape):
            raise ValueError(f"init_head: expected a 'weight' of shape {tuple(head.weight.shape)} (classes x embedding), "
                             f"got {None if w is None else tuple(w.shape)}")
        with torch.no_grad():
            head.weight.copy_(w)
    spec = get_preprocess(backbone)
    # channels_last: 15-35 % faster convolutions on CPU (measured on 2 cores, iresnet_tiny) and the
    # layout cuDNN prefers under AMP; the results are the same model up to float reduction order.
    backbone.to(device, memory_format=torch.channels_last), head.to(device)
    params = list(backbone.parameters()) + list(head.parameters())
    opt = _optimizer(cfg, params)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    fwd_backbone, head_module = backbone, head
    if cfg.compile:  # the forward only: backbone keeps its module and parameter names (checkpoints, state_dict)
        fwd_backbone = torch.compile(backbone, mode=None if cfg.compile == "default" else cfg.compile)
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        fwd_backbone = DDP(fwd_backbone, device_ids=[device.index] if device.type == "cuda" else None)
        head = DDP(head, device_ids=[device.index] if device.type == "cuda" else None)
    return _Run(dist, device, backbone, head, head_module, fwd_backbone, params, opt, scaler, use_amp, spec)


def _batch(cfg: TrainConfig, images, labels, regions, idx, step: int, r: _Run, batch_hook, tensor_hook):
    """The network input of one step: images of rows ``idx`` read in order, flipped, photometrically
    augmented (``photometric="wild"``), hooked; (x, y, per-sample margins or None)."""
    import torch

    from lib.recognition.backbones import preprocess

    idx_sorted = np.sort(idx)  # memmaps read faster in order; the pairing is kept
    unsort = np.argsort(np.argsort(idx))
    batch = np.asarray(images[idx_sorted])[unsort]
    rng = numpy_rng(cfg.seed, "step", step, r.dist.rank)
    flip = rng.random(len(idx)) < 0.5 if cfg.hflip else np.zeros(len(idx), bool)
    batch[flip] = batch[flip, :, ::-1]  # batch is a fresh array (fancy indexing copies)
    if cfg.photometric == "wild":
        bg = hair = None
        if regions is not None:
            reg = np.asarray(regions[idx_sorted])[unsort]
            reg[flip] = reg[flip, :, ::-1]
            bg, hair = reg == REGION_BACKGROUND, (reg == REGION_HAIR if cfg.wild_hair else None)
        batch = wild(batch, bg, rng, gray=cfg.wild_gray, hair=hair)
    margins = None
    if batch_hook is not None:
        out = (batch_hook(batch, idx, rng, flipped=flip) if getattr(batch_hook, "uses_flips", False)
               else batch_hook(batch, idx, rng))
        batch, margins = out if isinstance(out, tuple) else (out, None)
    x = preprocess(np.ascontiguousarray(batch), r.spec, device=r.device)
    if tensor_hook is not None:
        x = tensor_hook(x, idx, rng)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.as_tensor(labels[idx], device=r.device)
    m = None if margins is None else torch.as_tensor(np.asarray(margins), dtype=torch.float32, device=r.device)
    return x, y, m


def _step(cfg: TrainConfig, r: _Run, x, y, m, lr: float, where: str, ckpt_path: Path):
    """One optimiser step at learning rate ``lr``; the head's output. A non-finite loss stops training."""
    import torch

    for g in r.opt.param_groups:
        g["lr"] = lr
    with torch.autocast(r.device.type, dtype=torch.float16, enabled=r.use_amp):
        emb = r.fwd_backbone(x)
    out = r.head(emb.float(), y, m) if m is not None else r.head(emb.float(), y)
    loss = out.loss
    if not torch.isfinite(loss):
        raise TrainingDiverged(
            f"{where}: loss is {loss.item()}; training stopped. The last good "
            f"checkpoint is {ckpt_path if ckpt_path.is_file() else '(none yet)'}, kept. To fix: lower "
            f"lr (now {cfg.lr}), check the data, or set grad_clip")
    r.opt.zero_grad(set_to_none=True)
    r.scaler.scale(loss).backward()
    if cfg.grad_clip:
        r.scaler.unscale_(r.opt)
        torch.nn.utils.clip_grad_norm_(r.params, cfg.grad_clip)
    r.scaler.step(r.opt)
    r.scaler.update()
    return out


def train(cfg: TrainConfig, images, labels, *, work_dir, num_classes: int | None = None,
          batch_hook: Callable | None = None, tensor_hook: Callable | None = None,
          eval_fn: Callable | None = None, init_state: Mapping | None = None, init_head: Mapping | None = None,
          progress: bool = True, max_steps: int | None = None, regions=None) -> TrainResult:
    """Train ``cfg.backbone`` with ``cfg.head`` on uint8 ``images`` (N, H, W, 3) and int ``labels``.

    Args:
        work_dir: where ``last.pt``, ``model.pt`` and ``history.csv`` go; an existing
            ``last.pt`` of the same config is resumed.
        num_classes: head size (default: labels.max() + 1).
        batch_hook, tensor_hook: see the module docstring.
        eval_fn: ``eval_fn(backbone) -> dict`` run at each epoch end on rank 0 (backbone in
            eval mode); its numbers join ``history.csv``.
        init_state, init_head: backbone state dict, and head state dict whose class ``weight`` (fine-tuning) to start from.
        max_steps: stop after this many steps in total (tests of resume; normal runs leave it None).
        regions: (N, H, W) uint8 maps of ``images`` for ``photometric="wild"``: ``REGION_BACKGROUND`` pixels get a
            new colour, ``REGION_HAIR`` pixels a new hair colour (``wild_hair``), others stay (None: neither).
    """
    from tqdm import tqdm

    labels, n_cls = _check_data(images, labels, cfg, regions)
    num_classes, work_dir = num_classes or n_cls, Path(work_dir)
    r = _setup(cfg, num_classes, init_state, init_head)
    n = len(labels)
    per_rank = cfg.batch_size // r.dist.world if r.dist.world > 1 else cfg.batch_size
    steps_per_epoch = max(1, n // cfg.batch_size)  # drop_last: every step sees a full batch
    ckpt = Checkpointer(work_dir / CHECKPOINT, {**cfg.key(), "num_classes": num_classes, "n": n})
    parts = {"backbone": r.backbone, "head": r.head_module, "optimizer": r.opt, "scaler": r.scaler}
    step, rows, resumed = 0, [], None
    if (state := ckpt.read()) is not None:
        step = resumed = ckpt.restore(state, parts)
        rows = pd.read_csv(work_dir / HISTORY).to_dict("records") if (work_dir / HISTORY).is_file() else []

    def checkpoint(at_step: int) -> None:
        if not r.dist.main:
            return
        ckpt.save(at_step, parts, check=[r.backbone, r.head_module],
                  diverged=f"To fix: lower lr (now {cfg.lr}) or set grad_clip")
        if rows:
            io.write_text(work_dir / HISTORY, pd.DataFrame(rows).to_csv(index=False))

    bar = tqdm(total=(total := total_steps(cfg, steps_per_epoch)), initial=step, desc=f"{cfg.backbone}+{cfg.head}",
               unit="step", disable=not (progress and r.dist.main))
    try:
        for epoch in range(step // steps_per_epoch, math.ceil(total / steps_per_epoch)):
            order = numpy_rng(cfg.seed, "epoch", epoch).permutation(n)
            r.backbone.train(), r.head.train()
            sums = {"loss": 0.0, "correct": 0, "seen": 0}
            t0 = time.perf_counter()
            epoch_end = min((epoch + 1) * steps_per_epoch, total)  # the last epoch of a fraction ends early
            for b in range(step - epoch * steps_per_epoch, epoch_end - epoch * steps_per_epoch):
                if max_steps is not None and step >= max_steps:
                    break
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size][r.dist.rank::r.dist.world][:per_rank]
                x, y, m = _batch(cfg, images, labels, regions, idx, step, r, batch_hook, tensor_hook)
                out = _step(cfg, r, x, y, m, lr_at(cfg, step, steps_per_epoch), f"step {step} (epoch {epoch})",
                            ckpt.path)
                step += 1
                sums["loss"] += out.loss.item() * len(idx)
                sums["correct"] += int((out.cos.argmax(1) == y).sum())
                sums["seen"] += len(idx)
                bar.update(1)
                bar.set_postfix(loss=f"{out.loss.item():.3f}", refresh=False)
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step % steps_per_epoch:
                    checkpoint(step)
            if step < epoch_end:  # stopped by max_steps inside the epoch
                checkpoint(step)
                break
            rows.append(_epoch_row(cfg, r, epoch, step, steps_per_epoch, sums, time.perf_counter() - t0, eval_fn))
            checkpoint(step)
            if max_steps is not None and step >= max_steps:
                break
    finally:
        bar.close()
    r.backbone.eval(), r.head_module.eval()
    if r.dist.main and step >= total:
        save_atomic(work_dir / FINAL, {"backbone": r.backbone.state_dict(), "head": r.head_module.state_dict(),
                                       "config": ckpt.config})
    r.dist.barrier()  # under DDP every rank returns once rank 0 has written its checkpoint and model
    return TrainResult(r.backbone.cpu(), r.head_module.cpu(), pd.DataFrame(rows), work_dir, resumed)


def _epoch_row(cfg: TrainConfig, r: _Run, epoch: int, step: int, steps_per_epoch: int, sums: dict, seconds: float,
               eval_fn) -> dict:
    """The epoch's line of ``history.csv`` (with ``eval_fn``'s numbers on rank 0)."""
    row = {"epoch": epoch + 1, "step": step, "loss": sums["loss"] / max(1, sums["seen"]),
           "train_acc": sums["correct"] / max(1, sums["seen"]),
           "lr": lr_at(cfg, step - 1, steps_per_epoch), "seconds": round(seconds, 3),
           "images_per_s": round(sums["seen"] * r.dist.world / max(seconds, 1e-9), 1)}
    if eval_fn is not None and r.dist.main:
        r.backbone.eval()
        row.update(eval_fn(r.backbone))
    return row


def train_cached(name: str, cfg: TrainConfig, images, labels, *, data_key, extra_key: Mapping | None = None,
                 **kwargs) -> TrainResult:
    """``train`` once per (config, data, extra) under runs/<name>/<hash>/; later calls load the result.

    Args:
        images: the training images, or a zero-argument callable returning them, called only when the run must
            be trained (a cached run needs the labels alone: a warm notebook never copies the training set).
            ``regions`` (in ``kwargs``) may be such a callable too.
        data_key: identifies the training data (e.g. the FaceSet's images sha256 and the rows
            used); part of the hash, so new data never reuses an old model.
        extra_key: anything else that changes the result (hook names and their parameters).
        init_fn: optional ``() -> (init_state, init_head)``, called only when the run must be trained (a
            pretraining that a cached fine-tune does not need to load).
    A stopped run keeps its checkpoints in runs/<name>/<hash>.work/ and resumes from them.
    """
    key = {"train": cfg.key(), "data": data_key, "extra": dict(extra_key or {})}
    init_fn = kwargs.pop("init_fn", None)  # () -> (init_state, init_head): the pretraining, loaded only to train

    def run(work):
        init = {} if init_fn is None else dict(zip(("init_state", "init_head"), init_fn()))
        data = {k: v() if callable(v) else v for k, v in (("images", images), ("regions", kwargs.pop("regions", None)))}
        return train(cfg, data["images"], labels, work_dir=work, regions=data["regions"], **kwargs, **init)

    out, result = runcache.cached_resumable(name, key, run, (FINAL, HISTORY))
    if result is not None:
        return result
    import torch

    state = load(out / FINAL, "trained model")
    with torch.device("meta"):  # no random init for weights about to be replaced
        backbone, head = build_models(cfg, kwargs.get("num_classes") or _num_classes(labels))
    # copied into fresh tensors of a built model's layout: the saved weights are channels_last (training), and
    # assigning them as they are would change the embeddings' last bits (lib.fra.train.load_fra)
    backbone.to_empty(device="cpu").load_state_dict(state["backbone"])
    head.to_empty(device="cpu").load_state_dict(state["head"])
    backbone.eval(), head.eval()
    history = pd.read_csv(out / HISTORY) if (out / HISTORY).is_file() else pd.DataFrame()
    return TrainResult(backbone, head, history, out, None)
