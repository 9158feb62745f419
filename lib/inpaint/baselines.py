"""Reconstruction baselines (notebook 02_inpainting): the damaged input itself and OpenCV's
classical inpainting given the mask, Telea (fast marching, 2004) and Navier-Stokes (Bertalmio
et al., 2001). The paper compares against other learned models only; these are our references
for "how much does a GAN add over a mask-aware classical fill".
"""

from __future__ import annotations

import cv2
import numpy as np

METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def _check(images, masks):
    images, masks = np.asarray(images), np.asarray(masks)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 RGB (N, H, W, 3); got {images.dtype} {images.shape}")
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be (N, H, W) = {images.shape[:3]} (True = damaged); got {masks.shape}")
    return images, masks.astype(bool)


def opencv_inpaint(images, masks, method: str = "telea", radius: int = 3) -> np.ndarray:
    """``cv2.inpaint`` of every image inside its mask (True = fill); known pixels are untouched."""
    if method not in METHODS:
        raise ValueError(f"unknown OpenCV inpainting method {method!r}; choose from {sorted(METHODS)}")
    images, masks = _check(images, masks)
    return np.stack([cv2.inpaint(im, m.astype(np.uint8), radius, METHODS[method]) for im, m in zip(images, masks)])


def damaged(images, masks) -> np.ndarray:
    """The 'no reconstruction' baseline: the damaged input, unchanged (a copy)."""
    images, _ = _check(images, masks)
    return images.copy()


BASELINES = {"damaged": damaged, "telea": lambda x, m: opencv_inpaint(x, m, "telea"),
             "ns": lambda x, m: opencv_inpaint(x, m, "ns")}
