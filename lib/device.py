"""Device selection: "auto" means CUDA when available, else CPU."""

from __future__ import annotations


def select_device(device: str = "auto"):
    """Return a ``torch.device``; ``"auto"`` picks cuda:0 when available.

    Asking for CUDA on a machine without it is an error (not a silent CPU fallback).
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} requested but CUDA is not available; use device='auto' or 'cpu'")
    return dev


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process under torchrun (its RANK / WORLD_SIZE variables); (0, 1) alone."""
    import os

    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def describe(device) -> str:
    """A short description of the hardware, for MANIFEST.json and RESULTS.md."""
    import platform

    import torch

    device = select_device(device) if isinstance(device, str) else device
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"CPU {platform.machine()} x{torch.get_num_threads()} threads (torch {torch.__version__})"


def amp_dtype(device):
    """The autocast dtype of :func:`autocast` on ``device``: bfloat16 on a CUDA device that has it, else None."""
    import torch

    return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None


def autocast(device, enabled: bool = True):
    """Mixed precision for a training forward pass: bfloat16 autocast on a CUDA device that has it,
    else a context that changes nothing (CPU, or a GPU without bfloat16: fp32).

    bfloat16 keeps float32's exponent range, so no loss scaling is needed (arcface_torch's fp16 +
    GradScaler stays in lib.recognition.train). Losses are computed on ``.float()`` outputs, outside
    the context.
    """
    import contextlib

    import torch

    dtype = amp_dtype(device) if enabled else None
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
