"""Conversion speed and peak memory of the streaming adapters: ``python -m lib.speed.sources``.

Writes a CASIA-WebFace-style fixture tree (``--images`` 112x112 JPEGs in folders of
``--per-identity``), converts it in a fresh process and reports that process's wall time,
images/s and peak RSS next to the size of the converted images: bounded memory means the
peak stays far below the data size. ``--detect N`` also converts N 250x250 photos with
YuNet detection + alignment (the path unaligned photos take). Results go to
build/benchmarks/sources.json.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _fixture(root: Path, n: int, per: int, size: int, face: bool) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    if face:
        from lib.data.real_photos import astronaut

        base = np.asarray(Image.fromarray(astronaut()[0:300, 60:360]).resize((size, size)))
    for i in range(n):
        folder = root / f"{i // per:07d}"
        if i % per == 0:
            folder.mkdir(parents=True)
        img = base if face else np.clip(rng.normal(128, 40, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i % per + 1:03d}.jpg", quality=90)
    return root


def _child(root: str, out: str, queue) -> None:
    from lib.data.sources import webface

    t0 = time.perf_counter()
    webface.convert(root, out, progress=False)
    seconds = time.perf_counter() - t0
    queue.put({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def measure(n: int, per: int = 40, size: int = 112, face: bool = False) -> dict:
    """Convert ``n`` fixture images in a spawned process; wall time and peak RSS of that process."""
    from lib.data.faceset import read_faceset

    with tempfile.TemporaryDirectory(prefix="faceaug-bench-") as tmp:
        root = _fixture(Path(tmp) / "casia", n, per, size, face)
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(str(root), str(Path(tmp) / "out"), queue))
        proc.start()
        result = queue.get()
        proc.join()
        fs = read_faceset(Path(tmp) / "out", verify="none")
        converted = len(fs)
        data_mb = fs.images.nbytes / 2**20
    return {"images": n, "converted": converted, "input_size": size, "align": "detect" if face else "none",
            "seconds": round(result["seconds"], 2), "images_per_s": round(n / result["seconds"], 1),
            "peak_rss_mb": round(result["peak_rss_mb"], 1), "images_npy_mb": round(data_mb, 1)}


def main(argv=None) -> int:
    from lib import io, paths, provenance
    from lib.device import describe

    ap = argparse.ArgumentParser(prog="python -m lib.speed.sources", description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--per-identity", type=int, default=40)
    ap.add_argument("--detect", type=int, default=1000, help="photos for the detect+align run (0: skip)")
    args = ap.parse_args(argv)
    runs = [measure(args.images, args.per_identity)]
    if args.detect:
        runs.append(measure(args.detect, args.per_identity, size=250, face=True))
    for r in runs:
        print(f"{r['images']} {r['input_size']}px JPEGs, align={r['align']}: {r['seconds']} s "
              f"({r['images_per_s']} images/s), peak RSS {r['peak_rss_mb']} MiB for {r['images_npy_mb']} MiB of images")
    io.write_json(paths.build_dir() / "benchmarks" / "sources.json",
                  {"runs": runs, "when": provenance.now(), "device": describe("cpu"), "commit": provenance.git_commit()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
