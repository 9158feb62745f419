"""The only real face photos that install offline: scikit-image's bundled samples.

- ``astronaut()``: Eileen Collins, NASA portrait, 512x512 RGB (public domain).
- ``lfw_crops()``: the 100 face crops of ``skimage.data.lfw_subset()``: 25x25 grayscale,
  no identity labels (data_cards/lfw_subset.md).

Introduced by notebooks/00_data_prep.ipynb.
"""

from __future__ import annotations

import numpy as np

LFW_FACES = 100  # lfw_subset(): the first 100 images are faces, the last 100 are not


def astronaut() -> np.ndarray:
    """The astronaut portrait as uint8 RGB (512, 512, 3)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def lfw_crops(n: int = LFW_FACES) -> np.ndarray:
    """The first ``n`` LFW face crops as uint8 RGB (n, 25, 25, 3) (gray replicated)."""
    from skimage import data

    if not 1 <= n <= LFW_FACES:
        raise ValueError(f"lfw_crops: n must be in 1..{LFW_FACES}, got {n}")
    gray = data.lfw_subset()[:n]
    u8 = np.clip(np.rint(gray * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(u8[..., None], 3, axis=-1)


def lfw_nonfaces(n: int = LFW_FACES) -> np.ndarray:
    """The ``n`` non-face patches of lfw_subset() (detector false-positive checks)."""
    from skimage import data

    gray = data.lfw_subset()[LFW_FACES:LFW_FACES + n]
    return np.repeat(np.clip(np.rint(gray * 255.0), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def upscale_with_context(images: np.ndarray, size: int, pad: float = 0.5) -> np.ndarray:
    """Pad tight crops by ``pad`` x side (edge-replicated, blurred) and resize to ``size``.

    Detectors need context around a face; the LFW crops are cut at the face outline.
    """
    import cv2

    out = []
    for img in images:
        h, w = img.shape[:2]
        p = int(round(pad * max(h, w)))
        big = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_REPLICATE)
        blurred = cv2.GaussianBlur(big, (0, 0), sigmaX=max(1.0, p / 4))
        mask = np.zeros(big.shape[:2], np.float32)
        mask[p:p + h, p:p + w] = 1.0
        mixed = (big * mask[..., None] + blurred * (1 - mask[..., None])).astype(np.uint8)
        out.append(cv2.resize(mixed, (size, size), interpolation=cv2.INTER_CUBIC))
    return np.stack(out)


def edited_copies(image: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Edits of one photo that keep the identity: genuine pairs for a recogniser check.

    Mirror, down-up scaling (x0.35), rotation (12 deg), darkening (x0.55), gamma 1.8,
    JPEG quality 15, Gaussian noise (sd 12), a small shift-and-zoom.
    """
    import cv2

    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    small = cv2.resize(image, (int(w * 0.35), int(h * 0.35)), interpolation=cv2.INTER_AREA)
    rot = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0), (w, h),
                         borderMode=cv2.BORDER_REFLECT)
    zoom = cv2.warpAffine(image, np.float32([[1.15, 0, -0.1 * w], [0, 1.15, -0.08 * h]]), (w, h),
                          borderMode=cv2.BORDER_REFLECT)
    ok, jpg = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 15])
    noise = np.clip(image.astype(np.float32) + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    return {
        "original": image,
        "mirrored": np.ascontiguousarray(image[:, ::-1]),
        "downscaled": cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR),
        "rotated": rot,
        "dark": (image.astype(np.float32) * 0.55).astype(np.uint8),
        "gamma": (255.0 * (image / 255.0) ** 1.8).astype(np.uint8),
        "jpeg": cv2.imdecode(jpg, cv2.IMREAD_COLOR)[..., ::-1].copy(),
        "noise": noise,
        "zoomed": zoom,
    }
