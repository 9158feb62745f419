"""Facial landmarks: dlib's iBUG 68 points and MediaPipe's 478-point FaceMesh.

- ``Dlib68()(image, box) -> (68, 2)``: the FRA paper's landmark format.
- ``FaceMesh()(image) -> (478, 3) or None``: x, y in pixels, z in pixels relative to the
  face (MediaPipe's scale); the FSErasing labels are built on this mesh.
"""

from __future__ import annotations

import numpy as np

from lib.env_check import require
from lib.faces.assets import asset_path
from lib.faces.detect import check_image

# iBUG-68 index groups (0-based), used for 5-point alignment and plots.
IBUG_GROUPS = {
    "jaw": range(0, 17), "brow_r": range(17, 22), "brow_l": range(22, 27), "nose": range(27, 36),
    "eye_r": range(36, 42), "eye_l": range(42, 48), "mouth": range(48, 68),
}


def _rect(box):
    """A dlib rectangle from (x, y, width, height); dlib's right/bottom are inclusive (width = right - left + 1)."""
    dlib = require("dlib")
    x, y, w, h = box
    return dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)) - 1, int(round(y + h)) - 1)


class Dlib68:
    """dlib's 68-point shape predictor (iBUG 300-W; non-commercial model terms)."""

    name = "dlib68"

    def __init__(self):
        dlib = require("dlib")
        self._sp = dlib.shape_predictor(str(asset_path("dlib_68")))

    def __call__(self, image: np.ndarray, box) -> np.ndarray:
        shape = self._sp(check_image(image), _rect(box))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


class Dlib5:
    """dlib's 5-point predictor (eye corners and nose base), used to cut dlib face chips."""

    def __init__(self):
        dlib = require("dlib")
        self._sp = dlib.shape_predictor(str(asset_path("dlib_5")))

    def shape(self, image: np.ndarray, box):
        return self._sp(check_image(image), _rect(box))


class _Closable:
    """Context-manager support for wrappers of MediaPipe solutions (they hold native graphs)."""

    _solution = None

    def close(self) -> None:
        self._solution.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FaceMesh(_Closable):
    """MediaPipe FaceMesh (legacy solution, bundled tflite): 478 points with iris refinement.

    Args:
        refine_landmarks: add the 10 iris points (478 instead of 468).
        min_detection_confidence: the mesh's own face detector threshold.
    Use as a context manager or call ``close()``; one instance processes many images.
    """

    name = "facemesh"

    def __init__(self, refine_landmarks: bool = True, min_detection_confidence: float = 0.5):
        import os

        os.environ.setdefault("GLOG_minloglevel", "2")  # silence MediaPipe's C++ info lines
        mp = require("mediapipe")
        asset_path("facemesh")  # clear error if the bundled model is missing
        self._solution = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=refine_landmarks,
            min_detection_confidence=min_detection_confidence)

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        image = check_image(image)
        h, w = image.shape[:2]
        result = self._solution.process(image)
        if not result.multi_face_landmarks:
            return None
        lm = result.multi_face_landmarks[0].landmark
        return np.array([[p.x * w, p.y * h, p.z * w] for p in lm], dtype=np.float32)

