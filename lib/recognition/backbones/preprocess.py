"""What a backbone expects as input, and the one function that makes it from uint8 crops.

Every backbone built by ``create_backbone`` carries a :class:`Preprocess` record
(``model.preprocess_spec``), the analogue of timm's ``pretrained_cfg`` (input size, mean,
std): the numbers a checkpoint was trained with, kept apart from the architecture.
``preprocess(images, spec)`` turns a uint8 batch (N, H, W, 3) RGB -- the companion's one
image convention -- into the float NCHW tensor the network wants.

Normalisation is written in uint8 units, ``(x - mean) / std`` with x in [0, 255], so one
formula covers the originals:

- insightface arcface_torch: RGB, ``(x / 255 - 0.5) / 0.5``   -> mean 127.5, std 127.5
- MagFace (cv2 loader, ToTensor only): BGR, ``x / 255``       -> mean 0, std 255
- FaceX-Zoo, sphereface_pytorch (cv2): BGR, ``(x - 127.5) / 128`` -> mean 127.5, std 128
- CosFace_pytorch (PIL, Normalize(0.5, 0.5)): RGB, 112x96      -> mean 127.5, std 127.5

The FRA code (step1_generate_dataset.py) departs from the originals, and replicating it is
an override, not another model:
- CosFace: cv2 (BGR) ``(x - 127.5) / 128``, and ``cv2.resize(img, (112, 96))`` makes the crop
  96 high and 112 wide (cv2 sizes are (W, H)); fc5 still gets 6*7 = 42 cells, so the
  checkpoint loads into ``create_backbone("sphere20", input_size=(96, 112),
  preprocess={"channels": "BGR", "std": 128.0, "fit": "resize"})``;
- ArcFace: fed like MagFace (BGR, ``x / 255``), i.e. ``create_backbone("iresnet100",
  preprocess={"channels": "BGR", "mean": 0.0, "std": 255.0})``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Preprocess:
    """Input contract of a backbone.

    Args:
        input_size: (H, W) the network takes; its fc layer is sized for it.
        channels: channel order the network was trained on, "RGB" or "BGR".
        mean: subtracted from the 0..255 values (a float, or one per channel in the
            network's channel order).
        std: the divisor after subtracting ``mean`` (same shape rule).
        fit: how a crop of another shape becomes ``input_size``: "resize" (bilinear,
            aspect ratio not kept) or "crop" (centre-crop to the target aspect ratio, then
            resize). "crop" turns a 112x112 ArcFace-aligned crop into the 112x96
            SphereFace crop exactly (the two templates differ by 8 px on each side).
        antialias: low-pass when shrinking (``F.interpolate(antialias=True)``), so that
            e.g. 112 -> 64 does not alias; enlarging is plain bilinear either way.
        source: where these numbers come from (for docs and reports).
    """

    input_size: tuple[int, int] = (112, 112)
    channels: Literal["RGB", "BGR"] = "RGB"
    mean: float | tuple[float, float, float] = 127.5
    std: float | tuple[float, float, float] = 127.5
    fit: Literal["resize", "crop"] = "resize"
    antialias: bool = True
    source: str = ""

    def __post_init__(self):
        size = self.input_size
        size = tuple(int(s) for s in ((size, size) if isinstance(size, int) else size))
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"input_size must be (H, W) of positive ints, got {self.input_size!r}")
        object.__setattr__(self, "input_size", size)
        if self.channels not in ("RGB", "BGR"):
            raise ValueError(f"channels must be 'RGB' or 'BGR', got {self.channels!r}")
        if self.fit not in ("resize", "crop"):
            raise ValueError(f"fit must be 'resize' or 'crop', got {self.fit!r}")
        if np.any(np.asarray(self.std, dtype=float) == 0):
            raise ValueError("std must be non-zero")

    def with_size(self, input_size) -> Preprocess:
        return replace(self, input_size=input_size)


# The originals' contracts (input_size is set per model by the registry).
ARCFACE = Preprocess(channels="RGB", mean=127.5, std=127.5,
                     source="insightface arcface_torch: RGB, (x/255 - 0.5)/0.5")
MAGFACE = Preprocess(channels="BGR", mean=0.0, std=255.0,
                     source="MagFace: cv2 (BGR), ToTensor without Normalize, x/255")
FACEX_ZOO = Preprocess(channels="BGR", mean=127.5, std=128.0,
                       source="FaceX-Zoo: cv2 (BGR), (x - 127.5)/128")
COSFACE_PYTORCH = Preprocess(input_size=(112, 96), channels="RGB", mean=127.5, std=127.5, fit="crop",
                             source="MuggleWang CosFace_pytorch: PIL RGB, Normalize(0.5, 0.5), 112x96")
SPHEREFACE_PYTORCH = Preprocess(input_size=(112, 96), channels="BGR", mean=127.5, std=128.0, fit="crop",
                                source="clcarwin sphereface_pytorch: cv2 (BGR), (x - 127.5)/128, 112x96")


def _centre_crop_to_aspect(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    h, w = x.shape[-2:]
    th, tw = size
    if h * tw > w * th:      # too tall: crop rows
        keep = round(w * th / tw)
        top = (h - keep) // 2
        return x[..., top:top + keep, :]
    keep = round(h * tw / th)  # too wide (or equal): crop columns
    left = (w - keep) // 2
    return x[..., :, left:left + keep]


def preprocess(images, spec: Preprocess, *, device=None) -> torch.Tensor:
    """uint8 RGB images (N, H, W, 3) -> float32 (N, 3, H', W') normalised for ``spec``.

    Args:
        images: numpy array or torch tensor, uint8, RGB, channel-last.
        spec: the backbone's :class:`Preprocess` (``get_preprocess(model)``).
        device: where to do the work (the uint8 batch is moved first: 4x less to copy).
    """
    if isinstance(images, np.ndarray):
        images = np.ascontiguousarray(images)
        if not images.flags.writeable:  # a read-only memmap of a FaceSet: torch wants a writable buffer
            images = images.copy()
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4 \
            or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB images (N, H, W, 3), got {getattr(images, 'dtype', type(images))} "
                         f"{tuple(getattr(images, 'shape', ()))}")
    if images.shape[0] == 0:
        return torch.zeros((0, 3, *spec.input_size), device=device)
    if device is not None:
        images = images.to(device, non_blocking=True)
    x = images.permute(0, 3, 1, 2).float()
    if spec.channels == "BGR":
        x = x.flip(1)
    if spec.fit == "crop":
        x = _centre_crop_to_aspect(x, spec.input_size)
    if tuple(x.shape[-2:]) != spec.input_size:
        x = F.interpolate(x, size=spec.input_size, mode="bilinear", align_corners=False,
                          antialias=spec.antialias)
    mean = torch.as_tensor(spec.mean, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
    std = torch.as_tensor(spec.std, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
    return ((x - mean) / std).contiguous()
