"""How many distinct persons can the engine give? Identity capacity, measured.

A training corpus needs many persons that a recogniser can tell apart. The engine keeps a DCGAN
candidate when its frontal render is usable and its SFace embedding stays below
``distinct_max_cosine`` against every person kept before (``build.select_identities``). SFace
chose them, so SFace would flatter them: capacity is measured with dlib's recogniser, which took
no part in the selection.

For the largest N asked for, one capacity FaceSet is built: N persons, each rendered once per
session, frontal and neutral (``capacity_config``). Selection runs in stream order, so the first
n persons of it are exactly the persons a FaceSet of n would hold; every smaller n is a prefix.
For each n: the session-A images are the gallery, the session-B images the probes, and

- ``rank1``: share of probes whose nearest gallery person (dlib cosine) is their own, among n;
- ``tar@far=1e-3``: every probe against every gallery image, n genuine and n (n - 1) impostor
  comparisons, the threshold set from the impostors (``verification.tar_at_far``).

The training corpora's person pool (lib.data.engine.corpora) is measured the same way on its
``synth_capacity`` FaceSet (``faceset_curve``): 00_data_prep reports that pool.

A person pool "holds" at n when TAR at FAR 1e-3 stays >= ``TARGET_TAR`` (0.8): n persons are then
as separable to an independent recogniser as a face corpus needs to be useful for training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lib.data.engine.build import EngineConfig

TARGET_TAR = 0.8
SIZES = (100, 300, 1000, 3000)


def capacity_config(n: int, seed: int = 0, **changes) -> EngineConfig:
    """The engine config of the capacity set: ``n`` persons, both sessions, frontal neutral only."""
    if int(n) < 2:
        raise ValueError(f"n={n}: the capacity of fewer than 2 persons is not defined (choose n >= 2)")
    return EngineConfig(n_train=int(n), n_test=0, seed=seed, poses={"S": 0.0}, emotions=("neutral",), **changes)


def session_rows(meta, session: str) -> pd.DataFrame:
    """The rows of ``session`` in PERSON order, the order of selection (the FaceSet's row order: persons
    are written as selected). Not sorted by the person name: "1000" would sort before "101"."""
    return meta[meta["session"] == session].sort_values("index", kind="stable")


def session_embeddings(fs, embedder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(persons, gallery, probes): the persons of a capacity FaceSet in selection order and their
    session-A and session-B embeddings (row i = person i), aligned on the engine's exact 5 points."""
    from lib.data.engine.quality import embed_images

    out = []
    for session in ("A", "B"):
        part = session_rows(fs.meta, session)
        out.append((part["person"].to_numpy(), embed_images(fs, part["index"].to_numpy(), embedder)))
    (pa, ga), (pb, gb) = out
    if not np.array_equal(pa, pb):
        raise ValueError(f"{getattr(fs, 'root', 'the FaceSet')}: every person needs one session-A and one "
                         "session-B image (build it with capacity_config)")
    return pa, ga, gb


def capacity_curve(gallery: np.ndarray, probes: np.ndarray, sizes: Sequence[int], far: float = 1e-3) -> pd.DataFrame:
    """Rank-1 and TAR@``far`` of the first n persons for every n in ``sizes`` (module docstring).
    ``gallery``/``probes``: (N, d) embeddings, row i of both = person i."""
    from lib.evaluation.verification import tar_at_far

    gallery, probes = np.asarray(gallery, np.float64), np.asarray(probes, np.float64)
    if gallery.shape != probes.shape or gallery.ndim != 2:
        raise ValueError(f"gallery and probes must be (N, d) of one shape, got {gallery.shape} and {probes.shape}")
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    p = probes / np.linalg.norm(probes, axis=1, keepdims=True)
    rows = []
    for n in sorted(int(v) for v in sizes):
        if not 2 <= n <= len(g):
            raise ValueError(f"size {n}: the embeddings hold {len(g)} persons (sizes must be 2..{len(g)})")
        S = p[:n] @ g[:n].T  # probe x gallery cosine
        same = np.eye(n, dtype=bool)
        r = tar_at_far(S.ravel(), same.ravel(), (far,))[far]
        rows.append({"persons": n, "rank1": float((S.argmax(1) == np.arange(n)).mean()), f"tar@far={far:g}": r["tar"],
                     "far_obtained": r["far"], "impostor_pairs": n * (n - 1),
                     "genuine_mean": float(np.diag(S).mean()), "impostor_mean": float(S[~same].mean())})
    return pd.DataFrame(rows)


def holds(curve: pd.DataFrame, far: float = 1e-3, target: float = TARGET_TAR) -> int:
    """The largest measured n whose TAR@``far`` reaches ``target`` (0 if none)."""
    ok = curve[curve[f"tar@far={far:g}"] >= target]
    return int(ok["persons"].max()) if len(ok) else 0


def faceset_curve(fs, sizes: Sequence[int], embedder=None, far: float = 1e-3) -> pd.DataFrame:
    """``capacity_curve`` of a FaceSet with one session-A and one session-B frontal image per person, in
    selection order (``capacity_config``'s sets, the corpora's ``synth_capacity``); dlib by default."""
    if embedder is None:
        from lib.faces.embed import create_embedder

        embedder = create_embedder("dlib")
    _, g, p = session_embeddings(fs, embedder)
    return capacity_curve(g, p, sizes, far)


def measure(sizes: Sequence[int] = SIZES, seed: int = 0, embedder=None, progress: bool = True, **changes):
    """Build (or load) the capacity FaceSet for max(sizes) and return (curve, FaceSet). ``embedder``
    defaults to dlib's recogniser (the one that did not select the persons)."""
    from lib.data.engine.build import build_synth_kdef
    from lib.data.faceset import read_faceset

    sizes = sorted(int(v) for v in sizes)
    if not sizes or sizes[0] < 2:
        raise ValueError(f"sizes {sizes}: give person counts >= 2")
    fs = read_faceset(build_synth_kdef(capacity_config(sizes[-1], seed, **changes), progress=progress), verify="fast")
    return faceset_curve(fs, sizes, embedder), fs
