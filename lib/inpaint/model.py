"""The inpainting GAN of Plesko et al. (BIOSIG 2023): V-Net generator and CNN discriminator.

Introduced by notebooks/02_inpainting.ipynb. Ported from filipplesko/Facial_image_reconstruction
(docs/inpainting.md):

- ``VNet``: ``models/generator.py`` calls keras_unet_collection ``vnet_2d(filter_num=[64, 128,
  256, 512, 512], n_labels=3, res_num_ini=2, res_num_max=2, activation="ReLU",
  output_activation="Sigmoid", batch_norm=True, pool=False, unpool=False)``: an input conv,
  a residual stack of 2 conv-BN-ReLU per level (``Res_CONV_stack``: convs, add the skip, ReLU),
  2x2 stride-2 conv + BN + ReLU down (``stride_conv``), stride-2 transposed conv + BN + ReLU
  up, concat the encoder skip, residual stack added to the upsampled tensor; 1x1 conv, sigmoid.
  The kernel of the transposed conv is 2 in keras_unet_collection's current ``vnet_2d`` and 3
  in the notes (docs/inpainting.md); ``up_kernel`` picks, default 3: it gives the published
  26.06 M parameters (2 gives 23.88 M).
- ``Discriminator``: ``models/discriminator.py`` verbatim: five stages of conv3x3 then a
  strided conv (5x5/5x5/3x3/3x3, stride 2, no bias), BN from stage 2, LeakyReLU(0.3) (Keras'
  default slope), Dropout 0.4 on stages 2-4; conv3x3 512, conv3x3 -> 1 channel, BN,
  LeakyReLU, flatten ((S/16)^2), Dense(1) + sigmoid.

Departures (named so they stay conscious):
- ``width`` scales every filter count (1.0 = published); the CPU profiles use narrower nets.
- ``in_channels=4`` feeds the mask as a 4th channel and ``paste=True`` pastes known pixels
  back (output = G(x) inside the mask, x outside): the improvement the notebook compares with
  the blind original (3 channels, whole output used).
- The discriminator returns the logit; losses use ``BCEWithLogits`` (the same function as
  sigmoid + BCE, numerically safer). ``predict_proba`` gives the sigmoid.
- BatchNorm uses Keras' ``epsilon=1e-3`` but torch's running-statistics momentum 0.1 (Keras 0.99 =
  torch 0.01 is too slow for a few hundred steps; see ``_bn``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

FILTERS = (64, 128, 256, 512, 512)


def _bn(c: int) -> nn.BatchNorm2d:
    # Keras' epsilon; torch's default momentum 0.1 instead of Keras' 0.99 (torch 0.01): with the
    # default profile's 84 steps, 0.01 leaves the running statistics ~40 % at their initial values
    # and the eval-mode generator produced garbage (PSNR 11 dB) although training MSE was fine.
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.1)


def _cbr(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    """Conv (no bias: batch_norm=True) + BN + ReLU, keras_unet_collection ``CONV_stack``."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), _bn(cout), nn.ReLU(inplace=True))


class ResStack(nn.Module):
    """``Res_CONV_stack``: ``n`` conv-BN-ReLU on ``x``, add ``skip``, ReLU."""

    def __init__(self, cin: int, cout: int, n: int):
        super().__init__()
        self.convs = nn.Sequential(*[_cbr(cin if i == 0 else cout, cout) for i in range(n)])
        self.act = nn.ReLU(inplace=True)

    def forward(self, x, skip):
        return self.act(self.convs(x) + skip)


class Down(nn.Module):
    """``vnet_left`` with pool=False: 2x2 stride-2 conv + BN + ReLU, then a residual stack."""

    def __init__(self, cin: int, cout: int, n: int):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 2, stride=2, bias=False), _bn(cout), nn.ReLU(inplace=True))
        self.res = ResStack(cout, cout, n)

    def forward(self, x):
        x = self.down(x)
        return self.res(x, x)


class Up(nn.Module):
    """``vnet_right`` with unpool=False: stride-2 transposed conv + BN + ReLU, concat the skip,
    residual stack whose residual path is the upsampled tensor."""

    def __init__(self, cin: int, cskip: int, cout: int, n: int, kernel: int = 2):
        super().__init__()
        # Keras Conv2DTranspose(padding="same", strides=2) doubles the size for any kernel:
        # torch needs padding/output_padding chosen to match (k=2: 0/0; k=3: 1/1).
        pad, outpad = (kernel - 1) // 2, kernel % 2
        self.up = nn.Sequential(nn.ConvTranspose2d(cin, cout, kernel, stride=2, padding=pad, output_padding=outpad,
                                                   bias=False), _bn(cout), nn.ReLU(inplace=True))
        self.res = ResStack(cout + cskip, cout, n)

    def forward(self, x, skip):
        x = self.up(x)
        return self.res(torch.cat([x, skip], 1), x)


def _widths(width: float, filters=FILTERS) -> list[int]:
    if not (isinstance(width, (int, float)) and 0 < width <= 4):
        raise ValueError(f"width must be a number in (0, 4]; got {width!r}")
    return [max(4, int(round(f * width))) for f in filters]


class VNet(nn.Module):
    """The V-Net generator; ``forward(x)`` takes (B, in_channels, S, S) in [0, 1] (damaged RGB,
    plus the mask as channel 4 when ``in_channels=4``) and returns RGB in [0, 1].

    Args:
        width: multiplier of the published filters (64, 128, 256, 512, 512).
        res_num: conv layers per residual stack (``res_num_ini = res_num_max = 2`` upstream).
        in_channels: 3 (blind, as published) or 4 (damaged RGB + mask).
        paste: composite the output with the known pixels (needs ``in_channels=4``).
        up_kernel: transposed-conv kernel, 3 (the notes; 26.06 M parameters as published) or 2.
        size: the input size it is trained at (kept as ``train_size`` for lib.inpaint.methods.reconstruct;
            the network itself takes any multiple of 16).
    """

    def __init__(self, width: float = 1.0, res_num: int = 2, in_channels: int = 3, paste: bool = False,
                 up_kernel: int = 3, filters=FILTERS, size: int | None = None):
        super().__init__()
        if in_channels not in (3, 4):
            raise ValueError(f"in_channels must be 3 (blind) or 4 (RGB + mask); got {in_channels!r}")
        if paste and in_channels != 4:
            raise ValueError("paste=True needs the mask: set in_channels=4")
        if up_kernel not in (2, 3):
            raise ValueError(f"up_kernel must be 2 or 3; got {up_kernel!r}")
        f = _widths(width, filters)
        self.in_channels, self.paste, self.levels, self.train_size = in_channels, paste, len(f) - 1, size
        self.stem = _cbr(in_channels, f[0])
        self.res0 = ResStack(f[0], f[0], res_num)
        self.downs = nn.ModuleList(Down(f[i], f[i + 1], res_num) for i in range(len(f) - 1))
        self.ups = nn.ModuleList(Up(f[i + 1], f[i], f[i], res_num, up_kernel)
                                 for i in reversed(range(len(f) - 1)))
        self.out = nn.Conv2d(f[0], 3, 1)

    @property
    def multiple(self) -> int:
        """Input sides must be divisible by this (2 ** number of downsamplings)."""
        return 2 ** self.levels

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"VNet expects (B, {self.in_channels}, S, S); got {tuple(x.shape)}")
        if x.shape[2] % self.multiple or x.shape[3] % self.multiple:
            raise ValueError(f"VNet input sides must be multiples of {self.multiple}; got {tuple(x.shape[2:])}")
        h = self.stem(x)
        h = self.res0(h, h)
        skips = [h]
        for down in self.downs:
            h = down(h)
            skips.append(h)
        for up, skip in zip(self.ups, reversed(skips[:-1])):
            h = up(h, skip)
        y = torch.sigmoid(self.out(h))
        if self.paste:
            m = x[:, 3:4]
            y = y * m + x[:, :3] * (1 - m)
        return y


class Discriminator(nn.Module):
    """The published discriminator (models/discriminator.py); returns logits (B,)."""

    SPEC = ((64, 5, False, False), (128, 5, True, True), (256, 3, True, True), (512, 3, True, True))

    def __init__(self, size: int, width: float = 1.0, in_channels: int = 3, dropout: float = 0.4):
        super().__init__()
        if size % 16:
            raise ValueError(f"Discriminator size must be a multiple of 16 (4 stride-2 stages); got {size!r}")
        layers, cin = [], in_channels
        for c, k, bn, drop in self.SPEC:
            c = max(4, int(round(c * width)))
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.Conv2d(c, c, k, stride=2, padding=k // 2, bias=False)]
            layers += [_bn(c)] if bn else []
            layers += [nn.LeakyReLU(0.3)] + ([nn.Dropout(dropout)] if drop else [])
            cin = c
        c = max(4, int(round(512 * width)))
        layers += [nn.Conv2d(cin, c, 3, padding=1), nn.Conv2d(c, 1, 3, padding=1), _bn(1), nn.LeakyReLU(0.3),
                   nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear((size // 16) ** 2, 1)
        self.size = size

    def forward(self, x):
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError(f"Discriminator built for {self.size}x{self.size}; got {tuple(x.shape[-2:])}")
        return self.fc(self.features(x)).squeeze(1)

    def predict_proba(self, x):
        return torch.sigmoid(self.forward(x))


@dataclass(frozen=True)
class Variant:
    """A generator variant of the registry: how it is fed and trained."""

    in_channels: int
    paste: bool
    adversarial: bool
    description: str


# The registry of compared models: the published GAN, its generator-only ablation, and the
# mask-aware improvement.
VARIANTS = {
    "gan": Variant(3, False, True, "blind V-Net GAN, whole output (as published)"),
    "generator": Variant(3, False, False, "blind V-Net trained with the pixel loss only (no adversarial term)"),
    "gan_masked": Variant(4, True, True, "V-Net GAN fed the mask, known pixels pasted back (improvement)"),
}


def variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise ValueError(f"unknown inpainting variant {name!r}; choose from {sorted(VARIANTS)}")
    return VARIANTS[name]


def create_generator(name: str = "gan", *, width: float = 1.0, up_kernel: int = 3, **kw) -> VNet:
    """The V-Net of variant ``name`` (``VARIANTS``)."""
    v = variant(name)
    return VNet(width=width, in_channels=v.in_channels, paste=v.paste, up_kernel=up_kernel, **kw)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
