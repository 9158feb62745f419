"""Seeding and determinism: one call at the top of every notebook and training run."""

from __future__ import annotations

import os
import random
import sys


def seed_everything(seed: int, *, deterministic: bool = True, threads: int | None = None) -> None:
    """Seed ``random``, numpy and (if installed) torch; make CPU results repeatable.

    Args:
        seed: the one seed of a notebook or run.
        deterministic: ask torch for deterministic kernels (warn-only where none exists).
        threads: fix torch's intra-op thread count (None keeps torch's choice); a fixed
            count keeps float reductions in the same order run after run.
    """
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # inherited by worker processes
    import numpy as np

    np.random.seed(seed % 2**32)
    if "torch" not in sys.modules:
        try:
            import torch  # noqa: F401
        except ImportError:
            return
    import torch

    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """``torch.use_deterministic_algorithms(mode, warn_only=warn_only)`` without importing TorchInductor.

    The public call imports ``torch._inductor.config`` to set its ``deterministic`` flag: 1.3 s per process
    on the Zen 3 (six notebooks and every spawned training worker pay it), for a compiler lib never uses.
    Here the flag reaches Inductor through its environment variable (read when it is first imported) or,
    if it is imported already, directly; torch's own switch is set as the public call sets it."""
    import torch

    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1" if mode else "0"
    inductor = sys.modules.get("torch._inductor.config")
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if inductor is None and setter is not None:
        setter(mode, warn_only=warn_only)
    else:  # Inductor already loaded, or a torch without the private setter: the public call
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)


def numpy_rng(seed: int, *streams: int | str):
    """An independent ``numpy.random.Generator`` for (seed, stream...), e.g. per identity."""
    import zlib

    import numpy as np

    keys = [zlib.crc32(s.encode()) if isinstance(s, str) else int(s) for s in streams]
    return np.random.default_rng([seed, *keys])
