"""Measured quality of a synth_kdef FaceSet (reported in 00_data_prep and the data card).

- identity_check: a real pretrained recogniser (dlib 128-D) across poses, probes from the
  OTHER session than the gallery (session A frontal neutral gallery, session B neutral
  probes at each yaw): rank-1 and same/different-person distances per yaw.
- landmark_check: dlib's own 68-point predictor (on its HOG detection) against the
  engine's exact 68 points, normalised mean error per yaw (visible points; normaliser:
  sqrt(width x height) of the engine's 68-point box), and the detection rate per yaw.
Faces are aligned with the engine's exact 5 points, so no detector failure hides a pose.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib import runcache
from lib.data.engine import topology as T


def points5(fs, index: np.ndarray) -> np.ndarray:
    """(n, 5, 2) exact alignment points of FaceSet rows: from the 478-point mesh (iris centres, nose tip,
    mouth corners) where the FaceSet has it (synth_kdef), else from the exact 68 points (the corpora)."""
    if fs.has("mesh478"):
        return fs.array("mesh478")[index][:, list(T.POINTS5)]
    from lib.faces.align import points5_from_68

    return np.stack([points5_from_68(lm) for lm in fs.array("landmarks68")[index]]) if len(index) else np.zeros((0, 5, 2))


def embed_images(fs, index: np.ndarray, embedder) -> np.ndarray:
    """Embed FaceSet images, aligned on the engine's exact 5 points (``points5``)."""
    from lib.faces.embed import embed_faces

    return embed_faces(embedder, [np.asarray(fs.images[i]) for i in index], points5(fs, index), cache=True)


def identity_check(fs, embedder, split: str | None = None, gallery_session: str = "A", probe_session: str = "B",
                   emotion: str = "neutral") -> pd.DataFrame:
    """Per yaw: rank-1, mean same-person and different-person distance, n probes.

    ``split=None`` uses every person: no model is trained here, and a larger gallery gives
    a harder and less noisy rank-1 than the 16 test persons alone (one probe = 6 %)."""
    m = fs.meta
    sel = (m["emotion"] == emotion) & ((m["split"] == split) if split else True)
    gal = m[sel & (m["session"] == gallery_session) & (m["yaw"] == 0)].sort_values("person")
    g = embed_images(fs, gal["index"].to_numpy(), embedder)
    rows = []
    for yaw, probes in m[sel & (m["session"] == probe_session)].groupby("yaw"):
        p = embed_images(fs, probes["index"].to_numpy(), embedder)
        D = np.linalg.norm(p[:, None] - g[None], axis=2)
        truth = probes["person"].to_numpy()[:, None] == gal["person"].to_numpy()[None]
        rows.append({"yaw": yaw, "rank1": float((gal["person"].to_numpy()[D.argmin(1)] == probes["person"].to_numpy()).mean()),
                     "same_distance": float(D[truth].mean()), "different_distance": float(D[~truth].mean()),
                     "probes": len(probes)})
    return pd.DataFrame(rows).set_index("yaw")


@runcache.memoized("engine/landmark_check")
def landmark_check(fs, split: str = "test", emotion: str | None = None, max_per_yaw: int = 200) -> pd.DataFrame:
    """Per yaw: dlib HOG detection rate and the NME of dlib's 68 points vs the engine's."""
    from lib.faces.detect import DlibHogDetector
    from lib.faces.landmarks import Dlib68

    det, sp = DlibHogDetector(), Dlib68()
    m = fs.meta[fs.meta["split"] == split]
    if emotion:
        m = m[m["emotion"] == emotion]
    lm, vis = fs.array("landmarks68"), fs.array("landmarks68_visible")
    rows = []
    for yaw, grp in m.groupby("yaw"):
        errs, found = [], 0
        for i in grp["index"].to_numpy()[:max_per_yaw]:
            img = np.asarray(fs.images[i])
            d = det(img)
            if not d:
                continue
            found += 1
            pred, ref, v = sp(img, d[0].box), lm[i], vis[i]
            box = np.sqrt(np.prod(ref.max(0) - ref.min(0)))
            errs.append(np.linalg.norm(pred[v] - ref[v], axis=1).mean() / box)
        n = min(len(grp), max_per_yaw)
        rows.append({"yaw": yaw, "detected": found / n, "nme68": float(np.mean(errs)) if errs else np.nan, "images": n})
    return pd.DataFrame(rows).set_index("yaw")
