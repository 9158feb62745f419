"""lib.evaluation.replication: results of several seeds averaged."""

from __future__ import annotations

import numpy as np
import pytest

from lib.evaluation.replication import mean_of_runs


def test_numbers_are_averaged_and_per_item_values_left_out():
    a = {"m": {"lfw.7": 0.8, "lfw_correct.7": "0110", "n": 4}, ("h", "a"): {"clean": {"acc": 0.9, "correct": np.ones(3)}}}
    b = {"m": {"lfw.7": 0.6, "lfw_correct.7": "1110", "n": 4}, ("h", "a"): {"clean": {"acc": 0.7, "correct": np.zeros(3)}}}
    out = mean_of_runs([a, b])
    assert out["m"] == {"lfw.7": pytest.approx(0.7), "n": 4.0}
    assert out[("h", "a")] == {"clean": {"acc": pytest.approx(0.8)}}


def test_one_run_is_itself_and_nan_stays_nan():
    out = mean_of_runs([{"x": 0.5, "y": float("nan")}])
    assert out["x"] == 0.5 and np.isnan(out["y"])


def test_keys_must_agree_and_runs_must_exist():
    with pytest.raises(ValueError, match="run 1 has keys"):
        mean_of_runs([{"x": 1.0, "y": 2.0}, {"x": 1.0}])
    with pytest.raises(ValueError, match="at least one run"):
        mean_of_runs([])
