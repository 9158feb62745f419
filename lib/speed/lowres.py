"""Cost of 04_lowres's pieces on this machine: ``python -m lib.speed.lowres [--epochs-budget S]``.

Measures (2 CPU cores by default; numbers are inflated when other work shares the cores):
- the batch hooks per 64-image batch (CRB, Approach1, Approach2, AdaFace low-res) next to one
  training step of the default backbone, i.e. the hooks' share of a training step;
- one training epoch of the default TrainConfig on the default FaceSet's training split
  (``max_steps`` = one epoch, not cached);
- the evaluation of one model on the default engine suite (embeddings per model, images/s).
Then prints what the default profile costs cold (10 head-trained models + 2 fine-tunes +
12 evaluations) and the largest epoch count that fits a given budget.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for the cold default profile (8 min)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import torch

    from lib.data.engine import build as engine
    from lib.data.faceset import read_faceset
    from lib.lowres import crb, evaluate as lr_eval, margins
    from lib.recognition.split_models import split_labels
    from lib.recognition.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    fs = read_faceset(engine.build_synth_kdef(engine.EngineConfig(n_train=48, n_test=16, seed=0, emotions=(
        "afraid", "angry", "disgusted", "happy", "neutral", "sad", "surprised")), progress=False), verify="fast")
    rows, labels = split_labels(fs.meta, "train")
    images = np.asarray(fs.images[rows])
    batch = images[:64]
    hooks = {"crb": crb.CrossResolutionBatch(), "approach1": margins.MarginHook("approach1"),
             "approach2": margins.MarginHook("approach2"), "adaface_low_res": crb.RandomLowRes()}
    for name, hook in hooks.items():
        ms = 1000 * _time(lambda h=hook: h(batch, None, np.random.default_rng(0)))
        print(f"hook {name:16s} {ms:7.1f} ms per 64-image batch")
    cfg = TrainConfig(device="cpu")
    steps = len(labels) // cfg.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        train(cfg, images, labels, work_dir=tmp, max_steps=steps, progress=False)
        epoch_s = time.perf_counter() - t
    print(f"one epoch of the default TrainConfig ({steps} steps of {cfg.batch_size}): {epoch_s:.1f} s "
          f"({steps * cfg.batch_size / epoch_s:.0f} images/s)")
    suite = lr_eval.engine_suite(fs)
    from lib.recognition.backbones import create_backbone

    model = create_backbone(cfg.backbone).eval()
    count = {"n": 0}

    def embed_fn(x):
        count["n"] += len(x)
        return lr_eval.backbone_embedder(model)(x)

    t = time.perf_counter()
    lr_eval.evaluate(embed_fn, suite)
    eval_s = time.perf_counter() - t
    print(f"evaluation of one model: {count['n']} embeddings in {eval_s:.1f} s ({count['n'] / eval_s:.0f} images/s)")
    # 256 octuplets x 8 images (~0.6 epoch of images) and 512 DeriveNet images (~0.15 epoch): about 0.75 epoch
    finetune_s = 0.75 * epoch_s
    for epochs in range(cfg.epochs, 0, -1):
        cold = 10 * epochs * epoch_s + finetune_s + 12 * eval_s
        print(f"cold default profile at {epochs} epochs: ~{cold:.0f} s (10 models, 2 fine-tunes, 12 evaluations)")
        if cold <= args.budget:
            print(f"-> {epochs} epochs fit the {args.budget:.0f} s budget (8 of the 10 models are new when "
                  f"fr/arcface and fr/cosface are cached: ~{cold - 2 * epochs * epoch_s:.0f} s)")
            break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
