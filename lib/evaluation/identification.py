"""Closed-set identification (SCface style): rank-1 and the CMC curve.

SCface (docs/lowres.md): the gallery is one high-resolution mugshot per identity,
probes are surveillance images of gallery identities. With several gallery images per
identity, an identity scores the maximum cosine similarity over its images. A probe's
rank is 1 + the number of *other* identities scoring at least as high as its own (ties
count against the probe, so degenerate embeddings never look good).
"""

from __future__ import annotations

import numpy as np


def _unit(x, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def _check(emb, ids, what):
    emb = np.asarray(emb)
    ids = np.asarray(ids).ravel()
    if emb.ndim != 2:
        raise ValueError(f"{what} embeddings must be (n, d), got shape {emb.shape}")
    if len(ids) != len(emb):
        raise ValueError(f"{what}: {len(emb)} embeddings but {len(ids)} ids")
    if len(ids) == 0:
        raise ValueError(f"{what} is empty")
    if not np.isfinite(emb).all():
        raise ValueError(f"{what} embeddings contain NaN or inf")
    return emb, ids


def identity_scores(gallery_emb, gallery_ids, probe_emb):
    """(identities, scores): the sorted distinct gallery ids and the (n_probe, n_identity)
    cosine similarity of each probe to each identity (max over that identity's images)."""
    g, gid = _check(gallery_emb, gallery_ids, "gallery")
    p = np.asarray(probe_emb)
    if p.ndim != 2 or p.shape[1] != g.shape[1]:
        raise ValueError(f"probe embeddings must be (n, {g.shape[1]}), got shape {p.shape}")
    sims = _unit(p) @ _unit(g).T
    identities, inverse = np.unique(gid, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(identities.size))
    return identities, np.maximum.reduceat(sims[:, order], starts, axis=1)


def closed_set(gallery_emb, gallery_ids, probe_emb, probe_ids) -> dict:
    """Closed-set identification of probes against a gallery.

    Args:
        gallery_emb: (n_gallery, d) embeddings; gallery_ids: (n_gallery,) identity labels
            (one or several images per identity).
        probe_emb: (n_probe, d); probe_ids: (n_probe,) labels, all present in the gallery.

    Returns:
        dict with ``rank1`` (share of probes whose best identity is theirs), ``cmc``
        ((n_identity,) array: share of probes with rank <= r, for r = 1..n_identity),
        ``ranks`` ((n_probe,) rank of each probe's true identity, 1 = best),
        ``predicted`` (top-scoring identity per probe) and ``identities``.

    Raises:
        ValueError: probes of identities absent from the gallery (not closed-set).
    """
    _check(probe_emb, probe_ids, "probe set")
    pid = np.asarray(probe_ids).ravel()
    identities, scores = identity_scores(gallery_emb, gallery_ids, probe_emb)
    missing = np.setdiff1d(pid, identities)
    if missing.size:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if missing.size > 5 else "")
        raise ValueError(f"{missing.size} probe identities are not in the gallery "
                         f"(closed-set identification needs them all): {shown}")
    col = np.searchsorted(identities, pid)
    own = scores[np.arange(len(pid)), col]
    ranks = (scores >= own[:, None]).sum(axis=1)  # counts the probe's own identity once
    cmc = np.cumsum(np.bincount(ranks, minlength=identities.size + 1)[1:]) / len(pid)
    return {"rank1": float(cmc[0]), "cmc": cmc, "ranks": ranks,
            "predicted": identities[np.argmax(scores, axis=1)], "identities": identities}
