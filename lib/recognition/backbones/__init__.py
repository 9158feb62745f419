"""Face-recognition backbones by name, each with its input contract (timm-style registry).

    model = create_backbone("iresnet_tiny", embedding_size=128)   # caller kwargs override
    x = preprocess(images_uint8_rgb, get_preprocess(model))       # (N, 3, H, W) float32
    load_checkpoint(create_backbone("magface_iresnet100"), "magface_epoch_00025.pth")

Named checkpoints' architectures keep their original module names (iresnet.py, sphere.py,
irse.py say which source each matches); the CPU-sized variants reuse the same classes
with fewer blocks, narrower stages and smaller inputs. Every model carries
``backbone_name``, ``input_size``, ``embedding_size`` and ``preprocess_spec``.
Used by lib.recognition.train (models by name) and lib.recognition.embedders (evaluation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from torch import nn

from lib.recognition.backbones.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint
from lib.recognition.backbones.iresnet import IBasicBlock, IResNet
from lib.recognition.backbones.irse import IR_LAYERS, ResNetIR
from lib.recognition.backbones.preprocess import (ARCFACE, COSFACE_PYTORCH, FACEX_ZOO, MAGFACE, SPHEREFACE_PYTORCH,
                                                  Preprocess, preprocess)
from lib.recognition.backbones.sphere import Sphere, Sphere20a

__all__ = ["BACKBONES", "CheckpointError", "IBasicBlock", "IResNet", "LoadedCheckpoint", "Preprocess", "ResNetIR",
           "Sphere", "Sphere20a", "backbone_names", "create_backbone", "get_preprocess", "load_checkpoint",
           "preprocess", "register_backbone"]

BACKBONES: dict[str, Callable[..., nn.Module]] = {}


def register_backbone(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Add ``fn`` (kwargs -> model) to ``BACKBONES`` under its function name."""
    BACKBONES[fn.__name__] = fn
    return fn


def _with(model: nn.Module, spec: Preprocess) -> nn.Module:
    model.preprocess_spec = spec.with_size(model.input_size)
    return model


# --- insightface arcface_torch (get_model("r50") etc.): RGB, (x/255 - 0.5)/0.5, 112 -> 512
@register_backbone
def iresnet18(**kw):
    return _with(IResNet(**{"layers": (2, 2, 2, 2), **kw}), ARCFACE)


@register_backbone
def iresnet34(**kw):
    return _with(IResNet(**{"layers": (3, 4, 6, 3), **kw}), ARCFACE)


@register_backbone
def iresnet50(**kw):
    return _with(IResNet(**{"layers": (3, 4, 14, 3), **kw}), ARCFACE)


@register_backbone
def iresnet100(**kw):
    return _with(IResNet(**{"layers": (3, 13, 30, 3), **kw}), ARCFACE)


# --- MagFace (the FRA paper's magface_epoch_00025.pth): same names, BN eps 2e-5, BGR/255
_MAGFACE = {"bn_eps": 2e-5, "bn_momentum": 0.9, "dropout": 0.4, "fix_features_gamma": False}


@register_backbone
def magface_iresnet50(**kw):
    return _with(IResNet(**{"layers": (3, 4, 14, 3), **_MAGFACE, **kw}), MAGFACE)


@register_backbone
def magface_iresnet100(**kw):
    return _with(IResNet(**{"layers": (3, 13, 30, 3), **_MAGFACE, **kw}), MAGFACE)


# --- SphereFace-20 at 112x96: CosFace_pytorch (FRA's CosFace) and sphereface_pytorch
@register_backbone
def sphere20(**kw):
    return _with(Sphere(**{"layers": (1, 2, 4, 1), **kw}), COSFACE_PYTORCH)


@register_backbone
def sphere20a(**kw):
    return _with(Sphere20a(**{"layers": (1, 2, 4, 1), **kw}), SPHEREFACE_PYTORCH)


# --- FaceX-Zoo ResNet-IR: the low-resolution paper's ResNet50-IR (BGR, (x-127.5)/128)
@register_backbone
def resnet50_ir(**kw):
    return _with(ResNetIR(**{"layers": IR_LAYERS[50], **kw}), FACEX_ZOO)


# --- CPU-sized IResNets (same blocks and names, fewer and narrower): the default profile's
@register_backbone
def iresnet_tiny(**kw):
    return _with(IResNet(**{"layers": (1, 1, 1, 1), "width": 16, "input_size": 64, "embedding_size": 128,
                            **kw}), ARCFACE)


@register_backbone
def iresnet_small(**kw):
    return _with(IResNet(**{"layers": (1, 2, 2, 1), "width": 32, "input_size": 112, "embedding_size": 256,
                            **kw}), ARCFACE)


def backbone_names() -> list[str]:
    """Registered backbone names, sorted."""
    return sorted(BACKBONES)


def create_backbone(name: str, *, preprocess: Preprocess | Mapping | None = None, **overrides) -> nn.Module:
    """Build backbone ``name``; ``overrides`` replace its constructor defaults.

    Args:
        name: one of ``backbone_names()``.
        preprocess: replace the input contract: a whole :class:`Preprocess`, or a mapping of
            fields to change (e.g. ``{"channels": "BGR"}`` to feed a model the way the FRA
            code fed CosFace). ``input_size`` always follows the built model.
        **overrides: constructor arguments (``layers``, ``width``, ``input_size``,
            ``embedding_size``, ``dropout``...).
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {backbone_names()}")
    model = BACKBONES[name](**overrides)
    if isinstance(preprocess, Preprocess):
        model.preprocess_spec = preprocess.with_size(model.input_size)
    elif preprocess is not None:
        changes = dict(preprocess)
        changes.setdefault("source", f"{model.preprocess_spec.source}; overridden: {', '.join(changes)}")
        model.preprocess_spec = replace(model.preprocess_spec, **{**changes, "input_size": model.input_size})
    model.backbone_name = name
    return model


def get_preprocess(model: nn.Module) -> Preprocess:
    """The :class:`Preprocess` of a backbone (through DDP/DataParallel/torch.compile wrappers)."""
    for attr in ("module", "_orig_mod"):
        model = getattr(model, attr, model)
    spec = getattr(model, "preprocess_spec", None)
    if not isinstance(spec, Preprocess):
        raise ValueError(f"{type(model).__name__} has no preprocess_spec: build it with create_backbone(), "
                         f"or set model.preprocess_spec = Preprocess(input_size=(H, W), ...)")
    return spec
