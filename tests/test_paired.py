"""lib.evaluation.paired: the paired bootstrap over persons and McNemar's exact test."""

from __future__ import annotations

import numpy as np
import pytest

from lib.evaluation.paired import mcnemar, paired_bootstrap, replicated
from lib.inpaint.evaluate import all_pairs, paired_tar_gain


def test_identical_methods_give_zero_and_an_interval_around_it():
    rng = np.random.default_rng(0)
    a = rng.random(400) < 0.7
    r = paired_bootstrap(a, a.copy(), np.repeat(np.arange(40), 10), n=200)
    assert r["diff"] == 0 and r["lo"] == 0 and r["hi"] == 0 and r["n_groups"] == 40 and r["p"] == 1.0


def test_a_clear_gain_is_resolved_and_a_noisy_one_is_not():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(50), 8)
    a = rng.random(400) < 0.5
    better = a | (rng.random(400) < 0.3)  # B accepts everything A does, and more
    r = paired_bootstrap(a, better, groups, n=500)
    assert r["lo"] > 0 and r["p"] < 0.01 and r["lo"] <= r["diff"] <= r["hi"]
    noise = rng.random(400) < 0.5  # an independent coin: no real gain
    q = paired_bootstrap(a, noise, groups, n=500)
    assert q["lo"] < 0 < q["hi"]


def test_resampling_persons_widens_the_interval_of_correlated_pairs():
    # every pair of a person has the same outcome: 10 persons, not 200 independent pairs
    groups = np.repeat(np.arange(10), 20)
    a = np.zeros(200, bool)
    b = np.repeat(np.random.default_rng(2).random(10) < 0.6, 20)
    by_person = paired_bootstrap(a, b, groups, n=1000)
    by_pair = paired_bootstrap(a, b, np.arange(200), n=1000)
    assert by_person["hi"] - by_person["lo"] > 2 * (by_pair["hi"] - by_pair["lo"])


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="one shape"):
        paired_bootstrap([1, 0], [1], [0, 1])
    with pytest.raises(ValueError, match="one label per item"):
        paired_bootstrap([1, 0], [1, 1], [0])
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap([1, 0], [1, 1], [0, 1], level=1.5)
    with pytest.raises(ValueError, match="one shape"):
        mcnemar([True], [True, False])


def test_mcnemar_counts_only_discordant_items():
    a = np.array([True] * 50 + [False] * 10)
    b = np.array([True] * 50 + [True] * 10)  # 10 items only B gets right, none only A
    r = mcnemar(a, b)
    assert (r["a_only"], r["b_only"]) == (0, 10) and r["p"] == pytest.approx(2 * 0.5 ** 10)
    assert mcnemar(a, a)["p"] == 1.0
    assert r["diff"] == pytest.approx(10 / 60)


def test_paired_tar_gain_uses_the_threshold_of_the_original_pairs():
    rng = np.random.default_rng(3)
    persons = np.repeat(np.arange(60), 3)
    centres = rng.normal(size=(60, 32))
    ref = centres[persons] + 0.3 * rng.normal(size=(180, 32))
    damaged = ref + 2.0 * rng.normal(size=ref.shape)  # the damage destroys the identity
    pairs = all_pairs(persons)
    r = paired_tar_gain(ref, damaged, ref, pairs, persons, 1e-2, n=200)
    assert r["tar_b"] > r["tar_a"] and r["lo"] > 0 and r["n_groups"] == 60
    assert r["diff"] == pytest.approx(r["tar_b"] - r["tar_a"])
    few = all_pairs(persons[:6])  # 3 impostor pairs cannot resolve FAR 1e-3
    assert np.isnan(paired_tar_gain(ref[:6], damaged[:6], ref[:6], few, persons[:6], 1e-3)["diff"])


def _tests(rows):
    import pandas as pd

    return pd.DataFrame(rows, columns=["method", "seed", "diff", "p"])


def test_replicated_resolves_only_what_every_seed_resolves_in_one_direction():
    t = _tests([("a", 0, 0.03, 0.001), ("a", 1, 0.02, 0.01),     # both seeds: better
                ("b", 0, -0.04, 0.001), ("b", 1, -0.01, 0.04),   # both seeds: worse
                ("c", 0, 0.05, 0.0001), ("c", 1, 0.01, 0.30),    # one seed only
                ("d", 0, 0.05, 0.0001), ("d", 1, -0.05, 0.0001)])  # opposite directions
    r = replicated(t, "method").set_index("method")
    assert r.loc["a", "verdict"] == "better" and r.loc["a", "p"] == pytest.approx(0.01)
    assert r.loc["b", "verdict"] == "worse" and r.loc["b", "p"] == pytest.approx(0.04)
    assert r.loc["c", "verdict"] == "not resolved" and r.loc["c", "p"] == pytest.approx(0.30)
    assert r.loc["d", "verdict"] == "not resolved" and r.loc["d", "p"] == 1.0
    assert r.loc["a", "diff"] == pytest.approx(0.025) and r.loc["c", "p_s0"] == pytest.approx(0.0001)
    assert r.loc["d", "diff_s1"] == pytest.approx(-0.05) and (r["seeds"] == 2).all()


def test_replicated_with_one_seed_is_that_seeds_test():
    r = replicated(_tests([("a", 0, 0.02, 0.03), ("b", 0, 0.0, 1.0)]), ["method"]).set_index("method")
    assert r.loc["a", "verdict"] == "better" and r.loc["a", "p"] == pytest.approx(0.03)
    assert r.loc["b", "verdict"] == "not resolved"  # a tie shares no sign


def test_replicated_rejects_missing_columns_and_repeated_rows():
    with pytest.raises(ValueError, match="lack the column"):
        replicated(_tests([("a", 0, 0.1, 0.01)]).drop(columns="p"), "method")
    with pytest.raises(ValueError, match="more than one row"):
        replicated(_tests([("a", 0, 0.1, 0.01), ("a", 0, 0.2, 0.01)]), "method")
