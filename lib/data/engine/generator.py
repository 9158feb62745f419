"""The DCGAN face generator of gan-face-generate (64x64 RGB, 100-D latent, DigiFace-1M).

Our own module with the published layer layout (PyTorch DCGAN tutorial: five transposed
convolutions), so its ``netG_state_dict`` loads unchanged with ``weights_only=True``.
Data card: data_cards/dcgan_faces.md.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

LATENT = 100


def build_generator(nz: int = LATENT, ngf: int = 64, nc: int = 3):
    """The DCGAN generator (parameter names main.0 ... main.12 as in the checkpoint)."""
    from torch import nn

    def up(cin, cout, stride, pad):
        return [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

    layers = [*up(nz, ngf * 8, 1, 0), *up(ngf * 8, ngf * 4, 2, 1), *up(ngf * 4, ngf * 2, 2, 1),
              *up(ngf * 2, ngf, 2, 1), nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
    net = nn.Module()
    net.main = nn.Sequential(*layers)
    net.forward = lambda z: net.main(z)
    return net


@lru_cache(maxsize=1)
def load_generator():
    """The pretrained generator in eval mode (cached per process)."""
    import torch

    from lib.faces.assets import asset_path

    net = build_generator()
    state = torch.load(asset_path("dcgan"), map_location="cpu", weights_only=True)["netG_state_dict"]
    net.main.load_state_dict({k.removeprefix("main."): v for k, v in state.items()})
    return net.eval()


def sample_faces(seed: int, start: int, count: int) -> np.ndarray:
    """Faces number ``start`` .. ``start+count-1`` of the stream for ``seed``: uint8 (count, 64, 64, 3).

    Face i always comes from the latent drawn for (seed, i), whatever the batch split, so a
    generation can be resumed or parallelised without changing any identity.
    """
    import torch

    z = np.stack([np.random.default_rng([seed, start + i]).standard_normal(LATENT) for i in range(count)])
    with torch.no_grad():
        x = load_generator()(torch.from_numpy(z.astype(np.float32))[:, :, None, None])
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
