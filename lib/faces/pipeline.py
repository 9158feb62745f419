"""Detect -> 5 points -> aligned 112x112 crops, for a batch of photos.

Introduced by notebooks/00_data_prep.ipynb. Images where no face is found are reported
(``found`` is False and the reason is kept), never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lib.faces.align import align_face, points5_from_68
from lib.faces.detect import Detection


@dataclass
class AlignedBatch:
    aligned: np.ndarray  # (N, size, size, 3) uint8; zeros where no face was found
    found: np.ndarray  # (N,) bool
    detections: list[Detection | None]
    points5: np.ndarray  # (N, 5, 2) float32, NaN where no face
    rejects: dict[int, str] = field(default_factory=dict)  # index -> reason

    @property
    def rate(self) -> float:
        return float(self.found.mean()) if len(self.found) else 0.0


def detect_and_align(images, detector, *, landmarker=None, size: int = 112) -> AlignedBatch:
    """Align every image on its best detection.

    Args:
        images: sequence of uint8 RGB images.
        detector: a lib.faces.detect detector.
        landmarker: optional lib.faces.landmarks.Dlib68; needed when the detector gives no
            5 points (dlib_hog): the 5 points then come from the 68.
        size: output crop size (the template is scaled from 112).
    """
    n = len(images)
    aligned = np.zeros((n, size, size, 3), np.uint8)
    found = np.zeros(n, bool)
    pts = np.full((n, 5, 2), np.nan, np.float32)
    dets: list[Detection | None] = [None] * n
    rejects: dict[int, str] = {}
    for i, img in enumerate(images):
        found_dets = detector(img)
        if not found_dets:
            rejects[i] = f"no face found by {detector.name}"
            continue
        det = found_dets[0]
        p5 = det.points5
        if p5 is None:
            if landmarker is None:
                raise ValueError(f"detector {detector.name!r} gives no 5 points: pass landmarker=Dlib68()")
            p5 = points5_from_68(landmarker(img, det.box))
        aligned[i] = align_face(img, p5, size)
        found[i], pts[i], dets[i] = True, p5, det
    return AlignedBatch(aligned, found, dets, pts, rejects)


def interocular_error(p5_a: np.ndarray, p5_b: np.ndarray) -> np.ndarray:
    """Mean 5-point distance between two landmarkers, in inter-ocular distances (per image)."""
    iod = np.linalg.norm(p5_a[:, 0] - p5_a[:, 1], axis=1)
    return np.linalg.norm(p5_a - p5_b, axis=2).mean(1) / np.maximum(iod, 1e-6)
