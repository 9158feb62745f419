"""lib.inpaint data, baselines, evaluation and api: damage, yaw filter, fixed-threshold protocol."""

from __future__ import annotations

import numpy as np
import pytest

from lib.inpaint import baselines, methods
from lib.inpaint import data as idata
from lib.inpaint import evaluate as ieval
from lib.inpaint.model import create_generator

RNG = np.random.default_rng(0)
FACES = RNG.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)


def test_damage_is_keyed_by_image_id():
    d1, m1 = idata.damage(FACES, seed=1, ids=[10, 11, 12, 13])
    d2, m2 = idata.damage(FACES[2:], seed=1, ids=[12, 13])
    assert np.array_equal(m1[2:], m2) and np.array_equal(d1[2:], d2)
    assert m1.shape == (4, 64, 64) and 0.02 < m1.mean() < 0.15  # CelebA-C: 3.4-9.6 % per mask
    assert np.array_equal(d1[~m1], FACES[~m1])  # only masked pixels change
    with pytest.raises(ValueError, match="one entry per image"):
        idata.damage(FACES, seed=1, ids=[1, 2])


def test_resize_and_bad_images():
    assert idata.resize(FACES, 32).shape == (4, 32, 32, 3)
    assert np.array_equal(idata.resize(FACES, 64), FACES)
    with pytest.raises(ValueError, match="uint8 RGB"):
        idata.resize(FACES.astype(float), 32)


def test_yaw_from_mesh_sign_and_zero():
    mesh = np.zeros((2, 478, 2))
    mesh[:, 133], mesh[:, 362] = (40, 50), (60, 50)
    mesh[0, 1], mesh[1, 1] = (50, 60), (60, 60)  # nose centred; nose at the right corner
    yaw = idata.yaw_from_mesh(mesh)
    assert yaw[0] == pytest.approx(0) and yaw[1] == pytest.approx(np.degrees(np.arctan2(10, 20)))
    with pytest.raises(ValueError, match="FaceMesh points"):
        idata.yaw_from_mesh(np.zeros((2, 68, 2)))


def test_opencv_baselines_fill_only_the_mask():
    masks = np.zeros(FACES.shape[:3], bool)
    masks[:, 20:30, 20:30] = True
    for method in ("telea", "ns"):
        out = baselines.opencv_inpaint(FACES, masks, method)
        assert np.array_equal(out[~masks], FACES[~masks]) and not np.array_equal(out[masks], FACES[masks])
    with pytest.raises(ValueError, match="telea"):
        baselines.opencv_inpaint(FACES, masks, "patchmatch")
    with pytest.raises(ValueError, match="masks must be"):
        baselines.opencv_inpaint(FACES, masks[:, :10])


def test_reconstruct_with_generators_and_names():
    damaged, masks = idata.damage(FACES, seed=0)
    assert np.array_equal(methods.reconstruct(damaged, masks, model="damaged"), damaged)
    g = create_generator("gan_masked", width=0.05, size=32)
    out = methods.reconstruct(damaged, masks, model=g, device="cpu")  # 64 px in, run at 32, pasted at 64
    assert out.shape == damaged.shape and out.dtype == np.uint8
    assert np.array_equal(out[~masks], damaged[~masks])
    blind = methods.reconstruct(damaged, masks, model=create_generator("gan", width=0.05), device="cpu")
    assert blind.shape == damaged.shape
    with pytest.raises(ValueError, match="unknown reconstruction"):
        methods.reconstruct(damaged, masks, model="lama")
    with pytest.raises(TypeError, match="VNet"):
        methods.reconstruct(damaged, masks, model=42)


def test_quality_table_orders_methods():
    damaged, masks = idata.damage(FACES, seed=0)
    q = ieval.quality_table(FACES, {"damaged": damaged, "telea": methods.reconstruct(damaged, masks, "telea")}, masks)
    assert list(q.columns) == ["psnr", "ssim", "psnr_mask", "ssim_mask"]
    assert q.loc["damaged", "psnr_mask"] < q.loc["damaged", "psnr"]  # all the error is inside the mask


def test_all_pairs_counts():
    p = ieval.all_pairs(np.array(["a", "a", "b", "b", "b"]))
    assert len(p["a"]) == 10 and p["same"].sum() == 1 + 3 and (p["a"] < p["b"]).all()
    with pytest.raises(ValueError, match="at least 2"):
        ieval.all_pairs(np.array(["a"]))


def test_fixed_threshold_protocol():
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 3)
    centres = rng.normal(size=(40, 16))
    emb = centres[ids] + 0.6 * rng.normal(size=(len(ids), 16))
    pairs = ieval.all_pairs(ids)
    noise = rng.normal(size=emb.shape)
    rep = ieval.fixed_threshold_report(emb, {"original": emb, "same": emb.copy(), "noise": noise}, pairs)
    r = rep.set_index(["condition", "target_far"])
    for far in (1e-2, 1e-3):
        assert r.loc[("original", far), "far"] <= far
        assert r.loc[("same", far), "tar"] == r.loc[("original", far), "tar"]
        assert r.loc[("noise", far), "tar"] < r.loc[("original", far), "tar"]
    assert len(set(r.xs(1e-3, level="target_far")["threshold"])) == 1  # one threshold for all conditions
    roc = ieval.roc_by_condition(emb, {"original": emb, "noise": noise}, pairs)
    assert roc["original"]["auc"] > 0.9 > roc["noise"]["auc"]
    with pytest.raises(ValueError, match="differ in shape"):
        ieval.condition_scores(emb, emb[:, :8], pairs)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(ieval.condition_scores(emb, noise, pairs),  # each pair's cosine, a vs b
                               np.sum(unit(emb)[pairs["a"]] * unit(noise)[pairs["b"]], axis=1), rtol=0, atol=1e-12)


def test_tar_bars_draw_when_a_tar_cannot_be_resolved():
    """A small test set gives NaN TAR at FAR 1e-3 (too few impostors): seaborn draws no bar for it, and
    the FAR labels must still land on the right recognisers."""
    import pandas as pd

    from lib.inpaint.plots import tar_bars

    report = pd.DataFrame({"recogniser": ["a", "b", "a", "b"], "condition": ["original", "original", "gan", "gan"],
                           "target_far": 1e-3, "tar": [0.9, np.nan, 0.8, 0.7], "far": [1e-3, np.nan, 2e-3, 5e-4]})
    fig = tar_bars(report)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1e-3", "2e-3", "5e-4"]  # a original, a gan, b gan: no bar, no label for b original


def test_far_excess_p_separates_counting_noise_from_a_shift():
    """At 497,500 impostor pairs and a 1e-3 target, 518 false accepts (FAR 0.00104) are counting noise,
    600 (0.00121) are not; a FAR at or below the target is never significant; nothing to count is NaN."""
    n = 497_500
    assert ieval.far_excess_p(518 / n, 1e-3, n) > 0.1
    assert ieval.far_excess_p(600 / n, 1e-3, n) < 1e-3
    assert ieval.far_excess_p(0.0005, 1e-3, n) > 0.99
    assert np.isnan(ieval.far_excess_p(np.nan, 1e-3, n)) and np.isnan(ieval.far_excess_p(1e-3, 1e-3, 0))


def test_before_after_shows_the_chosen_images_and_wraps_long_names():
    from lib.inpaint.plots import before_after

    imgs = np.stack([np.full((4, 4, 3), v, np.uint8) for v in range(10)])
    fig = before_after({"original": imgs, "generator, lr 0.001, 1 epoch": imgs}, n=3, index=[7, 2, 5, 9])
    assert len(fig.axes) == 6
    assert [int(ax.images[0].get_array()[0, 0, 0]) for ax in fig.axes[:3]] == [7, 2, 5]
    assert "\n" in fig.axes[3].get_ylabel()
