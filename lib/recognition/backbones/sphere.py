"""The 20-layer SphereFace network in its two PyTorch spellings (112x96 input, 512-D).

- :class:`Sphere` matches ``sphere(type=20)`` / ``sphere20`` of MuggleWang/CosFace_pytorch
  ``net.py``, the CosFace model of the FRA paper: ``layer1..4`` are Sequentials of
  ``[Conv2d(stride 2, with bias), PReLU, Block...]``, a ``Block`` being ``conv1 prelu1
  conv2 prelu2`` (bias-free) with an identity shortcut; then ``fc`` (512*7*6 -> 512).
- :class:`Sphere20a` matches ``sphere20a(feature=True)`` of clcarwin/sphereface_pytorch
  ``net_sphere.py``, the SphereFace model the FRA code also loads: the same network
  spelt ``conv1_1 relu1_1 conv1_2 ... conv4_3 relu4_3 fc5`` (every conv with a bias).
  Its checkpoints also hold ``fc6.weight``, the AngleLinear classifier used only for
  training; ``load_checkpoint`` drops it (``ignore_checkpoint_keys``).

Departures: ``layers``, ``width`` and ``input_size`` are parameters (``fc``/``fc5`` take
``8*width * ceil(H/16) * ceil(W/16)``); defaults give the originals exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lib.recognition.backbones.iresnet import feature_cells


class Block(nn.Module):
    """CosFace_pytorch ``Block``: x + PReLU(conv(PReLU(conv(x)))), 3x3, no bias, no BN."""

    def __init__(self, planes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.prelu1 = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.prelu2 = nn.PReLU(planes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.prelu2(self.conv2(self.prelu1(self.conv1(x))))


def _sizes(width: int, input_size) -> tuple[list[int], tuple[int, int], int]:
    input_size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    h, w = feature_cells(input_size)
    return [3, width, 2 * width, 4 * width, 8 * width], input_size, 8 * width * h * w


class Sphere(nn.Module):
    """CosFace_pytorch ``sphere`` (type 20: layers 1,2,4,1).

    Args:
        layers: residual ``Block``s per stage (after each stage's stride-2 conv).
        width: channels of stage 1; stages double it (64 -> 64-128-256-512).
        input_size: (H, W); 112x96 in the original.
        embedding_size: output dimension (512).
    """

    def __init__(self, layers: Sequence[int] = (1, 2, 4, 1), *, width: int = 64,
                 input_size: Sequence[int] | int = (112, 96), embedding_size: int = 512):
        super().__init__()
        filters, self.input_size, fc_in = _sizes(width, input_size)
        self.embedding_size = embedding_size
        for i, blocks in enumerate(layers, start=1):
            setattr(self, f"layer{i}", nn.Sequential(nn.Conv2d(filters[i - 1], filters[i], 3, 2, 1),
                                                     nn.PReLU(filters[i]), *[Block(filters[i]) for _ in range(blocks)]))
        self.fc = nn.Linear(fc_in, embedding_size)
        for m in self.modules():  # the original's init: xavier for biased layers, N(0, 0.01) otherwise
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if m.bias is not None:
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.constant_(m.bias, 0.0)
                else:
                    nn.init.normal_(m.weight, 0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(x, 1))


class Sphere20a(nn.Module):
    """sphereface_pytorch ``sphere20a(feature=True)``: the embedding ``fc5``, no ``fc6``.

    Stage s has ``conv{s}_1`` (stride 2) then residual pairs ``conv{s}_{2k}``/``conv{s}_{2k+1}``,
    each conv followed by ``relu{s}_{j}`` (a PReLU, as named in the original).

    Args:
        layers: residual pairs per stage (1,2,4,1 -> 3, 5, 9, 3 convs).
        width: channels of stage 1; stages double it.
        input_size: (H, W); 112x96 in the original.
        embedding_size: output dimension (512).
    """

    ignore_checkpoint_keys = ("fc6.",)  # the AngleLinear training classifier

    def __init__(self, layers: Sequence[int] = (1, 2, 4, 1), *, width: int = 64,
                 input_size: Sequence[int] | int = (112, 96), embedding_size: int = 512):
        super().__init__()
        filters, self.input_size, fc_in = _sizes(width, input_size)
        self.embedding_size, self.layers = embedding_size, tuple(layers)
        for s, pairs in enumerate(layers, start=1):
            for j in range(1, 2 * pairs + 2):
                cin = filters[s - 1] if j == 1 else filters[s]
                setattr(self, f"conv{s}_{j}", nn.Conv2d(cin, filters[s], 3, 2 if j == 1 else 1, 1))
                setattr(self, f"relu{s}_{j}", nn.PReLU(filters[s]))
        self.fc5 = nn.Linear(fc_in, embedding_size)

    def _unit(self, s: int, j: int, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"relu{s}_{j}")(getattr(self, f"conv{s}_{j}")(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for s, pairs in enumerate(self.layers, start=1):
            x = self._unit(s, 1, x)
            for k in range(1, pairs + 1):
                x = x + self._unit(s, 2 * k + 1, self._unit(s, 2 * k, x))
        return self.fc5(torch.flatten(x, 1))
