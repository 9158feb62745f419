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


def describe(device) -> str:
    """A short description of the hardware, for MANIFEST.json and RESULTS.md."""
    import platform

    import torch

    device = select_device(device) if isinstance(device, str) else device
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"CPU {platform.machine()} x{torch.get_num_threads()} threads (torch {torch.__version__})"
