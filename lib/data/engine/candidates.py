"""Identity candidates: DCGAN faces (or real photos) -> fitted, usable, renderable heads.

Each worker process keeps one FaceMesh, one person segmenter and one recogniser (created
on first use). Candidate i of a seed is always the same face (lib.data.engine.generator),
so a head can be rebuilt in any process from (seed, i) alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lib.data.engine import generator, head as head_mod, identity
from lib.data.engine import topology as T
from lib.data.engine.render import render

ASTRONAUT = -1  # candidate index of the skimage astronaut (a real photo)


def init_worker() -> None:
    """Pool initializer: one thread per library in each worker process (the processes are
    the parallelism; nested thread pools only contend for the same cores)."""
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


@lru_cache(maxsize=1)
def _tools():
    from lib.faces.detect import YuNetDetector
    from lib.faces.landmarks import FaceMesh
    from lib.faces.segment import PersonSegmenter

    return FaceMesh(min_detection_confidence=0.3), PersonSegmenter(), YuNetDetector(score_threshold=0.3)


@lru_cache(maxsize=1)
def _recogniser():
    from lib.faces.embed import SFaceEmbedder

    return SFaceEmbedder()


def source_image(seed: int, index: int) -> np.ndarray:
    if index == ASTRONAUT:
        from lib.data.real_photos import astronaut

        return astronaut()[40:296, 100:356]  # head and shoulders, square
    return generator.sample_faces(seed, index, 1)[0]


def build(seed: int, index: int, criteria=identity.UsableCriteria()):
    """(head or None, reason, source stats) for candidate ``index``."""
    mesh, seg, detector = _tools()
    face = identity.fit_face(source_image(seed, index), mesh)
    ok, reason = identity.usable(face, criteria, lambda img: max((d.score for d in detector(img)), default=0.0))
    if not ok:
        return None, reason, (face.stats if face is not None else {})
    return head_mod.build_head(face, seg(face.image)), reason, face.stats


def points5(mesh478: np.ndarray) -> np.ndarray:
    """ArcFace 5 points from the mesh: iris centres, nose tip, mouth corners (image-left first)."""
    return mesh478[[T.IRIS_RIGHT, T.IRIS_LEFT, T.NOSE_TIP, 61, 291]]


def frontal_embedding(h) -> np.ndarray:
    """SFace embedding (unit norm) of the head's frontal neutral render (plain look)."""
    from lib.faces.embed import embed_faces

    r = render(h)
    return embed_faces(_recogniser(), [r.image], [points5(r.mesh478)])[0]


@dataclass
class Candidate:
    index: int
    reason: str  # "ok" or why it is unusable
    stats: dict
    embedding: np.ndarray | None  # frontal render embedding, when usable


def evaluate(args) -> Candidate:
    """Worker: build candidate (seed, index, criteria) and embed it when usable."""
    seed, index, criteria = args
    h, reason, stats = build(seed, index, criteria)
    return Candidate(index, reason, stats, None if h is None else frontal_embedding(h))
