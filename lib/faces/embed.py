"""Offline pretrained face recognisers behind one interface.

Each embedder records its own preprocessing: ``embedder.align(image, points5)`` makes its
input from a photo and the 5 ArcFace points (lib.faces.align), and
``embedder(inputs) -> (N, dim) float32`` (L2-normalised) embeds a uint8 RGB batch of such
inputs. ``embed_faces(embedder, images, points5)`` does both.

- ``sface``: OpenCV SFace 2021dec int8 (MobileFaceNet, 128-D); input: the 112x112 ArcFace crop.
- ``dlib``: dlib ResNet v1 (128-D, 99.38 % on LFW); input: the ArcFace crop with 56 px of
  context on each side (224x224), from which dlib's 5-point predictor and its own 150x150
  chip (padding 0.25) are taken, as dlib expects. A tight 112 crop would leave the chip's
  padding black, which collapses dlib's distances (measured: different-person distance
  0.40 instead of 0.58-0.60 on engine renders).

``native_threshold`` is each model's published same-person threshold, as cosine
similarity on the normalised embeddings. SFace: 0.363 (OpenCV). dlib publishes Euclidean
0.6 on its raw descriptors, which are not unit vectors: their norm, measured on 56 real
faces (LFW crops, astronaut), is 1.384 +- 0.055, so 0.6 corresponds to a normalised
distance of 0.6 / 1.384 = 0.434, i.e. cosine 1 - 0.434**2 / 2 = 0.906.
"""

from __future__ import annotations

import numpy as np

from lib.env_check import require
from lib.faces.align import align_face
from lib.faces.assets import asset_path


def _batch(aligned: np.ndarray, size: int) -> np.ndarray:
    aligned = np.asarray(aligned)
    if aligned.ndim == 3:
        aligned = aligned[None]
    if aligned.ndim != 4 or aligned.shape[1:] != (size, size, 3) or aligned.dtype != np.uint8:
        raise ValueError(f"expected aligned uint8 faces (N, {size}, {size}, 3), got {aligned.dtype} {aligned.shape}; "
                         "make them with embedder.align(image, points5)")
    return aligned


def l2_normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


class SFaceEmbedder:
    name, dim, native_threshold, input_size = "sface", 128, 0.363, 112
    # OpenCV's DNN gains little from a second thread on this small network, so embed() may spread it
    # over processes like dlib: 400 LFW crops, 2 cores, 33.3 images/s in one process vs 46.7 on two.
    single_threaded = True

    def __init__(self):
        cv2 = require("cv2")
        self._net = cv2.FaceRecognizerSF.create(str(asset_path("sface")), "")

    def __call__(self, aligned: np.ndarray) -> np.ndarray:
        feats = [self._net.feature(np.ascontiguousarray(img[..., ::-1])).reshape(-1)
                 for img in _batch(aligned, self.input_size)]
        return l2_normalise(np.stack(feats))

    def align(self, image: np.ndarray, points5: np.ndarray) -> np.ndarray:
        return align_face(image, points5, 112)

    def cache_key(self) -> dict:
        """What the run cache keys this embedder's outputs on (lib.fingerprint)."""
        return {"embedder": self.name, "model": asset_path("sface").name}


# Where dlib's HOG detector puts the face in an ArcFace-aligned 112x112 crop: the median
# box (x, y, w, h) over 41 aligned crops (LFW, astronaut, engine renders; sd ~6 px). The
# 5-point predictor is trained on HOG boxes, so it gets this box rather than the crop.
HOG_BOX_ALIGNED = (6, 26, 91, 91)
DLIB_MARGIN = 56


DLIB_MEAN_NORM = 1.384  # measured mean norm of raw dlib descriptors (see module docstring)


class DlibEmbedder:
    """dlib's ResNet v1 on dlib's own 150 x 150 chips.

    Args:
        backend: ``"torch"`` (default) runs dlib's network in PyTorch (lib.faces.dlib_resnet:
            the same weights, descriptors equal to dlib's within 4.2e-7, batched on every core:
            161 vs 8.7 images/s on 128 LFW chips, ``python -m lib.speed.dlib_resnet``);
            ``"dlib"`` calls dlib's own CPU network, one image at a time on one core.
    """

    name, dim, input_size = "dlib", 128, 112 + 2 * DLIB_MARGIN
    native_threshold = 1 - (0.6 / DLIB_MEAN_NORM) ** 2 / 2

    def __init__(self, backend: str = "torch"):
        if backend not in ("torch", "dlib"):
            raise ValueError(f"unknown dlib backend {backend!r}; choose 'torch' or 'dlib'")
        dlib = require("dlib")
        from lib.faces.landmarks import Dlib5

        self.backend = backend
        self.init_kwargs = {"backend": backend}  # what embed()'s worker processes rebuild it with
        # dlib's own CPU build runs the network on one thread: embed() may then use processes
        self.single_threaded = backend == "dlib"
        self._sp5 = Dlib5()
        if backend == "dlib":
            self._net = dlib.face_recognition_model_v1(str(asset_path("dlib_resnet")))
        else:
            from lib.faces.dlib_resnet import load_dlib_resnet

            self._net = load_dlib_resnet(asset_path("dlib_resnet"))
        self._dlib = dlib

    def chips(self, aligned: np.ndarray) -> np.ndarray:
        """(N, 150, 150, 3) dlib chips (5-point shape on the HOG box, padding 0.25) of aligned inputs."""
        x, y, w, h = HOG_BOX_ALIGNED
        out = []
        for img in _batch(aligned, self.input_size):
            img = np.ascontiguousarray(img)
            shape = self._sp5.shape(img, (x + DLIB_MARGIN, y + DLIB_MARGIN, w, h))
            out.append(self._dlib.get_face_chip(img, shape, size=150, padding=0.25))
        return np.stack(out)

    def __call__(self, aligned: np.ndarray) -> np.ndarray:
        chips = self.chips(aligned)
        if self.backend == "torch":
            from lib.faces.dlib_resnet import describe

            return l2_normalise(describe(self._net, chips))
        return l2_normalise(np.stack([np.array(self._net.compute_face_descriptor(c), dtype=np.float32)
                                      for c in chips]))

    def align(self, image: np.ndarray, points5: np.ndarray) -> np.ndarray:
        return align_face(image, points5, 112, margin=DLIB_MARGIN)

    def cache_key(self) -> dict:
        """What the run cache keys this embedder's outputs on (lib.fingerprint)."""
        # both backends give the same descriptors to float32 rounding: one cache entry serves both
        return {"embedder": self.name, "model": asset_path("dlib_resnet").name, "box": HOG_BOX_ALIGNED}


def embed_faces(embedder, images, points5, *, cache: bool = False) -> np.ndarray:
    """Align every image on its 5 points the way ``embedder`` expects, then embed.

    ``cache=True`` keeps the result in the run cache (runs/embeddings_faces/), keyed by the
    embedder and the content of ``images`` and ``points5``.
    """
    if cache:
        from lib import runcache

        images = [np.asarray(img) for img in images]
        return runcache.memo_array("embeddings_faces", {"embedder": embedder, "images": images,
                                                        "points5": np.asarray(points5), "version": 1},
                                   lambda: embed_faces(embedder, images, points5))
    return embedder(np.stack([embedder.align(img, p) for img, p in zip(images, points5)]))


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
