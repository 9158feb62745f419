"""The 25 FSErasing classes, and labels derived from a MediaPipe mesh of ANY aligned face.

The class ids, names and palette are the engine's (lib/data/engine/labels.py), re-exported
here: one definition for the whole companion. The engine already gives exact labels
(``fs.array("parsing")``); this module is the paper's labelling method for real photos
(FaceSynthetics, CelebA, LFW): run MediaPipe Face Mesh (468 + 10 iris points) and paint
the classes from the mesh (docs/fserasing.md: "generated automatically on
FaceSynthetics ... using MediaPipe Face Mesh 468 landmarks"; the published repo does not
contain that code, and the polygons are not published).

Our polygons are the engine's (``lib.data.engine.labels.paint``, documented there), applied
to the OBSERVED mesh instead of the neutral canonical one: the mesh is brought into the
engine's canonical units by a 2-D similarity (x along the eye/cheek axis, unit = the 3-D
face width |P234 - P454|, origin at the nose bridge, vertex 168), painted, and every image
pixel looks its class up through the same similarity. Added on top, as the engine renders
them: the mouth interior (17) inside the inner-lip contour; hair (21) and neck (20) where an
optional person mask (lib.faces.segment.PersonSegmenter) says "person" outside the face,
above / below the chin. Ears, clothing, glasses and headwear are never produced (as in the
engine). Departure: the paper's annotation (on FaceSynthetics' own 19-class labels) split only
the skin class into its 9 regions and kept the dataset's other classes; without those labels we
paint every class from the mesh.
"""

from __future__ import annotations

import numpy as np

from lib import runcache

from lib.data.engine import topology as T
from lib.data.engine.labels import CLASSES, ID, NOT_PRODUCED, PALETTE, paint

__all__ = ["CLASSES", "ID", "NOT_PRODUCED", "PALETTE", "N_CLASSES", "mesh_frame", "labels_from_mesh",
           "label_faces", "class_fractions"]

N_CLASSES = len(CLASSES)  # 25
MESH_SIZE = 256  # aligned crops are upscaled to this before Face Mesh (it misses most 112 px faces)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _check_mesh(mesh) -> np.ndarray:
    mesh = np.asarray(mesh, dtype=np.float64)
    if mesh.ndim != 2 or mesh.shape[0] not in (T.N_FACE, T.N_MESH) or mesh.shape[1] not in (2, 3):
        raise ValueError(f"mesh must be a MediaPipe Face Mesh of shape (468 or 478, 2 or 3) in pixels, "
                         f"got {mesh.shape}")
    if not np.isfinite(mesh).all():
        raise ValueError("mesh has NaN/inf coordinates (no face found?): label only images with a mesh")
    return mesh


def mesh_frame(mesh) -> tuple[np.ndarray, np.ndarray, float]:
    """The 2-D similarity from image pixels to the engine's canonical units: ``(origin, axes, unit)``
    with ``canonical = (p - origin) @ axes / unit``; axes columns = x (subject right -> left), y (down)."""
    mesh = _check_mesh(mesh)
    P = mesh[:, :2]
    ex = _unit(sum(_unit(P[left] - P[right]) for right, left in T.FRAME_PAIRS))
    ey = np.array([-ex[1], ex[0]])
    width = float(np.linalg.norm(mesh[T.FACE_RIGHT] - mesh[T.FACE_LEFT]))  # 3-D when z is given
    if width < 1e-6:
        raise ValueError("mesh is degenerate (zero face width)")
    return P[168].copy(), np.stack([ex, ey], 1), width


def labels_from_mesh(mesh, shape: tuple[int, int], person: np.ndarray | None = None) -> np.ndarray:
    """(H, W) uint8 class ids of the face whose 468/478-point mesh (pixels) is ``mesh``.

    Args:
        mesh: MediaPipe Face Mesh points (x, y[, z]) in the pixel coordinates of the image.
        shape: (H, W) of the image.
        person: optional (H, W) person probability (PersonSegmenter): hair/neck outside the face.
    """
    import cv2

    mesh = _check_mesh(mesh)
    h, w = int(shape[0]), int(shape[1])
    origin, axes, unit = mesh_frame(mesh)
    C = np.zeros((len(mesh), 3))
    C[:, :2] = (mesh[:, :2] - origin) @ axes / unit
    raster = paint(C)
    yy, xx = np.mgrid[0:h, 0:w]
    pix = np.stack([xx + 0.5, yy + 0.5], -1).reshape(-1, 2)
    can = (pix - origin) @ axes / unit
    lab = raster.lookup(can[:, 0], can[:, 1]).reshape(h, w).astype(np.uint8)
    inner = np.round(mesh[T.LIP_IN_UP + T.LIP_IN_LO[::-1], :2] - 0.5).astype(np.int32)
    mouth = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mouth, [inner], 1)
    lab[mouth > 0] = ID["mouth"]
    if person is not None:
        person = np.asarray(person)
        if person.shape != (h, w):
            raise ValueError(f"person mask must have shape {(h, w)}, got {person.shape}")
        below_chin = can[:, 1].reshape(h, w) > C[T.CHIN, 1]
        hair_or_neck = np.where(below_chin, ID["neck"], ID["hair"]).astype(np.uint8)
        lab = np.where((lab == 0) & (person > 0.5), hair_or_neck, lab)
    return lab


@runcache.memoized("fserasing/mesh_labels")
def label_faces(images, *, person: bool = False, mesh_size: int = MESH_SIZE):
    """Label aligned face crops (N, H, W, 3) uint8 from their Face Mesh: ``(labels, meshes, found)``.

    ``labels`` (N, H, W) uint8 (zeros where no mesh was found), ``meshes`` (N, 478, 3) float32 in
    the crops' pixels (NaN where none), ``found`` (N,) bool. Crops are upscaled to ``mesh_size``
    first (Face Mesh's detector misses most faces of 112 px or less). ``person=True`` adds hair and
    neck from MediaPipe selfie segmentation.
    """
    import cv2

    from lib.faces.landmarks import FaceMesh

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, H, W, 3) aligned crops, got {images.dtype} {images.shape}")
    n, h, w = images.shape[:3]
    labels = np.zeros((n, h, w), np.uint8)
    meshes = np.full((n, T.N_MESH, 3), np.nan, np.float32)
    found = np.zeros(n, bool)
    seg = None
    if person:
        from lib.faces.segment import PersonSegmenter

        seg = PersonSegmenter()
    try:
        with FaceMesh() as fm:
            for i, img in enumerate(images):
                big = cv2.resize(img, (mesh_size, mesh_size), interpolation=cv2.INTER_CUBIC)
                m = fm(big)
                if m is None:
                    continue
                m = m * np.array([w / mesh_size, h / mesh_size, w / mesh_size], np.float32)
                p = cv2.resize(seg(big), (w, h), interpolation=cv2.INTER_LINEAR) if seg is not None else None
                labels[i], meshes[i, :len(m)], found[i] = labels_from_mesh(m, (h, w), p), m, True
    finally:
        if seg is not None:
            seg.close()
    return labels, meshes, found


def class_fractions(labels) -> dict[str, float]:
    """Share of pixels per class name (all 25, in id order) over a stack of label maps."""
    counts = np.bincount(np.asarray(labels, dtype=np.uint8).ravel(), minlength=N_CLASSES)[:N_CLASSES]
    total = max(int(counts.sum()), 1)
    return {name: counts[i] / total for i, name in enumerate(CLASSES)}
