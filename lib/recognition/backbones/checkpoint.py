"""Load a published or companion checkpoint into a backbone, safely and with clear errors.

``torch.load(weights_only=True)`` only: a file that needs full unpickling is refused,
never loaded unsafely. The state dict is found inside the usual containers and wrappers
(timm's ``checkpoint_filter_fn`` idea, kept apart from the architectures):

- containers: a plain state dict (arcface_torch ``model.pt``), or a dict holding it under
  ``state_dict`` (MagFace, FaceX-Zoo), ``state_dict_backbone`` (arcface_torch resume
  checkpoints), ``model``, or ``backbone`` (this companion's ``train``);
- prefixes: ``features.module.`` (MagFace: backbone inside DataParallel inside its
  builder), ``module.`` (DataParallel/DDP), ``backbone.`` (FaceX-Zoo's FaceModel),
  ``model.``. A prefix is stripped when most keys carry it and the keys do not already
  fit; keys outside it (e.g. MagFace's classifier ``fc.weight``) are ignored;
- per-architecture training-only keys (``model.ignore_checkpoint_keys``, e.g. the
  SphereFace ``fc6`` classifier) are ignored.
"""

from __future__ import annotations

import functools
import logging
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

log = logging.getLogger(__name__)

CONTAINER_KEYS = ("state_dict", "state_dict_backbone", "model", "backbone")
KNOWN_PREFIXES = ("features.module.", "module.", "backbone.", "model.")
_SHOW = 10


class CheckpointError(ValueError):
    """A checkpoint that cannot be (safely) loaded into the given backbone."""


@dataclass
class LoadedCheckpoint:
    """What ``load_checkpoint`` did: where the weights sat and what it left out."""

    path: Path
    container: str | None = None  # one of CONTAINER_KEYS, or None (a plain state dict)
    stripped: list[str] = field(default_factory=list)  # prefixes removed, outermost first
    ignored: list[str] = field(default_factory=list)  # checkpoint keys not meant for the backbone
    missing: list[str] = field(default_factory=list)  # model keys left at their init (strict=False)
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys without a place (strict=False)
    mismatched: list[str] = field(default_factory=list)  # same key, other shape, skipped (strict=False)

    def __str__(self) -> str:
        parts = [f"loaded {self.path.name}"]
        if self.container:
            parts.append(f"from [{self.container!r}]")
        if self.stripped:
            parts.append("stripped prefix " + " then ".join(repr(p) for p in self.stripped))
        for what in ("ignored", "missing", "unexpected", "mismatched"):
            if getattr(self, what):
                parts.append(f"{len(getattr(self, what))} {what}")
        return ", ".join(parts)


def _head(keys, n: int = _SHOW) -> str:
    keys = list(keys)
    more = f" ... (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickled object of a pre-1.6 torch.save file


class _NoGlobals(pickle.Unpickler):
    """Unpickles plain values only: any class or function reference is refused (no code runs)."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def is_torch_file(path) -> bool:
    """A torch.save archive (zip, PyTorch >= 1.6) or a legacy torch.save pickle stream."""
    if zipfile.is_zipfile(path):
        return True
    try:
        with open(path, "rb") as f:
            return _NoGlobals(f).load() == _LEGACY_MAGIC
    except Exception:
        return False


def read_state_dict(path) -> tuple[dict[str, torch.Tensor], str | None]:
    """The tensors of a checkpoint file and the container key they sat under."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not is_torch_file(path):
        raise CheckpointError(f"{path}: not a torch checkpoint (neither a torch.save zip archive nor a legacy "
                              f"torch.save pickle); expected a .pt/.pth file written by torch.save")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower() or "weights_only" in str(e):
            raise CheckpointError(
                f"{path}: refusing to load: besides tensors it pickles Python objects that only "
                f"torch.load(weights_only=False) could read, which can run arbitrary code. If you trust "
                f"its source, load it once that way in a separate session and re-save only the tensors, "
                f"torch.save(state_dict, 'weights.pt'). ({str(e).splitlines()[0]})"
            ) from e
        raise CheckpointError(f"{path}: not a torch checkpoint (unpickling failed: {e})") from e
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError) as e:
        raise CheckpointError(f"{path}: not a torch checkpoint (torch.load failed: {str(e).splitlines()[0]})") from e
    container = None
    if isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        container = next((k for k in CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if container is None:
            raise CheckpointError(f"{path}: a dict without a state dict: no tensors at the top level and none of "
                                  f"{list(CONTAINER_KEYS)} (keys: {_head(map(str, obj))})")
        obj = obj[container]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path}: holds {type(obj).__name__}, not a state dict of tensors")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: the state dict holds no tensors")
    return tensors, container


def strip_prefixes(state: Mapping[str, torch.Tensor], model_keys=()) -> tuple[dict, list[str], list[str]]:
    """Remove wrapper prefixes carried by most keys: (state, stripped prefixes, ignored keys).

    A prefix is not stripped when the keys already fit the model as they are.
    """
    state, stripped, ignored = dict(state), [], []
    model_keys = set(model_keys)
    while True:
        if model_keys and len(model_keys & state.keys()) >= len(model_keys) // 2:
            break
        prefix = next((p for p in KNOWN_PREFIXES if sum(k.startswith(p) for k in state) > len(state) / 2), None)
        if prefix is None:
            break
        ignored += [k for k in state if not k.startswith(prefix)]
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        stripped.append(prefix)
    return state, stripped, ignored


@functools.lru_cache(maxsize=None)
def _default_layout(name: str) -> tuple[dict[str, tuple[int, ...]], tuple[str, ...]]:
    from lib.recognition.backbones import create_backbone

    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = create_backbone(name)
    layout = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    return layout, tuple(getattr(model, "ignore_checkpoint_keys", ()))


def suggest_backbones(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Registered backbones (default arguments) whose state dict has exactly these keys and shapes."""
    from lib.recognition.backbones import backbone_names

    want = {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}
    hits = []
    for name in backbone_names():
        layout, ignore = _default_layout(name)
        if layout == {k: s for k, s in want.items() if not k.startswith(ignore)}:
            hits.append(name)
    return hits


def load_checkpoint(model: torch.nn.Module, path, *, strict: bool = True) -> LoadedCheckpoint:
    """Load the weights in ``path`` into ``model`` (in place); return what was done.

    Args:
        model: a backbone (``create_backbone``) or any module.
        path: a ``.pt``/``.pth`` file written by ``torch.save``.
        strict: every model weight must come from the file with its shape, and every
            checkpoint key must find a place (after containers, prefixes and
            ``ignore_checkpoint_keys``). With ``strict=False`` the fitting weights are
            loaded and the rest is reported in the returned record.

    Raises:
        CheckpointError: not a torch checkpoint, unsafe to load, or (strict) does not fit;
            the message names the file, the missing / unexpected / mismatched keys and
            the registered backbones the checkpoint would fit.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    state, container = read_state_dict(path)
    own = model.state_dict()
    state, stripped, ignored = strip_prefixes(state, own.keys())
    ignore = tuple(getattr(model, "ignore_checkpoint_keys", ()))
    if ignore:
        ignored += [k for k in state if k.startswith(ignore)]
        state = {k: v for k, v in state.items() if not k.startswith(ignore)}

    # Checkpoints from before PyTorch 0.4.1 lack BatchNorm's counter; torch fills it in.
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                  for k, v in state.items() if k in own and v.shape != own[k].shape]
    info = LoadedCheckpoint(path, container, stripped, ignored, missing, unexpected,
                            [m.split(":")[0] for m in mismatched])
    if strict and (missing or unexpected or mismatched):
        name = getattr(model, "backbone_name", type(model).__name__)
        lines = [f"{path}: checkpoint does not fit backbone {name!r}"
                 + (f" (after stripping {' then '.join(map(repr, stripped))})" if stripped else "") + "."]
        if missing:
            lines.append(f"missing {len(missing)} keys: {_head(missing)}")
        if unexpected:
            lines.append(f"unexpected {len(unexpected)} keys: {_head(unexpected)}")
        if mismatched:
            lines.append(f"{len(mismatched)} shape mismatches: {_head(mismatched)}")
        fits = suggest_backbones(state)
        lines.append(f"It fits: {', '.join(fits)}." if fits else
                     "No registered backbone with default arguments fits it either.")
        lines.append("Pick the backbone the checkpoint was trained as (and its embedding_size/input_size), "
                     "see backbone_names(); or pass strict=False to load only the matching weights.")
        raise CheckpointError("\n".join(lines))

    fitting = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    model.load_state_dict(fitting, strict=False)
    log.info("%s", info)
    return info
