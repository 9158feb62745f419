"""The 478 -> 68 correspondence (mesh vertex for each iBUG-68 point), derived here.

Derivation (``python -m lib.data.engine.mesh68``): render frontal neutral faces of usable
DCGAN identities, run dlib's HOG detector and 68-point predictor on each render, and take
for every iBUG point the mesh vertex with the smallest mean distance (in inter-ocular
distances) over all renders. The result is committed in mesh68.json together with the
derivation settings and the mean residual; the engine reads it from there.
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

from lib import io as atomic
from lib.data.engine import candidates
from lib.data.engine.render import render

MAP_FILE = Path(__file__).with_name("mesh68.json")
DERIVATION_SEED = 7


@lru_cache(maxsize=1)
def mesh_to_68() -> np.ndarray:
    """(68,) int vertex indices from mesh68.json."""
    if not MAP_FILE.exists():
        raise FileNotFoundError(f"{MAP_FILE} is missing; derive it with: python -m lib.data.engine.mesh68")
    data = json.loads(MAP_FILE.read_text())
    idx = np.asarray(data["vertices"], dtype=np.int64)
    if idx.shape != (68,) or idx.min() < 0 or idx.max() >= 478:
        raise ValueError(f"{MAP_FILE}: 'vertices' must be 68 indices in 0..477; re-derive it")
    return idx


def derive(n_faces: int = 60, seed: int = DERIVATION_SEED, max_candidates: int = 2000) -> dict:
    """Derive the map from ``n_faces`` frontal renders (deterministic for a seed)."""
    from lib.faces.detect import DlibHogDetector
    from lib.faces.landmarks import Dlib68

    det, sp = DlibHogDetector(), Dlib68()
    dists, used = [], []
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
        used.append(index)
        if len(used) == n_faces:
            break
    mean = np.mean(dists, 0)  # (68, 468)
    best = mean.argmin(1)
    return {"vertices": best.tolist(), "mean_residual_iod": round(float(mean[np.arange(68), best].mean()), 4),
            "faces": len(used), "seed": seed, "candidates": used,
            "method": "nearest mesh vertex to dlib 68-point predictions on frontal neutral renders (224 px)"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.data.engine.mesh68", description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=60)
    ap.add_argument("--check", action="store_true", help="derive and compare with the committed map")
    args = ap.parse_args(argv)
    result = derive(args.faces)
    if args.check:
        same = int((np.array(result["vertices"]) == mesh_to_68()).sum())
        print(f"{same}/68 vertices equal to {MAP_FILE.name}; residual {result['mean_residual_iod']}")
        return 0 if same == 68 else 1
    atomic.write_json(MAP_FILE, result)
    print(f"wrote {MAP_FILE} from {result['faces']} faces; mean residual {result['mean_residual_iod']} IOD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
