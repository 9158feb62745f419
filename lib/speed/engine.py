"""Rendering throughput of the engine: ``python -m lib.speed.engine``.

Renders every image (sessions x emotions x poses, with parsing, 478 + 68 points) of
``persons`` identities in ``workers`` processes, head building included, pool start-up
excluded, ``repeats`` times; prints the best images per second (the least disturbed run, as
``timeit`` reports: on a shared 2-core machine one run of a few seconds varies by +-20 %) and
the median. 00_data_prep reports the best as ``engine.render_images_per_s``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time

from lib.data.engine import candidates
from lib.data.engine.build import EngineConfig, render_person


def render_throughput(candidate_indices: list[int], cfg: EngineConfig = EngineConfig(), workers: int = 2,
                      repeats: int = 3) -> dict:
    """Images per second of the best of ``repeats`` runs (``images_per_s``) and their median."""
    import numpy as np

    tasks = [(cfg, p, idx, "train") for p, idx in enumerate(candidate_indices)]
    runs = []
    with mp.get_context("spawn").Pool(workers, initializer=candidates.init_worker) as pool:
        pool.map(_warm, range(workers))  # import and create the tools in every worker first
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            n = sum(len(r["rows"]) for r in pool.map(render_person, tasks, chunksize=1))
            runs.append((n, time.perf_counter() - t0))
    rates = [n / s for n, s in runs]
    n, seconds = runs[int(np.argmax(rates))]
    return {"images": n, "seconds": round(seconds, 2), "images_per_s": max(rates),
            "median_images_per_s": float(np.median(rates)), "repeats": len(runs), "workers": workers}


def _warm(_):
    candidates._tools()
    from lib.data.engine.mesh68 import mesh_to_68

    mesh_to_68()
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.speed.engine", description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    found, index = [], 0
    while len(found) < args.persons:  # the first usable candidates of seed 0
        if candidates.build(0, index)[0] is not None:
            found.append(index)
        index += 1
    r = render_throughput(found, workers=args.workers, repeats=args.repeats)
    print(f"{r['images']} images (112 px, parsing + 478/68 points) in {r['seconds']} s with {r['workers']} "
          f"processes: {r['images_per_s']:.1f} images/s (best of {r['repeats']}; median {r['median_images_per_s']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
