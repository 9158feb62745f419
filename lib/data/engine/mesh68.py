"""The 478 -> 68 correspondence (iBUG-68 points as mesh vertex combinations), derived here.

Derivation (``python -m lib.data.engine.mesh68``): render frontal neutral faces of usable
DCGAN identities, run dlib's HOG detector and 68-point predictor on each render; for every
iBUG point take the K mesh vertices with the smallest mean distance (in inter-ocular
distances) and the convex weights (non-negative, summing to 1) that best reproduce dlib's point from
them over all renders (least squares). K = 1 is the plain nearest-vertex map. The result
is committed in mesh68.json with the derivation settings and the mean residuals; the
engine reads it from there. A point is visible when all its vertices are.
Jaw points (0-16) map to fixed mesh vertices, not the visible outline: at large yaw they
are flagged invisible rather than moved.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from lib import io as atomic
from lib.data.engine import candidates
from lib.data.engine.render import render

MAP_FILE = Path(__file__).with_name("mesh68.json")
DERIVATION_SEED = 7


@lru_cache(maxsize=1)
def mesh_to_68() -> tuple[np.ndarray, np.ndarray]:
    """(68, K) vertex indices and (68, K) weights from mesh68.json."""
    if not MAP_FILE.exists():
        raise FileNotFoundError(f"{MAP_FILE} is missing; derive it with: python -m lib.data.engine.mesh68")
    data = json.loads(MAP_FILE.read_text())
    idx = np.asarray(data["vertices"], dtype=np.int64)
    w = np.asarray(data["weights"], dtype=np.float64)
    if idx.ndim != 2 or idx.shape[0] != 68 or w.shape != idx.shape or idx.min() < 0 or idx.max() >= 468 \
            or not np.allclose(w.sum(1), 1):
        raise ValueError(f"{MAP_FILE}: vertices/weights must be (68, K), weights summing to 1; re-derive it")
    return idx, w


def landmarks68(mesh478: np.ndarray, visible478: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 68 iBUG points (68, 2) and their visibility (68,) from projected mesh points."""
    idx, w = mesh_to_68()
    return (mesh478[idx] * w[..., None]).sum(1).astype(np.float32), visible478[idx].all(1)


def derive(n_faces: int = 60, seed: int = DERIVATION_SEED, k: int = 3, max_candidates: int = 2000) -> dict:
    """Derive the map from ``n_faces`` frontal renders (deterministic for a seed)."""
    from lib.faces.detect import DlibHogDetector
    from lib.faces.landmarks import Dlib68

    det, sp = DlibHogDetector(), Dlib68()
    dists, used, targets, meshes, iods = [], [], [], [], []
    for index in range(max_candidates):
        h, _, stats = candidates.build(seed, index)
        if h is None or abs(stats["yaw"]) > 12:
            continue
        r = render(h, size=224, render_size=448)
        found = det(r.image)
        if not found:
            continue
        pts = sp(r.image, found[0].box)
        iod = np.linalg.norm(pts[36:42].mean(0) - pts[42:48].mean(0))
        dists.append(np.linalg.norm(pts[:, None] - r.mesh478[None, :468], axis=2) / iod)
        targets.append(pts / iod)
        meshes.append(r.mesh478[:468] / iod)
        used.append(index)
        if len(used) == n_faces:
            break
    mean = np.mean(dists, 0)  # (68, 468)
    nearest = np.argsort(mean, axis=1)[:, :k]
    P, M = np.stack(targets), np.stack(meshes)  # (S, 68, 2), (S, 468, 2) in IOD units
    weights = np.zeros((68, k))
    for j in range(68):
        # convex weights (>= 0, summing to 1): nnls with the sum as a heavily weighted extra row;
        # unconstrained affine weights extrapolate wildly between near-collinear vertices.
        V = M[:, nearest[j]].transpose(0, 2, 1).reshape(-1, k)  # (S*2, k)
        A = np.vstack([V, np.full((1, k), 100.0)])
        b = np.r_[P[:, j].reshape(-1), 100.0]
        weights[j] = nnls(A, b)[0]
    weights /= weights.sum(1, keepdims=True)
    fitted = (M[:, nearest] * weights[None, ..., None]).sum(2)
    residual = np.linalg.norm(fitted - P, axis=2).mean()
    return {"vertices": nearest.tolist(), "weights": np.round(weights, 6).tolist(), "k": k,
            "mean_residual_iod": round(float(residual), 4),
            "nearest_vertex_residual_iod": round(float(mean[np.arange(68), nearest[:, 0]].mean()), 4),
            "faces": len(used), "seed": seed, "candidates": used,
            "method": f"convex combination of the {k} nearest mesh vertices fitted to dlib 68-point "
                      "predictions on frontal neutral renders (224 px)"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.data.engine.mesh68", description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=60)
    ap.add_argument("--k", type=int, default=3, help="mesh vertices per iBUG point (1 = nearest vertex)")
    ap.add_argument("--check", action="store_true", help="derive and compare with the committed map")
    args = ap.parse_args(argv)
    result = derive(args.faces, k=args.k)
    if args.check:
        same = np.array_equal(np.array(result["vertices"]), mesh_to_68()[0])
        print(f"derived map {'equals' if same else 'differs from'} {MAP_FILE.name}; residual {result['mean_residual_iod']}")
        return 0 if same else 1
    atomic.write_json(MAP_FILE, result)
    print(f"wrote {MAP_FILE} from {result['faces']} faces; mean residual {result['mean_residual_iod']} IOD "
          f"(nearest vertex alone: {result['nearest_vertex_residual_iod']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
