"""lib.data.degrade: CelebA-C masks and fill, down/up sampling, erasing baselines, occlusions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lib.data.degrade import (band_occlusion, celeba_c_damage, celeba_c_mask, cutout, down_up, down_up_batch,
                              fill_noise, mask_coverage_stats, mouth_occlusion, random_erasing)


def rng(seed=0):
    return np.random.default_rng(seed)


def face(seed=0, size=112):
    """A detailed test image: smoothed noise plus a checkerboard."""
    noise = cv2.GaussianBlur(rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8), (3, 3), 0)
    checker = ((np.indices((size, size)).sum(0) // 4) % 2 * 80)[..., None].astype(np.uint8)
    return (noise // 2 + checker).astype(np.uint8)


def lap_var(image):
    return cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()


# ---------------------------------------------------------------- CelebA-C

def test_mask_deterministic_per_seed_and_differs_across_seeds():
    a, b, c = celeba_c_mask(rng(3)), celeba_c_mask(rng(3)), celeba_c_mask(rng(4))
    assert a.dtype == bool and a.shape == (256, 256)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(celeba_c_mask(7), celeba_c_mask(rng(7)))  # int seed == default_rng(seed)


def test_mask_coverage_matches_published_statistics():
    g = rng(0)
    cov = np.array([celeba_c_mask(g).mean() for _ in range(300)])
    assert 0.055 <= cov.mean() <= 0.085  # published 0.071
    assert cov.min() >= 0.02 and cov.max() <= 0.13
    stats = mask_coverage_stats(300, rng(0))
    assert stats["mean"] == pytest.approx(cov.mean()) and stats["min"] == pytest.approx(cov.min())
    assert 0.005 <= stats["sd"] <= 0.02  # published 0.010


def test_mask_stays_inside_clamp_region():
    union = np.zeros((256, 256), bool)
    g = rng(1)
    for _ in range(200):
        union |= celeba_c_mask(g)
    ys, xs = np.nonzero(union)
    # endpoints clamped to x in [35, 221], y in [50, 216], plus half the widest line (6 px)
    assert xs.min() >= 35 - 7 and xs.max() <= 221 + 7 and ys.min() >= 50 - 7 and ys.max() <= 216 + 7


def test_mask_112_keeps_coverage_of_256():
    m256 = mask_coverage_stats(300, rng(5))["mean"]
    m112 = mask_coverage_stats(300, rng(5), shape=(112, 112))["mean"]
    assert abs(m112 - m256) <= 0.01
    assert celeba_c_mask(rng(0), (112, 96)).shape == (112, 96)


def test_mask_square_at_start_point():
    for seed in range(10):
        g = rng(seed)
        x, y = int(g.integers(90, 166)), int(g.integers(100, 181))  # the first two draws are the start
        assert celeba_c_mask(rng(seed))[y - 10:y + 11, x - 10:x + 11].all()


def test_strict_no_reverse_variant_runs():
    stats = mask_coverage_stats(100, rng(0), upstream_quirk=False)
    assert 0.055 <= stats["mean"] <= 0.09


def test_fill_noise_only_masked_pixels_and_statistics():
    image = np.full((256, 256, 3), 100, np.uint8)
    mask = np.zeros((256, 256), bool)
    mask[50:150, 60:200] = True
    out = fill_noise(image, mask, rng(0))
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask])
    vals = out[mask].astype(float)
    assert abs(vals.mean() - 128) <= 5 and abs(vals.std() - 35) <= 5
    assert np.array_equal(image, np.full((256, 256, 3), 100, np.uint8))  # input untouched


def test_celeba_c_damage_combines_mask_and_fill():
    image = face(size=256)
    damaged, mask = celeba_c_damage(image, rng(2))
    assert mask.shape == (256, 256) and mask.any()
    assert np.array_equal(damaged[~mask], image[~mask])
    assert (damaged[mask] != image[mask]).mean() > 0.9
    d2, m2 = celeba_c_damage(image, rng(2))
    assert np.array_equal(d2, damaged) and np.array_equal(m2, mask)


# ---------------------------------------------------------------- low resolution

def test_down_up_shape_identity_and_detail_loss():
    image = face()
    assert down_up(image, 112).shape == (112, 112, 3)
    same = down_up(image, 112)
    assert np.array_equal(same, image) and same is not image
    assert np.array_equal(down_up(image, 500), image)
    low = down_up(image, 7)
    assert low.shape == image.shape and low.dtype == np.uint8
    assert lap_var(low) < 0.05 * lap_var(image)
    assert lap_var(down_up(image, 7)) < lap_var(down_up(image, 28)) < lap_var(down_up(image, 56))
    for interp in ("bicubic", "area", "nearest"):
        assert down_up(image, 16, interpolation=interp).shape == image.shape
    assert down_up(image, 16, out=64).shape == (64, 64, 3)
    assert down_up(image, 16, out=(50, 60)).shape == (50, 60, 3)


def test_down_up_matches_protocol():
    image = face()
    expect = cv2.resize(cv2.resize(image, (14, 14), interpolation=cv2.INTER_LINEAR), (112, 112),
                        interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(down_up(image, 14), expect)


def test_down_up_batch():
    batch = np.stack([face(s) for s in range(3)])
    out = down_up_batch(batch, 16)
    assert out.shape == batch.shape
    assert np.array_equal(out[1], down_up(batch[1], 16))
    with pytest.raises(ValueError, match="images"):
        down_up_batch(batch[0], 16)


@pytest.mark.parametrize("t", [0, -3, 2.5, True, "16", None])
def test_down_up_invalid_t(t):
    with pytest.raises(ValueError, match="t must be a positive int"):
        down_up(face(), t)


# ---------------------------------------------------------------- erasing baselines

def test_random_erasing_p0_is_identity():
    image = face()
    out, box = random_erasing(image, rng(0), p=0.0)
    assert box is None and np.array_equal(out, image)


def test_random_erasing_p1_box_within_scale():
    image = np.zeros((112, 112, 3), np.uint8)
    g = rng(0)
    for _ in range(100):
        out, box = random_erasing(image, g, p=1.0, value=(255, 0, 0))
        assert box is not None
        top, left, h, w = box
        assert 0 <= top and top + h <= 112 and 0 <= left and left + w <= 112
        assert 0.02 - 0.01 <= h * w / 112**2 <= 0.33 + 0.01
        changed = out.any(axis=2)
        assert changed.sum() == h * w and changed[top:top + h, left:left + w].all()
    out, box = random_erasing(image, rng(1), p=1.0)  # "random" = uniform noise
    top, left, h, w = box
    assert out[top:top + h, left:left + w].std() > 50


def test_random_erasing_deterministic():
    image = face()
    a, b = random_erasing(image, rng(9), p=1.0), random_erasing(image, rng(9), p=1.0)
    assert a[1] == b[1] and np.array_equal(a[0], b[0])


def test_cutout_clips_at_borders():
    image = np.zeros((32, 32, 3), np.uint8)
    clipped = full = 0
    for seed in range(200):
        out, box = cutout(image, rng(seed), size=16, value=255)
        top, left, h, w = box
        assert 0 <= top and top + h <= 32 and 0 <= left and left + w <= 32
        assert h <= 16 and w <= 16
        changed = out.any(axis=2)
        assert changed.sum() == h * w and changed[top:top + h, left:left + w].all()
        clipped += (h < 16 or w < 16)
        full += (h == 16 and w == 16)
    assert clipped > 0 and full > 0
    out, box = cutout(image, rng(0), size=8, p=0.0)
    assert box is None and not out.any()


# ---------------------------------------------------------------- occlusions

def test_band_occlusion_covers_eye_rows():
    image = face()
    for seed in range(50):
        out, mask = band_occlusion(image, rng(seed))
        rows = np.nonzero(mask.any(axis=1))[0]
        assert rows.min() >= round(0.33 * 112) and rows.max() < round(0.45 * 112) + round(0.14 * 112)
        assert mask[51].all() and mask[52].all()  # eye line y = 51.6 (ArcFace template)
        assert not mask[:30].any() and not mask[80:].any()
        assert (out[mask] == 20).all() and np.array_equal(out[~mask], image[~mask])


def test_mouth_occlusion_covers_lower_face():
    image = face()
    for seed in range(50):
        out, mask = mouth_occlusion(image, rng(seed))
        rows = np.nonzero(mask.any(axis=1))[0]
        assert round(0.58 * 112) <= rows.min() <= round(0.66 * 112) and rows.max() == 111
        assert mask[92, 40:72].all()  # mouth y = 92 (ArcFace template)
        assert not mask[:60].any()
        assert np.array_equal(out[~mask], image[~mask])
    a, b = mouth_occlusion(image, rng(3)), mouth_occlusion(image, rng(3))
    assert np.array_equal(a[1], b[1])


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("bad", [np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8),
                                 np.zeros((8, 8, 4), np.uint8), [[0]]])
def test_image_validation(bad):
    for call in (lambda: down_up(bad, 4), lambda: fill_noise(bad, np.zeros((8, 8), bool), rng()),
                 lambda: random_erasing(bad, rng()), lambda: cutout(bad, rng(), size=2),
                 lambda: band_occlusion(bad, rng()), lambda: celeba_c_damage(bad, rng())):
        with pytest.raises(ValueError, match="image must be a uint8 RGB array"):
            call()


def test_other_argument_validation():
    image = face()
    with pytest.raises(ValueError, match="rng"):
        celeba_c_mask(None)
    with pytest.raises(ValueError, match="shape"):
        celeba_c_mask(rng(), (0, 10))
    with pytest.raises(ValueError, match="mask"):
        fill_noise(image, np.zeros((10, 10), bool), rng())
    with pytest.raises(ValueError, match="interpolation"):
        down_up(image, 8, interpolation="lanczos")
    with pytest.raises(ValueError, match="scale"):
        random_erasing(image, rng(), scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="value"):
        random_erasing(image, rng(), value=(1, 2))
    with pytest.raises(ValueError, match="p must"):
        cutout(image, rng(), size=4, p=2)
    with pytest.raises(ValueError, match="size"):
        cutout(image, rng(), size=0)
    with pytest.raises(ValueError, match="n must"):
        mask_coverage_stats(0, rng())


def test_wild_hair_gets_a_new_colour_per_image_and_keeps_its_shading():
    from lib.data.degrade import wild

    images = np.random.default_rng(2).integers(100, 141, (6, 8, 8, 3)).astype(np.uint8)
    hair = np.zeros((6, 8, 8), bool)
    hair[:5, :3] = True  # image 5 has no hair
    plain = wild(images, None, np.random.default_rng(0), gray=False)
    out = wild(images, None, np.random.default_rng(0), gray=False, hair=hair)
    np.testing.assert_array_equal(out[~hair], plain[~hair])  # hair colours are drawn last: nothing else moves
    assert (out[hair] != plain[hair]).any(axis=-1).mean() > 0.9
    unit = wild(images, None, np.random.default_rng(0), gain=(1.0, 1.0), offset=0.0, gray=False, hair=hair,
                hair_colour=(20, 180)).astype(float)
    colours = []
    for i in range(5):
        lum = images[i].astype(float).mean(-1)[hair[i]]
        colour = unit[i][hair[i]] / (lum / lum.mean())[:, None]  # each pixel = one colour x its relative luminance
        np.testing.assert_allclose(colour, colour.mean(0)[None].repeat(len(colour), 0), atol=1.0)
        colours.append(colour.mean(0))
    assert ((np.array(colours) > 19) & (np.array(colours) < 181)).all() and np.ptp(np.array(colours), 0).min() > 10
    np.testing.assert_array_equal(unit[5], images[5])  # no hair, unit gain, no offset: as it was
    with pytest.raises(ValueError, match="hair masks"):
        wild(images, None, 0, hair=hair[:, :4])
    with pytest.raises(ValueError, match="hair_colour"):
        wild(images, None, 0, hair=hair, hair_colour=(200, 10))


def test_wild_grey_probability_and_no_background():
    from lib.data.degrade import wild

    images = np.random.default_rng(1).integers(0, 256, (200, 4, 4, 3)).astype(np.uint8)
    out = wild(images, None, np.random.default_rng(0), gray=0.5)
    grey = (out[..., 0] == out[..., 1]).all((1, 2)) & (out[..., 1] == out[..., 2]).all((1, 2))
    assert 0.35 < grey.mean() < 0.65  # about half grey
    never = wild(images, None, np.random.default_rng(0), gray=False)
    assert not ((never[..., 0] == never[..., 1]).all((1, 2))).all()
    with pytest.raises(ValueError, match="probability"):
        wild(images, None, np.random.default_rng(0), gray=1.5)
