"""Fit the 478-point mesh to a source face and express it in a canonical head frame.

The canonical frame: x from the subject's right to left cheek, y from forehead to chin,
z into the head; unit = face width |P234 - P454|; origin between the eyes, slightly
below (the rotation axis used for yaw/pitch re-rendering).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lib.data.engine import topology as T

SOURCE_SIZE = 256  # sources (64 px DCGAN faces, photos) are resized to this before fitting


@dataclass(frozen=True)
class UsableCriteria:
    """When is a source face usable as an identity (documented in data_cards/synth_kdef.md)."""

    max_abs_yaw: float = 12.0  # degrees, source head pose
    max_abs_pitch: float = 20.0
    max_mouth_open: float = 0.06  # inner-lip gap / eye-mouth distance
    min_eye_open: float = 0.08  # eyelid gap / eye-mouth distance
    luminance: tuple[float, float] = (60.0, 200.0)  # mean grey level of the source
    min_face_score: float = 0.8  # YuNet score on the source: rejects GAN samples that are no face


@dataclass
class FittedFace:
    image: np.ndarray  # (S, S, 3) uint8 source at SOURCE_SIZE
    P: np.ndarray  # (478, 3) mesh in source pixels (z in MediaPipe's pixel-scaled depth)
    R: np.ndarray  # (3, 3) canonical -> camera rotation (columns = canonical axes)
    face_width: float  # pixels
    mid: np.ndarray  # (3,) midpoint of the face-width pair, source pixels
    origin: np.ndarray  # (3,) rotation centre in canonical units (relative to mid)
    C: np.ndarray  # (478, 3) neutral canonical mesh (origin at the rotation centre)
    stats: dict = field(default_factory=dict)  # yaw, pitch, roll, mouth_open, eye_open, luminance

    @property
    def eye_mouth(self) -> float:
        """Vertical eye-to-mouth distance in canonical units (the render scale reference)."""
        return float(self.stats["eye_mouth"])

    def to_source(self, pts: np.ndarray) -> np.ndarray:
        """Canonical points -> source pixel (x, y)."""
        P = (pts + self.origin) * self.face_width @ self.R.T + self.mid
        return P[:, :2]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def head_frame(P: np.ndarray, image: np.ndarray) -> FittedFace:
    """Canonical frame and source statistics of a fitted mesh ``P`` on ``image``."""
    ex = _unit(sum(_unit(P[l] - P[r]) for r, l in T.FRAME_PAIRS))  # subject right -> left
    ey = P[T.CHIN] - P[T.FOREHEAD_TOP]
    ey = _unit(ey - ex * (ey @ ex))
    ez = np.cross(ex, ey)
    R = np.stack([ex, ey, ez], 1)
    fw = float(np.linalg.norm(P[T.FACE_RIGHT] - P[T.FACE_LEFT]))
    mid = (P[T.FACE_RIGHT] + P[T.FACE_LEFT]) / 2
    C0 = (P - mid) @ R / fw
    y_eyes = (C0[T.IRIS_RIGHT, 1] + C0[T.IRIS_LEFT, 1]) / 2
    y_mouth = (C0[61, 1] + C0[291, 1]) / 2
    origin = np.array([0.0, y_eyes + 0.108 * (y_mouth - y_eyes), 0.1])
    C = C0 - origin
    eye_mouth = y_mouth - y_eyes
    stats = {
        "yaw": float(np.degrees(np.arctan2(-ex[2], ex[0]))),
        "pitch": float(np.degrees(np.arcsin(np.clip(-ey[2], -1, 1)))),
        "roll": float(np.degrees(np.arctan2(ex[1], ex[0]))),
        "mouth_open": float((C[14, 1] - C[13, 1]) / eye_mouth),
        "eye_open": float(((C[145, 1] - C[159, 1]) + (C[374, 1] - C[386, 1])) / 2 / eye_mouth),
        "luminance": float(image.mean()),
        "eye_mouth": float(eye_mouth),
    }
    return FittedFace(image, P, R, fw, mid, origin, C, stats)


def fit_face(image: np.ndarray, mesh) -> FittedFace | None:
    """Resize ``image`` to SOURCE_SIZE, fit the mesh (lib.faces.landmarks.FaceMesh); None if no face."""
    import cv2

    img = cv2.resize(image, (SOURCE_SIZE, SOURCE_SIZE), interpolation=cv2.INTER_CUBIC)
    P = mesh(img)
    return None if P is None else head_frame(P.astype(np.float64), img)


def usable(face: FittedFace | None, criteria: UsableCriteria = UsableCriteria(), face_score=None
           ) -> tuple[bool, str]:
    """(ok, reason) for a candidate source face.

    ``face_score(image) -> float`` is a detector's score, called last (only on faces that
    pass the cheap mesh checks). FaceMesh fits a mesh to almost anything face-shaped,
    including DCGAN samples that are colour blobs; a real detector's score catches those
    (measured on 300 DCGAN samples: usable faces score 0.87-0.99 under YuNet, a blob 0.41)."""
    if face is None:
        return False, "no mesh"
    s = face.stats
    if abs(s["yaw"]) > criteria.max_abs_yaw or abs(s["pitch"]) > criteria.max_abs_pitch:
        return False, "not frontal"
    if s["mouth_open"] > criteria.max_mouth_open:
        return False, "mouth open"
    if s["eye_open"] < criteria.min_eye_open:
        return False, "eyes closed"
    if not criteria.luminance[0] < s["luminance"] < criteria.luminance[1]:
        return False, "exposure"
    if face_score is not None and face_score(face.image) < criteria.min_face_score:
        return False, "no detector face"
    return True, "ok"
