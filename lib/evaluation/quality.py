"""Image quality of reconstructions and edits: PSNR and SSIM, optionally over a mask.

Images are (H, W) grey or (H, W, C) channels-last, both of one dtype: uint8 (data range
255) or float (data range 1, values must lie in [0, 1]); pass ``data_range`` for anything
else. The data range is always given to skimage explicitly (skimage would otherwise guess
it from the dtype, -1..1 for floats).

With a mask ((H, W), or the image's shape; True = counted):
- PSNR uses the mean squared error over the masked pixels (all channels);
- SSIM is the mean of skimage's full SSIM map (``full=True``) over the masked pixels.
  skimage's own mean SSIM leaves out a border of ``(win_size - 1) // 2`` = 3 pixels, so an
  all-True mask gives the plain mean of the map, slightly different from the unmasked value.

Batch versions take (N, H, W) or (N, H, W, C) and a mask shared by all images or one per
image, and return an (N,) array.
"""

from __future__ import annotations

import numpy as np


def _pair(a, b, data_range, batch: bool = False):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    if a.dtype != b.dtype:
        raise ValueError(f"image dtypes differ: {a.dtype} vs {b.dtype} (convert one first)")
    lo = 3 if batch else 2
    if a.ndim not in (lo, lo + 1):
        want = "(N, H, W) or (N, H, W, C)" if batch else "(H, W) or (H, W, C)"
        raise ValueError(f"images must be {want}, got shape {a.shape}")
    if data_range is None:
        if a.dtype == np.uint8:
            data_range = 255.0
        elif np.issubdtype(a.dtype, np.floating):
            if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) > 1):
                raise ValueError("float images must lie in [0, 1]; pass data_range for another range")
            data_range = 1.0
        else:
            raise ValueError(f"dtype {a.dtype}: pass data_range explicitly (uint8 and float in [0, 1] are implied)")
    if not np.isfinite(a).all() or not np.isfinite(b).all():
        raise ValueError("images contain NaN or inf")
    return a, b, float(data_range)


def _mask(mask, shape) -> np.ndarray:
    """A boolean mask broadcast to ``shape`` (the image's)."""
    m = np.asarray(mask)
    if m.dtype != bool:
        m = m != 0
    if m.shape == shape:
        pass
    elif m.shape == shape[:2] and len(shape) == 3:
        m = np.broadcast_to(m[..., None], shape)
    else:
        raise ValueError(f"mask shape {m.shape} fits neither the image {shape} nor its (H, W)")
    if not m.any():
        raise ValueError("mask selects no pixel")
    return m


def psnr(a, b, mask=None, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images), over ``mask`` if given."""
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio

    a, b, dr = _pair(a, b, data_range)
    if mask is None:
        with np.errstate(divide="ignore"):
            return float(peak_signal_noise_ratio(a, b, data_range=dr))
    m = _mask(mask, a.shape)
    mse = mean_squared_error(a[m], b[m])
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(dr ** 2 / mse))


def ssim_map(a, b, data_range: float | None = None) -> tuple[float, np.ndarray]:
    """(skimage's mean SSIM, the full SSIM map) for one image pair (7x7 uniform window)."""
    from skimage.metrics import structural_similarity

    a, b, dr = _pair(a, b, data_range)
    if min(a.shape[:2]) < 7:
        raise ValueError(f"SSIM needs images of at least 7 x 7 pixels, got {a.shape[:2]}")
    mean, full = structural_similarity(a, b, data_range=dr, channel_axis=-1 if a.ndim == 3 else None, full=True)
    return float(mean), full


def ssim(a, b, mask=None, data_range: float | None = None) -> float:
    """Structural similarity: skimage's mean SSIM, or the mean of the SSIM map over ``mask``."""
    mean, full = ssim_map(a, b, data_range)
    if mask is None:
        return mean
    return float(full[_mask(mask, full.shape)].mean())


def _batch(fn, a, b, mask, data_range) -> np.ndarray:
    a, b, _ = _pair(a, b, data_range, batch=True)
    if mask is not None:
        mask = np.asarray(mask)
        per_image = mask.shape[:1] == a.shape[:1] and mask.ndim in (3, a.ndim) and mask.shape[1:3] == a.shape[1:3]
        if not per_image and mask.shape not in (a.shape[1:3], a.shape[1:]):
            raise ValueError(f"mask shape {mask.shape} fits neither one image {a.shape[1:]} nor the batch {a.shape}")
    out = np.empty(len(a))
    for i in range(len(a)):
        m = None if mask is None else (mask[i] if per_image else mask)
        out[i] = fn(a[i], b[i], mask=m, data_range=data_range)
    return out


def psnr_batch(a, b, mask=None, data_range: float | None = None) -> np.ndarray:
    """PSNR per image of a batch, (N,)."""
    return _batch(psnr, a, b, mask, data_range)


def ssim_batch(a, b, mask=None, data_range: float | None = None) -> np.ndarray:
    """SSIM per image of a batch, (N,)."""
    return _batch(ssim, a, b, mask, data_range)
