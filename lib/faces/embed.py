"""Offline pretrained face recognisers behind one interface.

``embedder(aligned) -> (N, dim) float32``, L2-normalised, where ``aligned`` is a uint8
RGB batch (N, 112, 112, 3) aligned to the ArcFace template (lib.faces.align).

- ``sface``: OpenCV SFace 2021dec int8 (MobileFaceNet, 128-D); its own crop is this template.
- ``dlib``: dlib ResNet v1 (128-D, 99.38 % on LFW): the 5-point predictor is run on the
  aligned crop and dlib's own 150x150 chip is cut from it, as dlib expects.

``native_threshold`` is each model's published same-person threshold, as cosine
similarity on the normalised embeddings (SFace: 0.363; dlib: Euclidean 0.6 on its
near-unit descriptors, i.e. cos = 1 - 0.6**2 / 2 = 0.82).
"""

from __future__ import annotations

import numpy as np

from lib.env_check import require
from lib.faces.assets import asset_path


def _batch(aligned: np.ndarray) -> np.ndarray:
    aligned = np.asarray(aligned)
    if aligned.ndim == 3:
        aligned = aligned[None]
    if aligned.ndim != 4 or aligned.shape[1:] != (112, 112, 3) or aligned.dtype != np.uint8:
        raise ValueError(f"expected aligned uint8 faces (N, 112, 112, 3), got {aligned.dtype} {aligned.shape}; "
                         "align them with lib.faces.align.align_face first")
    return aligned


def l2_normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


class SFaceEmbedder:
    name, dim, native_threshold = "sface", 128, 0.363

    def __init__(self):
        cv2 = require("cv2")
        self._net = cv2.FaceRecognizerSF.create(str(asset_path("sface")), "")

    def __call__(self, aligned: np.ndarray) -> np.ndarray:
        feats = [self._net.feature(np.ascontiguousarray(img[..., ::-1])).reshape(-1) for img in _batch(aligned)]
        return l2_normalise(np.stack(feats))


class DlibEmbedder:
    name, dim, native_threshold = "dlib", 128, 1 - 0.6 ** 2 / 2

    def __init__(self):
        dlib = require("dlib")
        from lib.faces.landmarks import Dlib5

        self._sp5 = Dlib5()
        self._net = dlib.face_recognition_model_v1(str(asset_path("dlib_resnet")))
        self._dlib = dlib

    def __call__(self, aligned: np.ndarray) -> np.ndarray:
        feats = []
        for img in _batch(aligned):
            img = np.ascontiguousarray(img)
            shape = self._sp5.shape(img, (8, 8, 96, 96))  # the face fills the aligned crop
            chip = self._dlib.get_face_chip(img, shape, size=150, padding=0.25)
            feats.append(np.array(self._net.compute_face_descriptor(chip), dtype=np.float32))
        return l2_normalise(np.stack(feats))


EMBEDDERS = {"sface": SFaceEmbedder, "dlib": DlibEmbedder}


def create_embedder(name: str, **kwargs):
    """Build a pretrained embedder by name (``sface`` or ``dlib``)."""
    if name not in EMBEDDERS:
        raise ValueError(f"unknown embedder {name!r}; choose from {sorted(EMBEDDERS)}")
    return EMBEDDERS[name](**kwargs)


def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarities between the rows of ``a`` and ``b`` (default ``a``)."""
    a = l2_normalise(np.asarray(a, dtype=np.float32))
    b = a if b is None else l2_normalise(np.asarray(b, dtype=np.float32))
    return a @ b.T
