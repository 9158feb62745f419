"""Rendering throughput of the engine: ``python -m lib.data.engine.benchmark``.

Renders every image (sessions x emotions x poses, with parsing, 478 + 68 points) of
``persons`` identities in ``workers`` processes, head building included, pool start-up
excluded; prints images per second. 00_data_prep reports the same measurement as
``engine.render_images_per_s``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time

from lib.data.engine import candidates
from lib.data.engine.build import EngineConfig, render_person


def render_throughput(candidate_indices: list[int], cfg: EngineConfig = EngineConfig(), workers: int = 2) -> dict:
    tasks = [(cfg, p, idx, "train") for p, idx in enumerate(candidate_indices)]
    with mp.get_context("spawn").Pool(workers, initializer=candidates.init_worker) as pool:
        pool.map(_warm, range(workers))  # import and create the tools in every worker first
        t0 = time.perf_counter()
        n = sum(len(r["rows"]) for r in pool.map(render_person, tasks, chunksize=1))
        seconds = time.perf_counter() - t0
    return {"images": n, "seconds": round(seconds, 2), "images_per_s": n / seconds, "workers": workers}


def _warm(_):
    candidates._tools()
    from lib.data.engine.mesh68 import mesh_to_68

    mesh_to_68()
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.data.engine.benchmark", description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    found, index = [], 0
    while len(found) < args.persons:  # the first usable candidates of seed 0
        if candidates.build(0, index)[0] is not None:
            found.append(index)
        index += 1
    r = render_throughput(found, workers=args.workers)
    print(f"{r['images']} images (112 px, parsing + 478/68 points) in {r['seconds']} s with {r['workers']} "
          f"processes: {r['images_per_s']:.1f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
