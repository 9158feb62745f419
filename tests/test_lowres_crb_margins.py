"""lib.lowres.crb and lib.lowres.margins: Cross-Resolution Batch, AdaFace low-res, Approach1/2 margins."""

from __future__ import annotations

import numpy as np
import pytest

from lib.data.degrade import down_up
from lib.lowres import crb, margins


def _faces(n=8, size=112, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, size // 8, size // 8, 3)).astype(np.uint8)
    return np.stack([np.kron(b, np.ones((8, 8, 1), np.uint8)) for b in base])  # blocky: sharp edges


def test_crb_degrades_exactly_half_with_down_up():
    x = _faces(8)
    out, sides = crb.CrossResolutionBatch().apply(x, np.random.default_rng(1))
    assert (sides > 0).sum() == 4 and set(sides[sides > 0]) == {16}
    for i in range(8):
        expected = down_up(x[i], 16) if sides[i] else x[i]
        np.testing.assert_array_equal(out[i], expected)
    assert out.dtype == np.uint8 and out.shape == x.shape


def test_crb_is_reproducible_per_rng_and_varies_across_steps():
    x = _faces(16)
    hook = crb.CrossResolutionBatch()
    a = hook.apply(x, np.random.default_rng(3))[1]
    b = hook.apply(x, np.random.default_rng(3))[1]
    c = hook.apply(x, np.random.default_rng(4))[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a > 0, c > 0)
    np.testing.assert_array_equal(hook(x, None, np.random.default_rng(3)), hook.apply(x, np.random.default_rng(3))[0])


def test_crb_resolution_list_and_fraction():
    x = _faces(20)
    _, sides = crb.CrossResolutionBatch(resolutions=[7, 14, 28], fraction=0.25).apply(x, np.random.default_rng(0))
    assert (sides > 0).sum() == 5 and set(sides[sides > 0]) <= {7, 14, 28}
    assert crb.CrossResolutionBatch(resolutions=[7, 14]).key() == {
        "hook": "cross_resolution_batch", "resolutions": [7, 14], "fraction": 0.5, "interpolation": "bilinear"}


@pytest.mark.parametrize("kwargs, match", [({"resolutions": []}, "resolutions"), ({"fraction": 1.5}, "fraction"),
                                           ({"resolutions": [0]}, "resolutions")])
def test_crb_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        crb.CrossResolutionBatch(**kwargs)


def test_crb_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        crb.CrossResolutionBatch().apply(np.zeros((2, 112, 112, 3), np.float32), np.random.default_rng(0))


def test_adaface_low_res_probability_and_sides():
    x = _faces(50)
    out, sides = crb.RandomLowRes(p=0.0).apply(x, np.random.default_rng(0))
    assert not sides.any()
    np.testing.assert_array_equal(out, x)
    out, sides = crb.RandomLowRes(p=1.0).apply(x, np.random.default_rng(0))
    assert sides.min() >= int(0.2 * 112) and sides.max() <= 112
    with pytest.raises(ValueError, match="side_ratio"):
        crb.RandomLowRes(side_ratio=(0.0, 1.0))


def test_sharpness_known_value_and_flat_image():
    img = np.zeros((1, 21, 21, 3), np.uint8)
    img[0, 10, 10] = 100  # a point: |Laplacian| = 4*100 at it and 100 at each of 4 neighbours, per channel
    np.testing.assert_allclose(margins.sharpness(img), [800 / (21 * 21)])
    assert margins.sharpness(np.full((1, 8, 8, 3), 77, np.uint8))[0] == 0


def test_approach2_margins_low_res_gets_larger_margin_and_bounds_clip():
    x = _faces(6)
    hr, lr = margins.approach2_margins(x), margins.approach2_margins(crb.degrade(x, 16))
    assert (lr > hr).all()
    np.testing.assert_allclose(hr, 1 / margins.sharpness(x), rtol=1e-6)
    both = margins.approach2_margins(np.concatenate([x, crb.degrade(x, 7)]), bounds=(0.35, 0.5))
    assert both.min() >= 0.35 and both.max() <= 0.5
    flat = margins.approach2_margins(np.full((1, 8, 8, 3), 5, np.uint8))
    assert np.isfinite(flat).all() and flat[0] == pytest.approx(1 / margins.EPS)
    with pytest.raises(ValueError, match="bounds"):
        margins.approach2_margins(x, bounds=(0.5, 0.3))


def test_approach1_margins():
    np.testing.assert_array_equal(margins.approach1_margins([0, 16, 0, 7]), np.float32([0.35, 0.5, 0.35, 0.5]))


def test_margin_hook_outputs_match_the_degraded_images():
    x = _faces(8)
    out, m = margins.MarginHook("approach1")(x, None, np.random.default_rng(2))
    degraded = np.array([not np.array_equal(a, b) for a, b in zip(out, x)])
    np.testing.assert_array_equal(m, np.where(degraded, 0.5, 0.35).astype(np.float32))
    out2, m2 = margins.MarginHook("approach2", bounds=(0.1, 0.9))(x, None, np.random.default_rng(2))
    np.testing.assert_array_equal(out2, out)  # same CRB draw for the same step generator
    np.testing.assert_allclose(m2, margins.approach2_margins(out, bounds=(0.1, 0.9)))
    assert margins.MarginHook("approach2").key()["bounds"] is None


def test_margin_hook_bad_arguments():
    with pytest.raises(ValueError, match="approach"):
        margins.MarginHook("approach3")
    with pytest.raises(ValueError, match="approach2 only"):
        margins.MarginHook("approach1", bounds=(0.3, 0.5))


def test_margin_hook_trains_the_adaptive_arcface_head(tmp_path):
    from lib.recognition.train import TrainConfig, train

    x = _faces(16)
    labels = np.repeat(np.arange(4), 4)
    cfg = TrainConfig(head="adaptive_arcface", epochs=1, batch_size=8, device="cpu")
    r = train(cfg, x, labels, work_dir=tmp_path, batch_hook=margins.MarginHook("approach2", bounds=(0.35, 0.5)),
              progress=False)
    assert len(r.history) == 1 and np.isfinite(r.history["loss"]).all()
