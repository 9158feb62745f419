"""Speed of the recognition core on this machine: ``python -m lib.speed.recognition``.

Measures, and merges into figures/metrics/benchmarks.json:
- ``recognition.matmul_gflops``: fp32 matmul GFLOP/s of torch on this machine (the roof);
- ``recognition.train_images_per_s`` of the default-profile backbone + ArcFace head, and
  ``recognition.gflops_fraction`` = its achieved training FLOP/s (3 x the forward FLOPs
  counted by torch's FlopCounterMode) over the matmul roof;
- ``recognition.default_model.*``: the default-profile model trained from scratch on the
  engine's training identities (wall time), then verified on the held-out test identities
  (6,000 LFW-style pairs in 10 folds, the low-res paper's protocol): accuracy and AUC;
- ``recognition.lfw_protocol_6000_pairs_seconds`` and ``recognition.svm_10k_seconds``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

# The default-profile FR model: what the notebooks train on the engine (about a minute on 2 cores).
DEFAULT_MODEL = {"backbone": "iresnet_tiny", "head": "arcface", "epochs": 5, "batch_size": 64}


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


def engine_split(seed: int = 0):
    """The default engine FaceSet: train images/labels and test images/persons."""
    from lib.data.engine.build import EngineConfig, build_synth_kdef
    from lib.data.faceset import person_labels, read_faceset

    fs = read_faceset(build_synth_kdef(EngineConfig(seed=seed), progress=False), verify="fast")
    from lib.recognition.split_models import split_labels as train_labels

    rows, y = train_labels(fs.meta)
    test = np.setdiff1d(np.arange(len(fs)), rows)
    return np.asarray(fs.images[rows]), y, np.asarray(fs.images[test]), person_labels(fs.meta)[test]


def run(seed: int = 0, threads: int = 2) -> dict:
    import tempfile

    import torch

    from lib.evaluation import classification, verification
    from lib.recognition import train as T
    from lib.recognition.embedders import embed

    torch.set_num_threads(threads)
    out = {"recognition.threads": threads, "recognition.matmul_gflops": matmul_gflops()}
    x, y, x_test, id_test = engine_split(seed)
    cfg = T.TrainConfig(**DEFAULT_MODEL, seed=seed, threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = T.train(cfg, x, y, work_dir=tmp, progress=False)
        out["recognition.default_model.train_seconds"] = time.perf_counter() - t0
    hist = result.history
    ips = float(hist["images_per_s"].iloc[1:].median() if len(hist) > 1 else hist["images_per_s"].iloc[0])
    flops = forward_flops(result.backbone)
    out |= {"recognition.train_images_per_s": ips, "recognition.forward_mflops_per_image": flops / 1e6,
            "recognition.gflops_fraction": 3 * flops * ips / 1e9 / out["recognition.matmul_gflops"],
            "recognition.default_model.train_images": int(len(y)),
            "recognition.default_model.identities": int(y.max() + 1),
            "recognition.default_model.epochs": cfg.epochs}
    emb = embed(result.backbone, x_test, normalize=True)
    pairs = verification.make_pairs(id_test, 3000, 3000, np.random.default_rng(seed), folds=10)
    scores = verification.pair_scores(emb[pairs["a"]], emb[pairs["b"]])
    t0 = time.perf_counter()
    report = verification.verification_report(scores, pairs["same"], pairs["fold"])
    out["recognition.lfw_protocol_6000_pairs_seconds"] = time.perf_counter() - t0
    out |= {"recognition.default_model.verification_acc": report["acc"],
            "recognition.default_model.verification_acc_se": report["acc_se"],
            "recognition.default_model.auc": report["auc"], "recognition.default_model.eer": report["eer"],
            "recognition.default_model.test_identities": int(len(set(id_test)))}
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
