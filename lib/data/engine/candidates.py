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


BLOCK = 16  # DCGAN faces generated together by ``evaluate_source``


def source_image(seed: int, index: int, *, blocked: bool = False) -> np.ndarray:
    """The source face of candidate ``index``. ``blocked``: take it from its aligned block of BLOCK faces,
    generated once per worker (2 times cheaper per face than one at a time; the generator is batch
    invariant, so the face is the same: lib.data.engine.generator)."""
    if index == ASTRONAUT:
        from lib.data.real_photos import astronaut

        return astronaut()[40:296, 100:356]  # head and shoulders, square
    if blocked:
        return _dcgan_block(seed, index // BLOCK)[index % BLOCK]
    return generator.sample_faces(seed, index, 1)[0]


@lru_cache(maxsize=2)
def _dcgan_block(seed: int, block: int) -> np.ndarray:
    return generator.sample_faces(seed, block * BLOCK, BLOCK)


def _fit(seed: int, index: int, criteria, blocked: bool = False):
    """(fitted face or None, ok, reason) of candidate ``index``: mesh fit and the usable check."""
    mesh, _, detector = _tools()
    face = identity.fit_face(source_image(seed, index, blocked=blocked), mesh)
    ok, reason = identity.usable(face, criteria, lambda img: max((d.score for d in detector(img)), default=0.0))
    return face, ok, reason


def build(seed: int, index: int, criteria=identity.UsableCriteria()):
    """(head or None, reason, source stats) for candidate ``index`` (its source face taken from its
    block: consecutive candidates in one process share one DCGAN call)."""
    face, ok, reason = _fit(seed, index, criteria, blocked=True)
    if not ok:
        return None, reason, (face.stats if face is not None else {})
    return head_mod.build_head(face, _tools()[1](face.image)), reason, face.stats


def selected_head(seed: int, index: int, criteria):
    """The head of a candidate that selection kept (render workers rebuild it from (seed, index))."""
    h, reason, _ = build(seed, index, criteria)
    if h is None:
        raise RuntimeError(f"candidate {index} was usable during selection but not now ({reason})")
    return h


def points5(mesh478: np.ndarray) -> np.ndarray:
    """ArcFace 5 points from the mesh: iris centres, nose tip, mouth corners (image-left first)."""
    return mesh478[list(T.POINTS5)]


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
    """Worker: build candidate (seed, index, criteria) and embed it when usable (the frontal render)."""
    seed, index, criteria = args
    h, reason, stats = build(seed, index, criteria)
    return Candidate(index, reason, stats, None if h is None else frontal_embedding(h))


def evaluate_source(args) -> Candidate:
    """Worker: like ``evaluate`` but the embedding is SFace's of the SOURCE face, aligned on its fitted
    mesh, without building the head or rendering it: 2.4 times cheaper per candidate (the head build is
    the expensive step, ~0.12 s). The training corpora select their persons with it."""
    from lib.faces.embed import embed_faces

    seed, index, criteria = args
    face, ok, reason = _fit(seed, index, criteria, blocked=True)
    if not ok:
        return Candidate(index, reason, face.stats if face is not None else {}, None)
    return Candidate(index, reason, face.stats, embed_faces(_recogniser(), [face.image], [points5(face.P[:, :2])])[0])


@dataclass
class Stream:
    """The result of ``select_distinct``: kept candidate indices in stream order and their embeddings."""

    kept: list
    embeddings: np.ndarray  # (len(kept), d)
    tried: int
    reasons: dict  # reason -> count over tried candidates
    not_distinct: int


def select_distinct(pool, evaluate_fn, seed: int, criteria, need: int, max_cosine: float, *, kept=(), kept_embeddings=(),
                    others=(), skip=frozenset(), batch: int = 32, chunksize: int | None = None, ahead: int = 4,
                    progress=None) -> Stream:
    """Walk the candidate stream of ``seed`` in order, keeping a usable candidate when its embedding's
    cosine to every kept one (and to every row of ``others``) stays below ``max_cosine``, until ``need``
    are kept. ``kept``/``kept_embeddings``: persons already kept (counted in ``need``); ``others``:
    embeddings of persons that must not be matched but are not part of the result; ``skip``: candidate
    indices never tried (persons used elsewhere); ``progress``: a tqdm bar advanced per kept person.
    ``batch`` (candidates per pool task group), ``chunksize`` (per worker task) and ``ahead`` (groups in
    flight, so that no worker waits while the results of one group are checked) change the speed, never
    the result: results are taken in stream order."""
    from collections import deque

    kept, rows = list(kept), [*others, *kept_embeddings]
    n_others = len(others)
    # every embedding that can be kept, in one matrix allocated once (its first rows in use): no copy of
    # all the rows per candidate; the embeddings' dtype is kept, so the dot products are the same
    bank, n_bank = None, 0

    def add(e):
        nonlocal bank, n_bank
        if bank is None:
            bank = np.empty((len(rows) + need, len(e)), np.asarray(e).dtype)
        bank[n_bank] = e
        n_bank += 1

    for e in rows:
        add(np.asarray(e))
    reasons, tried, not_distinct, start = {}, 0, 0, 0
    in_flight = deque()

    def submit():
        nonlocal start
        if start > 200 * need + 1000:
            raise RuntimeError(f"only {len(kept)} of {need} distinct usable identities in {start} DCGAN samples; "
                               "raise distinct_max_cosine or relax the usable criteria")
        indices = [i for i in range(start, start + batch) if i not in skip]
        in_flight.append(pool.map_async(evaluate_fn, [(seed, i, criteria) for i in indices], chunksize))
        start += batch

    while len(kept) < need:
        while len(in_flight) < ahead:
            submit()
        for c in in_flight.popleft().get():
            if len(kept) == need:
                break
            tried += 1
            reasons[c.reason] = reasons.get(c.reason, 0) + 1
            if c.embedding is None:
                continue
            if n_bank and (bank[:n_bank] @ c.embedding).max() >= max_cosine:
                not_distinct += 1
                continue
            kept.append(c.index)
            add(c.embedding)
            if progress is not None:
                progress.update(1)
    for r in in_flight:  # the look-ahead past the last kept person: finish it before the pool is reused
        r.wait()
    return Stream(kept, bank[n_others:n_bank].copy() if bank is not None else np.array([]), tried, reasons, not_distinct)
