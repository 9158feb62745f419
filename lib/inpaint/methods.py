"""What other notebooks call (05_cross_method): the trained generators of 02_inpainting without
retraining, and one ``reconstruct`` for generators and classical baselines alike.

    from lib.inpaint import methods
    g = methods.trained_generator(fs)                      # the notebook's published-style GAN (cached)
    damaged, masks = methods.damage(images112, seed=0)     # CelebA-C damage at 112 px
    restored = methods.reconstruct(damaged, masks, model=g)  # or model="telea" | "ns" | "damaged"

``trained_generator(fs, cfg, variant=...)`` resolves to the run-cache entry
``runs/inpaint/<variant>/<hash>/`` that 02_inpainting trains with the same config (the notebook's
``gan`` parameter = changes to :class:`lib.inpaint.train.InpaintConfig`; the default profile uses
none) on ``fs``'s TRAINING identities with |yaw| <= 20 deg (the original's filter).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import cv2
import numpy as np

from lib.inpaint import baselines
from lib.inpaint import data as idata
from lib.inpaint.train import InpaintConfig, as_config, fast_kernels, to_tensor, to_uint8, train_cached


def training_data_key(fs, rows) -> dict:
    return {"images_sha256": fs.card["arrays"]["images.npy"]["sha256"], "rows": "split == train & |yaw| <= max_yaw",
            "n": int(len(rows)), "rows_sha": hashlib.sha256(np.asarray(rows, np.int64).tobytes()).hexdigest()}


def train_variant(fs, cfg: InpaintConfig | Mapping | None = None, *, variant: str | None = None,
                  max_yaw: float = idata.MAX_YAW, progress: bool = False):
    """Train (or load from runs/inpaint/<variant>/) one variant on ``fs``'s frontal training faces;
    returns the :class:`lib.inpaint.train.InpaintResult` (generator, history)."""
    cfg = as_config(cfg, **({"variant": variant} if variant else {}))
    rows = idata.frontal_rows(fs, "train", max_yaw)
    return train_cached(cfg, np.asarray(fs.images[rows]), data_key=training_data_key(fs, rows), progress=progress)


def cache_dir(fs, cfg: InpaintConfig | Mapping | None = None, *, max_yaw: float = idata.MAX_YAW):
    """Where :func:`train_variant` caches (or would cache) ``cfg``'s model: runs/inpaint/<variant>/<hash>/."""
    from lib import runcache
    from lib.inpaint.train import cache_key

    cfg = as_config(cfg)
    rows = idata.frontal_rows(fs, "train", max_yaw)
    return runcache.artifact_dir(f"inpaint/{cfg.variant}", cache_key(cfg, training_data_key(fs, rows)))


def _train_job(root: str, cfg: InpaintConfig, max_yaw: float) -> str:
    """Worker of :func:`train_variants`: train one variant from the FaceSet at ``root`` (into the run cache)."""
    from lib.data.faceset import read_faceset

    train_variant(read_faceset(root, verify="fast"), cfg, max_yaw=max_yaw)
    return cfg.variant


def train_variants(fs, cfgs: Mapping, *, max_yaw: float = idata.MAX_YAW, workers: int | None = None) -> dict:
    """{name: InpaintResult} of every config in ``cfgs`` ({name: InpaintConfig or changes}), the ones not
    yet cached trained side by side in ``workers`` spawned processes (each with its config's ``threads``,
    1 by default: one training gains little from a second thread, so on 2 cores two trainings side by
    side take about the time of one); the same weights as training them one by one. ``workers`` None:
    the CPU cores when the configs train on the CPU, else 1."""
    import multiprocessing as mp
    import os

    from lib import runcache
    from lib.device import select_device

    cfgs = {k: as_config(c) for k, c in cfgs.items()}
    if workers is None:
        on_cpu = all(select_device(c.device).type == "cpu" for c in cfgs.values())
        workers = (os.cpu_count() or 1) if on_cpu else 1
    missing = {}  # one job per cache entry: two names may share a config (e.g. a diagnosis run equal to a
    for c in cfgs.values():  # profile's model), and two processes training one entry would share its work dir
        d = cache_dir(fs, c, max_yaw=max_yaw)
        if not (d / "config.json").is_file():
            missing.setdefault(d, c)
    missing = list(missing.values())
    if workers > 1 and len(missing) > 1 and not runcache.forced():  # FORCE=1 retrains here, one by one
        with mp.get_context("spawn").Pool(min(workers, len(missing))) as pool:
            pool.starmap(_train_job, [(str(fs.root), c, max_yaw) for c in missing])
    return {k: train_variant(fs, c, max_yaw=max_yaw) for k, c in cfgs.items()}


def trained_generator(fs, cfg: InpaintConfig | Mapping | None = None, *, variant: str = "gan",
                      max_yaw: float = idata.MAX_YAW, progress: bool = False):
    """The generator of ``variant`` ("gan" = the published blind GAN, "generator" = no adversarial
    term, "gan_masked" = mask-fed with known pixels pasted back), trained once and cached."""
    return train_variant(fs, cfg, variant=variant, max_yaw=max_yaw, progress=progress).generator


def damage(images_uint8, seed: int = 0, stream: str = "eval", ids=None):
    """CelebA-C damage at the images' own size: ``(damaged, masks)`` (see lib.inpaint.data.damage)."""
    return idata.damage(images_uint8, seed, stream, ids)


def reconstruct(images_uint8, masks, model="telea", *, batch_size: int = 64, device: str = "auto",
                cache: bool = False) -> np.ndarray:
    """Reconstruct damaged uint8 faces (N, H, W, 3) with ``model``.

    Args:
        masks: bool (N, H, W), True = damaged (used by the classical baselines, by mask-fed
            generators, and to paste known pixels back for ``paste=True`` generators).
        model: a generator (lib.inpaint.model.VNet) or a baseline name: "damaged", "telea", "ns".
    A generator runs at its own input size: other sizes are resized in (INTER_AREA) and the
    output resized back (bilinear); a blind generator's whole output replaces the image (as
    published), a pasting generator's output is used inside the mask only, at full resolution.
    ``cache=True`` keeps the result in the run cache (runs/inpaint/reconstructed/), keyed by the
    content of the images, the masks and the generator's weights (or the baseline's name), and returns
    it read-only (lib.fingerprint.freeze: its digest is known, so caches keyed on it do not rehash it).
    """
    if cache:
        from lib import runcache

        return runcache.memo_array("inpaint/reconstructed", {"images": np.asarray(images_uint8),
                                                             "masks": np.asarray(masks), "model": model, "version": 1},
                                   lambda: reconstruct(images_uint8, masks, model, batch_size=batch_size, device=device),
                                   freeze=True)
    import torch

    from lib.device import select_device

    images, masks = baselines._check(images_uint8, masks)
    if isinstance(model, str):
        if model not in baselines.BASELINES:
            raise ValueError(f"unknown reconstruction {model!r}: pass a generator or one of {sorted(baselines.BASELINES)}")
        return baselines.BASELINES[model](images, masks)
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "multiple"):
        raise TypeError(f"model must be a lib.inpaint.model.VNet or a baseline name; got {type(model).__name__}")
    size = _generator_size(model, images.shape[1])
    dev = select_device(device)
    home = next(model.parameters()).device
    was_training = model.training
    model.to(dev).eval()
    outs = []
    try:
        with torch.inference_mode(), fast_kernels():
            for i in range(0, len(images), batch_size):
                x, m = images[i:i + batch_size], masks[i:i + batch_size]
                xs = idata.resize(x, size)
                ms = m if size == x.shape[1] else np.stack(
                    [cv2.resize(k.astype(np.uint8), (size, size), interpolation=0) for k in m]).astype(bool)
                y = to_uint8(model(to_tensor(xs, ms if model.in_channels == 4 else None, device=dev)))
                if size != x.shape[1]:
                    y = idata.resize(y, x.shape[1])
                    if model.paste:
                        y = np.where(m[..., None], y, x)
                outs.append(y)
    finally:
        model.to(home).train(was_training)
    return np.concatenate(outs)


def _generator_size(model, image_size: int) -> int:
    """The size a generator was trained at (``model.train_size`` when set) or the image size."""
    size = int(getattr(model, "train_size", 0) or image_size)
    if size % model.multiple:
        raise ValueError(f"images of {size} px do not fit the generator (sides must be multiples of "
                         f"{model.multiple}); resize them or set model.train_size")
    return size
