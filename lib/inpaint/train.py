"""Training of the inpainting GAN (and its generator-only ablation), resumable and cached.

Introduced by notebooks/02_inpainting.ipynb. The step follows models/gan.py of
filipplesko/Facial_image_reconstruction (docs/inpainting.md):

1. ``fake = G(damaged)``;
2. one discriminator step (``DISC_EXTRA_STEP = 1``): ``0.5 * (BCE(D(real), 0.875) + BCE(D(fake), 0.125))``,
   Adam(lr 2.5e-4, beta1 0.5);
3. one generator step: ``1 x BCE(D(fake), 0.875) + 100 x MSE(fake, real)``, Adam(lr 1e-4, beta1 0.5),
   the discriminator frozen. Batch 32, 20 epochs on CelebA-C.

Departures, each a config field:
- ``pixel_reduction="mean"``: the original sums the MSE over pixels (lib.inpaint.losses explains the
  quirk); ``"sum"`` reproduces it.
- The damage is drawn afresh every epoch (``numpy_rng(seed, "train<epoch>", image)``); the original
  damaged each CelebA image once, on disk. With a few hundred training faces, fixed masks would be
  memorised.
- The generator step reuses step 1's ``fake`` (the generator has not changed in between); the
  original recomputes it, which only updates BatchNorm statistics a second time.
- ``adversarial=False`` variants ("generator") skip the discriminator entirely.
- Keras called the discriminator in training mode in both steps (Dropout active); so do we.

Resume: ``last.pt`` (generator, discriminator, both optimisers, step, torch RNG state) at every epoch
end and every ``checkpoint_every`` steps; a call with the same config and data continues from it and
gives the same weights as an uninterrupted run on CPU (every random draw is keyed by epoch, step and
image; torch's RNG, used by Dropout, is restored).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from lib import io, runcache
from lib.allocator import keep_freed_memory
from lib.checkpoint import Checkpointer, TrainingDiverged, load, save_atomic
from lib.inpaint import data as idata
from lib.inpaint import losses
from lib.inpaint.model import Discriminator, VNet, create_generator, variant
from lib.seeding import numpy_rng, seed_everything

CHECKPOINT = "last.pt"
FINAL = "generator.pt"
HISTORY = "history.csv"
MODEL_VERSION = 2  # bump when lib.inpaint.model changes what a config trains (2: BatchNorm momentum 0.1)


@dataclass(frozen=True)
class InpaintConfig:
    """Defaults-plus-changes; defaults are the default (2-core CPU) profile, ``paper()`` the published run.

    ``size`` 64 and ``width`` 0.125 (filters 8-16-32-64-64, 0.41 M parameters) keep three models
    within the notebook's 2-core CPU budget; the paper: 256 and 1.0 (26.06 M parameters).

    Epochs and generator optimiser (departures on the default profile): 4 epochs of synth_celeba's
    10,000 training faces (1,248 steps) at lr 1e-3, not the paper's 20 epochs of CelebA (~125,000
    steps) at 1e-4. A few hundred steps at 1e-4 end BELOW a constant mean face (measured on
    synth_kdef's 672 faces at 64 px: 13.7 dB after 84 steps, a mean face 15.5 dB), which was the grey
    output of the first runs; 02_inpainting's diagnosis trains one corpus epoch at each rate. On the
    corpus the held-out in-mask PSNR stops rising after 3-4 epochs (21.6, 22.5, 23.3, 23.1 dB after
    epochs 1-4; whole image 26.8, 29.0, 30.2, 30.9). ``paper()`` and the full profile keep 1e-4.
    """

    variant: str = "gan"  # lib.inpaint.model.VARIANTS: gan | generator | gan_masked
    size: int = 64
    width: float = 0.125
    up_kernel: int = 3
    epochs: int = 4
    batch_size: int = 32
    lr_g: float = 1e-3
    lr_d: float = 2.5e-4
    beta1: float = 0.5
    label_smoothing: float = losses.LABEL_SMOOTHING
    adv_weight: float = 1.0
    pixel_weight: float = 100.0
    pixel_reduction: str = "mean"  # "sum" = the original's quirk
    seed: int = 0
    checkpoint_every: int = 0  # steps; 0 = epoch ends only
    device: str = "auto"
    # torch CPU threads while training (None: torch's choice). 1 by default: this net's tensors are
    # small, and on a busy 2-core machine two OpenMP threads ran it ~10x slower than one (2.3 vs
    # ~25 images/s measured at 64 px with other work running); alone, 2 threads gain little.
    threads: int | None = 1
    amp: bool = True  # bfloat16 autocast on CUDA (lib.device.autocast); no effect on CPU

    @classmethod
    def paper(cls, **changes) -> "InpaintConfig":
        """The published setting (256 px, full widths, 20 epochs, batch 32, generator lr 1e-4)."""
        return replace(cls(size=256, width=1.0, epochs=20, lr_g=1e-4), **changes)

    def __post_init__(self):
        variant(self.variant)
        if self.size < 16 or self.size % 16:
            raise ValueError(f"size must be a multiple of 16 (four stride-2 levels); got {self.size!r}")
        if self.pixel_reduction not in losses.REDUCTIONS:
            raise ValueError(f"pixel_reduction must be one of {losses.REDUCTIONS}; got {self.pixel_reduction!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1; got {self.epochs}, {self.batch_size}")

    @property
    def adversarial(self) -> bool:
        return variant(self.variant).adversarial

    def key(self) -> dict:
        d = asdict(self)
        for k in ("device", "threads", "checkpoint_every", "amp"):
            d.pop(k)
        return d


def as_config(cfg=None, **changes) -> InpaintConfig:
    """An InpaintConfig from None, a mapping of changes, or a config; ``changes`` on top."""
    if isinstance(cfg, InpaintConfig):
        return replace(cfg, **changes)
    if cfg is not None and not isinstance(cfg, Mapping):
        raise TypeError(f"cfg must be an InpaintConfig or a mapping of changes; got {type(cfg).__name__}")
    return InpaintConfig(**{**dict(cfg or {}), **changes})


@dataclass
class InpaintResult:
    generator: VNet  # eval mode, CPU
    discriminator: Discriminator | None
    history: pd.DataFrame
    work_dir: Path
    resumed_from: int | None


def build(cfg: InpaintConfig):
    """(generator, discriminator or None) of ``cfg``."""
    g = create_generator(cfg.variant, width=cfg.width, up_kernel=cfg.up_kernel, size=cfg.size)
    d = Discriminator(cfg.size, width=cfg.width) if cfg.adversarial else None
    return g, d


def to_tensor(images_uint8, masks=None, device="cpu"):
    """uint8 (N, S, S, 3) [+ bool masks (N, S, S)] -> float (N, 3 or 4, S, S) in [0, 1]."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images_uint8)).to(device).permute(0, 3, 1, 2).float().div_(255)
    if masks is not None:
        m = torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32)).to(device)[:, None]
        x = torch.cat([x, m], 1)
    return x


def to_uint8(x) -> np.ndarray:
    """float (N, 3, S, S) in [0, 1] -> uint8 (N, S, S, 3), rounded."""
    return (x.detach().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())


@contextlib.contextmanager
def fast_kernels(threads: int | None = None):
    """Run with torch's deterministic-algorithms mode OFF (and ``threads`` intra-op threads when
    given), restoring both afterwards.

    ``lib.seeding.seed_everything`` turns it on; for this V-Net on CPU it made a training step about
    10x slower (measured on 2 cores: 6.6 s vs 0.5 s, 32 px, batch 16, width 0.125). The oneDNN CPU
    kernels used instead give the same numbers run after run at a fixed thread count (the resume test
    compares an interrupted and an uninterrupted run)."""
    import torch

    from lib.seeding import deterministic_algorithms

    on, warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    before = torch.get_num_threads()
    deterministic_algorithms(False)
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        deterministic_algorithms(on, warn_only=warn)
        torch.set_num_threads(before)


def train(cfg: InpaintConfig, images, *, work_dir, progress: bool = True, max_steps: int | None = None) -> InpaintResult:
    """Train ``cfg.variant`` (see :func:`_train`), with torch's slow deterministic mode off (:func:`fast_kernels`)."""
    with fast_kernels(cfg.threads):
        return _train(cfg, images, work_dir=work_dir, progress=progress, max_steps=max_steps)


def _models(cfg: InpaintConfig, device):
    """Generator, discriminator (None without the adversarial loss) and their Adam optimisers, on ``device``."""
    import torch

    g, d = build(cfg)
    g.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, 0.999))
    opt_d = None
    if d is not None:
        d.to(device)
        opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999))
    return g, d, opt_g, opt_d


def _gan_step(cfg: InpaintConfig, real_all, idx, epoch: int, models, device, sums: dict, where: str, ckpt: Path):
    """One step on rows ``idx``: damage them (the epoch's masks), then :func:`gan_update`."""
    damaged, masks = idata.damage(real_all[idx], cfg.seed, f"train{epoch}", ids=idx)
    real = to_tensor(real_all[idx], device=device)
    inp = to_tensor(damaged, masks if models[0].in_channels == 4 else None, device=device)
    gan_update(cfg, models, real, inp, sums, where, ckpt)


def gan_update(cfg: InpaintConfig, models, real, inp, sums: dict, where: str, ckpt: Path) -> None:
    """A discriminator step when there is one, then a generator step, on the device tensors ``real``
    (targets) and ``inp`` (the generator's input); the batch's terms are added to ``sums``."""
    import torch

    from lib.device import autocast

    g, d, opt_g, opt_d = models
    amp = autocast(real.device, cfg.amp)  # re-entered for each forward; the losses take float32 outputs
    with amp:
        fake = g(inp)
    fake = fake.float()
    adv_logits = None
    if d is not None:
        with amp:
            real_logits, fake_logits = d(real), d(fake.detach())
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        d_loss = losses.discriminator_loss(real_logits, fake_logits, cfg.label_smoothing)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        d.requires_grad_(False)
        with amp:
            adv_logits = d(fake)
        adv_logits = adv_logits.float()
        d.requires_grad_(True)
        sums["d_loss"] += d_loss.item()
        sums["d_real"] += torch.sigmoid(real_logits).mean().item()
        sums["d_fake"] += torch.sigmoid(fake_logits).mean().item()
    gl = losses.generator_loss(adv_logits, fake, real, adv_weight=cfg.adv_weight, pixel_weight=cfg.pixel_weight,
                               smoothing=cfg.label_smoothing, reduction=cfg.pixel_reduction)
    if not torch.isfinite(gl["total"]):
        raise TrainingDiverged(f"{where}: generator loss is {gl['total'].item()}; the last good checkpoint is "
                               f"{ckpt if ckpt.is_file() else '(none yet)'}. To fix: lower lr_g (now {cfg.lr_g})")
    opt_g.zero_grad(set_to_none=True)
    gl["total"].backward()
    opt_g.step()
    sums["adversarial"] += gl["adversarial"].item()
    sums["pixel"] += losses.pixel_loss(fake.detach(), real).item()  # always the mean MSE


def _train(cfg: InpaintConfig, images, *, work_dir, progress: bool = True, max_steps: int | None = None) -> InpaintResult:
    """Train ``cfg.variant`` on undamaged uint8 faces ``images`` (N, H, W, 3; resized to ``cfg.size``).

    ``work_dir`` holds ``last.pt`` and ``history.csv``; an existing ``last.pt`` of the same config
    and data is resumed. ``max_steps`` stops early (tests of resume).
    """
    from tqdm import tqdm

    from lib.device import select_device

    real_all = idata.resize(images, cfg.size)
    if len(real_all) < cfg.batch_size:
        raise ValueError(f"{len(real_all)} training images are fewer than one batch ({cfg.batch_size}); "
                         f"lower batch_size")
    work_dir = Path(work_dir)
    seed_everything(cfg.seed, deterministic=False)
    keep_freed_memory()  # each step's buffers stay mapped: fewer page faults, the same numbers
    device = select_device(cfg.device)
    g, d, opt_g, opt_d = _models(cfg, device)
    n = len(real_all)
    steps_per_epoch = n // cfg.batch_size  # drop_last, as the original's steps_per_epoch = N // 32
    total = cfg.epochs * steps_per_epoch
    checkpointer = Checkpointer(work_dir / CHECKPOINT, {**cfg.key(), "n": n,
                                                         "data": hashlib.sha256(real_all.tobytes()).hexdigest()},
                                what="inpainting")
    ckpt = checkpointer.path
    parts = {"generator": g, "opt_g": opt_g, "discriminator": d, "opt_d": opt_d}
    step, rows, resumed = 0, [], None
    if (state := checkpointer.read()) is not None:
        step = resumed = checkpointer.restore(state, parts)
        rows = pd.read_csv(work_dir / HISTORY).to_dict("records") if (work_dir / HISTORY).is_file() else []

    def checkpoint(at: int) -> None:
        checkpointer.save(at, parts, check=[g, d], diverged=f"To fix: lower lr_g (now {cfg.lr_g})")
        if rows:
            io.write_text(work_dir / HISTORY, pd.DataFrame(rows).to_csv(index=False))

    bar = tqdm(total=total, initial=step, desc=f"inpaint {cfg.variant} {cfg.size}px", unit="step", disable=not progress)
    try:
        for epoch in range(step // steps_per_epoch, cfg.epochs):
            order = numpy_rng(cfg.seed, "epoch", epoch).permutation(n)
            g.train()
            if d is not None:
                d.train()
            sums = {"d_loss": 0.0, "adversarial": 0.0, "pixel": 0.0, "d_real": 0.0, "d_fake": 0.0}
            done, t0 = 0, time.perf_counter()
            for b in range(step - epoch * steps_per_epoch, steps_per_epoch):
                if max_steps is not None and step >= max_steps:
                    break
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                _gan_step(cfg, real_all, idx, epoch, (g, d, opt_g, opt_d), device, sums,
                          f"step {step} (epoch {epoch})", ckpt)
                step, done = step + 1, done + 1
                bar.update(1)
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step % steps_per_epoch:
                    checkpoint(step)
            if step < (epoch + 1) * steps_per_epoch:  # stopped by max_steps
                checkpoint(step)
                break
            seconds = time.perf_counter() - t0
            row = {"epoch": epoch + 1, "step": step, **{k: v / max(done, 1) for k, v in sums.items()},
                   "seconds": round(seconds, 3), "images_per_s": round(done * cfg.batch_size / max(seconds, 1e-9), 1)}
            if d is None:
                for k in ("d_loss", "adversarial", "d_real", "d_fake"):
                    row.pop(k)
            rows.append(row)
            checkpoint(step)
    finally:
        bar.close()
    g.eval()
    if d is not None:
        d.eval()
    if step >= total:
        save_atomic(work_dir / FINAL, {"generator": g.state_dict(), "config": cfg.key()})
    return InpaintResult(g.cpu(), d.cpu() if d is not None else None, pd.DataFrame(rows), work_dir, resumed)


def load_generator(path, cfg: InpaintConfig) -> VNet:
    """A generator saved by :func:`train` (``generator.pt``), in eval mode."""
    import torch

    state = load(Path(path), "inpainting")
    with torch.device("meta"):  # no random init for weights about to be replaced
        g, _ = build(cfg)
    g.to_empty(device="cpu").load_state_dict(state["generator"])  # copied into a built model's layout (load_fra)
    return g.eval()


def cache_key(cfg: InpaintConfig, data_key: Mapping) -> dict:
    """The run-cache key of ``cfg`` trained on the data ``data_key`` describes (:func:`train_cached`)."""
    return {"train": cfg.key(), "data": dict(data_key), "model_version": MODEL_VERSION}


def train_cached(cfg: InpaintConfig, images, *, data_key: Mapping, name: str | None = None,
                 progress: bool = True, **kwargs) -> InpaintResult:
    """``train`` once per (config, data) under runs/<name>/<hash>/ (name default ``inpaint/<variant>``);
    later calls load the generator. A stopped run keeps its checkpoints in ``<hash>.work/`` and resumes."""
    key = cache_key(cfg, data_key)
    name = name or f"inpaint/{cfg.variant}"
    out, r = runcache.cached_resumable(name, key, lambda work: train(cfg, images, work_dir=work, progress=progress,
                                                                     **kwargs), (FINAL, HISTORY))
    if r is not None:
        return InpaintResult(r.generator, r.discriminator, r.history, out, r.resumed_from)
    history = pd.read_csv(out / HISTORY) if (out / HISTORY).is_file() else pd.DataFrame()
    return InpaintResult(load_generator(out / FINAL, cfg), None, history, out, None)
