"""The FSErasing transform (gsisaoki/FSErasing erasing.py) and the baselines' batch hooks.

As published (``FSErasing.__call__(img, index, flip)``, read from the repository):
- the masks (per-pixel class ids) of the training set are precomputed by the parser; the
  transform looks up the image's mask by its dataset index and mirrors it when the image was
  mirrored (the mask is only mirrored: class ids are not swapped, so the erased pixels are the
  same part of the face as before the flip);
- with probability ``p`` (default 1.0) it picks the classes to erase: ``n_erase`` int -> that
  many distinct classes drawn uniformly from all 25 (``multinomial`` without replacement over
  equal weights); a tuple ``(a, b)`` -> ``randint(a, b + 1)`` classes; a list -> exactly those
  classes. A class absent from the image erases nothing (no redraw). With a parser that finds
  about 10 of the 25 classes in an image, most published draws erase nothing;
- each chosen class is filled, on the NORMALISED tensor: ``'random'`` = per-pixel per-channel
  ``uniform_()`` i.e. U[0, 1) (the code; the README says N(0, 1), the code draws uniform;
  docs/fserasing.md), ``'random_1'`` = one N(0, 1) colour per channel, ``'random_mix'`` = a fair coin per
  class between the two, an int/float = that constant.

Departure, on by default (``among="present"``): the classes are drawn among those PRESENT in the
image's mask (at most as many as there are), so every draw erases something; ``among="all"``
draws from all 25 as published.

Ours: :class:`FSErasing` is that transform on a (3, H, W) normalised tensor (torchvision style,
random numbers from a numpy Generator instead of torch's global RNG, so a training step is
reproducible). :class:`FSErasingHook` is the batch form, a ``lib.recognition.train`` batch_hook on
the uint8 batch: fills are drawn in normalised units and written as ``mean + std * v`` (rounded,
clipped to 0..255). Departure: with arcface_torch's normalisation (mean = std = 127.5) the
clipping bounds the fills to [-1, 1]: no effect on 'random' (U[0, 1)), but 'random_1' colours
beyond +-1 are clipped (~32 % of channels). The hook learns which images the training loop
mirrored from the loop itself (``flipped=``, the hook's ``uses_flips``), which stays right when the
loop's photometric augmentation has changed the pixels; called without it, the hook compares each
image with its stored original (exact on uint8).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

N_CLASSES = 25
FILLS = ("random", "random_1", "random_mix")
AMONG = ("present", "all")


def _check_params(p, n_erase, value, n_class, among="present"):
    if among not in AMONG:
        raise ValueError(f"FSErasing: among must be one of {AMONG}, got {among!r}")
    if not (isinstance(p, Real) and 0.0 <= p <= 1.0):
        raise ValueError(f"FSErasing: p must be a probability in [0, 1], got {p!r}")
    if isinstance(n_erase, tuple):
        if len(n_erase) != 2 or not all(isinstance(v, Integral) for v in n_erase) \
                or not 0 <= n_erase[0] <= n_erase[1] <= n_class:
            raise ValueError(f"FSErasing: n_erase as a range must be (a, b) ints with 0 <= a <= b <= {n_class}, "
                             f"got {n_erase!r}")
    elif isinstance(n_erase, list):
        if not all(isinstance(v, Integral) and 0 <= v < n_class for v in n_erase):
            raise ValueError(f"FSErasing: n_erase as a list must hold class ids in 0..{n_class - 1}, got {n_erase!r}")
    elif not (isinstance(n_erase, Integral) and 0 <= n_erase <= n_class):
        raise ValueError(f"FSErasing: n_erase must be an int in 0..{n_class}, an (a, b) range or a list of class "
                         f"ids, got {n_erase!r}")
    if not (value in FILLS or (isinstance(value, Real) and not isinstance(value, bool))):
        raise ValueError(f"FSErasing: value must be one of {FILLS} or a number, got {value!r}")


def choose_classes(rng: np.random.Generator, n_erase, n_class: int = N_CLASSES, present=None) -> list[int]:
    """The classes erased in one image (after the ``p`` draw). ``present`` None: as the published code,
    uniformly from all ``n_class``; else uniformly among the class ids in ``present`` (at most that many)."""
    if isinstance(n_erase, list):
        return [int(c) for c in n_erase]
    n = int(rng.integers(n_erase[0], n_erase[1] + 1)) if isinstance(n_erase, tuple) else int(n_erase)
    if present is None:
        return [int(c) for c in rng.choice(n_class, size=n, replace=False)]
    pool = np.asarray(present)
    return [int(c) for c in rng.choice(pool, size=min(n, pool.size), replace=False)] if pool.size else []


def _fill(rng: np.random.Generator, value, shape) -> np.ndarray:
    """Normalised fill values (3, H, W) for one class."""
    if value == "random_mix":
        value = "random" if rng.random() < 0.5 else "random_1"
    if value == "random":
        return rng.random(shape, dtype=np.float32)
    if value == "random_1":
        return np.broadcast_to(rng.standard_normal((shape[0], 1, 1)).astype(np.float32), shape)
    return np.full(shape, float(value), np.float32)


def erase(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, *, p: float = 1.0, n_erase=1,
          value="random", n_class: int = N_CLASSES, among: str = "present") -> tuple[np.ndarray, list[int]]:
    """FSErasing of one normalised image ``x`` (3, H, W) float with class map ``mask`` (H, W).

    Returns ``(erased copy, erased class ids)`` (ids empty when the ``p`` draw says no).
    """
    x = np.asarray(x, dtype=np.float32)
    mask = np.asarray(mask)
    if x.ndim != 3 or mask.shape != x.shape[1:]:
        raise ValueError(f"FSErasing: x must be (C, H, W) and mask (H, W) of the same size, got {x.shape} "
                         f"and {mask.shape}")
    if rng.random() >= p:
        return x.copy(), []
    present = np.unique(mask[mask < n_class]) if among == "present" else None
    classes = choose_classes(rng, n_erase, n_class, present)
    out = x.copy()
    for c in classes:
        v = _fill(rng, value, x.shape)
        out = np.where(mask[None] == c, v, out)
    return out, classes


class FSErasing:
    """torchvision-style FSErasing on a normalised (3, H, W) tensor, as published.

    Args:
        p: probability of erasing (1.0).
        n_erase: int (1), ``(a, b)`` inclusive range, or a list of class ids.
        value: 'random' | 'random_1' | 'random_mix' | a number (normalised units).
        masks: optional (N, H, W) class maps of the dataset (the published ``masks.pth``): then
            ``t(img, index, flip=...)``; without it ``t(img, mask, flip=...)``.
        n_class: 25.
        among: "present" (ours: draw among the classes in the mask) or "all" (as published).
    ``t(img, index_or_mask, flip=False, rng=None)``: ``rng`` is a numpy Generator; None draws its
    seed from torch's global generator (so ``torch.manual_seed`` fixes it, as in torchvision).
    """

    def __init__(self, p: float = 1.0, n_erase=1, value="random", masks: np.ndarray | None = None,
                 n_class: int = N_CLASSES, among: str = "present"):
        _check_params(p, n_erase, value, n_class, among)
        self.p, self.n_erase, self.value, self.n_class, self.among = p, n_erase, value, n_class, among
        self.masks = None if masks is None else np.asarray(masks)

    def __call__(self, img, index_or_mask, flip: bool = False, rng: np.random.Generator | None = None):
        import torch

        if rng is None:
            rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,))))
        if self.masks is not None:
            mask = self.masks[int(index_or_mask)]
        else:
            mask = np.asarray(index_or_mask)
        if flip:
            mask = mask[:, ::-1]
        is_tensor = isinstance(img, torch.Tensor)
        x = img.detach().cpu().numpy() if is_tensor else np.asarray(img)
        out, _ = erase(x, mask, rng, p=self.p, n_erase=self.n_erase, value=self.value, n_class=self.n_class,
                       among=self.among)
        return torch.from_numpy(out).to(img.device, img.dtype) if is_tensor else out

    def __repr__(self) -> str:
        return f"FSErasing(p={self.p}, n_erase={self.n_erase!r}, value={self.value!r}, among={self.among!r})"


def _mirrored(batch: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """Which images of ``batch`` are the mirror of their original (and not the original itself)."""
    same = (batch == originals).reshape(len(batch), -1).all(1)
    mirror = (batch == originals[:, :, ::-1]).reshape(len(batch), -1).all(1)
    bad = ~same & ~mirror
    if bad.any():
        raise ValueError(f"FSErasingHook: {int(bad.sum())} images of the batch are neither their stored original "
                         "nor its mirror: give FSErasingHook the same images the training loop reads, and run "
                         "it as the first batch_hook")
    return mirror & ~same


class FSErasingHook:
    """FSErasing as a ``lib.recognition.train`` ``batch_hook(images_uint8, indices, rng)``.

    Args:
        masks: (N, H, W) parser class maps of the training images, indexed like ``images``.
        images: the (N, H, W, 3) uint8 training images the loop reads (to detect mirroring).
        p, n_erase, value, among: as :class:`FSErasing`.
        mean, std: the backbone's normalisation in uint8 units (``get_preprocess(model)``).
    """

    uses_flips = True  # lib.recognition.train passes ``flipped=`` (which images it mirrored)

    def __init__(self, masks, images, *, p: float = 1.0, n_erase=1, value="random", mean: float = 127.5,
                 std: float = 127.5, n_class: int = N_CLASSES, among: str = "present"):
        _check_params(p, n_erase, value, n_class, among)
        self.among = among
        masks = np.asarray(masks)
        if masks.shape != tuple(images.shape[:3]):
            raise ValueError(f"FSErasingHook: masks {masks.shape} must match the images {tuple(images.shape[:3])}")
        self.masks, self.images = masks, images
        self.p, self.n_erase, self.value, self.n_class = p, n_erase, value, n_class
        self.mean, self.std = float(mean), float(std)

    def key(self) -> dict:
        n = self.n_erase
        return {"augmentation": "fserasing", "p": self.p, "n_erase": list(n) if isinstance(n, tuple) else n,
                "n_erase_kind": type(n).__name__, "value": self.value, "mean": self.mean, "std": self.std,
                "among": self.among}

    def __call__(self, batch: np.ndarray, idx: np.ndarray, rng: np.random.Generator, flipped=None) -> np.ndarray:
        idx = np.asarray(idx)
        if flipped is None:
            originals = np.asarray(self.images[np.sort(idx)])[np.argsort(np.argsort(idx))]
            flipped = _mirrored(batch, originals)
        flipped = np.asarray(flipped, bool)
        out = batch.copy()
        for i, k in enumerate(idx):
            mask = self.masks[k][:, ::-1] if flipped[i] else self.masks[k]
            x = (batch[i].transpose(2, 0, 1).astype(np.float32) - self.mean) / self.std
            erased, classes = erase(x, mask, rng, p=self.p, n_erase=self.n_erase, value=self.value,
                                    n_class=self.n_class, among=self.among)
            if classes:
                where = np.isin(mask, classes)
                u8 = np.clip(np.rint(erased * self.std + self.mean), 0, 255).astype(np.uint8).transpose(1, 2, 0)
                out[i][where] = u8[where]
        return out


class RandomErasingHook:
    """Random Erasing (Zhong et al. 2020; lib.data.degrade.random_erasing) per image, as a batch_hook."""

    def __init__(self, p: float = 0.5, scale: Sequence = (0.02, 0.33), ratio: Sequence = (0.3, 3.3),
                 value="random"):
        self.p, self.scale, self.ratio, self.value = p, tuple(scale), tuple(ratio), value

    def key(self) -> dict:
        return {"augmentation": "random_erasing", "p": self.p, "scale": list(self.scale),
                "ratio": list(self.ratio), "value": self.value if isinstance(self.value, str) else list(
                    np.atleast_1d(self.value).tolist())}

    def __call__(self, batch, idx, rng):
        from lib.data.degrade import random_erasing

        return np.stack([random_erasing(im, rng, p=self.p, scale=self.scale, ratio=self.ratio,
                                        value=self.value)[0] for im in batch])


class CutoutHook:
    """Cutout (DeVries & Taylor 2017; lib.data.degrade.cutout) per image, as a batch_hook."""

    def __init__(self, size: int = 56, p: float = 1.0, value=0):
        self.size, self.p, self.value = int(size), p, value

    def key(self) -> dict:
        return {"augmentation": "cutout", "size": self.size, "p": self.p,
                "value": self.value if isinstance(self.value, str) else np.atleast_1d(self.value).tolist()}

    def __call__(self, batch, idx, rng):
        from lib.data.degrade import cutout

        return np.stack([cutout(im, rng, size=self.size, p=self.p, value=self.value)[0] for im in batch])
