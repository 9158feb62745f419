"""The GPU check (lib.gpu_check): its checks run the library's training loops, here at tiny sizes on the
CPU; without CUDA the command writes nothing and exits 0. Its results on a GPU are in
figures/metrics/gpu_check.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lib import gpu_check
from lib.paths import repo_root


def test_without_cuda_it_says_so_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--out", str(out)]) == 0
    assert not out.exists()
    assert "no CUDA device" in capsys.readouterr().out


@pytest.mark.parametrize("only", [["recognition.arcface", "recognition.adaptive_arcface"],
                                  ["inpaint.gan", "fserasing.parser", "fra"]])
def test_checks_train_through_the_library_loops_and_their_losses_fall(only):
    res = gpu_check.run_checks("cpu", tiny=True, only=only, log=lambda *a: None)
    assert sorted(res["checks"]) == sorted(only)
    for name, r in res["checks"].items():
        assert "error" not in r, (name, r)
        assert r["passed"] and np.isfinite(r["loss_last"]) and r["loss_last"] < r["loss_first"], (name, r)
        assert r.get("images_per_s", r.get("pairs_per_s")) > 0
    assert res["passed"]


def test_a_check_that_breaks_is_reported_failed_and_the_rest_still_run(monkeypatch):
    def broken(s, d, w):
        raise RuntimeError("boom")

    monkeypatch.setattr(gpu_check, "checks", lambda heads=None: {"broken": broken, "fra": gpu_check.check_fra})
    res = gpu_check.run_checks("cpu", tiny=True, log=lambda *a: None)
    assert res["checks"]["broken"] == {"passed": False, "error": "RuntimeError: boom",
                                       "seconds": res["checks"]["broken"]["seconds"]}
    assert res["checks"]["fra"]["passed"] and not res["passed"]


def test_a_loss_that_rises_or_is_not_finite_fails():
    assert not gpu_check._losses({"loss": [1.0, 2.0]})["passed"]
    assert not gpu_check._losses({"loss": [1.0, float("nan")]})["passed"]
    assert gpu_check._losses({"loss": [0.0, 0.0]})["passed"]  # at the floor from the start (sphereface_lowres)


def test_the_recorded_gpu_run_covers_every_head_and_model():
    from lib.recognition.heads import head_names

    rec = json.loads((repo_root() / "figures" / "metrics" / "gpu_check.json").read_text())
    assert set(rec["checks"]) == set(gpu_check.checks()) == {f"recognition.{h}" for h in head_names()} | {
        "inpaint.gan", "fserasing.parser", "fra"}
    assert rec["passed"] and "cuda" in rec and rec["checks"]["inpaint.gan"]["peak_mib"] > 0
