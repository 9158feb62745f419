"""Speed of the FSErasing face parser on this machine: ``python -m lib.speed.fserasing``.

Measures ``lib.fserasing.parser.predict`` (U-Net, ResNet-18 encoder, 25 classes; uint8 112x112
crops in, class maps out, logits resized back to 112) in images/s on the CPU, at the input sizes
of the profiles (64: smoke/default, 128: full), after one warm-up batch; and the FSErasing batch
hook (``fserasing.hook_images_per_s``). Results are merged into figures/metrics/benchmarks.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def parser_speed(input_size: int, n: int = 256, batch_size: int = 128, threads: int | None = None) -> float:
    import torch

    from lib.fserasing.parser import ParserConfig, create_parser, predict

    if threads:
        torch.set_num_threads(threads)
    model = create_parser(ParserConfig(input_size=input_size)).eval()
    images = np.random.default_rng(0).integers(0, 256, (n, 112, 112, 3), dtype=np.uint8)
    predict(model, images[:batch_size], input_size=input_size, batch_size=batch_size, device="cpu")  # warm-up
    t0 = time.perf_counter()
    predict(model, images, input_size=input_size, batch_size=batch_size, device="cpu")
    return n / (time.perf_counter() - t0)


def hook_speed(n: int = 512) -> float:
    from lib.fserasing.transform import FSErasingHook

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 112, 112, 3), dtype=np.uint8)
    masks = rng.integers(0, 25, (n, 112, 112), dtype=np.uint8)
    hook = FSErasingHook(masks, images)
    t0 = time.perf_counter()
    for s in range(0, n, 64):
        hook(images[s:s + 64], np.arange(s, s + 64), rng)
    return n / (time.perf_counter() - t0)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="images per measurement")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--no-record", action="store_true", help="print only; do not update benchmarks.json")
    args = ap.parse_args(argv)
    out = {f"fserasing.parser_images_per_s_{s}px": round(parser_speed(s, args.n, threads=args.threads), 1)
           for s in (64, 128)}
    out["fserasing.hook_images_per_s"] = round(hook_speed(), 1)
    for k, v in out.items():
        print(f"{k}: {v}")
    if not args.no_record:
        from lib import io, paths

        path = paths.figures_dir() / "metrics" / "benchmarks.json"
        current = io.read_json(path) if path.is_file() else {}
        io.write_json(path, {**current, **out})
    return out


if __name__ == "__main__":
    main()
