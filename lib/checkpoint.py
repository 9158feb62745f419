"""One checkpointer for every training loop (recognition, inpainting, FRA).

A run writes ``last.pt`` atomically at its checkpoints; a new call with the same configuration
resumes from it, one with another configuration starts afresh (and overwrites it). What a
checkpoint holds: the configuration and its hash, the progress counter (steps, or epochs for FRA),
the state of every named module (models, optimisers, schedulers, gradient scalers), torch's CPU RNG
state (and CUDA's on a GPU), and any extra entries the loop asks for::

    ckpt = Checkpointer(work_dir / "last.pt", config_key)
    step = 0
    if (state := ckpt.read()) is not None:
        step = ckpt.restore(state, {"backbone": backbone, "optimizer": opt})
    ...
    ckpt.save(step, {"backbone": backbone, "optimizer": opt}, check=[backbone])

A checkpoint whose parameters are not finite is never written: ``save`` raises
``TrainingDiverged`` and the last good one stays. Files are read with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from lib import io, provenance


class TrainingDiverged(RuntimeError):
    """The loss or the parameters stopped being finite (the last good checkpoint is kept)."""


def save_atomic(path: Path, obj) -> None:
    """torch.save ``obj`` to ``path`` through a temporary file: a reader sees the old file or the new one."""
    import torch

    with io.atomic_path(Path(path)) as tmp:
        torch.save(obj, tmp)


def load(path: Path, what: str = "checkpoint") -> dict:
    """A file written by ``save_atomic`` (tensors and plain containers only)."""
    import torch

    try:
        return torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling problem means the file is unusable
        raise RuntimeError(f"{path}: cannot be read as a {what} checkpoint ({err}). To fix: delete it to "
                           "train from scratch") from err


class Checkpointer:
    """``last.pt`` of one training run, tied to one configuration (``config``: a JSON-able mapping of
    everything that changes the result). ``unit``: what the counter counts ("step", "epoch");
    ``what`` names the loop in error messages."""

    def __init__(self, path, config: Mapping, *, unit: str = "step", what: str = "training"):
        self.path, self.config, self.unit, self.what = Path(path), dict(config), unit, what
        self.hash = provenance.config_hash(self.config)

    def read(self) -> dict | None:
        """The saved state if it belongs to this configuration, else None (train from scratch)."""
        if not self.path.is_file():
            return None
        state = load(self.path, self.what)
        return state if state.get("config_hash") == self.hash else None

    def restore(self, state: dict, modules: Mapping, device=None) -> int:
        """Load every module (None entries skipped) and torch's RNG state; return the saved counter."""
        import torch

        for name, module in modules.items():
            if module is not None:
                module.load_state_dict(state[name])
        torch.set_rng_state(state["torch_rng"])
        if device is not None and getattr(device, "type", None) == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        return int(state["step"])

    def save(self, step: int, modules: Mapping, *, check=(), extra: Mapping | None = None, device=None,
             diverged: str = "") -> None:
        """Write the checkpoint at counter ``step``. ``check``: modules whose parameters must be finite
        (else ``TrainingDiverged``, whose message names ``step`` and ends with the hint ``diverged``);
        ``extra``: more entries (e.g. the history); None modules are stored as empty states."""
        import torch

        if not all(torch.isfinite(p).all() for m in check if m is not None for p in m.parameters()):
            raise TrainingDiverged(f"{self.unit} {step}: parameters are not finite; the last good checkpoint is "
                                   f"{self.path} (kept).{' ' + diverged if diverged else ''}")
        state = {"config_hash": self.hash, "config": self.config, "step": int(step),
                 **{name: ({} if m is None else m.state_dict()) for name, m in modules.items()},
                 "torch_rng": torch.get_rng_state(), **dict(extra or {})}
        if device is not None and getattr(device, "type", None) == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        save_atomic(self.path, state)
