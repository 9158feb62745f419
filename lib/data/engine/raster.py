"""A small triangle rasteriser: per-pixel triangle ids (painter's order) and per-triangle
affine interpolation of any per-vertex values (texture coordinates, depth, labels).

OpenCV fills each triangle with its id, far to near, into an int32 id buffer; numpy then
evaluates each pixel's triangle affine map. One cv2.remap turns texture coordinates
into the image.
"""

from __future__ import annotations

import numpy as np


def affine_maps(dst: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-triangle affine maps from image (x, y) to values.

    Args:
        dst: (T, 3, 2) triangle corners in the output image.
        values: (T, 3, K) values at the corners.
    Returns:
        A (T, K, 3) with value = A @ (x, y, 1), and ok (T,) False for degenerate triangles.
    """
    M = np.concatenate([dst, np.ones(dst.shape[:2] + (1,))], axis=2)
    ok = np.abs(np.linalg.det(M)) > 1e-6
    A = np.zeros((len(dst), 3, values.shape[2]))
    A[ok] = np.linalg.solve(M[ok], values[ok])
    return A.transpose(0, 2, 1), ok


def signed_area(tri: np.ndarray) -> np.ndarray:
    """Twice the signed area of (T, 3, 2) triangles; with y down, camera-facing is negative."""
    return ((tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1])
            - (tri[:, 1, 1] - tri[:, 0, 1]) * (tri[:, 2, 0] - tri[:, 0, 0]))


def rasterize(dst: np.ndarray, order: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Id buffer (H, W) int32: triangles drawn in ``order`` (later ones on top); -1 = empty."""
    import cv2

    h, w = size
    ids = np.full((h, w), -1, np.int32)
    fixed = np.round(dst * 16).astype(np.int32)  # 4 fractional bits
    order = np.asarray(order)
    for poly, i in zip(fixed[order], order.tolist()):  # ~1,000 triangles: no per-triangle indexing in the loop
        cv2.fillConvexPoly(ids, poly, i, cv2.LINE_8, 4)
    return ids


def interpolate(A: np.ndarray, ids: np.ndarray, at: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Values (H, W, K) at every pixel from its triangle's affine map, and the valid mask.

    value = a * x + b * y + c with (a, b, c) of the pixel's triangle, evaluated plane by plane on
    contiguous (T, K) tables (twice as fast as gathering the (T, K, 3) maps; the same float
    operations in the same order, so bit-identical). ``at``: (rows, cols) pixel indices: values
    (n, K) and valid (n,) at those pixels only, the same numbers as the full frame's there (a
    renderer evaluates each value only where it is used)."""
    if at is None:
        h, w = ids.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        j = ids
    else:
        yy, xx = (np.asarray(v).astype(np.float64) for v in at)
        j = ids[at]
    valid = j >= 0
    j = np.where(valid, j, 0)
    planes = np.ascontiguousarray(A.transpose(2, 0, 1))  # (3, T, K): a, b, c
    out = planes[0].take(j, axis=0)
    out *= xx[..., None]
    by = planes[1].take(j, axis=0)
    by *= yy[..., None]
    out += by
    out += planes[2].take(j, axis=0)
    return out, valid
