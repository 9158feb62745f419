"""FR training under ``torchrun --nproc_per_node=2`` on CPU (Gloo), through lib.recognition.cli.

Two processes with the same global batch must train to the weights one process trains: each rank
sees half of every batch and DDP averages the gradients, so only the order of float additions
differs. The backbone is a small SphereFace-20 (no BatchNorm, whose statistics stay per process),
without random flips or photometric augmentation (their draws are per rank). Tolerance: 1e-5
absolute on every weight after 8 SGD steps. Measured on 2 CPU cores: 7.5e-8 between two processes and
one, 0.89 between two seeds, 0 between a stopped-and-resumed two-process run and an uninterrupted one.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from lib.data.faceset import write_faceset

from .conftest import REPO

SETS = ["backbone=sphere20", 'backbone_kwargs={"layers": [1, 1, 1, 1], "width": 8, "input_size": 32, '
        '"embedding_size": 32}', "head=arcface", "photometric=\"none\"", "hflip=false", "batch_size=8", "epochs=2",
        "lr=0.05", "warmup_epochs=0", "device=\"cpu\"", "threads=1"]
TOL = 1e-5


@pytest.fixture(scope="module")
def faceset(tmp_path_factory):
    rng = np.random.default_rng(0)
    persons = np.repeat(np.arange(4), 8)
    base = rng.integers(0, 256, (4, 32, 32, 3))
    images = np.clip(base[persons] + rng.normal(0, 20, (32, 32, 32, 3)), 0, 255).astype(np.uint8)
    meta = pd.DataFrame({"identity": [f"p{p}" for p in persons], "session": "A", "emotion": "neutral", "pose": "S",
                         "yaw": 0.0, "split": "train", "source": "tests"})
    card = {"name": "ddp", "kind": "synthetic", "generator": "tests", "version": "0", "seed": 0, "parameters": {}}
    return write_faceset(tmp_path_factory.mktemp("fs") / "fs", images, meta, card=card)


def _train(faceset, work, nproc: int, *extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] \
        if nproc > 1 else [sys.executable]
    cmd = [*launcher, "-m", "lib.recognition.cli", str(faceset), "--work-dir", str(work),
           *(a for s in SETS for a in ("--set", s)), *extra]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _weights(work) -> dict:
    state = torch.load(work / "model.pt", map_location="cpu", weights_only=False)
    return {f"{part}.{k}": v.double() for part in ("backbone", "head") for k, v in state[part].items()}


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def two_and_one(faceset, tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    out2 = _train(faceset, root / "two", 2)
    out1 = _train(faceset, root / "one", 1)
    _train(faceset, root / "reseeded", 1, "--set", "seed=1")
    return root, out2, out1


def test_two_processes_train_the_weights_of_one(two_and_one):
    root, out2, out1 = two_and_one
    assert "on 2 process(es)" in out2 and "on 1 process(es)" in out1
    two, one = _weights(root / "two"), _weights(root / "one")
    assert _max_diff(two, one) < TOL
    assert _max_diff(one, _weights(root / "reseeded")) > 100 * TOL  # the tolerance separates different training
    history = pd.read_csv(root / "two" / "history.csv")
    assert len(history) == 2 and history["loss"].iloc[-1] < history["loss"].iloc[0]


def test_a_stopped_ddp_run_resumes_to_the_same_weights(faceset, two_and_one, tmp_path):
    root, _, _ = two_and_one
    _train(faceset, tmp_path, 2, "--max-steps", "3")  # stops inside epoch 1 (4 steps an epoch)
    assert (tmp_path / "last.pt").is_file() and not (tmp_path / "model.pt").exists()
    out = _train(faceset, tmp_path, 2)
    assert "resumed from step 3" in out
    assert _max_diff(_weights(tmp_path), _weights(root / "two")) < TOL


def test_bad_settings_are_refused(faceset, tmp_path):
    from lib.recognition import cli

    with pytest.raises(SystemExit, match="key one of"):
        cli.main([str(faceset), "--set", "epoch=3", "--work-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="needs --work-dir"):
        cli.main([str(faceset), "--max-steps", "2"])
