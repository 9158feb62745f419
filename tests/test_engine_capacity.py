"""lib.data.engine.capacity: the capacity curve on synthetic embeddings, and its bad inputs."""

import numpy as np
import pytest

from lib.data.engine import capacity


def _embeddings(n, noise, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n, d))
    return centres + noise * rng.normal(size=(n, d)), centres + noise * rng.normal(size=(n, d))


def test_separable_persons_hold_and_confusable_ones_do_not():
    g, p = _embeddings(400, 0.05)
    curve = capacity.capacity_curve(g, p, [50, 400])
    assert list(curve["persons"]) == [50, 400] and (curve["rank1"] == 1).all() and (curve["tar@far=0.001"] == 1).all()
    assert list(curve["impostor_pairs"]) == [50 * 49, 400 * 399]
    assert capacity.holds(curve) == 400
    g, p = _embeddings(400, 3.0)  # persons drown in their own variation
    weak = capacity.capacity_curve(g, p, [50, 400])
    assert weak["tar@far=0.001"].iloc[-1] < 0.8 and weak["rank1"].iloc[-1] < weak["rank1"].iloc[0]
    assert capacity.holds(weak) == 0
    assert (weak["far_obtained"] <= 1e-3).all()


def test_prefixes_are_the_first_persons():
    g, p = _embeddings(60, 0.5)
    small = capacity.capacity_curve(g[:20], p[:20], [20])
    assert np.isclose(capacity.capacity_curve(g, p, [20, 60]).iloc[0]["rank1"], small.iloc[0]["rank1"])


def test_bad_sizes_are_refused():
    g, p = _embeddings(10, 0.1)
    with pytest.raises(ValueError, match="sizes must be 2..10"):
        capacity.capacity_curve(g, p, [20])
    with pytest.raises(ValueError, match="one shape"):
        capacity.capacity_curve(g, p[:5], [5])
    with pytest.raises(ValueError, match="n >= 2"):
        capacity.capacity_config(0)
    with pytest.raises(ValueError, match=">= 2"):
        capacity.measure([0])
    cfg = capacity.capacity_config(30)
    assert cfg.n_train == 30 and cfg.n_test == 0 and cfg.poses == {"S": 0.0} and cfg.emotions == ("neutral",)


def test_session_rows_keep_selection_order_past_999_persons():
    import pandas as pd

    persons = [f"{p:03d}" for p in range(1002)]  # the engine's names: "999", "1000", "1001"
    meta = pd.DataFrame({"index": range(2 * len(persons)), "person": [p for p in persons for _ in "AB"],
                         "session": ["A", "B"] * len(persons)})
    for s in "AB":
        assert list(capacity.session_rows(meta, s)["person"]) == persons  # "1000" after "999", not after "100"
