"""Losses of the inpainting GAN (utils/load_model.py and models/gan.py of the original).

- Discriminator: Keras ``BinaryCrossentropy(label_smoothing=0.25)`` on real (target 1 -> 0.875)
  and fake (0 -> 0.125), weighted 0.5 each: ``0.5 * (real + fake)``.
- Generator: adversarial BCE with the same smoothing against the "real" label (weight 1) plus
  the "application" loss ``keras.losses.mse`` (weight 100).

The sum quirk: ``keras.losses.mse`` is a plain function that averages over the channel axis only
and returns a (B, H, W) tensor; ``GradientTape.gradient`` of a non-scalar target differentiates
its SUM, so the original's pixel term is 100 x sum over batch and pixels of the channel-mean
squared error, ~B*H*W times the adversarial term (the GAN is in effect an MSE autoencoder).
``reduction="mean"`` (our default) averages over batch and pixels, which keeps the published
1 : 100 balance meaningful; ``reduction="sum"`` reproduces the original's gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LABEL_SMOOTHING = 0.25
REDUCTIONS = ("mean", "sum")


def smooth(target: float, smoothing: float = LABEL_SMOOTHING) -> float:
    """Keras' binary label smoothing: y * (1 - s) + s / 2."""
    if not 0 <= smoothing < 1:
        raise ValueError(f"label smoothing must lie in [0, 1); got {smoothing!r}")
    return target * (1 - smoothing) + smoothing / 2


def bce_logits(logits: torch.Tensor, target: float, smoothing: float = LABEL_SMOOTHING) -> torch.Tensor:
    """Mean BCE of ``sigmoid(logits)`` against a constant smoothed target."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, smooth(target, smoothing)))


def discriminator_loss(real_logits, fake_logits, smoothing: float = LABEL_SMOOTHING) -> torch.Tensor:
    """0.5 * (BCE(real, 1) + BCE(fake, 0)), both label-smoothed."""
    return 0.5 * (bce_logits(real_logits, 1.0, smoothing) + bce_logits(fake_logits, 0.0, smoothing))


def pixel_loss(output, target, reduction: str = "mean") -> torch.Tensor:
    """Squared error averaged over channels, then averaged (``mean``) or summed (``sum``, the
    original's effective reduction) over batch and pixels. Tensors are (B, C, H, W)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    if output.shape != target.shape:
        raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
    per_pixel = ((output - target) ** 2).mean(1)
    return per_pixel.mean() if reduction == "mean" else per_pixel.sum()


def generator_loss(fake_logits, output, target, *, adv_weight: float = 1.0, pixel_weight: float = 100.0,
                   smoothing: float = LABEL_SMOOTHING, reduction: str = "mean") -> dict:
    """{"total", "adversarial", "pixel"}; ``fake_logits=None`` (no discriminator) = pixel loss only."""
    pix = pixel_loss(output, target, reduction)
    adv = bce_logits(fake_logits, 1.0, smoothing) if fake_logits is not None else pix.new_zeros(())
    return {"total": adv_weight * adv + pixel_weight * pix, "adversarial": adv, "pixel": pix}
