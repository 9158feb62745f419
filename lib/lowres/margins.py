"""Quality-adaptive margins of the low-res thesis for the ``adaptive_arcface`` head (04_lowres).

The hooks here return ``(images, margins)``, which ``lib.recognition.train`` hands to
``create_head("adaptive_arcface", ...)(embeddings, labels, margins)`` (ArcFace with a per-sample
margin m_i, s=64, theta + m clamped to pi as the low-res code).

- Approach1: m = 0.5 for the low-resolution samples of the Cross-Resolution Batch, 0.35 for
  the others (docs/lowres.md).
- Approach2: m_i = 1 / mean|Laplacian(img)|: ``cv2.Laplacian(img, cv2.CV_64F)`` (ksize 1, the
  4-neighbour kernel) on the uint8 112x112x3 image, absolute value averaged over pixels and
  channels (the original's ``get_sharpness``: ``1 / np.average(np.sqrt(lap ** 2))``). Thesis:
  HR ~15.7 -> m ~0.064, LR ~2.3 -> m ~0.43.

Departures and choices:
- The margin is computed on the image the network actually sees: after the mirror flip and the
  Cross-Resolution degradation (the published dataset computed it on the image as loaded,
  before any degradation, so LR samples of a CRB batch would get HR margins).
- ``at_size`` (default None = on the 112 crop, as the original): the sharpness of the crop
  resized to the backbone's input (e.g. 64 px for ``iresnet_tiny``), which is what its first
  convolution sees; an option, not the default, so the thesis' numbers keep their scale.
- A flat image has Laplacian 0: the sharpness is floored at ``eps`` (1e-6) so the margin is
  finite (the original divides by zero). Unbounded margins above pi are harmless: the head
  clamps theta + m to pi.
- ``bounds``: the bounded variant the thesis names as future work (its HR margins ~0.06 are
  "too low"): m_i clipped to [lo, hi]; default (0.35, 0.5), Approach1's two margins, so a sharp
  image gets at least the plain low-res ArcFace margin and a blurred one at most Approach1's.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from lib.lowres.crb import CrossResolutionBatch, _check_batch

APPROACH1 = {"low": 0.5, "high": 0.35}
DEFAULT_BOUNDS = (0.35, 0.5)
EPS = 1e-6


def sharpness(images, *, at_size: int | None = None) -> np.ndarray:
    """mean |Laplacian| per image of a uint8 batch (B, H, W, 3) -> (B,) float64 (module docstring)."""
    images = _check_batch(images)
    out = np.empty(len(images), dtype=np.float64)
    for i, im in enumerate(images):
        if at_size is not None and im.shape[:2] != (at_size, at_size):
            im = cv2.resize(im, (int(at_size), int(at_size)), interpolation=cv2.INTER_AREA)
        out[i] = np.abs(cv2.Laplacian(im, cv2.CV_64F)).mean()
    return out


def approach2_margins(images, *, bounds: Sequence[float] | None = None, at_size: int | None = None,
                      eps: float = EPS) -> np.ndarray:
    """Approach2 margins 1 / max(sharpness, eps), clipped to ``bounds`` = (lo, hi) when given."""
    m = 1.0 / np.maximum(sharpness(images, at_size=at_size), eps)
    if bounds is not None:
        lo, hi = _bounds(bounds)
        m = np.clip(m, lo, hi)
    return m.astype(np.float32)


def approach1_margins(sides, *, low: float = APPROACH1["low"], high: float = APPROACH1["high"]) -> np.ndarray:
    """Approach1: ``low`` where a sample was degraded (side > 0 in ``CrossResolutionBatch.apply``), else ``high``."""
    sides = np.asarray(sides)
    return np.where(sides > 0, float(low), float(high)).astype(np.float32)


def _bounds(bounds) -> tuple[float, float]:
    lo, hi = (float(v) for v in bounds)
    if not 0.0 <= lo <= hi:
        raise ValueError(f"margin bounds must satisfy 0 <= lo <= hi, got {bounds!r}")
    return lo, hi


class MarginHook:
    """Cross-Resolution Batch plus per-sample margins: ``hook(images, indices, rng) -> (images, margins)``.

    Args:
        approach: "approach1" (0.5 LR / 0.35 HR) or "approach2" (1 / mean|Laplacian|).
        crb: the :class:`CrossResolutionBatch` (default: half the batch at 16 px, the thesis).
        low, high: Approach1's margins.
        bounds: Approach2 only: None (unbounded, the thesis) or (lo, hi).
        at_size: Approach2 only: compute the sharpness at this side (None: on the hook's image).
    """

    APPROACHES = ("approach1", "approach2")

    def __init__(self, approach: str, crb: CrossResolutionBatch | None = None, *, low: float = APPROACH1["low"],
                 high: float = APPROACH1["high"], bounds: Sequence[float] | None = None, at_size: int | None = None):
        if approach not in self.APPROACHES:
            raise ValueError(f"approach must be one of {self.APPROACHES}, got {approach!r}")
        if approach == "approach1" and bounds is not None:
            raise ValueError("bounds apply to approach2 only (approach1 has two fixed margins)")
        self.approach, self.crb = approach, crb or CrossResolutionBatch()
        self.low, self.high = float(low), float(high)
        self.bounds = None if bounds is None else _bounds(bounds)
        self.at_size = None if at_size is None else int(at_size)

    def __call__(self, images, indices, rng):
        out, sides = self.crb.apply(images, rng)
        if self.approach == "approach1":
            return out, approach1_margins(sides, low=self.low, high=self.high)
        return out, approach2_margins(out, bounds=self.bounds, at_size=self.at_size)

    def key(self) -> dict:
        k = {"hook": self.approach, "crb": self.crb.key()}
        if self.approach == "approach1":
            return {**k, "low": self.low, "high": self.high}
        return {**k, "bounds": None if self.bounds is None else list(self.bounds), "at_size": self.at_size}
