"""Resolution degradations as ``lib.recognition.train`` batch hooks (04_lowres).

Cross-Resolution Batch (docs/lowres.md, the thesis): half of every batch is downsampled
112 -> 16 and upsampled back to 112 with linear interpolation. The published code reached that
state in three ways (the Jan code made later batches all-LR by accident; one notebook used
``index % 2``; a dataset version drew t from {56, 28, 14, 7} per image); here, as the thesis
describes it:

- exactly ``round(fraction * B)`` samples of every batch, chosen per sample at random from the
  step's generator (so the choice is reproducible and different at every step);
- each chosen sample is degraded with ``lib.data.degrade.down_up`` (cv2.INTER_LINEAR both ways,
  the evaluation protocol's interpolation) to a side drawn uniformly from ``resolutions``
  (``(16,)`` = the thesis; several sides give a multi-resolution batch).

``RandomLowRes`` is AdaFace's low-resolution augmentation (mk-minchul/AdaFace
``dataset/augmenter.py``): with probability ``p`` an image is resized to ``side_ratio * 112``,
side_ratio ~ U(0.2, 1.0), and back. Departure: AdaFace draws the interpolation of each resize
at random among five cv2 modes; we use bilinear both ways (the evaluation protocol's), and leave
out its crop and photometric augmentations (the other models here do not get them either).

Hooks return ``(images, info)`` through :meth:`apply` and just the images through ``__call__``;
``key()`` describes them for the run cache (``extra_key``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lib.data.degrade import down_up

THESIS_RESOLUTION = 16


def _check_batch(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be a uint8 batch (B, H, W, 3), got {images.dtype} {images.shape}")
    return images


def degrade(images, t: int, *, interpolation: str = "bilinear") -> np.ndarray:
    """Every image of a uint8 batch down to ``t x t`` and back to its size (``t`` >= side: a copy)."""
    images = _check_batch(images)
    if not len(images):
        return images.copy()
    return np.stack([down_up(im, int(t), interpolation=interpolation) for im in images])


class CrossResolutionBatch:
    """Cross-Resolution Batch hook: ``hook(images, indices, rng) -> images``.

    Args:
        resolutions: sides the low-resolution samples are degraded to, one drawn per sample
            (``(16,)``, the thesis).
        fraction: share of each batch degraded (0.5, the thesis); ``round(fraction * B)`` samples.
        interpolation: "bilinear" (cv2.INTER_LINEAR, the thesis and the protocol) or another
            ``lib.data.degrade`` mode.
    """

    def __init__(self, resolutions: Sequence[int] = (THESIS_RESOLUTION,), fraction: float = 0.5,
                 interpolation: str = "bilinear"):
        res = [int(r) for r in (resolutions if isinstance(resolutions, (list, tuple)) else [resolutions])]
        if not res or min(res) < 1:
            raise ValueError(f"resolutions must be a non-empty list of sides >= 1 px, got {resolutions!r}")
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
        self.resolutions, self.fraction, self.interpolation = tuple(res), float(fraction), interpolation

    def apply(self, images, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(degraded batch, side per sample: 0 for samples left at full resolution)."""
        images = _check_batch(images)
        n = len(images)
        k = int(round(self.fraction * n))
        chosen = rng.permutation(n)[:k]
        sides = np.zeros(n, dtype=np.int64)
        sides[chosen] = rng.choice(np.asarray(self.resolutions), size=k)
        out = images.copy()
        for i in chosen:
            out[i] = down_up(images[i], int(sides[i]), interpolation=self.interpolation)
        return out, sides

    def __call__(self, images, indices, rng):
        return self.apply(images, rng)[0]

    def key(self) -> dict:
        return {"hook": "cross_resolution_batch", "resolutions": list(self.resolutions), "fraction": self.fraction,
                "interpolation": self.interpolation}


class RandomLowRes:
    """AdaFace's low-resolution augmentation as a batch hook (see the module docstring).

    Args:
        p: probability per image (0.2, AdaFace's ``low_res_augmentation_prob``).
        side_ratio: (lo, hi) of the uniform side ratio (0.2, 1.0).
    """

    def __init__(self, p: float = 0.2, side_ratio: Sequence[float] = (0.2, 1.0), interpolation: str = "bilinear"):
        lo, hi = (float(v) for v in side_ratio)
        if not 0.0 <= float(p) <= 1.0 or not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"need 0 <= p <= 1 and 0 < side_ratio[0] <= side_ratio[1] <= 1, got p={p}, "
                             f"side_ratio={side_ratio}")
        self.p, self.side_ratio, self.interpolation = float(p), (lo, hi), interpolation

    def apply(self, images, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        images = _check_batch(images)
        n, side = len(images), images.shape[1]
        hit = rng.random(n) < self.p
        ratio = rng.uniform(*self.side_ratio, size=n)
        sides = np.where(hit, np.maximum(1, (ratio * side).astype(np.int64)), 0)
        out = images.copy()
        for i in np.flatnonzero(sides):
            out[i] = down_up(images[i], int(sides[i]), interpolation=self.interpolation)
        return out, sides

    def __call__(self, images, indices, rng):
        return self.apply(images, rng)[0]

    def key(self) -> dict:
        return {"hook": "adaface_low_res", "p": self.p, "side_ratio": list(self.side_ratio),
                "interpolation": self.interpolation}
