"""5-point similarity alignment to the 112x112 ArcFace template (insightface norm_crop).

Point order everywhere: the eye on the image's left, the other eye, nose tip, the mouth
corner on the image's left, the other mouth corner (YuNet's order; the template's order).
"""

from __future__ import annotations

import numpy as np

# insightface arcface_torch / utils/face_align.py `arcface_dst` for 112x112 crops.
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)


def points5_from_68(lm68: np.ndarray) -> np.ndarray:
    """5 alignment points from iBUG-68: eye centres, nose tip (30), mouth corners (48, 54)."""
    lm68 = np.asarray(lm68, dtype=np.float64)
    if lm68.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {lm68.shape}")
    return np.stack([lm68[36:42].mean(0), lm68[42:48].mean(0), lm68[30], lm68[48], lm68[54]])


def estimate_transform(points5: np.ndarray, size: int = 112, margin: int = 0) -> np.ndarray:
    """2x3 similarity matrix mapping ``points5`` onto the template scaled to ``size`` and
    shifted by ``margin`` pixels (a ``size + 2*margin`` canvas with context around the crop)."""
    from skimage.transform import SimilarityTransform

    src = np.asarray(points5, dtype=np.float64)
    if src.shape != (5, 2) or not np.isfinite(src).all():
        raise ValueError(f"expected 5 finite (x, y) points, got shape {src.shape}")
    dst = ARCFACE_TEMPLATE * (size / 112.0) + margin
    tform = SimilarityTransform.from_estimate(src, dst)
    if not tform:
        raise ValueError(f"the 5 points {src.round(1).tolist()} are degenerate: no similarity transform")
    return tform.params[:2]


def align_face(image: np.ndarray, points5: np.ndarray, size: int = 112, margin: int = 0) -> np.ndarray:
    """Warp ``image`` so that ``points5`` land on the ArcFace template: a ``size`` x ``size``
    crop, or with ``margin`` the same crop plus ``margin`` pixels of context on every side."""
    import cv2

    M = estimate_transform(points5, size, margin)
    out = size + 2 * margin
    return cv2.warpAffine(image, M, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
