"""Content fingerprints, so the run cache can key a computation on what it computes from.

``digest(obj)`` turns a key made of arrays, tensors, torch modules, DataFrames, pretrained
embedders and plain JSON values into a JSON-able stand-in in which every large object is
replaced by a hash of its content (dtype, shape and bytes; a module's class, preprocessing
and every ``state_dict`` entry). Two keys digest equal exactly when their contents are equal,
so a cached result can never be served for different weights or different images.

What a digest cannot see is the code that computes from those inputs: callers put a
``version`` in their keys and bump it when that code changes (or run with ``FORCE=1``).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np


def _hasher():
    return hashlib.blake2b(digest_size=16)


def array_digest(a) -> str:
    """Hash of a numpy array's dtype, shape and bytes (object arrays are refused)."""
    a = np.asarray(a)
    if a.dtype.hasobject:
        raise TypeError("cannot fingerprint an object array; convert it to a numeric or string dtype")
    h = _hasher()
    h.update(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(np.ascontiguousarray(a).view(np.uint8).reshape(-1) if a.size else b"")
    return h.hexdigest()


def module_digest(module) -> str:
    """Hash of a torch module: its class, its preprocessing spec (if any) and its state_dict."""
    h = _hasher()
    h.update(f"{type(module).__module__}.{type(module).__qualname__}|".encode())
    h.update(repr(getattr(module, "preprocess_spec", None)).encode())
    for name, tensor in sorted(module.state_dict().items()):
        h.update(f"|{name}|".encode())
        h.update(array_digest(tensor.detach().cpu().numpy()).encode())
    return h.hexdigest()


def digest(obj):
    """A JSON-able stand-in of ``obj`` with every array, tensor, module and table replaced by its hash."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else repr(obj)
    if isinstance(obj, np.generic):
        return digest(obj.item())
    if isinstance(obj, np.ndarray):
        return {"array": array_digest(obj)}
    if isinstance(obj, dict):
        return {str(k): digest(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [digest(v) for v in obj]
    if hasattr(obj, "cache_key") and callable(obj.cache_key):  # e.g. the pretrained embedders
        return digest(obj.cache_key())
    import pandas as pd

    if isinstance(obj, (pd.DataFrame, pd.Series)):
        values = pd.util.hash_pandas_object(obj, index=True).to_numpy()
        cols = list(map(str, obj.columns)) if isinstance(obj, pd.DataFrame) else [str(obj.name)]
        return {"table": array_digest(values), "columns": cols}
    import torch

    if isinstance(obj, torch.Tensor):
        return {"array": array_digest(obj.detach().cpu().numpy())}
    if isinstance(obj, torch.nn.Module):
        return {"module": module_digest(obj)}
    raise TypeError(f"cannot fingerprint {type(obj).__name__}; pass arrays, tensors, modules, tables or JSON values")
