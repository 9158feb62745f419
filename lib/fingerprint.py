"""Content fingerprints, so the run cache can key a computation on what it computes from.

``digest(obj)`` turns a key made of arrays, tensors, torch modules, DataFrames, pretrained
embedders and plain JSON values into a JSON-able stand-in in which every large object is
replaced by a hash of its content (dtype, shape and bytes; a module's class, preprocessing
and every ``state_dict`` entry). Two keys digest equal exactly when their contents are equal,
so a cached result can never be served for different weights or different images.

What a digest cannot see is the code that computes from those inputs: callers put a
``version`` in their keys and bump it when that code changes (or run with ``FORCE=1``).

Hashing is not free (about 0.8 GB/s on one core), and an evaluation keys many computations on the
same inputs (05 digests every probe set once per method). Two memos keep a digest for as long as its
object lives and holds the same content: an array passed through :func:`freeze` (made read-only; the
caller promises never to make it writable again), and a torch module whose state_dict holds the same
tensor objects (still alive, same storage) at the same in-place version counters (torch bumps a
tensor's counter on every in-place write, so an optimiser step, a BatchNorm update or
``load_state_dict`` invalidates the memo). Not seen: a write through ``tensor.data`` (``p.data.add_``),
which bypasses the counter; lib never writes weights that way.
"""

from __future__ import annotations

import hashlib
import math
import weakref

import numpy as np

_FROZEN: dict = {}  # id(array) -> (weakref to it, digest or None): arrays passed through freeze()
_MODULES: dict = {}  # id(module) -> (weakref to it, state signature, digest, weakrefs to its tensors)


def _hasher():
    return hashlib.blake2b(digest_size=16)


def freeze(a, content_digest: str | None = None) -> np.ndarray:
    """``a`` as a read-only array whose digest is computed once and remembered while it lives.

    Use it for inputs that many cached computations key on (a benchmark's probe sets). The promise:
    nobody makes the array writable again (numpy would allow it for an array that owns its data).
    ``content_digest``: the array's :func:`array_digest`, when already known (the run cache keeps the
    digests of the arrays it stores, :func:`lib.runcache.memo_array`)."""
    a = np.asarray(a)
    a.setflags(write=False)
    ref = _FROZEN.get(id(a))
    if ref is None or ref[0]() is not a or content_digest is not None:
        _FROZEN[id(a)] = (weakref.ref(a, lambda _, k=id(a): _FROZEN.pop(k, None)), content_digest)
    return a


def _content_digest(a: np.ndarray) -> str:
    if a.dtype.hasobject:
        raise TypeError("cannot fingerprint an object array; convert it to a numeric or string dtype")
    h = _hasher()
    h.update(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(np.ascontiguousarray(a).view(np.uint8).reshape(-1) if a.size else b"")
    return h.hexdigest()


def array_digest(a) -> str:
    """Hash of a numpy array's dtype, shape and bytes (object arrays are refused); remembered for
    arrays passed through :func:`freeze`."""
    a = np.asarray(a)
    ref = _FROZEN.get(id(a))
    if ref is None or ref[0]() is not a or a.flags.writeable:
        return _content_digest(a)
    if ref[1] is None:
        _FROZEN[id(a)] = (ref[0], _content_digest(a))
    return _FROZEN[id(a)][1]


def module_digest(module) -> str:
    """Hash of a torch module: its class, its preprocessing spec (if any) and its state_dict;
    remembered while the state_dict holds the same tensors, none of them written in place since."""
    state = sorted(module.state_dict(keep_vars=True).items())  # the tensors themselves (state_dict() detaches anew)
    spec = repr(getattr(module, "preprocess_spec", None))
    signature = (spec, tuple((name, t.data_ptr(), t._version) for name, t in state))
    ref = _MODULES.get(id(module))
    if (ref is not None and ref[0]() is module and ref[1] == signature
            and all(r() is t for r, (_, t) in zip(ref[3], state))):  # the same tensor objects, none replaced
        return ref[2]
    h = _hasher()
    h.update(f"{type(module).__module__}.{type(module).__qualname__}|".encode())
    h.update(spec.encode())
    for name, tensor in state:
        h.update(f"|{name}|".encode())
        h.update(_content_digest(tensor.detach().cpu().numpy()).encode())
    _MODULES[id(module)] = (weakref.ref(module, lambda _, k=id(module): _MODULES.pop(k, None)), signature,
                            h.hexdigest(), tuple(weakref.ref(t) for _, t in state))
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
