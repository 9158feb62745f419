"""FRA's posture input: binary 112 x 112 maps of the 68 iBUG landmarks, as the FRA code builds them.

What the published code does (soroushhashemifar/Face-Representation-Augmentation at 00a10e3,
code/step1_generate_dataset.py ``get_landmarks`` and ``get_pose_image``, with mlxtend's
``extract_face_landmarks``; docs/fra.md), reproduced here step by step:

1. ``cv2.resize(img, (112, 112))`` (bilinear) of the raw image, then
   ``cv2.copyMakeBorder(img, 10, 10, 10, 10, cv2.BORDER_CONSTANT)``: a 132 x 132 image with a
   black border. The image is the BGR array from ``cv2.imread``, fed to dlib as it is.
2. ``mlxtend.image.extract_face_landmarks``: dlib's frontal HOG detector with one upsampling,
   ``detector(img, 1)``, the 68-point predictor on the FIRST detection ``faces[0]``, points as
   int32. No detection -> None -> the image is dropped (as is an all-zero result).
3. The points stay in the padded 132 x 132 frame: they are NOT shifted back by the 10 px pad,
   but clipped to [0, 111] as if they were in the 112 x 112 frame. So the map is the face moved
   by +10 px, and points beyond 101 px of the resized image (right or bottom) pile up on
   row/column 111. Only the clipping is affected: the crop below removes the shift.
4. ``pose_img = zeros(112, 112)``; ``pose_img[y, x] = 1`` at the points.
5. Crop ``pose_img[y.min():y.max(), x.min():x.max()]``: the END IS EXCLUSIVE, so the points on
   the bottom-most row and the right-most column of the landmark box are cut off.
6. ``cv2.resize(crop, (112, 112))`` (bilinear, float64) and ``> 0.5`` -> {0, 1}.

Degenerate boxes (all points on one row or one column after clipping: zero-area crop) make
the original crash in ``cv2.resize``; here the map is all False and, in ``maps_from_images``,
the image counts as not found with a reason.

Two sources of points:
- ``maps_from_images``: dlib on the image, exactly as above (the detector called directly, not
  through lib.faces.detect, whose boxes are one pixel wider than dlib's rectangles).
- ``maps_from_points``: the engine's exact 68 points (FaceSet ``landmarks68``) put through the
  same resize/pad geometry, so both give comparable maps without dlib's failures on profiles.
  Points are rounded as dlib rounds its own (floor(x + 0.5)); all 68 are used, visible or not
  (dlib places occluded points too).

Introduced by notebooks/01_fra (the FRA issue); pairs built on these maps: lib.fra.pairs.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from lib import parallel

if TYPE_CHECKING:
    import pandas as pd

SIZE = 112  # map side and the side the raw image is resized to (the code's image_size)
PAD = 10  # black border added before dlib runs


def _resize_to_size(h: int, w: int, points: np.ndarray) -> np.ndarray:
    """Map pixel coordinates of an h x w image to the 112 x 112 image cv2.resize makes
    (pixel centres aligned: x' = (x + 0.5) * 112 / w - 0.5)."""
    scale = np.array([SIZE / w, SIZE / h])
    return (points + 0.5) * scale - 0.5


def _maps(padded_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maps from points in the padded (132 x 132) frame: (N, 68, 2) float -> (N, 112, 112) bool,
    and (N,) bool: finite points with a box of non-zero width and height (the others stay all False)."""
    import cv2

    pts = np.asarray(padded_points, dtype=np.float64)
    finite = np.isfinite(pts).all((1, 2))
    ipts = np.clip(np.floor(np.where(np.isfinite(pts), pts, 0) + 0.5), 0, SIZE - 1).astype(np.int64)
    x, y = ipts[..., 0], ipts[..., 1]
    x0, x1, y0, y1 = x.min(1), x.max(1), y.min(1), y.max(1)
    ok = finite & (x1 > x0) & (y1 > y0)
    keep = (x < x1[:, None]) & (y < y1[:, None])  # the exclusive crop end drops the max row/column
    out = np.zeros((len(pts), SIZE, SIZE), dtype=bool)
    for i in np.flatnonzero(ok):  # crop sizes differ per image: cv2.resize per map (~20 us each)
        crop = np.zeros((y1[i] - y0[i], x1[i] - x0[i]), dtype=np.float64)
        crop[y[i, keep[i]] - y0[i], x[i, keep[i]] - x0[i]] = 1.0
        out[i] = cv2.resize(crop, (SIZE, SIZE)) > 0.5
    return out, ok


def _points_array(points: np.ndarray, batch: bool) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    want = (None, 68, 2) if batch else (68, 2)
    if pts.ndim != len(want) or pts.shape[-2:] != (68, 2):
        raise ValueError(f"landmarks must have shape {want}, got {pts.shape}")
    return pts


def _hw(image_size) -> tuple[int, int]:
    h, w = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)[:2]
    if h < 1 or w < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    return int(h), int(w)


def landmark_map(points68: np.ndarray, source_shape=None) -> np.ndarray:
    """One binary landmark map (112, 112) bool, built as the FRA code builds it.

    Args:
        points68: (68, 2) x, y pixel coordinates.
        source_shape: None: the points are in the padded 132 x 132 frame, as dlib returns them
            on the code's padded image. (H, W) or an int: the points are in an unpadded image of
            that size; the code's resize to 112 and its 10 px pad are applied to them first.
    Returns an all-False map when the landmark box has zero width or height (the code crashes).
    """
    pts = _points_array(points68, batch=False)[None]
    if source_shape is not None:
        pts = _resize_to_size(*_hw(source_shape), pts) + PAD
    return _maps(pts)[0][0]


def maps_from_points(landmarks68: np.ndarray, image_size) -> np.ndarray:
    """Maps (N, 112, 112) bool from exact points (N, 68, 2) of images of ``image_size`` ((H, W) or int).

    The same geometry as ``maps_from_images`` (resize to 112, +10 px pad, clip to [0, 111]).
    A degenerate landmark box (or non-finite points) gives an all-False map: find them with
    ``~maps.any((1, 2))``.
    """
    pts = _points_array(landmarks68, batch=True)
    return _maps(_resize_to_size(*_hw(image_size), pts) + PAD)[0]


class _DlibExact:
    """mlxtend's extract_face_landmarks: dlib HOG ``detector(img, 1)``, predictor on faces[0]."""

    def __init__(self):
        from lib.env_check import require
        from lib.faces.assets import asset_path

        dlib = require("dlib")
        self._det = dlib.get_frontal_face_detector()
        self._sp = dlib.shape_predictor(str(asset_path("dlib_68")))

    def __call__(self, rgb: np.ndarray, bgr: bool = True):
        img = np.ascontiguousarray(rgb[..., ::-1]) if bgr else rgb
        faces = self._det(img, 1)
        if len(faces) == 0:
            return None
        shape = self._sp(img, faces[0])
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


class _DetectorThenDlib68:
    """Any lib.faces.detect detector, then dlib's 68-point predictor on its best box."""

    def __init__(self, name: str):
        from lib.faces.detect import create_detector
        from lib.faces.landmarks import Dlib68

        self._det, self._sp = create_detector(name), Dlib68()

    def __call__(self, rgb: np.ndarray, bgr: bool = True):
        dets = self._det(rgb)  # lib.faces.detect takes RGB
        if not dets:
            return None
        return self._sp(np.ascontiguousarray(rgb[..., ::-1]) if bgr else rgb, dets[0].box).astype(np.float64)


@functools.lru_cache(maxsize=4)
def _landmarker(detector: str):
    """Loaded once per process (the 68-point model takes ~0.5 s to read)."""
    return _DlibExact() if detector == "dlib_hog" else _DetectorThenDlib68(detector)


def _find_points(images: np.ndarray, detector: str, bgr: bool, progress: bool = False):
    """(points (N, 68, 2) with NaN where not found, reasons) of each image, in this process."""
    import cv2
    from tqdm import tqdm

    landmarker = _landmarker(detector)
    n = len(images)
    points = np.full((n, 68, 2), np.nan)
    reasons = [""] * n
    for i in tqdm(range(n), desc="dlib landmarks", disable=not progress):
        try:
            img = cv2.resize(np.ascontiguousarray(images[i]), (SIZE, SIZE))
            img = cv2.copyMakeBorder(img, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT)
            lm = landmarker(img, bgr)
        except Exception as err:  # noqa: BLE001 - one bad image must not stop a data set
            reasons[i] = f"error: {type(err).__name__}: {err}"
            continue
        if lm is None:
            reasons[i] = f"no face detected ({detector})"
        elif np.all(lm == 0):
            reasons[i] = "all landmarks zero"  # the code's np.all(landmarks == 0) check
        else:
            points[i] = lm
    return points, reasons


PARALLEL_MIN_IMAGES = parallel.MIN_ITEMS


def maps_from_images(images_uint8: np.ndarray, *, detector: str = "dlib_hog", bgr: bool = True,
                     progress: bool = False, workers: int = 1) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Landmark maps from images with dlib, as the FRA code: resize to 112, pad 10, detect, 68 points.

    Args:
        images_uint8: (N, H, W, 3) uint8 RGB.
        detector: "dlib_hog" (exactly mlxtend's call: the code's choice) or another name of
            lib.faces.detect.create_detector (e.g. "yunet"), whose best box feeds dlib's predictor.
        bgr: feed dlib the channel-reversed image, as the code did (cv2.imread gives BGR and it
            went to dlib unconverted); False feeds RGB. Other detectors always get RGB.
        progress: show a tqdm bar.
        workers: processes (dlib's HOG detector and predictor run on one core) when there are at
            least PARALLEL_MIN_IMAGES images; the result equals the serial one. Spawned: a calling
            script needs the ``if __name__ == "__main__":`` guard.
    Returns maps (N, 112, 112) bool (all False where not found), found (N,) bool and one reason per
    image ("" where found). A failure on one image never raises.
    """
    images = np.asarray(images_uint8)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if workers > 1 and len(images) >= PARALLEL_MIN_IMAGES:
        parts = parallel.map_chunks(_find_points, images, workers=workers, args=(detector, bgr))
        points = np.concatenate([p for p, _ in parts])
        reasons = [r for _, rs in parts for r in rs]
    else:
        points, reasons = _find_points(images, detector, bgr, progress)
    maps, ok = _maps(points)
    for i in np.flatnonzero(~ok):
        if not reasons[i]:
            reasons[i] = "degenerate landmark box (zero width or height after clipping)"
    found = np.array([r == "" for r in reasons], dtype=bool)
    maps[~found] = False
    return maps, found, reasons


def failure_table(found: np.ndarray, poses, order=None) -> pd.DataFrame:
    """Landmark failures per pose and in total.

    Args:
        found: (N,) bool, as returned by ``maps_from_images``.
        poses: (N,) pose labels.
        order: the pose rows' order (e.g. ("FL", "HL", "S", "HR", "FR")); poses not listed follow
            in order of first appearance. None: order of first appearance.
    Returns a DataFrame indexed by pose (last row "total") with columns images, failed, failure_rate.
    """
    import pandas as pd

    found = np.asarray(found, dtype=bool)
    poses = np.asarray(poses)
    if found.shape != poses.shape or found.ndim != 1:
        raise ValueError(f"found and poses must be 1-D of the same length, got {found.shape} and {poses.shape}")
    df = pd.DataFrame({"pose": poses, "failed": ~found})
    table = df.groupby("pose", sort=False)["failed"].agg(images="size", failed="sum")
    if order is not None:
        first = [p for p in order if p in table.index]
        table = table.loc[first + [p for p in table.index if p not in first]]
    table.loc["total"] = [len(df), int(df["failed"].sum())]
    table = table.astype("int64")
    table["failure_rate"] = table["failed"] / table["images"].clip(lower=1)
    return table
