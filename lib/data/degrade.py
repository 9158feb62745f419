"""Image degradations and occlusions: pure functions, explicit ``numpy.random.Generator``.

All images are uint8 RGB ``(H, W, 3)``; inputs are never modified. ``rng`` is a
``numpy.random.Generator`` or an int seed (``np.random.default_rng(seed)``); no function
touches global RNG state.

- ``celeba_c_mask``, ``fill_noise``, ``celeba_c_damage``, ``mask_coverage_stats``: the
  CelebA-C damage of Plesko et al. (BIOSIG 2023); notebooks 02_inpainting, 05_cross_method.
- ``down_up``, ``down_up_batch``: the low-resolution protocol 112 -> t -> 112 (bilinear);
  notebook 04_lowres.
- ``random_erasing`` (Zhong et al., AAAI 2020) and ``cutout`` (DeVries & Taylor, 2017):
  the FSErasing baselines; notebook 03_fserasing.
- ``band_occlusion`` (sunglasses-like) and ``mouth_occlusion`` (face-mask-like) on aligned
  112x112 ArcFace-template faces: evaluation occlusions of 03_fserasing and 05_cross_method.
- ``wild``: unconstrained photometric conditions on a batch (background colour, channel gains,
  brightness, grey): 04_lowres's test conditions and the default FR training augmentation
  (lib.recognition.train.TrainConfig.photometric).

Boxes are ``(top, left, height, width)`` (torchvision's ``i, j, h, w``).
"""

from __future__ import annotations

import math
from numbers import Integral

import cv2
import numpy as np

CANVAS = 256  # CelebA-C masks are drawn on a 256x256 canvas
_INTERP = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA,
           "nearest": cv2.INTER_NEAREST}
# Diagonal directions as upstream numbers them: 0 = (+x, +y), 1 = (-x, -y), 2 = (+x, -y), 3 = (-x, +y).
_DIRS = ((1, 1), (-1, -1), (1, -1), (-1, 1))
_REVERSE = (1, 0, 3, 2)


def _image(image, name="image", ndim=3):
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == ndim
            and image.shape[-1] == 3 and min(image.shape[-3:-1]) > 0):
        got = f"dtype={image.dtype}, shape={image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        want = "(H, W, 3)" if ndim == 3 else "(N, H, W, 3)"
        raise ValueError(f"{name} must be a uint8 RGB array of shape {want}; got {got}")
    return image


def _rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy.random.Generator or an int seed; got {type(rng).__name__}")


def _posint(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return int(value)


def _shape(shape, name="shape"):
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
        raise ValueError(f"{name} must be (H, W); got {shape!r}")
    return _posint(shape[0], f"{name}[0]"), _posint(shape[1], f"{name}[1]")


def _pair(value, name, lo=0.0):
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
    if not (ok and lo <= value[0] <= value[1]):
        raise ValueError(f"{name} must be a pair (a, b) with {lo} <= a <= b; got {value!r}")
    return float(value[0]), float(value[1])


def _prob(p):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1]; got {p!r}")


def _value(value, name="value"):
    """Validate a fill: 'random' (uniform 0..255 per pixel and channel), an int or an RGB triple."""
    if isinstance(value, str) and value == "random":
        return value
    vals = [value] * 3 if isinstance(value, Integral) else value
    if not (isinstance(vals, (tuple, list)) and len(vals) == 3
            and all(isinstance(v, Integral) and 0 <= v <= 255 for v in vals)):
        raise ValueError(f"{name} must be 'random', an int 0..255 or an RGB triple; got {value!r}")
    return np.asarray(vals, np.uint8)


def _draw(shape, value, rng):
    return rng.integers(0, 256, shape, dtype=np.uint8) if isinstance(value, str) else value


def _segment(mask, p0, p1, width):
    """A butt-ended line of ``width`` like PIL's ``ImageDraw.line`` (which upstream uses).

    Departure/assumption: cv2.line(thickness=w) adds round caps and raised the mean coverage
    to ~8.4-8.9%; this polygon (total width ~w-1, no caps, vertices as PIL computes them)
    reproduces the published 7.1%.
    """
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    if dx == 0 and dy == 0:  # a clamped, zero-length step: PIL draws one pixel
        mask[y0, x0] = 1
        return
    hyp, half = math.hypot(dx, dy), (width - 1) / 2
    rmax, rmin = math.ceil(half) / hyp, math.floor(half) / hyp
    poly = np.array([[x0 - rmax * dy, y0 + rmax * dx], [x1 - rmax * dy, y1 + rmax * dx],
                     [x1 + rmin * dy, y1 - rmin * dx], [x0 + rmin * dy, y0 - rmin * dx]])
    cv2.fillConvexPoly(mask, np.round(poly).astype(np.int32), 1)


def celeba_c_mask(rng, shape=(CANVAS, CANVAS), *, upstream_quirk=True) -> np.ndarray:
    """The CelebA-C random-walk damage mask, bool ``(H, W)``.

    On a 256x256 canvas: start x in [90,165], y in [100,180]; a square of side 20 there; 30
    connected segments in the 4 diagonal directions, |dx|, |dy| in [10,20], endpoints clamped
    to x in [35, 221], y in [50, 216], width in [8,13]. Other ``shape``s: the 256 mask resized
    with nearest-neighbour, which keeps the published coverage (a fraction) for every size.

    Departures/assumptions (checked against filipplesko/Facial_image_reconstruction,
    utils/image_processing.py: Python ``random.randint`` and PIL): ranges inclusive; dx and
    dy drawn independently per segment; the square is PIL's inclusive (x-10, y-10, x+10, y+10),
    21x21 px. ``upstream_quirk=True`` (default) keeps an upstream bug: ``if do_not_use:`` skips
    the ban when the reverse is direction 0, so after an up-left step the walk may go straight
    back (coverage ~7.1%, as published); ``False`` = the notes' "never the direct reverse" (~7.5%).
    """
    rng, (h, w) = _rng(rng), _shape(shape)
    mask = np.zeros((CANVAS, CANVAS), np.uint8)
    x, y = int(rng.integers(90, 166)), int(rng.integers(100, 181))
    mask[y - 10:y + 11, x - 10:x + 11] = 1
    forbidden = None
    for _ in range(30):
        allowed = [d for d in range(4) if d != forbidden or (upstream_quirk and forbidden == 0)]
        d = allowed[int(rng.integers(len(allowed)))]
        sx, sy = _DIRS[d]
        ex = min(max(x + sx * int(rng.integers(10, 21)), 35), CANVAS - 35)
        ey = min(max(y + sy * int(rng.integers(10, 21)), 50), CANVAS - 40)
        _segment(mask, (x, y), (ex, ey), int(rng.integers(8, 14)))
        x, y, forbidden = ex, ey, _REVERSE[d]
    if (h, w) != (CANVAS, CANVAS):
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    return mask.astype(bool)


def fill_noise(image, mask, rng, mean=128.0, sd=35.0) -> np.ndarray:
    """CelebA-C fill: per-pixel, per-channel N(mean, sd) rounded and clipped to 0..255 inside ``mask``."""
    image, rng = _image(image), _rng(rng)
    if not (isinstance(mask, np.ndarray) and mask.shape == image.shape[:2]):
        got = mask.shape if isinstance(mask, np.ndarray) else type(mask).__name__
        raise ValueError(f"mask must be an array of shape {image.shape[:2]}; got {got}")
    if not (isinstance(sd, (int, float)) and sd >= 0 and isinstance(mean, (int, float))):
        raise ValueError(f"mean and sd must be numbers with sd >= 0; got mean={mean!r}, sd={sd!r}")
    noise = np.clip(np.rint(rng.normal(mean, sd, image.shape)), 0, 255).astype(np.uint8)
    return np.where(mask.astype(bool)[..., None], noise, image)


def celeba_c_damage(image, rng, *, upstream_quirk=True) -> tuple[np.ndarray, np.ndarray]:
    """CelebA-C damage of ``image``: ``(damaged, mask)``."""
    image, rng = _image(image), _rng(rng)
    mask = celeba_c_mask(rng, image.shape[:2], upstream_quirk=upstream_quirk)
    return fill_noise(image, mask, rng), mask


def mask_coverage_stats(n, rng, shape=(CANVAS, CANVAS), *, upstream_quirk=True) -> dict:
    """Coverage fractions of ``n`` CelebA-C masks: mean, sd (ddof=1 if n > 1), min, max.
    Published (1000 masks): mean 0.071, sd 0.010, range 0.034-0.096."""
    n, rng = _posint(n, "n"), _rng(rng)
    cov = np.array([celeba_c_mask(rng, shape, upstream_quirk=upstream_quirk).mean() for _ in range(n)])
    return {"mean": float(cov.mean()), "sd": float(cov.std(ddof=1 if n > 1 else 0)),
            "min": float(cov.min()), "max": float(cov.max())}


def down_up(image, t, *, out=None, interpolation="bilinear") -> np.ndarray:
    """Downsample to ``t x t`` and back to the original size (or ``out``: int or (H, W)), with
    the same interpolation both ways (cv2.INTER_LINEAR for "bilinear", the protocol).
    ``t`` >= the image size: no downsampling (a copy, resized to ``out`` if given)."""
    image, t = _image(image), _posint(t, "t")
    if interpolation not in _INTERP:
        raise ValueError(f"interpolation must be one of {sorted(_INTERP)}; got {interpolation!r}")
    flag = _INTERP[interpolation]
    h, w = image.shape[:2]
    oh, ow = (h, w) if out is None else _shape((out, out) if isinstance(out, Integral) else out, "out")
    small = image if t >= max(h, w) else cv2.resize(image, (t, t), interpolation=flag)
    if small.shape[:2] == (oh, ow):
        return small.copy()
    return cv2.resize(small, (ow, oh), interpolation=flag)


def down_up_batch(images, t, *, out=None, interpolation="bilinear") -> np.ndarray:
    """``down_up`` over a uint8 batch ``(N, H, W, 3)``."""
    images, t = _image(images, "images", ndim=4), _posint(t, "t")
    if len(images) == 0:
        raise ValueError("images must hold at least one image; got N=0")
    return np.stack([down_up(im, t, out=out, interpolation=interpolation) for im in images])


def random_erasing(image, rng, *, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value="random"):
    """Random Erasing as torchvision.transforms.RandomErasing: ``(image, box or None)``.
    With probability ``p``, up to 10 attempts: area ~ U(scale) * H*W, aspect r log-uniform in
    ``ratio``, h = round(sqrt(area*r)), w = round(sqrt(area/r)); the first box with 0 < h < H,
    0 < w < W is placed uniformly and filled. Departure: ``value`` "random" is uniform 0..255
    uint8 noise (torchvision: N(0,1) on the normalised tensor)."""
    image, rng = _image(image), _rng(rng)
    _prob(p)
    (s0, s1), (r0, r1) = _pair(scale, "scale"), _pair(ratio, "ratio", lo=1e-12)
    value = _value(value)
    if rng.random() >= p:
        return image.copy(), None
    H, W = image.shape[:2]
    for _ in range(10):
        area = H * W * rng.uniform(s0, s1)
        r = math.exp(rng.uniform(math.log(r0), math.log(r1)))
        h, w = int(round(math.sqrt(area * r))), int(round(math.sqrt(area / r)))
        if 0 < h < H and 0 < w < W:
            top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
            out = image.copy()
            out[top:top + h, left:left + w] = _draw((h, w, 3), value, rng)
            return out, (top, left, h, w)
    return image.copy(), None


def cutout(image, rng, *, size, p=1.0, value=0):
    """Cutout: a ``size`` square centred on a uniform random pixel, clipped at the borders;
    ``(image, box or None)``. Assumption: rows cy - size//2 .. cy - size//2 + size - 1, exactly
    ``size`` when unclipped (the original code gives size - 1 for odd sizes)."""
    image, rng, size = _image(image), _rng(rng), _posint(size, "size")
    _prob(p)
    value = _value(value)
    if rng.random() >= p:
        return image.copy(), None
    H, W = image.shape[:2]
    cy, cx = int(rng.integers(0, H)), int(rng.integers(0, W))
    y0, x0 = max(cy - size // 2, 0), max(cx - size // 2, 0)
    y1, x1 = min(cy - size // 2 + size, H), min(cx - size // 2 + size, W)
    out = image.copy()
    out[y0:y1, x0:x1] = _draw((y1 - y0, x1 - x0, 3), value, rng)
    return out, (y0, x0, y1 - y0, x1 - x0)


def _rows_occlusion(image, rng, top_frac, height_frac, x_frac, value):
    image, rng, value = _image(image), _rng(rng), _value(value)
    (t0, t1), (xa, xb) = _pair(top_frac, "y_frac"), _pair(x_frac, "x_frac")
    if not (0.0 < height_frac <= 1.0 and t1 <= 1.0 and xb <= 1.0):
        raise ValueError(f"fractions must lie in [0, 1]; got y_frac={top_frac!r}, "
                         f"height_frac={height_frac!r}, x_frac={x_frac!r}")
    H, W = image.shape[:2]
    top = int(round(rng.uniform(t0, t1) * H))
    bottom = min(H, top + max(1, int(round(height_frac * H))))
    mask = np.zeros((H, W), bool)
    mask[top:bottom, int(round(xa * W)):int(round(xb * W))] = True
    out = image.copy()
    out[mask] = _draw((int(mask.sum()), 3), value, rng)
    return out, mask


def band_occlusion(image, rng, *, y_frac=(0.33, 0.45), height_frac=0.14, x_frac=(0.0, 1.0),
                   value=(20, 20, 20)):
    """Sunglasses-like band: top edge at U(y_frac) * H, ``height_frac * H`` tall, columns
    ``x_frac``. With the defaults on a 112 ArcFace-template face the band (rows ~37..66)
    always covers the eye line y = 51.6. Returns ``(image, mask)``."""
    return _rows_occlusion(image, rng, y_frac, height_frac, x_frac, value)


def mouth_occlusion(image, rng, *, y_frac=(0.58, 0.66), x_frac=(0.1, 0.9), value=(230, 230, 230)):
    """Face-mask-like occlusion: from a top edge at U(y_frac) * H (about the nose tip, 71.7/112
    in the ArcFace template) down to the bottom, columns ``x_frac``; covers the mouth
    (y = 92/112). Returns ``(image, mask)``."""
    return _rows_occlusion(image, rng, y_frac, 1.0, x_frac, value)


def wild(images, background, rng, *, gain=(0.75, 1.25), offset: float = 25.0, gray=True, hair=None,
         hair_colour=(20.0, 235.0)) -> np.ndarray:
    """Per-image unconstrained conditions on a uint8 batch (N, H, W, 3).

    The engine keeps one background tint, light and colour balance per identity and session, and one
    hair colour per person, so a model can recognise the set-up or the hair instead of the face; photos
    in the wild vary these per image (people dye their hair, light changes its colour, and at a few pixels
    its colour is all that is left of it). Each image gets: background pixels (``background``: (N, H, W)
    bool, e.g. the parsing map's background class; None leaves the background as it is) a random colour
    U(40, 220) per channel; hair pixels (``hair``: (N, H, W) bool, the parsing map's hair class; None
    leaves the hair as it is) a random colour U(``hair_colour``) per channel times each pixel's luminance
    over the mean luminance of the image's hair (the strands' light and shade stay, their colour is new);
    then per-channel gains U(``gain``) and a brightness offset U(-offset, offset); then, with probability
    ``gray`` (True = always, False = never), the mean of the three channels in all three. The draws are in
    that order (fill, gains, offset, the grey coin only when 0 < gray < 1, then the hair colours only when
    ``hair`` is given), so a call without ``hair`` draws what it drew before hair existed.
    """
    rng = _rng(rng)
    x = np.asarray(images, dtype=np.float32)
    n = len(x)
    fill = rng.uniform(40, 220, (n, 1, 1, 3)).astype(np.float32)
    if background is not None:
        x = np.where(np.asarray(background, dtype=bool)[..., None], fill, x)
    gains = rng.uniform(*gain, (n, 1, 1, 3)).astype(np.float32)
    shift = rng.uniform(-offset, offset, (n, 1, 1, 1)).astype(np.float32)
    p = float(gray)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"gray must be a probability in [0, 1] (or a bool), got {gray!r}")
    to_gray = np.ones(n, bool) if p >= 1 else (rng.random(n) < p if p > 0 else np.zeros(n, bool))
    if hair is not None:
        x = _recolour(x, np.asarray(hair, dtype=bool), rng.uniform(*_pair(hair_colour, "hair_colour"), (n, 3)))
    x = x * gains + shift
    x[to_gray] = np.repeat(x[to_gray].mean(-1, keepdims=True), 3, axis=-1)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _recolour(x: np.ndarray, mask: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """float (N, H, W, 3) ``x`` with each image's ``mask`` pixels set to its colour (N, 3) times the pixel's
    luminance over the mean luminance of the masked pixels (images without masked pixels stay)."""
    if mask.shape != x.shape[:3]:
        raise ValueError(f"hair masks must have shape {x.shape[:3]}, got {mask.shape}")
    lum = x.mean(-1)
    for i in np.flatnonzero(mask.any(axis=(1, 2))):
        m = mask[i]
        rel = lum[i][m] / max(float(lum[i][m].mean()), 1.0)
        x[i][m] = colours[i][None, :].astype(np.float32) * rel[:, None]
    return x
