"""Wall-clock cost of the two heaviest protocols on synthetic data of the real sizes (``python -m lib.speed.evaluation``):
the 10-fold LFW protocol on 6000 pairs and FRA's SVM evaluation on 10k embeddings."""

from __future__ import annotations

import time

import numpy as np

from lib.evaluation.classification import svm_evaluate
from lib.evaluation.verification import lfw_protocol


def benchmark_protocols(n_pairs: int = 6000, n_embeddings: int = 10000, dim: int = 512, seed: int = 0,
                        n_classes: int = 10, probability: bool = True) -> dict:
    """Seconds for ``lfw_protocol`` (10 folds, 1000 thresholds) on ``n_pairs`` synthetic
    scores, and for ``svm_evaluate`` on ``n_embeddings`` Gaussian-cluster embeddings of
    ``dim`` dimensions in ``n_classes`` classes (80 % train, 20 % test)."""
    rng = np.random.default_rng(seed)
    same = np.arange(n_pairs) % 2 == 0
    scores = np.clip(np.where(same, rng.normal(0.55, 0.15, n_pairs), rng.normal(0.05, 0.12, n_pairs)), -1, 1)
    t0 = time.perf_counter()
    proto = lfw_protocol(scores, same, folds=10)
    t_lfw = time.perf_counter() - t0

    centres = rng.normal(0, 1, (n_classes, dim))
    y = np.arange(n_embeddings) % n_classes
    X = centres[y] * 0.15 + rng.normal(0, 1, (n_embeddings, dim))
    order = rng.permutation(n_embeddings)
    n_train = int(0.8 * n_embeddings)
    tr, te = order[:n_train], order[n_train:]
    t0 = time.perf_counter()
    res = svm_evaluate(X[tr], y[tr], X[te], y[te], probability=probability, seed=seed)
    t_svm = time.perf_counter() - t0
    return {"lfw_protocol_s": t_lfw, "svm_evaluate_s": t_svm, "n_pairs": n_pairs, "n_train": int(tr.size),
            "n_test": int(te.size), "dim": dim, "n_classes": n_classes, "probability": probability,
            "lfw_acc": proto["acc"], "svm_accuracy": res["accuracy"]}


if __name__ == "__main__":
    import json

    print(json.dumps(benchmark_protocols(), indent=1))
