"""Inpainting inference speed (images/s) of the V-Net at the default and the published size.

    python -m lib.speed.inpaint                    # default (64 px, width 0.125) and 256 px
    python -m lib.speed.inpaint --batch 8 --repeats 3 --threads 2 --device cpu

Prints one line per configuration and writes runs/benchmarks/inpaint.json. Timings are of the
generator's forward pass in inference mode (no data loading, no resizing), after one warm-up batch.
Introduced for notebook 02_inpainting (its markdown quotes the numbers).
"""

from __future__ import annotations

import argparse
import json
import time

from lib import io, paths
from lib.inpaint.model import count_parameters, create_generator
from lib.inpaint.train import InpaintConfig

CONFIGS = {"default": InpaintConfig(), "paper_256": InpaintConfig.paper()}


def measure(cfg: InpaintConfig, batch: int = 8, repeats: int = 3, device: str = "cpu") -> dict:
    """images/s of ``cfg``'s generator on random inputs."""
    import torch

    from lib.device import select_device

    dev = select_device(device)
    g = create_generator(cfg.variant, width=cfg.width, up_kernel=cfg.up_kernel, size=cfg.size).to(dev).eval()
    x = torch.rand(batch, g.in_channels, cfg.size, cfg.size, device=dev)
    with torch.inference_mode():
        g(x)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(repeats):
            g(x)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t
    return {"size": cfg.size, "width": cfg.width, "params_m": round(count_parameters(g) / 1e6, 3),
            "batch": batch, "repeats": repeats, "device": str(dev), "threads": torch.get_num_threads(),
            "images_per_s": round(batch * repeats / seconds, 2)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    out = {}
    for name, cfg in CONFIGS.items():
        out[name] = measure(cfg, args.batch, args.repeats, args.device)
        r = out[name]
        print(f"{name:10s} {r['size']:4d} px  width {r['width']:<5} {r['params_m']:7.3f} M params  "
              f"{r['images_per_s']:8.2f} images/s  ({r['device']}, {r['threads']} threads, batch {r['batch']})")
    target = paths.runs_dir() / "benchmarks" / "inpaint.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    io.write_text(target, json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
