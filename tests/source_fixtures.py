"""Tiny fixture trees for the real-data adapters: real file names, a few small images each,
and every kind of bad file an adapter must survive (tests/test_sources_*.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image


@lru_cache(maxsize=None)
def face_photo(size: int = 160) -> np.ndarray:
    """A real face (the astronaut portrait, cropped around the head) as uint8 RGB."""
    from lib.data.real_photos import astronaut

    crop = astronaut()[0:300, 60:360]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR))


def flat_image(size: int = 64, value: int = 128, seed: int = 0) -> np.ndarray:
    """A face-less image: smooth noise around ``value``."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(value, 10, (size, size, 3)), 0, 255).astype(np.uint8)


def save(path: Path, image: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    Image.fromarray(image).save(path, format=fmt, **kwargs)
    return path


def save_corrupt(path: Path) -> Path:
    """A file with an image name but bytes that are no image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not an image\n" * 4)
    return path


def save_truncated(path: Path, image: np.ndarray) -> Path:
    """A JPEG/PNG cut off half-way (an interrupted download)."""
    save(path, image)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def save_gray(path: Path, image: np.ndarray) -> Path:
    return save(path, np.asarray(Image.fromarray(image).convert("L")))


def save_rgba(path: Path, image: np.ndarray) -> Path:
    alpha = np.full(image.shape[:2] + (1,), 255, np.uint8)
    return save(path.with_suffix(".png") if path.suffix.lower() != ".png" else path, np.concatenate([image, alpha], -1))


def save_16bit(path: Path, image: np.ndarray) -> Path:
    """A 16-bit grayscale PNG (values scaled to 0..65535)."""
    gray = np.asarray(Image.fromarray(image).convert("L"), dtype=np.uint16) * 257
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(gray).save(path, format="PNG")
    return path
