"""Speed and accuracy of the recognition core on this machine: ``python -m lib.speed.recognition``.

Measures, and merges into figures/metrics/benchmarks.json:
- ``recognition.matmul_gflops``: fp32 matmul GFLOP/s of torch on this machine (the roof);
- ``recognition.train_images_per_s`` of the default-profile backbone + ArcFace head in the library's
  training loop (one process, ``--threads`` threads), and ``recognition.gflops_fraction`` = its
  achieved training FLOP/s (3 x the forward FLOPs counted by torch's FlopCounterMode) over the roof;
  ``recognition.side_by_side.*``: the same with one training per core in spawned processes (each with
  one thread), the aggregate images/s and FLOP fraction: two small trainings side by side use a 2-core
  CPU better than one training with two threads;
- ``recognition.compiled.*``: the one-process loop with the backbone's forward under torch.compile
  (``COMPILE_MODE``), for comparison: no profile trains compiled (its models would be other runs);
- ``recognition.default_model.*``: the default profile's ArcFace baseline (trained on synth_webface as the
  notebooks train it, or loaded from their run cache), verified on held-out persons: 6,000 LFW-style
  pairs (10 folds of disjoint persons, half genuine) of synth_bench's clean frontal images (both
  sessions, every emotion): accuracy, AUC, EER and TAR at FAR 1e-3;
- ``recognition.lfw_protocol_6000_pairs_seconds`` and ``recognition.svm_10k_seconds``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

# The default-profile FR step that the throughput is measured on (iresnet_tiny at 64 px, ArcFace, batch 64).
STEP_MODEL = {"backbone": "iresnet_tiny", "head": "arcface", "batch_size": 64}
# The torch.compile mode measured beside the eager loop (TrainConfig.compile): on the 2-core Zen 3 it gave
# 334 images/s against 289-293 eager ("default": 308-329; batch 128: eager 274, compiled 312-324).
COMPILE_MODE = "max-autotune-no-cudagraphs"


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    """Best-of fp32 matmul GFLOP/s with torch's current thread count."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def forward_flops(backbone, batch: int = 8) -> float:
    """Forward FLOPs per image of ``backbone`` (torch.utils.flop_counter; a multiply-add = 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lib.recognition.backbones import get_preprocess

    spec = get_preprocess(backbone)
    x = torch.zeros(batch, 3, *spec.input_size)
    backbone.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        backbone(x)
    return counter.get_total_flops() / batch


def _synthetic(n: int = 2048, classes: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 112, 112, 3), dtype=np.uint8), rng.integers(0, classes, n)


def loop_images_per_s(threads: int, n: int = 2048, seed: int = 0, compile: str = "") -> float:
    """images/s of one epoch of the library's training loop (photometric augmentation included) on ``n``
    random 112 px images of 2,000 classes, after a one-epoch warm-up (which also compiles, with ``compile``:
    a ``TrainConfig.compile`` mode)."""
    import tempfile

    from lib.recognition import train as T

    x, y = _synthetic(n, seed=seed)
    cfg = T.TrainConfig(**STEP_MODEL, epochs=2, threads=threads, seed=seed, compile=compile)
    with tempfile.TemporaryDirectory() as tmp:
        hist = T.train(cfg, x, y, work_dir=tmp, num_classes=2000, progress=False).history
    return float(hist["images_per_s"].iloc[-1])


def side_by_side_images_per_s(workers: int, n: int = 2048) -> float:
    """Aggregate images/s of ``workers`` trainings at once, one thread each, in spawned processes."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers) as pool:
        return float(sum(pool.starmap(loop_images_per_s, [(1, n, k) for k in range(workers)])))


def default_model(seed: int = 0):
    """The default profile's ArcFace baseline as the notebooks train it (run cache ``fr/arcface``), the
    training corpus and the benchmark corpus."""
    from lib.data.engine.corpora import notebook_corpora
    from lib.recognition.config import VARIANTS
    from lib.recognition.split_models import train_on_split

    corpora = notebook_corpora("default", seed, names=("synth_webface", "synth_bench"))
    fr_train = VARIANTS.resolve("default", fr_train={})["fr_train"]
    t0 = time.perf_counter()
    result = train_on_split(corpora["synth_webface"], {**fr_train, "head": "arcface"}, progress=False)
    return result, corpora, time.perf_counter() - t0


def clean_pairs(bench_fs, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Rows of synth_bench's clean frontal images and 6,000 LFW-style pairs among them (10 folds)."""
    from lib.data.faceset import person_labels
    from lib.evaluation import verification

    rows = np.flatnonzero(bench_fs.meta["pose"].to_numpy() == "S")
    persons = person_labels(bench_fs.meta)[rows]
    return rows, verification.make_pairs(persons, 3000, 3000, np.random.default_rng(seed), folds=10)


def run(seed: int = 0, threads: int = 2) -> dict:
    import os

    import torch

    from lib.evaluation import classification, verification
    from lib.recognition.backbones import create_backbone
    from lib.recognition.embedders import embed

    torch.set_num_threads(threads)
    roof = matmul_gflops()
    flops = forward_flops(create_backbone(STEP_MODEL["backbone"]))
    ips = loop_images_per_s(threads)
    workers = os.cpu_count() or 1
    ips_side = side_by_side_images_per_s(workers)
    out = {"recognition.threads": threads, "recognition.matmul_gflops": roof,
           "recognition.forward_mflops_per_image": flops / 1e6, "recognition.train_images_per_s": ips,
           "recognition.gflops_fraction": 3 * flops * ips / 1e9 / roof,
           "recognition.side_by_side.workers": workers, "recognition.side_by_side.train_images_per_s": ips_side,
           "recognition.side_by_side.gflops_fraction": 3 * flops * ips_side / 1e9 / roof}
    try:  # what torch.compile would give the same loop (no profile uses it: its models would differ in their last bits)
        ips_c = loop_images_per_s(threads, compile=COMPILE_MODE)
        out |= {"recognition.compiled.mode": COMPILE_MODE, "recognition.compiled.train_images_per_s": ips_c,
                "recognition.compiled.gflops_fraction": 3 * flops * ips_c / 1e9 / roof}
    except Exception as err:  # e.g. no C++ compiler for TorchInductor: say so in the record
        out["recognition.compiled.error"] = f"{type(err).__name__}: {str(err)[:200]}"
    result, corpora, seconds = default_model(seed)
    bench = corpora["synth_bench"]
    rows, pairs = clean_pairs(bench, seed)
    emb = embed(result.backbone, np.asarray(bench.images[rows]), normalize=True)
    scores = verification.pair_scores(emb[pairs["a"]], emb[pairs["b"]])
    t0 = time.perf_counter()
    report = verification.verification_report(scores, pairs["same"], pairs["fold"])
    out["recognition.lfw_protocol_6000_pairs_seconds"] = time.perf_counter() - t0
    out |= {"recognition.default_model.train_or_load_seconds": seconds,
            "recognition.default_model.train_images": int(len(corpora["synth_webface"])),
            "recognition.default_model.identities": int(corpora["synth_webface"].meta["person"].nunique()),
            "recognition.default_model.verification_acc": report["acc"],
            "recognition.default_model.verification_acc_se": report["acc_se"],
            "recognition.default_model.auc": report["auc"], "recognition.default_model.eer": report["eer"],
            "recognition.default_model.tar_far1e-3": report["tar@far=1e-3"],
            "recognition.default_model.test_identities": int(bench.meta["person"].nunique())}
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(100, 512))
    labels = rng.integers(0, 100, 10000)
    feats = centres[labels] + rng.normal(scale=2.0, size=(10000, 512))
    t0 = time.perf_counter()
    classification.svm_evaluate(feats[:8000], labels[:8000], feats[8000:], labels[8000:], probability=False)
    out["recognition.svm_10k_seconds"] = time.perf_counter() - t0
    return out


def main(argv=None) -> int:
    from lib import io, paths, provenance
    from lib.device import describe

    ap = argparse.ArgumentParser(prog="python -m lib.speed.recognition", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    result = run(args.seed, args.threads)
    for k, v in result.items():
        print(f"{k:50s} {v:.4g}" if isinstance(v, float) else f"{k:50s} {v}")
    file = paths.figures_dir() / "metrics" / "benchmarks.json"
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}
    io.update_json(file, lambda d: d.update({**rounded, "recognition.when": provenance.now(),
                                             "recognition.device": describe("cpu"),
                                             "recognition.commit": provenance.git_commit()}))
    print(f"written: {file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
