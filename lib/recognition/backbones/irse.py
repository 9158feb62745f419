"""ResNet-IR / IR-SE of FaceX-Zoo (``backbone/ResNets.py``, after TreB1eN/InsightFace_Pytorch).

The low-resolution paper's ResNet50-IR is ``Resnet(50, 0.4, 'ir')``: ``input_layer``
(Conv 3->64, BN, PReLU), ``body`` of ``bottleneck_IR`` units [3, 4, 14, 3] (each
``shortcut_layer`` + ``res_layer``), ``output_layer`` (BN2d, Dropout, Flatten,
Linear 512*7*7 -> 512, BN1d), and an L2-normalised output. Names are FaceX-Zoo's, so its
checkpoints load unchanged.

Departures: ``layers``, ``width`` and ``input_size`` are parameters (the original takes
``num_layers`` in {50, 100, 152} and ``out_h``/``out_w``); ``l2_normalize=False`` returns
the raw embedding (the MagFace head, for one, needs its norm).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lib.recognition.backbones.iresnet import feature_cells

# FaceX-Zoo get_blocks(num_layers): units per stage.
IR_LAYERS = {50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}


class Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.size(0), -1)


class SEModule(nn.Module):
    """Squeeze-and-excitation with 1x1 convs ``fc1``/``fc2`` (FaceX-Zoo ``SEModule``)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, padding=0, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, padding=0, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BottleneckIR(nn.Module):
    """FaceX-Zoo ``bottleneck_IR`` (``se=True``: ``bottleneck_IR_SE``).

    ``res_layer`` = BN, conv3x3, PReLU, conv3x3(stride), BN [, SE]; ``shortcut_layer`` =
    ``MaxPool2d(1, stride)`` when the width is kept, else conv1x1(stride) + BN.
    """

    def __init__(self, in_channel: int, depth: int, stride: int, se: bool = False):
        super().__init__()
        if in_channel == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_channel, depth, (1, 1), stride, bias=False),
                                                nn.BatchNorm2d(depth))
        res = [nn.BatchNorm2d(in_channel), nn.Conv2d(in_channel, depth, (3, 3), (1, 1), 1, bias=False),
               nn.PReLU(depth), nn.Conv2d(depth, depth, (3, 3), stride, 1, bias=False), nn.BatchNorm2d(depth)]
        self.res_layer = nn.Sequential(*res, *([SEModule(depth, 16)] if se else []))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class ResNetIR(nn.Module):
    """FaceX-Zoo ``Resnet(num_layers, drop_ratio, mode)``.

    Args:
        layers: units per stage ((3, 4, 14, 3) = 50 layers; ``IR_LAYERS`` has 100/152).
        width: channels of the stem and stage 1; stages double it (64 -> 64-128-256-512).
        input_size: (H, W); ``Linear`` takes ``8*width * ceil(H/16) * ceil(W/16)``.
        embedding_size: output dimension (``feat_dim``, 512).
        dropout: ``drop_ratio`` before the Linear (0.4 in the low-res paper).
        se: squeeze-and-excitation units (mode ``ir_se``) instead of plain ``ir``.
        l2_normalize: return unit vectors, as the original's ``forward`` does.
    """

    def __init__(self, layers: Sequence[int] = IR_LAYERS[50], *, width: int = 64,
                 input_size: Sequence[int] | int = (112, 112), embedding_size: int = 512,
                 dropout: float = 0.4, se: bool = False, l2_normalize: bool = True):
        super().__init__()
        input_size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        self.input_size, self.embedding_size, self.l2_normalize = input_size, embedding_size, l2_normalize
        self.input_layer = nn.Sequential(nn.Conv2d(3, width, (3, 3), 1, 1, bias=False), nn.BatchNorm2d(width),
                                         nn.PReLU(width))
        h, w = feature_cells(input_size)
        self.output_layer = nn.Sequential(nn.BatchNorm2d(8 * width), nn.Dropout(dropout), Flatten(),
                                          nn.Linear(8 * width * h * w, embedding_size),
                                          nn.BatchNorm1d(embedding_size))
        units, cin = [], width
        for i, n in enumerate(layers):
            depth = width * 2 ** i
            units += [BottleneckIR(cin if u == 0 else depth, depth, 2 if u == 0 else 1, se) for u in range(n)]
            cin = depth
        self.body = nn.Sequential(*units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.output_layer(self.body(self.input_layer(x)))
        return F.normalize(x, dim=1) if self.l2_normalize else x
