"""Data for the inpainting GAN: the published yaw filter, resizing to the generator's input,
CelebA-C damage at that size. Introduced by notebooks/02_inpainting.ipynb.

- ``yaw_from_mesh``: the original's yaw check (utils/image_processing.py, docs/inpainting.md):
  yaw = atan2(nose tip (mesh point 1).x - midpoint of the inner eye corners (133, 362).x,
  inner-eye distance), in degrees; the original rejects |yaw| > 20.
- ``resize``: aligned faces to the generator's input size (INTER_AREA down, INTER_LINEAR up).
- ``damage``: ``lib.data.degrade.celeba_c_damage`` per image, at the image's own size: the mask is
  drawn on the published 256x256 canvas and resized with nearest neighbour (coverage, a fraction,
  is kept; the strokes get thinner in pixels). One ``numpy_rng(seed, stream, i)`` per image, so a
  damage never depends on which other images are in the batch.
"""

from __future__ import annotations

import cv2
import numpy as np

from lib.data.degrade import celeba_c_damage
from lib.seeding import numpy_rng

MAX_YAW = 20.0  # degrees, the original's frontal filter


def yaw_from_mesh(mesh) -> np.ndarray:
    """Yaw (degrees) per face from FaceMesh points (N, 468 or 478, 2+): ``lib.faces.align.mesh_yaw``
    (the original's formula) on each face."""
    from lib.faces.align import mesh_yaw

    mesh = np.asarray(mesh, dtype=np.float64)
    if mesh.ndim != 3 or mesh.shape[1] < 468 or mesh.shape[2] < 2:
        raise ValueError(f"mesh must be (N, 468 or 478, 2 or 3) FaceMesh points; got shape {mesh.shape}")
    return np.array([mesh_yaw(m[:, :2]) for m in mesh])


def face_yaw(fs) -> np.ndarray:
    """The original's yaw estimate for every image of ``fs``: from its ``mesh478`` array (the engine's
    exact mesh), else the ``yaw`` column measured by the adapter (CelebA-C measures it the same way)."""
    if fs.has("mesh478"):
        return yaw_from_mesh(fs.array("mesh478"))
    if "yaw" not in fs.meta:
        raise ValueError("the FaceSet has neither a mesh478 array nor a yaw column: cannot apply the "
                         "|yaw| filter; set max_yaw=None")
    return fs.meta["yaw"].to_numpy(float)


def frontal_rows(fs, split: str, max_yaw: float | None = MAX_YAW) -> np.ndarray:
    """Row indices of ``fs`` in ``split`` passing the original's |yaw| <= max_yaw filter (None: all)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    keep = fs.meta["split"].to_numpy() == split
    if max_yaw is not None:
        keep &= np.abs(face_yaw(fs)) <= max_yaw
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise ValueError(f"no {split} image has |yaw| <= {max_yaw} deg; raise max_yaw")
    return rows


def _images(images, name="images") -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{name} must be uint8 RGB (N, H, W, 3); got {images.dtype} {images.shape}")
    return images


def resize(images, size: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N, size, size, 3); a copy, unchanged when already that size."""
    images = _images(images)
    if images.shape[1:3] == (size, size):
        return images.copy()
    flag = cv2.INTER_AREA if size < images.shape[1] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(im, (size, size), interpolation=flag) for im in images])


def damage(images, seed: int, stream="eval", ids=None) -> tuple[np.ndarray, np.ndarray]:
    """CelebA-C damage of every image: ``(damaged uint8, masks bool (N, H, W))``.

    ``ids`` (default ``arange(N)``) key each image's random stream, so the same image id gets the
    same damage in any batch."""
    images = _images(images)
    ids = np.arange(len(images)) if ids is None else np.asarray(ids)
    if ids.shape != (len(images),):
        raise ValueError(f"ids must have one entry per image ({len(images)}); got shape {ids.shape}")
    out, masks = np.empty_like(images), np.empty(images.shape[:3], bool)
    for k, (im, i) in enumerate(zip(images, ids)):
        out[k], masks[k] = celeba_c_damage(im, numpy_rng(seed, stream, int(i)))
    return out, masks
