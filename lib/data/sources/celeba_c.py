"""CelebA-C (the inpainting paper's damaged CelebA, docs/inpainting.md) -> FaceSet.

Built from the CelebA photos (the same root and layout as celeba.py, whose scan is reused):
1. MediaPipe FaceMesh (refine_landmarks=True) on the 178x218 aligned photo; no mesh -> reject.
2. ``lib.faces.align.eye_align``: iris centres 468/473 levelled, ``eye_distance`` (70) px apart,
   their midpoint at (128, 85) of the 256 canvas; y = 85 as upstream, x centred is our choice
   (upstream keeps the source's x; see ``EYE_ALIGN_CENTER``). Outside the photo is black.
3. ``lib.faces.align.mesh_yaw`` on the mesh mapped into the crop (eyes level); ``|yaw| >
   max_yaw`` (20) -> reject. Upstream runs FaceMesh a second time on the aligned crop and
   measures there (and rejects when that second run finds no face); mapping the first mesh is
   the same geometry at half the cost, so values differ from upstream's only by MediaPipe's
   re-fit noise.
4. ``lib.data.degrade.celeba_c_damage(crop, numpy_rng(seed, "celeba_c", image_id))``: the
   damage of image ``000001.jpg`` depends only on the seed and that name, not on the order,
   the subset or the layout variant.

FaceSet: images = the clean aligned crops; arrays ``damaged`` (uint8) and ``mask`` (bool);
meta adds ``yaw`` (measured, degrees), ``mask_coverage`` and the official ``split``. The card's
``mask_coverage`` holds mean/sd/min/max over the converted images (published: 7.1 %, 1.0 %).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lib.data.degrade import celeba_c_damage
from lib.data.sources import celeba
from lib.data.sources.common import (Reject, Rejects, Sample, convert as _convert, read_image, require_dir,
                                     transform_points)
from lib.faces.align import EYE_ALIGN_CENTER, eye_align, mesh_yaw
from lib.seeding import numpy_rng

VERSION = "1"
ENV = "FACEAUG_CELEBA"  # the same CelebA copy as the celeba adapter
DATA_CARD = "celeba_c"
DEFAULTS = {"size": 256, "eye_distance": 70.0, "max_yaw": 20.0, "max_identities": None, "max_images": None,
            "seed": 0}
PUBLISHED_COVERAGE = {"mean": 0.071, "sd": 0.010, "min": 0.034, "max": 0.096}  # 1000 masks (docs/inpainting.md)


def _face_mesh():
    from lib.faces.landmarks import FaceMesh

    return FaceMesh(refine_landmarks=True)


def align_and_measure(image: np.ndarray, mesh, size: int = 256, eye_distance: float = 70.0,
                      max_yaw: float = 20.0) -> tuple[np.ndarray, float]:
    """Steps 1-3 for one photo: (aligned crop, yaw in degrees); ``Reject`` with the reason."""
    if min(image.shape[:2]) < 8:
        raise Reject(f"image is only {image.shape[1]}x{image.shape[0]} pixels: too small for a face mesh")
    pts = mesh(image)
    if pts is None:
        raise Reject("no face mesh found by MediaPipe")
    try:
        crop, M = eye_align(image, pts, size, eye_distance)
        yaw = mesh_yaw(transform_points(pts[:, :2], M))
    except ValueError as err:
        raise Reject(f"alignment failed: {err}") from None
    if abs(yaw) > max_yaw:
        raise Reject(f"yaw over {max_yaw:g} deg (CelebA-C filter): {yaw:+.1f} deg")
    return crop, yaw


def convert(root, out, *, size: int = 256, eye_distance: float = 70.0, max_yaw: float = 20.0, max_identities=None,
            max_images=None, seed: int = 0, progress: bool = True, chunk: int = 128) -> Path:
    """Convert the CelebA photos at ``root`` into the CelebA-C FaceSet ``out`` (module docstring).
    ``eye_distance`` is in output pixels: scale it with ``size`` (70 at 256)."""
    root = require_dir(root, DATA_CARD, "the CelebA folder holding img_align_celeba/ and identity_CelebA.txt")
    if not (size >= 32 and eye_distance > 0 and max_yaw > 0):
        raise ValueError(f"size={size!r} (>= 32), eye_distance={eye_distance!r} and max_yaw={max_yaw!r} must be "
                         "positive")
    layout = celeba.find_layout(root)
    rejects = Rejects()
    df = celeba.select(celeba.scan(layout, rejects), max_identities=max_identities, max_images=max_images, seed=seed)
    df["source"] = "celeba_c"
    state = {}

    def load(row: dict) -> Sample:
        if "mesh" not in state:
            state["mesh"] = _face_mesh()
        crop, yaw = align_and_measure(read_image(root / row["file"]), state["mesh"], size, eye_distance, max_yaw)
        damaged, mask = celeba_c_damage(crop, numpy_rng(seed, "celeba_c", row["image_id"]))
        meta = {"yaw": round(yaw, 2), "aligned_by": "facemesh", "mask_coverage": round(float(mask.mean()), 6)}
        return Sample(crop, arrays={"damaged": damaged, "mask": mask}, meta=meta)

    card = {"name": "celeba_c", "kind": "real", "version": VERSION, "seed": seed, "source": str(root),
            "data_card": f"data_cards/{DATA_CARD}.md",
            "parameters": {"align": {"method": "facemesh_eyes", "size": size, "eye_distance": eye_distance,
                                     "eye_center_px": [EYE_ALIGN_CENTER[0] * size, EYE_ALIGN_CENTER[1] * size],
                                     "iris_points": [468, 473]},
                           "max_yaw": max_yaw, "yaw": "mesh_yaw on the eye-levelled mesh (133, 362, 1)",
                           "damage": "lib.data.degrade.celeba_c_damage, rng numpy_rng(seed, 'celeba_c', image_id)",
                           "max_identities": max_identities, "max_images": max_images,
                           "split_by": f"{layout.rel(layout.partition)} (official)"}}
    try:
        out = _convert(df, out, load, size=size, card=card, arrays=("damaged", "mask"), rejects=rejects,
                       summarise=_coverage, progress=progress, desc="celeba_c", chunk=chunk)
    finally:
        if "mesh" in state:
            state["mesh"].close()
    return out


def _coverage(meta) -> dict:
    """Mask coverage over the converted images, for the card (published: mean 7.1 %, sd 1.0 %)."""
    cov = meta["mask_coverage"].to_numpy(np.float64)
    return {"mask_coverage": {"mean": float(cov.mean()), "sd": float(cov.std(ddof=1)) if len(cov) > 1 else 0.0,
                              "min": float(cov.min()), "max": float(cov.max()), "n": len(cov),
                              "published": PUBLISHED_COVERAGE}}
