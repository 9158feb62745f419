"""The GPU check: each paper's full-size model trained for a few optimiser steps on CUDA with AMP.

    python -m lib.gpu_check            # on a CUDA machine: about 2-4 minutes on one recent GPU

The full profile trains models the CPU profiles never build at their published size. Before hours
of GPU time, this runs each of them through the library's OWN training loop (the code a full run
executes, checkpoints included) on a small learnable synthetic set, then times its training step:

- ``recognition.<head>``: iresnet50 at 112 px with every registered margin head, batch 128, fp16
  autocast + GradScaler (lib.recognition.train, as arcface_torch);
- ``inpaint.gan``: the V-Net generator at width 1.0 and 256 px with its discriminator, batch 32
  (lib.inpaint.train, bfloat16 autocast);
- ``fserasing.parser``: the U-Net / ResNet-18 parser at 128 px with smp's decoder widths, batch 64
  (lib.fserasing.parser, bfloat16 autocast);
- ``fra``: FRA on 512-d embeddings at batch 256 (lib.fra.train, bfloat16 autocast).

Each check passes when every epoch's loss is finite and the last epoch's mean loss is below the
first's. It records ``loss_first`` / ``loss_last``, ``loop_seconds`` (the library loop, CPU data
preparation included), ``images_per_s`` (the training step alone on a batch already on the GPU,
best of a few timed runs after warm-up; for FRA, pairs per second) and ``peak_mib`` (the most GPU
memory torch allocated during the check). For ArcFace and the parser, whose loops run with cuDNN's
deterministic kernels (lib.seeding), ``images_per_s_autotuned`` times the same step with the autotuner on
and determinism off. Results go to figures/metrics/gpu_check.json with the
device and torch version. On a machine without CUDA it says so and exits 0 without writing.

``run_checks(device="cpu", tiny=True)`` runs the same code at small sizes on the CPU (the tests).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib import paths



@dataclass(frozen=True)
class Sizes:
    """What each check builds: the published sizes, or the tiny ones the CPU tests use."""

    backbone: str = "iresnet50"
    fr_batch: int = 128
    fr_classes: int = 16
    gan_size: int = 256
    gan_width: float = 1.0
    gan_batch: int = 32
    parser_size: int = 128
    parser_decoder: tuple = (256, 128, 64, 32, 16)
    parser_batch: int = 64
    fra_batch: int = 256
    epochs: int = 6
    timed_steps: int = 10


TINY = Sizes(backbone="iresnet_tiny", fr_batch=32, fr_classes=4, gan_size=32, gan_width=0.125, gan_batch=8,
             parser_size=32, parser_decoder=(16, 16, 8, 8, 8), parser_batch=8, fra_batch=32, epochs=4, timed_steps=2)


# ----------------------------------------------------------------------------- synthetic data
def class_images(n_classes: int, per_class: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n_classes * per_class, size, size, 3) images and their labels: each class a smooth random
    colour field (an upsampled 6 x 6 grid), each image that field plus noise and a random shift."""
    import cv2

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c in range(n_classes):
        field = cv2.resize(rng.uniform(0, 255, (6, 6, 3)).astype(np.float32), (size, size),
                           interpolation=cv2.INTER_CUBIC)
        for _ in range(per_class):
            shifted = np.roll(field, tuple(rng.integers(-size // 16, size // 16 + 1, 2)), axis=(0, 1))
            images.append(np.clip(shifted + rng.normal(0, 12, shifted.shape), 0, 255).astype(np.uint8))
            labels.append(c)
    return np.stack(images), np.asarray(labels)


def parsing_set(n: int, size: int, n_classes: int = 25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, size, size, 3) and label maps (n, size, size): random 4 x 4 blocks of classes,
    each class painted in its own colour with noise (a pixel's class is learnable from its colour)."""
    rng = np.random.default_rng(seed)
    palette = rng.uniform(0, 255, (n_classes, 3))
    blocks = rng.integers(0, n_classes, (n, 4, 4))
    labels = np.repeat(np.repeat(blocks, size // 4, 1), size // 4, 2).astype(np.uint8)
    images = np.clip(palette[labels] + rng.normal(0, 10, labels.shape + (3,)), 0, 255).astype(np.uint8)
    return images, labels


def fra_set(n_maps: int, n_emb: int, n_pairs: int, dim: int = 512, seed: int = 0):
    """Random binary 112 x 112 maps, (n_emb, dim) embeddings of norm about 10 and a pairs table."""
    import pandas as pd

    from lib.fra.train import PAIR_COLUMNS

    rng = np.random.default_rng(seed)
    maps = rng.random((n_maps, 112, 112)) < 0.05
    emb = rng.normal(0, 10 / np.sqrt(dim), (n_emb, dim)).astype(np.float32)
    pairs = pd.DataFrame({c: rng.integers(0, n_maps if c == "posture" else n_emb, n_pairs) for c in PAIR_COLUMNS})
    return maps, emb, pairs


# ------------------------------------------------------------------------------------ timing
def timed(step: Callable[[], None], batch: int, device, steps: int, repeats: int = 3) -> float:
    """Items per second of ``step`` (one optimiser step on ``batch`` items), best of ``repeats`` runs of
    ``steps`` after two warm-up steps (cuDNN picks its kernels there)."""
    import torch

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(2):
        step()
    best = float("inf")
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        best = min(best, time.perf_counter() - t0)
    return round(steps * batch / best, 1)


FLOOR = 1e-6  # a loss this small has nothing left to fall (sphereface_lowres: see check_recognition)


@contextlib.contextmanager
def autotuned():
    """cuDNN's autotuner on and deterministic kernels off (what lib.seeding.seed_everything turns off for
    repeatable runs), restored afterwards: the price of determinism, measured on the same step."""
    import torch

    from lib.seeding import deterministic_algorithms

    cudnn = torch.backends.cudnn
    saved = (cudnn.benchmark, cudnn.deterministic, torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    cudnn.benchmark, cudnn.deterministic = True, False
    deterministic_algorithms(False)
    try:
        yield
    finally:
        cudnn.benchmark, cudnn.deterministic = saved[0], saved[1]
        deterministic_algorithms(saved[2], warn_only=saved[3])


def _losses(history, column: str = "loss") -> dict:
    """First and last epoch's mean loss; passed: all finite and the last below the first (or at the floor)."""
    values = [float(v) for v in history[column]]
    falls = values[-1] < values[0] or max(values) <= FLOOR
    return {"loss_first": values[0], "loss_last": values[-1], "passed": bool(np.isfinite(values).all() and falls)}


# ------------------------------------------------------------------------------------ checks
def check_recognition(head: str, s: Sizes, device, work: Path) -> dict:
    """iresnet50 + ``head`` through lib.recognition.train.train, then its step timed.

    ``adaptive_arcface`` takes per-sample margins: Approach2's (lib.lowres.margins) on a Cross-Resolution
    Batch, as 04_lowres trains it. ``sphereface_lowres`` (cos(0.35 theta), a negative margin) starts at
    a loss near 0 on a few classes; it passes when the loss stays finite at that floor."""
    import torch

    from lib.lowres.margins import MarginHook
    from lib.recognition.backbones import get_preprocess, preprocess
    from lib.recognition.train import TrainConfig, _setup, _step, train

    images, labels = class_images(s.fr_classes, 2 * s.fr_batch // s.fr_classes, 112)
    cfg = TrainConfig(backbone=s.backbone, head=head, epochs=s.epochs, batch_size=s.fr_batch, lr=0.02,
                      warmup_epochs=0.0, schedule="constant", device=device.type, amp=True)
    hook = MarginHook("approach2") if head == "adaptive_arcface" else None
    t0 = time.perf_counter()
    result = train(cfg, images, labels, work_dir=work / f"fr_{head}", progress=False, batch_hook=hook)
    loop = time.perf_counter() - t0
    r = _setup(cfg, s.fr_classes, None)
    batch, m = images[:s.fr_batch], None
    if hook is not None:
        batch, margins = hook(batch, np.arange(s.fr_batch), np.random.default_rng(0))
        m = torch.as_tensor(margins, dtype=torch.float32, device=r.device)
    x = preprocess(batch, get_preprocess(r.backbone), device=r.device).contiguous(memory_format=torch.channels_last)
    y = torch.as_tensor(labels[:s.fr_batch], device=r.device)
    step = lambda: _step(cfg, r, x, y, m, cfg.lr, "gpu_check", work / "none.pt")  # noqa: E731
    speed = timed(step, s.fr_batch, device, s.timed_steps)
    extra = {}
    if head == "arcface":
        with autotuned():
            extra["images_per_s_autotuned"] = timed(step, s.fr_batch, device, s.timed_steps)
    return {**_losses(result.history), "loop_seconds": round(loop, 2), "images_per_s": speed, **extra,
            "amp": "float16 + GradScaler" if r.use_amp else "off"}


def check_inpaint(s: Sizes, device, work: Path) -> dict:
    """The V-Net GAN through lib.inpaint.train.train, then its generator + discriminator step timed."""
    from lib.inpaint import data as idata
    from lib.inpaint.train import InpaintConfig, _models, gan_update, to_tensor, train

    images, _ = class_images(4, s.gan_batch, s.gan_size)
    cfg = InpaintConfig.paper(size=s.gan_size, width=s.gan_width, epochs=s.epochs, batch_size=s.gan_batch,
                              lr_g=1e-3, device=device.type, threads=None)
    t0 = time.perf_counter()
    result = train(cfg, images, work_dir=work / "inpaint", progress=False)
    loop = time.perf_counter() - t0
    models = _models(cfg, device)
    batch = images[:s.gan_batch]
    damaged, _ = idata.damage(batch, 0, "gpu_check")
    real, inp = to_tensor(batch, device=device), to_tensor(damaged, device=device)
    sums = dict.fromkeys(("d_loss", "adversarial", "pixel", "d_real", "d_fake"), 0.0)
    speed = timed(lambda: gan_update(cfg, models, real, inp, sums, "gpu_check", work / "none.pt"), s.gan_batch,
                  device, s.timed_steps)
    return {**_losses(result.history, "pixel"), "loop_seconds": round(loop, 2), "images_per_s": speed,
            "amp": _amp_name(device)}


def check_parser(s: Sizes, device, work: Path) -> dict:
    """The U-Net parser through lib.fserasing.parser.train_parser, then its step timed."""
    import torch

    from lib.fserasing.parser import ParserConfig, _to_input, _to_target, create_parser, parser_step, train_parser

    images, labels = parsing_set(4 * s.parser_batch, s.parser_size)
    cfg = ParserConfig(input_size=s.parser_size, decoder_channels=s.parser_decoder, epochs=s.epochs,
                       batch_size=s.parser_batch, max_images=None, device=device.type)
    t0 = time.perf_counter()
    _, history = train_parser(cfg, images, labels)
    loop = time.perf_counter() - t0
    model = create_parser(cfg).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    x = _to_input(images[:s.parser_batch], cfg.input_size, device)
    y = _to_target(labels[:s.parser_batch], cfg.input_size, device)
    step = lambda: parser_step(cfg, model, opt, x, y, cfg.lr, "gpu_check")  # noqa: E731
    speed = timed(step, s.parser_batch, device, s.timed_steps)
    with autotuned():
        fast = timed(step, s.parser_batch, device, s.timed_steps)
    return {**_losses({"loss": [h["loss"] for h in history]}), "loop_seconds": round(loop, 2),
            "images_per_s": speed, "images_per_s_autotuned": fast, "amp": _amp_name(device)}


def check_fra(s: Sizes, device, work: Path) -> dict:
    """FRA through lib.fra.train.train_fra, then its step timed (pairs per second)."""
    from lib.fra.train import FRAConfig, _fra_models, _fra_step, _tensor, train_fra

    maps, emb, pairs = fra_set(2 * s.fra_batch, 2 * s.fra_batch, 4 * s.fra_batch)
    cfg = FRAConfig(epochs=s.epochs, batch_size=s.fra_batch, device=device.type)
    t0 = time.perf_counter()
    result = train_fra(maps, emb, pairs, cfg, work_dir=work / "fra", progress=False)
    loop = time.perf_counter() - t0
    model, opt, _ = _fra_models(cfg, emb.shape[1], device)
    maps_t, emb_t = _tensor(maps.astype(np.uint8), device), _tensor(emb, device)
    rows = _tensor(pairs.to_numpy()[:s.fra_batch], device)
    speed = timed(lambda: _fra_step(cfg, model, opt, maps_t, emb_t, rows, "gpu_check", work / "none.pt"),
                  s.fra_batch, device, s.timed_steps)
    return {**_losses(result.history), "loop_seconds": round(loop, 2), "pairs_per_s": speed,
            "amp": _amp_name(device)}


def _amp_name(device) -> str:
    from lib.device import amp_dtype

    return "bfloat16" if amp_dtype(device) is not None else "off"


def checks(heads=None) -> dict[str, Callable]:
    """{name: check(sizes, device, work_dir)} in the order they run."""
    from lib.recognition.heads import head_names

    out = {f"recognition.{h}": (lambda s, d, w, h=h: check_recognition(h, s, d, w))
           for h in (heads or head_names())}
    out.update({"inpaint.gan": check_inpaint, "fserasing.parser": check_parser, "fra": check_fra})
    return out


def run_checks(device: str = "cuda", *, tiny: bool = False, only=None, heads=None, log=print) -> dict:
    """Run every check (or those named in ``only``) on ``device``; {name: result} plus "passed"."""
    import torch

    from lib.device import select_device

    dev, sizes = select_device(device), (TINY if tiny else Sizes())
    results = {}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for name, fn in checks(heads).items():
            if only and name not in only:
                continue
            if dev.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(dev)
            t0 = time.perf_counter()
            try:
                res = fn(sizes, dev, Path(tmp))
            except Exception as e:  # a broken check is a result to report, not a reason to skip the rest
                res = {"passed": False, "error": f"{type(e).__name__}: {e}"}
            res["seconds"] = round(time.perf_counter() - t0, 2)
            if dev.type == "cuda":
                res["peak_mib"] = round(torch.cuda.max_memory_allocated(dev) / 2**20)
            results[name] = res
            log(f"{name:32s} {'ok  ' if res['passed'] else 'FAIL'} {json.dumps(res)}")
    return {"checks": results, "passed": all(r["passed"] for r in results.values())}


def main(argv=None) -> int:
    import torch

    from lib import io
    from lib.device import describe

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=paths.figures_dir() / "metrics" / "gpu_check.json",
                    help="where the JSON goes (default: %(default)s)")
    ap.add_argument("--only", nargs="*", help="run only these checks (names as printed)")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device on this machine; the check needs one. Nothing was written.")
        return 0
    t0 = time.perf_counter()
    res = run_checks("cuda", only=args.only)
    res.update({"device": describe("cuda"), "torch": torch.__version__, "cuda": torch.version.cuda,
                "total_seconds": round(time.perf_counter() - t0, 1)})
    io.write_json(args.out, res)
    print(f"gpu_check: {'all passed' if res['passed'] else 'FAILED'} in {res['total_seconds']} s; wrote {args.out}")
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
