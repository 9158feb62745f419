"""5-point similarity alignment to the 112x112 ArcFace template (insightface norm_crop), and
the CelebA-C eye alignment and yaw measure on the 478-point MediaPipe FaceMesh (``eye_align``,
``mesh_yaw``; docs/inpainting.md).

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


# --- CelebA-C eye alignment on the MediaPipe FaceMesh (docs/inpainting.md) -------------------
# Mesh indices (MediaPipe FaceMesh with refine_landmarks=True, 478 points).
MESH_IRIS = (468, 473)  # iris centres: the subject's right eye (image-left), the subject's left eye
MESH_INNER_EYE_CORNERS = (133, 362)
MESH_NOSE_TIP = 1
# Where the eye midpoint goes, as fractions of the canvas side. y: upstream's
# align_image(target_eye_height=85) on its 256 canvas (filipplesko/Facial_image_reconstruction,
# utils/image_processing.py). x: OUR CHOICE, the canvas centre. Upstream rotates about the source
# eye midpoint and shifts only y, so the face keeps the source's x (about 89 px for a 178-wide
# CelebA crop); we centre it, so that the CelebA-C damage area (x 90-165) falls on the face.
EYE_ALIGN_CENTER = (0.5, 85 / 256)


def _mesh(mesh, rows: int, what: str) -> np.ndarray:
    pts = np.asarray(mesh, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < rows or pts.shape[1] not in (2, 3):
        raise ValueError(f"{what} needs a MediaPipe FaceMesh of at least {rows} (x, y[, z]) points, got shape "
                         f"{pts.shape} (use FaceMesh(refine_landmarks=True) for the iris points 468-477)")
    return pts[:, :2]


def eye_align_transform(mesh478, size: int = 256, eye_distance: float = 70.0,
                        eye_center: tuple[float, float] = EYE_ALIGN_CENTER) -> np.ndarray:
    """2x3 similarity matrix of the CelebA-C alignment: the iris centres (468, 473) are put on one
    horizontal line, ``eye_distance`` pixels apart, their midpoint at ``eye_center`` (fractions
    of ``size``). ValueError if the iris points are missing, not finite or coincide."""
    pts = _mesh(mesh478, 478, "eye_align")
    a, b = pts[MESH_IRIS[0]], pts[MESH_IRIS[1]]
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"iris points are not finite: {a.tolist()}, {b.tolist()}")
    v = b - a
    dist = float(np.hypot(*v))
    if dist < 1e-6:
        raise ValueError(f"the two iris centres coincide at {a.round(1).tolist()}: no eye line to align")
    scale = float(eye_distance) / dist
    cos, sin = v / dist  # rotate by -angle(v): the eye line becomes horizontal, 468 on the left
    A = scale * np.array([[cos, sin], [-sin, cos]])
    target = np.array([eye_center[0] * size, eye_center[1] * size], dtype=np.float64)
    return np.hstack([A, (target - A @ ((a + b) / 2))[:, None]])


def eye_align(image: np.ndarray, mesh478, size: int = 256, eye_distance: float = 70.0,
              eye_center: tuple[float, float] = EYE_ALIGN_CENTER) -> tuple[np.ndarray, np.ndarray]:
    """CelebA-C alignment (docs/inpainting.md): level the eyes, scale the iris distance to
    ``eye_distance`` pixels, a ``size`` x ``size`` canvas (bilinear; outside the photo is black,
    as upstream). Returns ``(crop, M)``; map mesh points into the crop with
    ``lib.data.sources.common.transform_points(mesh[:, :2], M)``."""
    import cv2

    M = eye_align_transform(mesh478, size, eye_distance, eye_center)
    crop = cv2.warpAffine(image, M, (int(size), int(size)), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
    return crop, M


def mesh_yaw(mesh478) -> float:
    """Head yaw in degrees as CelebA-C measures it: ``atan2(nose tip (1).x - midpoint of the inner
    eye corners (133, 362).x, distance 133-362)``. Positive: the nose tip is right of the eye
    midpoint in the image. A rolled head mixes roll into x, so measure on the eye-levelled mesh
    (upstream re-runs FaceMesh on the aligned crop; transforming the mesh by ``eye_align``'s M is
    the same geometry). Needs 468 or 478 points; ValueError if the points are degenerate."""
    pts = _mesh(mesh478, 468, "mesh_yaw")
    p, q, nose = pts[MESH_INNER_EYE_CORNERS[0]], pts[MESH_INNER_EYE_CORNERS[1]], pts[MESH_NOSE_TIP]
    dist = float(np.hypot(*(q - p)))
    if not (np.isfinite(dist) and np.isfinite(nose).all()) or dist < 1e-6:
        raise ValueError(f"inner eye corners {p.round(1).tolist()}, {q.round(1).tolist()} and nose tip "
                         f"{nose.round(1).tolist()} give no yaw (coincident or not finite)")
    return float(np.degrees(np.arctan2(nose[0] - (p[0] + q[0]) / 2, dist)))
