"""FR models of 03_fserasing: one per (head, augmentation), cached through ``train_on_split``.

Every model is trained on the FaceSet's TRAINING identities with the same ``fr_train``
(TrainConfig changes: seed, epochs, batch size, learning rate), so the loop draws the same
epoch permutations and the same mirror flips for every augmentation; only the batch_hook differs.
Cache names (runs/fr/<name>/<hash>/):
- ArcFace without augmentation: the plain ``train_on_split(fs, {**fr_train, "head": "arcface"})``,
  i.e. ``fr/arcface``, the baseline every notebook shares;
- everything else: ``fr/<head>_<augmentation>`` with ``extra_key`` = the hook's parameters (and,
  for FSErasing, the parser config and its training data, which determine the masks).

Mask sources of FSErasing: ``fserasing`` erases regions of the PARSER's maps, as published (the
paper's parser labels the training set); ``fserasing_exact`` erases regions of the engine's exact
parsing maps (a labelled departure, possible only on data that carries ground-truth maps): it shows
what the method does when the parser is perfect, beside what it does with ours.

The cross-method notebook calls :func:`trained_model` (loads, never trains).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

HEADS = ("softmax", "arcface")
AUGMENTATIONS = ("none", "random_erasing", "cutout", "fserasing", "fserasing_exact")
# Default hook parameters: torchvision's RandomErasing defaults; Cutout at half the crop side (the
# Cutout paper's CIFAR-10 ratio, 16 px of 32); FSErasing's published defaults.
DEFAULT_PARAMS = {"none": {}, "random_erasing": {"p": 0.5, "scale": (0.02, 0.33), "ratio": (0.3, 3.3), "value": "random"},
                  "cutout": {"size": 56, "p": 1.0, "value": 0},
                  "fserasing": {"p": 1.0, "n_erase": 1, "value": "random", "among": "present"}}
DEFAULT_PARAMS["fserasing_exact"] = dict(DEFAULT_PARAMS["fserasing"])  # the same transform, other masks


def _check(head: str, augmentation: str) -> None:
    if head not in HEADS:
        raise ValueError(f"head {head!r}; choose one of {HEADS}")
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"augmentation {augmentation!r}; choose one of {AUGMENTATIONS}")


def _params(augmentation: str, params: Mapping | None) -> dict:
    p = {**DEFAULT_PARAMS[augmentation], **dict((params or {}).get(augmentation, {}))}
    if "n_erase_range" in p:  # YAML has no tuples: {"n_erase_range": [a, b]} is the published (a, b) range
        p["n_erase"] = tuple(int(v) for v in p.pop("n_erase_range"))
    return p


def parser_key(parser_fs, parser_train: Mapping | None = None) -> dict:
    """What determines the FSErasing masks: the parser's config and its training data (the training
    rows of ``parser_fs``, the FaceSet the parser learnt from)."""
    from lib.fserasing.parser import ParserConfig
    from lib.recognition.split_models import data_key

    return {"parser": ParserConfig(**dict(parser_train or {})).key(), "data": data_key(parser_fs, "train")}


def _cfg(fr_train: Mapping | None, head: str) -> dict:
    return {**dict(fr_train or {}), "head": head}


def preprocess_spec(cfg: dict):
    """The input recipe (size, channels, mean/std) of the backbone that TrainConfig changes ``cfg`` build."""
    from lib.recognition.backbones import create_backbone, get_preprocess
    from lib.recognition.train import TrainConfig

    c = TrainConfig(**cfg)
    return get_preprocess(create_backbone(c.backbone, **dict(c.backbone_kwargs)))


def make_hook(augmentation: str, params: Mapping | None = None, *, masks=None, images=None, spec=None):
    """The batch_hook of ``augmentation`` (None for 'none'); ``params``: {augmentation: changes}."""
    from lib.fserasing import transform

    p = _params(augmentation, params)
    if augmentation == "none":
        return None
    if augmentation == "random_erasing":
        return transform.RandomErasingHook(**p)
    if augmentation == "cutout":
        return transform.CutoutHook(**p)
    if masks is None or images is None:
        raise ValueError(f"{augmentation} needs the training images and their masks (masks=..., images=...)")
    mean, std = (spec.mean, spec.std) if spec is not None else (127.5, 127.5)
    if not np.isscalar(mean) or not np.isscalar(std):
        raise ValueError("FSErasingHook supports one mean/std for all channels")
    return transform.FSErasingHook(masks, images, mean=float(mean), std=float(std), **p)


def hook_key(augmentation: str, params: Mapping | None = None, spec=None) -> dict:
    """The key() of ``augmentation``'s batch_hook (what a trained model is cached by), without its training
    images and masks."""
    return make_hook(augmentation, params, masks=np.zeros((1, 1, 1), np.uint8), images=np.zeros((1, 1, 1, 3), np.uint8),
                     spec=spec).key()


def _run_args(fs, head, augmentation, fr_train, params, parser_train, parser_fs, hook=None):
    """(cfg, kwargs for train_on_split) of one model."""
    _check(head, augmentation)
    cfg = _cfg(fr_train, head)
    if head == "arcface" and augmentation == "none":
        return cfg, {}
    if augmentation == "none":
        extra = {"augmentation": augmentation}
    else:
        extra = hook.key() if hook is not None else hook_key(augmentation, params, preprocess_spec(cfg))
    if augmentation == "fserasing":
        extra = {**extra, "masks": parser_key(fs if parser_fs is None else parser_fs, parser_train)}
    elif augmentation == "fserasing_exact":
        extra = {**extra, "masks": {"source": "exact parsing.npy"}}  # its sha256 is in data_key
    kwargs = {"name": f"{head}_{augmentation}", "extra_key": extra}
    if hook is not None:
        kwargs["batch_hook"] = hook
    return cfg, kwargs


def train_model(fs, head: str, augmentation: str, fr_train: Mapping | None = None, *,
                params: Mapping | None = None, parser_train: Mapping | None = None, parser_fs=None, masks=None,
                progress: bool = False):
    """Train (or load) the model of (head, augmentation) on ``fs``'s training identities.

    Args:
        fr_train: TrainConfig changes shared by every model (same seed and budget).
        params: {augmentation: hook parameter changes} (DEFAULT_PARAMS otherwise).
        parser_train: ParserConfig changes of the parser whose masks FSErasing uses.
        parser_fs: the FaceSet the parser was trained on (default ``fs``).
        masks: for 'fserasing': (n_train, H, W) parser class maps of ``fs``'s TRAINING rows, in the
            order of ``lib.recognition.split_models.split_labels`` (:func:`training_masks`);
            'fserasing_exact' reads ``fs``'s own parsing maps instead.
    Returns the ``TrainResult`` (backbone and head in eval mode, on CPU).
    """
    from lib.recognition.split_models import split_labels, train_on_split

    hook = None
    if augmentation not in ("none",) and not (head == "arcface" and augmentation == "none"):
        _check(head, augmentation)
        rows, _ = split_labels(fs.meta, "train")
        train_images = np.asarray(fs.images[rows])
        train_masks = None
        if augmentation == "fserasing":
            if masks is None or len(masks) != len(rows):
                raise ValueError(f"fserasing needs parser masks of the {len(rows)} training images "
                                 "(lib.fserasing.methods.training_masks)")
            train_masks = np.asarray(masks)
        elif augmentation == "fserasing_exact":
            train_masks = exact_masks(fs)
        hook = make_hook(augmentation, params, masks=train_masks, images=train_images, spec=preprocess_spec(_cfg(fr_train, head)))
    cfg, kwargs = _run_args(fs, head, augmentation, fr_train, params, parser_train, parser_fs, hook)
    return train_on_split(fs, cfg, progress=progress, **kwargs)


def cache_dir(fs, head: str, augmentation: str, fr_train: Mapping | None = None, *, params: Mapping | None = None,
              parser_train: Mapping | None = None, parser_fs=None):
    """Where the model of (head, augmentation) is (or would be) cached: runs/fr/<name>/<hash>/."""
    from lib import runcache
    from lib.recognition.split_models import data_key
    from lib.recognition.train import TrainConfig

    cfg, kwargs = _run_args(fs, head, augmentation, fr_train, params, parser_train, parser_fs)
    key = {"train": TrainConfig(**cfg).key(), "data": data_key(fs, "train"), "extra": dict(kwargs.get("extra_key") or {})}
    return runcache.artifact_dir(f"fr/{kwargs.get('name') or head}", key)


def trained_model(fs, head: str, augmentation: str, fr_train: Mapping | None = None, *,
                  params: Mapping | None = None, parser_train: Mapping | None = None, parser_fs=None):
    """The cached model of (head, augmentation), never retrained: raises LookupError if 03_fserasing
    has not trained it with these parameters (``fr_train``, ``params`` = its ``augment_params``,
    ``parser_train``, and ``parser_fs`` = the parser's FaceSet, default ``fs``, as there)."""
    from lib.recognition.split_models import train_on_split

    where = cache_dir(fs, head, augmentation, fr_train, params=params, parser_train=parser_train, parser_fs=parser_fs)
    if not (where / "config.json").is_file():
        raise LookupError(f"no cached {head}/{augmentation} model at {where}: run notebooks/03_fserasing.ipynb with "
                          f"the same fr_train/augment_params/parser_train first (or call train_model)")
    cfg, kwargs = _run_args(fs, head, augmentation, fr_train, params, parser_train, parser_fs)
    kwargs.pop("batch_hook", None)
    return train_on_split(fs, cfg, progress=False, **kwargs)


def exact_masks(fs) -> np.ndarray:
    """The FaceSet's own 25-class maps of its training rows (split_labels order): the mask source of
    ``fserasing_exact``. Raises ValueError naming the FaceSet when it has no parsing maps."""
    from lib.recognition.split_models import split_labels

    if not fs.has("parsing"):
        raise ValueError(f"{fs.root}: this FaceSet has no parsing.npy, so 'fserasing_exact' has no exact masks; "
                         "use 'fserasing' (parser masks) or a FaceSet with ground-truth maps (the engine's)")
    rows, _ = split_labels(fs.meta, "train")
    return np.asarray(fs.array("parsing")[rows])


def training_masks(fs, parser_model, parser_train: Mapping | None = None, parser_fs=None) -> np.ndarray:
    """The parser's class maps of ``fs``'s training rows (split_labels order), computed once and cached
    under runs/fserasing/masks/ (the published code's precomputed ``masks.pth``)."""
    from lib.fserasing.parser import ParserConfig, predict_cached
    from lib.recognition.split_models import data_key, split_labels

    rows, _ = split_labels(fs.meta, "train")
    return predict_cached(parser_model, ParserConfig(**dict(parser_train or {})), np.asarray(fs.images[rows]),
                          data_key=data_key(fs, "train"),
                          parser_key=parser_key(fs if parser_fs is None else parser_fs, parser_train))
