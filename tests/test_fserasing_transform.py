"""lib.fserasing.transform: FSErasing as published, its batch hook, and the baselines' hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.fserasing import transform as T


def _mask(h=8, w=8):
    m = np.zeros((h, w), np.uint8)
    m[:4, :4], m[:4, 4:], m[4:, :4] = 1, 2, 3  # classes 0 (bottom right), 1, 2, 3
    return m


def _x(h=8, w=8, v=-0.5):
    return np.full((3, h, w), v, np.float32)


def test_p_zero_erases_nothing():
    out, classes = T.erase(_x(), _mask(), np.random.default_rng(0), p=0.0)
    assert classes == [] and np.array_equal(out, _x())


def test_explicit_classes_and_constant_fill():
    out, classes = T.erase(_x(), _mask(), np.random.default_rng(0), n_erase=[1, 3], value=2.0)
    assert classes == [1, 3]
    erased = np.isin(_mask(), [1, 3])
    assert (out[:, erased] == 2.0).all() and (out[:, ~erased] == -0.5).all()


def test_random_fill_is_uniform_01_per_pixel_as_the_code():
    out, _ = T.erase(_x(32, 32), np.ones((32, 32), np.uint8), np.random.default_rng(0), n_erase=[1], value="random")
    assert 0 <= out.min() and out.max() < 1 and out.std() > 0.2
    assert not np.allclose(out[0], out[1])  # per channel


def test_random_1_fill_is_one_colour_per_channel():
    out, _ = T.erase(_x(), _mask(), np.random.default_rng(3), n_erase=[2], value="random_1")
    region = out[:, _mask() == 2]
    assert np.allclose(region, region[:, :1]) and not np.allclose(region[:, 0], -0.5)


def test_random_mix_gives_both_kinds():
    kinds = set()
    for s in range(20):
        out, _ = T.erase(_x(), _mask(), np.random.default_rng(s), n_erase=[1], value="random_mix")
        kinds.add(bool(np.allclose(out[:, :4, :4], out[:, :1, :1])))
    assert kinds == {True, False}


def test_int_and_range_draw_distinct_classes():
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert len(set(T.choose_classes(rng, 3))) == 3
        n = len(set(T.choose_classes(rng, (1, 4))))
        assert 1 <= n <= 4
    counts = np.bincount(np.concatenate([T.choose_classes(rng, 1) for _ in range(2500)]), minlength=25)
    assert counts.min() > 50  # uniform over all 25 classes


def test_absent_class_erases_nothing():
    out, classes = T.erase(_x(), _mask(), np.random.default_rng(0), n_erase=[7])
    assert classes == [7] and np.array_equal(out, _x())


def test_torchvision_style_call_with_dataset_masks_and_flip():
    masks = np.zeros((2, 8, 8), np.uint8)
    masks[1, :, :2] = 5  # class 5 on the left two columns of image 1
    t = T.FSErasing(n_erase=[5], value=1.0, masks=masks)
    img = torch.zeros(3, 8, 8)
    out = t(img, 1, flip=False, rng=np.random.default_rng(0))
    assert isinstance(out, torch.Tensor) and (out[:, :, :2] == 1).all() and (out[:, :, 2:] == 0).all()
    flipped = t(img, 1, flip=True, rng=np.random.default_rng(0))
    assert (flipped[:, :, -2:] == 1).all() and (flipped[:, :, :-2] == 0).all()
    torch.manual_seed(0)
    a = T.FSErasing(masks=masks)(img, 1)
    torch.manual_seed(0)
    assert torch.equal(a, T.FSErasing(masks=masks)(img, 1))  # torch's seed fixes it
    assert "FSErasing(p=1.0" in repr(t)


@pytest.mark.parametrize("kwargs, match", [({"p": 1.5}, "p must be"), ({"n_erase": (3, 1)}, "range"),
                                           ({"n_erase": [30]}, "class ids"), ({"n_erase": 26}, "n_erase"),
                                           ({"value": "noise"}, "value must be")])
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.FSErasing(**kwargs)


def _images(n=4):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)


def test_hook_mirrors_the_mask_of_mirrored_images():
    images = _images()
    masks = np.zeros((4, 8, 8), np.uint8)
    masks[:, :, :2] = 9
    hook = T.FSErasingHook(masks, images, n_erase=[9], value=0.0)  # 0 in normalised units = 127.5 -> 128
    batch = images[[2, 1]].copy()
    batch[1] = batch[1, :, ::-1]
    out = hook(batch, np.array([2, 1]), np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == batch.shape
    assert (out[0, :, :2] == 128).all() and np.array_equal(out[0, :, 2:], batch[0, :, 2:])
    assert (out[1, :, -2:] == 128).all() and np.array_equal(out[1, :, :-2], batch[1, :, :-2])
    assert hook.key()["augmentation"] == "fserasing"


def test_hook_refuses_images_it_does_not_know():
    images = _images()
    hook = T.FSErasingHook(np.zeros((4, 8, 8), np.uint8), images)
    with pytest.raises(ValueError, match="neither their stored original"):
        hook(255 - images[:2], np.array([0, 1]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="must match the images"):
        T.FSErasingHook(np.zeros((3, 8, 8), np.uint8), images)


def test_random_1_fill_is_clipped_to_uint8_in_the_hook():
    images = _images(1)
    hook = T.FSErasingHook(np.ones((1, 8, 8), np.uint8), images, n_erase=[1], value=5.0)
    assert (hook(images.copy(), np.array([0]), np.random.default_rng(0)) == 255).all()


def test_baseline_hooks():
    images = np.full((3, 32, 32, 3), 100, np.uint8)
    rng = np.random.default_rng(0)
    cut = T.CutoutHook(size=8, value=0)(images, np.arange(3), rng)
    assert cut.shape == images.shape and ((cut == 0).all(-1).sum((1, 2)) > 0).all()
    re = T.RandomErasingHook(p=1.0)(images, np.arange(3), rng)
    assert re.dtype == np.uint8 and (re != 100).any()
    assert T.CutoutHook(size=8).key() == {"augmentation": "cutout", "size": 8, "p": 1.0, "value": [0]}
    assert T.RandomErasingHook().key()["p"] == 0.5


def test_classes_are_drawn_among_those_present():
    mask = np.zeros((8, 8), np.int64)
    mask[2:4] = 7
    mask[5:7] = 12
    x = np.zeros((3, 8, 8), np.float32)
    drawn = set()
    for s in range(40):
        out, classes = T.erase(x, mask, np.random.default_rng(s), n_erase=1)
        assert len(classes) == 1 and classes[0] in (0, 7, 12)  # never a class absent from the mask
        assert (out != 0).any()  # so every draw erases something
        drawn.add(classes[0])
    assert drawn == {0, 7, 12}
    _, many = T.erase(x, mask, np.random.default_rng(0), n_erase=5)
    assert sorted(many) == [0, 7, 12]  # at most the classes present
    published = [T.erase(x, mask, np.random.default_rng(s), n_erase=1, among="all")[1][0] for s in range(40)]
    assert any(c not in (0, 7, 12) for c in published)  # the published draw: any of the 25
    with pytest.raises(ValueError, match="among"):
        T.FSErasing(among="some")


def test_hook_uses_the_loops_flips_when_given():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 8, 8, 3)).astype(np.uint8)
    masks = np.zeros((4, 8, 8), np.uint8)
    masks[:, :, :4] = 3  # the left half is class 3
    hook = T.FSErasingHook(masks, images, n_erase=[3])
    batch = images.copy()
    batch[1] = batch[1, :, ::-1]
    flipped = np.array([False, True, False, False])
    detected = hook(batch, np.arange(4), np.random.default_rng(1))
    told = hook(batch, np.arange(4), np.random.default_rng(1), flipped=flipped)
    np.testing.assert_array_equal(detected, told)
    assert (told[1, :, :4] == batch[1, :, :4]).all() and (told[1, :, 4:] != batch[1, :, 4:]).any()  # mask mirrored
    grey = (batch.mean(-1, keepdims=True).repeat(3, -1)).astype(np.uint8)  # pixels changed by a photometric step
    with pytest.raises(ValueError, match="neither"):
        hook(grey, np.arange(4), np.random.default_rng(1))
    hook(grey, np.arange(4), np.random.default_rng(1), flipped=flipped)  # the loop's flips still work
