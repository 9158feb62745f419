"""dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) run by PyTorch.

    net = load_dlib_resnet()                 # weights read from the .dat that face_recognition_models ships
    desc = net(dlib_chips_to_tensor(chips))  # (N, 150, 150, 3) uint8 RGB chips -> (N, 128) raw descriptors

Why: the dlib-bin wheel is built without BLAS (``dlib.DLIB_USE_BLAS`` is False), so its CPU
network runs one image at a time on one core at 9.4 images/s. The same network in PyTorch runs
batched on every core (``python -m lib.speed.dlib_resnet`` measures both). The descriptors are
dlib's own to float32 rounding: tests/test_dlib_resnet.py compares them with
``dlib.face_recognition_model_v1.compute_face_descriptor`` on real face chips.

The architecture is ``anet_type`` of dlib's examples/dnn_face_recognition_ex.cpp (a 29-conv ResNet):

    input_rgb_image_sized<150>: (pixel - (122.782, 117.001, 104.298)) / 256, RGB
    con<32,7,7,2,2> affine relu max_pool<3,3,2,2>
    level4: 3 x ares<32>; level3: ares_down<64> + 3 x ares<64>; level2: ares_down<128> + 2 x ares<128>;
    level1: ares_down<256> + 2 x ares<256>; level0: ares_down<256>
    avg_pool_everything, fc_no_bias<128>

    ares      = relu(x + BN(con3x3 s1(relu(BN(con3x3 s1(x))))))
    ares_down = relu(avg_pool<2,2,2,2>(x) + BN(con3x3 s1(relu(BN(con3x3 s2(x))))))

with ``affine`` (a frozen batch norm: gamma * x + beta per channel) as BN. dlib's defaults that a
PyTorch reader would not guess, all read from the file and checked on load:
- a strided conv or pool has no padding (``padding = stride != 1 ? 0 : size / 2``), so the stem
  gives 150 -> 72 -> 35 and the down blocks 35 -> 17 -> 8 -> 3 -> 1;
- ``add_prev`` sums tensors of different shapes by zero-padding the smaller one at the end of
  each axis (``tt::add``): the down blocks' skip has fewer channels, and in the last two the
  pooled skip is larger (8 -> 4 vs 3; 4 -> 2 vs 1) than the conv branch.

File format (dlib/serialize.h, dlib/cuda/tensor.h): layers are written input first; an integer is
one byte (sign bit 0x80, byte count in the low nibble) then its little-endian bytes; a string is
its length then its bytes; a tensor is version 2, four dimensions, then raw little-endian float32.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

AVG_RGB = (122.782, 117.001, 104.298)
CHIP_SIZE = 150
# (output channels, downsampling) of the 14 residual blocks, input side first
BLOCKS = [(32, False)] * 3 + [(64, True)] + [(64, False)] * 3 + [(128, True)] + [(128, False)] * 2 \
    + [(256, True)] + [(256, False)] * 2 + [(256, True)]


class DlibModelError(ValueError):
    """The .dat file is not dlib's face recognition ResNet v1 (or is damaged)."""


def _int(buf: bytes, pos: int) -> tuple[int, int]:
    head = buf[pos]
    n = head & 0x0F
    value = int.from_bytes(buf[pos + 1:pos + 1 + n], "little")
    return (-value if head & 0x80 else value), pos + 1 + n


def _tensor(buf: bytes, pos: int) -> tuple[np.ndarray, int]:
    version, pos = _int(buf, pos)
    if version != 2:
        raise DlibModelError(f"tensor version {version} at byte {pos}; only version 2 (raw float32) is known")
    dims = []
    for _ in range(4):
        d, pos = _int(buf, pos)
        dims.append(d)
    count = int(np.prod(dims))
    if pos + 4 * count > len(buf):
        raise DlibModelError(f"tensor of {count} floats at byte {pos} runs past the end of the file")
    return np.frombuffer(buf, "<f4", count, pos).reshape(dims).copy(), pos + 4 * count


def _name(buf: bytes, name: bytes, pos: int) -> int:
    """Position just after the next serialised string ``name`` (length byte + bytes) from ``pos``."""
    token = bytes([1, len(name)]) + name
    at = buf.find(token, pos)
    if at < 0:
        raise DlibModelError(f"no {name.decode()} layer after byte {pos}")
    return at + len(token)


def read_layers(path: str | Path) -> list[tuple[str, np.ndarray, tuple[int, ...]]]:
    """The parameterised layers of a dlib .dat, input side first, as (kind, params, ints).

    kind: ``con`` (ints: filters, rows, cols, stride y, stride x, padding y, padding x), ``affine``
    or ``fc`` (ints: outputs, inputs). Only what the ResNet needs is read; the rest is skipped.
    """
    path = Path(path)
    try:
        return _read_layers(path, path.read_bytes())
    except (DlibModelError, IndexError) as err:
        raise DlibModelError(f"{path}: {err or 'ends early'}; the file is damaged or not dlib's "
                             "ResNet v1: reinstall face_recognition_models==0.3.0") from err


def _read_layers(path: Path, buf: bytes) -> list[tuple[str, np.ndarray, tuple[int, ...]]]:
    if b"loss_metric_" not in buf[:64]:
        raise DlibModelError("it does not start with dlib's loss_metric network; "
                             "expected dlib_face_recognition_resnet_model_v1.dat")
    layers, pos = [], 0
    kinds = {b"con_4": "con", b"affine_": "affine", b"fc_2": "fc"}
    # the next layer name of any kind, in one forward scan (searching each kind separately rescanned the
    # 22 MB file to its end for the kinds that come late: 0.6 s per load)
    names = re.compile(b"|".join(re.escape(bytes([1, len(k)]) + k) for k in kinds))
    while True:
        found = names.search(buf, pos)
        if found is None:
            return layers
        key = found.group()[2:]
        pos = _name(buf, key, pos)
        if key == b"fc_2":
            outputs, pos = _int(buf, pos)
            inputs, pos = _int(buf, pos)
            params, pos = _tensor(buf, pos)
            layers.append(("fc", params, (outputs, inputs)))
            continue
        params, pos = _tensor(buf, pos)
        ints = ()
        if key == b"con_4":
            vals = []
            for _ in range(7):
                v, pos = _int(buf, pos)
                vals.append(v)
            ints = tuple(vals)
        layers.append((kinds[key], params, ints))


class Affine(nn.Module):
    """dlib's ``affine`` layer in conv mode: gamma * x + beta per channel (a frozen batch norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias[:, None, None], x, self.weight[:, None, None])


def add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum over the larger shape, each input zero-padded at the end of each axis."""
    if a.shape == b.shape:
        return a + b
    out = a.new_zeros([max(x, y) for x, y in zip(a.shape, b.shape)])
    out[:, :a.shape[1], :a.shape[2], :a.shape[3]] += a
    out[:, :b.shape[1], :b.shape[2], :b.shape[3]] += b
    return out


class ResBlock(nn.Module):
    """``ares`` / ``ares_down`` of dnn_face_recognition_ex.cpp (see the module docstring)."""

    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        stride = 2 if down else 1
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=0 if down else 1)
        self.bn1 = Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = Affine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(add_padded(y, F.avg_pool2d(x, 2, 2) if self.down else x))


class DlibResNet(nn.Module):
    """dlib's face recognition ResNet v1: (N, 3, 150, 150) normalised chips -> (N, 128) raw descriptors."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        self.bn1 = Affine(32)
        blocks, cin = [], 32
        for cout, down in BLOCKS:
            blocks.append(ResBlock(cin, cout, down))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2)
        x = self.blocks(x).mean((2, 3))
        return self.fc(x)

    def convs(self) -> list[nn.Conv2d]:
        return [self.conv1] + [c for b in self.blocks for c in (b.conv1, b.conv2)]

    def affines(self) -> list[Affine]:
        return [self.bn1] + [a for b in self.blocks for a in (b.bn1, b.bn2)]


def load_dlib_resnet(path: str | Path | None = None) -> DlibResNet:
    """A DlibResNet (eval mode) holding the weights of dlib's .dat (default: the bundled one)."""
    if path is None:
        from lib.faces.assets import asset_path

        path = asset_path("dlib_resnet")
    layers = read_layers(path)
    net = DlibResNet()
    convs, affines = net.convs(), net.affines()
    want = ["con", "affine"] * len(convs) + ["fc"]
    got = [kind for kind, _, _ in layers]
    if sorted(got) != sorted(want):
        raise DlibModelError(f"{path}: {got.count('con')} conv, {got.count('affine')} affine and "
                             f"{got.count('fc')} fc layers; dlib's ResNet v1 has {len(convs)}, {len(affines)} and 1")
    con_params = [(p, ints) for kind, p, ints in layers if kind == "con"]
    aff_params = [p for kind, p, _ in layers if kind == "affine"]
    with torch.no_grad():
        for conv, (p, ints) in zip(convs, con_params):
            cout, cin, kh, kw = conv.weight.shape
            expect = (cout, kh, kw, conv.stride[0], conv.stride[1], conv.padding[0], conv.padding[1])
            if ints != expect or p.size != conv.weight.numel() + cout:
                raise DlibModelError(f"{path}: conv layer {ints} (filters, rows, cols, strides, paddings) with "
                                     f"{p.size} parameters where dlib's ResNet v1 has {expect}")
            flat = p.reshape(-1)
            conv.weight.copy_(torch.from_numpy(flat[:conv.weight.numel()].reshape(conv.weight.shape)))
            conv.bias.copy_(torch.from_numpy(flat[conv.weight.numel():]))
        for aff, p in zip(affines, aff_params):
            flat = p.reshape(-1)
            c = aff.weight.numel()
            if flat.size != 2 * c:
                raise DlibModelError(f"{path}: affine layer with {flat.size} parameters where {2 * c} are expected")
            aff.weight.copy_(torch.from_numpy(flat[:c]))
            aff.bias.copy_(torch.from_numpy(flat[c:]))
        fc = next(p for kind, p, _ in layers if kind == "fc")
        if fc.shape[:2] != (256, 128):
            raise DlibModelError(f"{path}: fc layer of shape {fc.shape[:2]}, expected (256 inputs, 128 outputs)")
        net.fc.weight.copy_(torch.from_numpy(fc.reshape(256, 128).T.copy()))  # dlib: out = x @ W
    return net.eval()


def dlib_chips_to_tensor(chips: np.ndarray) -> torch.Tensor:
    """(N, 150, 150, 3) uint8 RGB chips -> the normalised (N, 3, 150, 150) float tensor of input_rgb_image."""
    chips = np.asarray(chips)
    if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(f"expected (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) RGB chips (dlib.get_face_chip), got {chips.shape}")
    x = torch.from_numpy(np.ascontiguousarray(chips)).permute(0, 3, 1, 2).float()
    return (x - torch.tensor(AVG_RGB).view(1, 3, 1, 1)) / 256.0


@torch.no_grad()
def describe(net: DlibResNet, chips: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Raw 128-d descriptors of uint8 RGB chips, batched: what dlib's compute_face_descriptor returns."""
    out = [net(dlib_chips_to_tensor(chips[i:i + batch_size])) for i in range(0, len(chips), batch_size)]
    return torch.cat(out).numpy().astype(np.float32) if out else np.zeros((0, 128), np.float32)
