"""The twelve methods of 04_lowres: name -> training config, batch hook and cache name.

Every head-trained model goes through ``lib.recognition.split_models.train_on_split`` on the
FaceSet's TRAINING identities with the same ``fr_train`` (TrainConfig changes), so all share the
seed, the epoch permutations and the mirror flips; only the head and the batch hook differ.

| method | head | batch hook | cache (runs/fr/<name>/) |
|---|---|---|---|
| cosface, arcface | cosface, arcface | none | the plain call ``train_on_split(fs, {**fr_train, "head": h})``: ``fr/cosface``, ``fr/arcface``, shared with 01/03/05 |
| sphereface | sphereface (A-Softmax, m=4) | none | ``fr/sphereface`` (plain call as well) |
| <head>_crb | as above | Cross-Resolution Batch | ``fr/<method>`` |
| approach1, approach2, approach2_bounded | adaptive_arcface | CRB + margins | ``fr/<method>`` |
| adaface | adaface | AdaFace's low-res augmentation (p 0.2) | ``fr/adaface`` |
| octuplet, derivenet | fine-tuned from arcface | own loops | ``lowres/<method>/`` |

Departures from the thesis (docs/lowres.md): the plain heads are the field's (arcface
m=0.5 s=64, cosface m=0.4 s=64, SphereFace the original A-Softmax) so that the ArcFace and
CosFace models are the ones every notebook shares; the thesis' variants (ArcFace m=0.35,
CosFace s=30 m=0.35, SphereFace s=32 cos(0.35 theta)) are one parameter away:
``params={"arcface": {"head": "arcface_lowres"}, ...}`` (the full profile sets them).
AdaFace is trained here with its own low-res augmentation; the thesis evaluated the published
AdaFace checkpoint.

``params`` = {method or "crb": changes}: "crb" (resolutions, fraction) is shared by every CRB
and margin method; per method: "head" (another registered head), and the hook's arguments
(approach1: low, high; approach2*: bounds, at_size; adaface: p, side_ratio); "octuplet" /
"derivenet": OctupletConfig / DeriveNetConfig changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Method:
    head: str | None  # None for the fine-tuning methods
    hook: str | None = None  # crb | approach1 | approach2 | approach2_bounded | adaface_low_res
    finetune: str | None = None  # octuplet | derivenet
    label: str = ""


METHODS: dict[str, Method] = {
    "cosface": Method("cosface", label="CosFace"),
    "sphereface": Method("sphereface", label="SphereFace"),
    "arcface": Method("arcface", label="ArcFace"),
    "cosface_crb": Method("cosface", "crb", label="CosFace + CRB"),
    "sphereface_crb": Method("sphereface", "crb", label="SphereFace + CRB"),
    "arcface_crb": Method("arcface", "crb", label="ArcFace + CRB"),
    "approach1": Method("adaptive_arcface", "approach1", label="Approach1"),
    "approach2": Method("adaptive_arcface", "approach2", label="Approach2"),
    "approach2_bounded": Method("adaptive_arcface", "approach2_bounded", label="Approach2 (bounded)"),
    "adaface": Method("adaface", "adaface_low_res", label="AdaFace"),
    "octuplet": Method(None, finetune="octuplet", label="Octuplet"),
    "derivenet": Method(None, finetune="derivenet", label="DeriveNet"),
}
BASE = "arcface"  # the fine-tuning methods start from this method's model
DEFAULT_PARAMS = {"crb": {"resolutions": [16], "fraction": 0.5},
                  "approach1": {"low": 0.5, "high": 0.35},
                  "approach2": {"bounds": None, "at_size": None},
                  "approach2_bounded": {"bounds": [0.35, 0.5], "at_size": None},
                  "adaface": {"p": 0.2, "side_ratio": [0.2, 1.0]}}


def method_names() -> list[str]:
    """The methods in the order of the notebook's tables."""
    return list(METHODS)


def _method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}") from None


def hook_params(params: Mapping | None, key: str) -> dict:
    p = {**DEFAULT_PARAMS.get(key, {}), **dict((params or {}).get(key, {}) or {})}
    p.pop("head", None)
    return p


def head_of(method: str, params: Mapping | None = None) -> str:
    """The head a head-trained method uses (its registry default or ``params[method]["head"]``)."""
    m = _method(method)
    if m.head is None:
        raise ValueError(f"{method} is fine-tuned from {BASE!r}; it has no head of its own")
    return dict((params or {}).get(method, {}) or {}).get("head", m.head)


def make_hook(method: str, params: Mapping | None = None):
    """The batch hook of ``method`` (None for the plain heads and the fine-tuning methods)."""
    from lib.lowres.crb import CrossResolutionBatch, RandomLowRes
    from lib.lowres.margins import MarginHook

    m = _method(method)
    if m.hook is None:
        return None
    crb = CrossResolutionBatch(**hook_params(params, "crb"))
    if m.hook == "crb":
        return crb
    if m.hook == "adaface_low_res":
        return RandomLowRes(**hook_params(params, method))
    if m.hook == "approach1":
        return MarginHook("approach1", crb, **hook_params(params, method))
    return MarginHook("approach2", crb, **hook_params(params, method))


def run_args(method: str, fr_train: Mapping | None = None, params: Mapping | None = None) -> tuple[dict, dict]:
    """(TrainConfig changes, train_on_split keyword arguments) of a head-trained method.

    A method without a hook is the plain call (no name, no extra_key): the shared cache entry.
    """
    cfg = {**dict(fr_train or {}), "head": head_of(method, params)}
    hook = make_hook(method, params)
    if hook is None:
        return cfg, {}
    return cfg, {"name": method, "extra_key": hook.key(), "batch_hook": hook}


def cache_dir(fs, method: str, fr_train: Mapping | None = None, params: Mapping | None = None):
    """Where a head-trained method's model is (or would be) cached: runs/fr/<name>/<hash>/."""
    from lib import runcache
    from lib.recognition.split_models import data_key
    from lib.recognition.train import TrainConfig

    cfg, kw = run_args(method, fr_train, params)
    key = {"train": TrainConfig(**cfg).key(), "data": data_key(fs, "train"), "extra": dict(kw.get("extra_key") or {})}
    return runcache.artifact_dir(f"fr/{kw.get('name') or cfg['head']}", key)


def finetune_config(method: str, params: Mapping | None = None, seed: int | None = None):
    """OctupletConfig / DeriveNetConfig with ``params[method]`` changes (and ``seed`` if given)."""
    from lib.lowres.derivenet import DeriveNetConfig
    from lib.lowres.octuplet import OctupletConfig

    m = _method(method)
    cls = {"octuplet": OctupletConfig, "derivenet": DeriveNetConfig}[m.finetune]
    changes = dict((params or {}).get(method, {}) or {})
    for k in ("milestones", "hidden"):
        if k in changes:
            changes[k] = tuple(changes[k])
    if seed is not None:
        changes.setdefault("seed", seed)
    return cls(**changes)


def finetune_key(fs, method: str, fr_train: Mapping | None = None, params: Mapping | None = None,
                 seed: int | None = None) -> dict:
    """The run-cache key of a fine-tuned model: its config, the base model's cache entry, the data."""
    from lib.recognition.split_models import data_key

    base = cache_dir(fs, BASE, fr_train, params)
    return {"finetune": finetune_config(method, params, seed).key(), "base": f"{base.parent.name}/{base.name}",
            "data": data_key(fs, "train")}


def train_method(fs, method: str, fr_train: Mapping | None = None, params: Mapping | None = None, *,
                 seed: int | None = None, progress: bool = False):
    """Train (or load from the run cache) ``method`` on ``fs``'s training identities; returns the backbone
    (eval mode, CPU). ``seed``: the fine-tuning seed (default: the config's)."""
    from lib.recognition.split_models import split_labels, train_on_split

    m = _method(method)
    if m.finetune is None:
        cfg, kw = run_args(method, fr_train, params)
        return train_on_split(fs, cfg, progress=progress, **kw).backbone
    from lib.lowres import derivenet, octuplet
    from lib.lowres.finetune import cached_finetune

    base = train_method(fs, BASE, fr_train, params, progress=progress)
    ft_cfg = finetune_config(method, params, seed)
    run_fn = {"octuplet": octuplet.finetune, "derivenet": derivenet.finetune}[m.finetune]

    def run():
        rows, labels = split_labels(fs.meta, "train")
        return run_fn(base, np.asarray(fs.images[rows]), labels, ft_cfg, progress=progress)

    cfg, _ = run_args(BASE, fr_train, params)
    return cached_finetune(method, finetune_key(fs, method, fr_train, params, seed), cfg, run)[0]


def _train_job(root: str, method: str, fr_train: Mapping | None, params: Mapping | None, seed: int | None) -> str:
    """Worker of :func:`train_methods`: one method from the FaceSet at ``root``, on one thread, into the run cache."""
    import torch

    from lib.data.faceset import read_faceset

    torch.set_num_threads(1)
    train_method(read_faceset(root, verify="fast"), method, fr_train, params, seed=seed)
    return method


def train_methods(fs, names, fr_train: Mapping | None = None, params: Mapping | None = None, *,
                  seed: int | None = None, workers: int | None = None) -> dict:
    """{method: backbone} of every method in ``names``, as :func:`train_method`, the ones not yet cached trained
    side by side: ``BASE`` (and with it the shared pretraining) first, here, then the others in ``workers``
    spawned processes with one thread each (a remainder that would leave a worker alone is trained here first,
    on every core). On a 2-core CPU one training gains little from its second thread: two trainings side by
    side learn about 1.4 times as many images a second as one on both cores (lib.speed.recognition); with each
    worker's start-up, five default fine-tunes took 218.6 s this way against 255.2 s one by one (2026-12-07,
    Zen 3 AMD EPYC). ``workers`` None: the CPU cores when the models train on the CPU, else 1.
    Each model is the same run as when trained alone (same config, seed and cache entry; the thread count is
    not part of a run's identity), though one trained on one thread can differ in its last bits from one trained
    on two (measured on the smoke models: QMUL-style accuracies moved by up to 0.004)."""
    import multiprocessing as mp
    import os

    from lib import runcache
    from lib.device import select_device
    from lib.recognition.train import TrainConfig

    names = list(names)
    for n in names:
        _method(n)
    if workers is None:
        on_cpu = select_device(TrainConfig(**dict(fr_train or {})).device).type == "cpu"
        workers = (os.cpu_count() or 1) if on_cpu else 1
    missing = [n for n in names if n != BASE and not is_trained(fs, n, fr_train, params, seed)]
    if workers > 1 and len(missing) > 1 and not runcache.forced():  # FORCE=1 retrains here, one by one
        train_method(fs, BASE, fr_train, params)  # the pretraining and the fine-tunes' base, on every core
        while len(missing) % workers:  # no worker left alone on one thread at the end: the rest here, on every core
            train_method(fs, missing.pop(), fr_train, params, seed=seed)
        with mp.get_context("spawn").Pool(workers, maxtasksperchild=1) as pool:
            pool.starmap(_train_job, [(str(fs.root), n, fr_train, params, seed) for n in missing])
    return {n: train_method(fs, n, fr_train, params, seed=seed) for n in names}


def is_trained(fs, method: str, fr_train: Mapping | None = None, params: Mapping | None = None,
               seed: int | None = None) -> bool:
    """Whether ``method``'s model with these parameters is in the run cache."""
    from lib.lowres.finetune import is_cached

    if _method(method).finetune is None:
        return (cache_dir(fs, method, fr_train, params) / "config.json").is_file()
    return is_cached(method, finetune_key(fs, method, fr_train, params, seed))


def trained_model(fs, method: str, fr_train: Mapping | None = None, params: Mapping | None = None,
                  seed: int | None = None):
    """The cached backbone of ``method`` (eval mode, CPU), never retrained: LookupError when
    04_lowres has not trained it with these ``fr_train``/``params`` (its ``lowres_params``) and ``seed``."""
    if not is_trained(fs, method, fr_train, params, seed) or not is_trained(fs, BASE, fr_train, params):
        raise LookupError(f"no cached {method!r} model for these parameters: run notebooks/04_lowres.ipynb with the "
                          f"same fr_train/lowres_params/seed first (or call lib.lowres.methods.train_method)")
    return train_method(fs, method, fr_train, params, seed=seed)


def model_key(fs, method: str, fr_train: Mapping | None = None, params: Mapping | None = None,
              seed: int | None = None) -> dict:
    """What identifies ``method``'s trained model (its cache entry), e.g. for caching its evaluation."""
    if _method(method).finetune is None:
        d = cache_dir(fs, method, fr_train, params)
        return {"method": method, "cache": f"{d.parent.name}/{d.name}"}
    return {"method": method, **finetune_key(fs, method, fr_train, params, seed)}
