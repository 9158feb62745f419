"""IResNet (improved residual network) of insightface arcface_torch and MagFace.

Matches ``recognition/arcface_torch/backbones/iresnet.py`` (deepinsight/insightface) and
``models/iresnet.py`` (IrvingMeng/MagFace) module for module, so their checkpoints load
with ``model.load_state_dict(state)`` unchanged: ``conv1 bn1 prelu layer1..4 bn2 dropout
fc features``, blocks ``bn1 conv1 bn2 prelu conv2 bn3 downsample.0/.1``.

Departures (none of which changes a state-dict key or shape at the defaults):
- ``width`` scales the four stage widths (64-128-256-512 at ``width=64``) and
  ``input_size`` sizes ``fc`` (``ceil(H/16) * ceil(W/16)`` cells instead of the fixed
  7*7), so the same class gives CPU-sized variants;
- the originals' unused ``groups``/``dilation``/``fp16`` options are dropped;
- MagFace applies ``Dropout2d(0.4)`` before flattening; here dropout is always the
  arcface_torch element-wise dropout after flattening (identical in eval mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class IBasicBlock(nn.Module):
    """BN-conv-BN-PReLU-conv(stride)-BN plus shortcut (arcface_torch ``IBasicBlock``).

    Args:
        inplanes: input channels.
        planes: output channels.
        stride: stride of the second conv (and of ``downsample``).
        downsample: shortcut projection (``Sequential(conv1x1, BN)``), or None for identity.
        norm_layer: 2-D normalisation type (``nn.BatchNorm2d`` with the model's eps/momentum).
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.bn1 = norm_layer(inplanes)
        self.conv1 = conv3x3(inplanes, planes)
        self.bn2 = norm_layer(planes)
        self.prelu = nn.PReLU(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


def feature_cells(input_size: Sequence[int], stages: int = 4) -> tuple[int, int]:
    """Spatial size after ``stages`` stride-2 3x3 convs with padding 1: ceil(n / 2**stages)."""
    return tuple(math.ceil(int(s) / 2 ** stages) for s in input_size)


class IResNet(nn.Module):
    """arcface_torch ``IResNet`` (``iresnet18/34/50/100`` = layers 2222 / 3463 / 3,4,14,3 / 3,13,30,3).

    Args:
        layers: blocks per stage (four ints).
        width: channels of the stem and stage 1; stages double it (64 -> 64-128-256-512).
        input_size: (H, W) of the input; ``fc`` takes ``8*width * ceil(H/16) * ceil(W/16)``.
        embedding_size: output dimension (arcface_torch ``num_features``, MagFace ``num_classes``).
        dropout: dropout before ``fc`` (arcface_torch: 0; MagFace: 0.4).
        bn_eps: BatchNorm eps (arcface_torch 1e-5; MagFace 2e-5).
        bn_momentum: BatchNorm momentum (PyTorch meaning; MagFace writes 0.9).
        fix_features_gamma: freeze the final BatchNorm1d's weight at 1 (arcface_torch does).
        zero_init_residual: zero the ``bn2`` weight of every block (as the originals' flag).
    """

    def __init__(self, layers: Sequence[int] = (3, 4, 14, 3), *, width: int = 64,
                 input_size: Sequence[int] | int = (112, 112), embedding_size: int = 512,
                 dropout: float = 0.0, bn_eps: float = 1e-5, bn_momentum: float = 0.1,
                 fix_features_gamma: bool = True, zero_init_residual: bool = False):
        super().__init__()
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers must be four positive ints, got {layers!r}")
        input_size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        self.input_size, self.embedding_size = input_size, embedding_size

        def norm2d(c):
            return nn.BatchNorm2d(c, eps=bn_eps, momentum=bn_momentum)

        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = norm2d(width)
        self.prelu = nn.PReLU(width)
        self.layer1 = self._make_layer(width, layers[0], norm2d)
        self.layer2 = self._make_layer(2 * width, layers[1], norm2d)
        self.layer3 = self._make_layer(4 * width, layers[2], norm2d)
        self.layer4 = self._make_layer(8 * width, layers[3], norm2d)
        self.bn2 = norm2d(8 * width)
        self.dropout = nn.Dropout(p=dropout, inplace=True)
        h, w = feature_cells(input_size)
        self.fc = nn.Linear(8 * width * h * w, embedding_size)
        self.features = nn.BatchNorm1d(embedding_size, eps=bn_eps, momentum=bn_momentum)

        for m in self.modules():  # arcface_torch's init
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = not fix_features_gamma
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, IBasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, planes: int, blocks: int, norm_layer) -> nn.Sequential:
        # Every stage starts with stride 2, so its first block always has a projection.
        downsample = nn.Sequential(conv1x1(self.inplanes, planes, 2), norm_layer(planes))
        layers = [IBasicBlock(self.inplanes, planes, 2, downsample, norm_layer)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes, norm_layer=norm_layer) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))
