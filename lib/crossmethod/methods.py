"""The methods of the cross-method benchmark, each assembled from models an earlier notebook trained.

Every recogniser is the same architecture with the same training budget: the profile's
TrainConfig (default: iresnet_tiny, 64 px, 128-D; one ArcFace pretraining on synth_webface, then a
fine-tune per method) on the FR training corpus (``train_fs``: synth_webface; the benchmark persons are
never in it), through lib.recognition.split_models (run cache ``fr/...``). Methods differ only in
what the paper changes:

- ``baseline``: the plain ArcFace model (shared by 01-04);
- ``fra_gallery``: the baseline model; each gallery person also enrolls FRA-generated embeddings
  at the benchmark's other poses (01_fra's held-out FRA model for the ``arcface`` FRL source,
  posture maps from TRAINING identities);
- ``inpainting``: the baseline model; every probe goes through 02_inpainting's blind GAN
  generator first (it never sees the clean image nor the mask);
- ``inpainting_masked``: the baseline model; occluded probes go through 02's mask-fed generator
  (known pixels pasted back), given the damage mask;
- ``fserasing``: 03_fserasing's ArcFace model trained with FSErasing;
- ``crb``, ``approach1``, ``approach2``: 04_lowres's ArcFace models (cross-resolution batch,
  resolution-dependent margins, sharpness-adaptive margins);
- ``combined``: see :func:`combined_model` (trained here: the one model none of the notebooks has).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


# 05 trains its recognisers on the engine benchmark with the same architecture and budget for every method:
# the full profile compares the default profile's (run `make paper` first), the rehearsal the smoke profile's
# (run before it by `make test`), so neither retrains at its own size.
SETTINGS_OF = {"full": "default", "rehearsal": "smoke"}


def notebook_settings(profile: str, fr_train: Mapping | None = None) -> dict:
    """The settings 01-04 train their models with under ``profile`` (their parameters cells and profile
    sections, lib.profiles.effective, resolved through each package's config.py), so that 05 finds their
    models in the run cache instead of copying their settings: {"fr_train", "fra_params", "inpaint_params",
    "fserasing_params", "lowres_params"}. On the full profile 05 compares the default-profile models, on the
    rehearsal profile the smoke profile's (``SETTINGS_OF``)."""
    from lib import profiles
    from lib.fra.config import VARIANTS as FRA
    from lib.fserasing.config import VARIANTS as FSE
    from lib.inpaint.config import VARIANTS as INPAINT
    from lib.lowres.config import VARIANTS as LOWRES
    from lib.recognition.config import VARIANTS as FR

    settings = SETTINGS_OF.get(profile, profile)
    p01 = profiles.effective("01_fra", settings, ["landmark_source", "num_pairs", "fra"])
    p02 = profiles.effective("02_inpainting", settings, ["gan", "max_yaw"])
    p03 = profiles.effective("03_fserasing", settings, ["parser_train", "augment_params"])
    p04 = profiles.effective("04_lowres", settings, ["lowres_params"])
    return {"fr_train": FR.resolve(settings, fr_train=dict(fr_train or {}))["fr_train"],
            "fra_params": {**p01, **FRA.resolve(settings, num_pairs=p01["num_pairs"], fra=p01["fra"])},
            "inpaint_params": {**p02, **INPAINT.resolve(settings, gan=p02["gan"])},
            "fserasing_params": {**p03, **FSE.resolve(settings, parser_train=p03["parser_train"])},
            "lowres_params": LOWRES.resolve(settings, lowres_params=p04["lowres_params"])["lowres_params"]}


@dataclass
class Method:
    name: str
    backbone: object  # torch backbone (lib.recognition.backbones), eval mode
    gallery_extra: object = None  # fn(gallery_emb) -> (extra_emb, extra_persons)
    probe_transform: object = None  # fn(Condition) -> images
    notes: str = ""
    sources: list = field(default_factory=list)  # where the parts come from (notebook, cache name)

    def embed_fn(self, batch_size: int = 256):
        from lib.recognition.embedders import embed

        return lambda images: embed(self.backbone, images, batch_size=batch_size, cache=True)


def baseline_model(fs, fr_train: Mapping | None = None):
    """The shared ArcFace baseline (runs/fr/arcface), trained on ``fs``'s training identities (the FR
    training corpus)."""
    from lib.recognition.split_models import train_on_split

    return train_on_split(fs, {**dict(fr_train or {}), "head": "arcface"}, progress=False).backbone


def fra_gallery(fs, bench, *, fra_params: Mapping, fr_train: Mapping | None = None, train_fs=None, seed: int = 0,
                poses=("HR", "FR")):
    """``fn(gallery_emb) -> (generated, persons)``: FRA embeddings of each gallery image at ``poses``.

    The FRA model is 01_fra's held-out model of the ``arcface`` FRL source (learnt on ``fs``, synth_kdef,
    from the embeddings of the baseline trained on ``train_fs``), found in the run cache with 01's
    parameters (``fra_params``: landmark_source, num_pairs, fra); with another ``seed`` it is trained here
    on that seed's baseline (FRA's generator works in its recogniser's embedding space). Posture maps: a
    random TRAINING identity's image at the pose with the gallery's emotion (neutral) and a landmark map.
    """
    from lib.fra import frl, methods as fra_methods

    m = fs.meta
    landmark_source = fra_params.get("landmark_source", "dlib")
    maps, found = fra_methods.landmark_maps_cached(fs, landmark_source)
    emb = frl.embeddings("arcface", fs, train_cfg=fr_train, train_fs=train_fs, progress=False)
    pairs, _ = fra_methods.protocol_pairs(m, found, num_pairs=int(fra_params["num_pairs"]), seed=seed)
    model = fra_methods.fra_model(fs, "arcface", "heldout", maps=maps, embeddings=emb, pairs=pairs["heldout"],
                               landmark_source=landmark_source, num_pairs=int(fra_params["num_pairs"]),
                               fra=fra_params.get("fra"), fr_train=fr_train, seed=seed).model
    pool, labels = fra_methods.posture_pool(m, found)
    missing = [p for p in poses if (p, "neutral") not in pool]
    if missing:
        raise ValueError(f"no training image with a landmark map at poses {missing} (neutral): FRA cannot "
                         "generate them")
    rng = np.random.default_rng(seed)
    posture = {p: labels[rng.choice(pool[(p, "neutral")], size=len(bench.gallery_persons))] for p in poses}

    def extra(gallery_emb):
        from lib.fra.train import generate

        n = len(gallery_emb)
        # cached: a run that has just trained ``model`` computes with its training thread count, and the
        # bootstrap (keyed by the scores' content) must see the same bits as a run that loads it
        out = [generate(model, maps, gallery_emb.astype(np.float32), posture[p], np.arange(n), cache=True)
               for p in poses]
        return np.vstack(out), np.tile(np.asarray(bench.gallery_persons), len(poses))

    return model, extra


def inpainting(fs, *, gan: Mapping | None = None, max_yaw: float = 20.0, seed: int = 0, variant: str = "gan"):
    """``fn(condition) -> images``: 02_inpainting's blind GAN generator applied to every probe.

    ``fs``: the FaceSet 02 trained the GAN on (its inpainting corpus, synth_celeba).

    Blind as published: the generator gets the probe only (no mask, no clean image) and its whole
    output replaces the probe; a deployed system does not know which probes are damaged, so clean,
    turned and low-resolution probes go through it too. ``gan``, ``max_yaw`` and ``seed`` must be
    02_inpainting's values (its parameters of the same names) to find its model in the run cache.

    ``variant="gan_masked"``: 02's mask-fed generator, which pastes the known pixels back. It assumes
    the system knows which pixels are damaged (the occlusion conditions' masks); probes without a
    mask pass unchanged.
    """
    from lib.inpaint import methods as inpaint_methods

    generator = inpaint_methods.trained_generator(fs, {"seed": seed, **dict(gan or {})}, variant=variant, max_yaw=max_yaw)

    from lib.fingerprint import freeze

    no_masks = {}  # shape -> one frozen all-False mask set (digested once, not once per condition and method)

    def transform(condition):
        masks = condition.masks
        if masks is None:
            shape = condition.images.shape[:3]
            if shape not in no_masks:
                no_masks[shape] = freeze(np.zeros(shape, bool))
            masks = no_masks[shape]
        return inpaint_methods.reconstruct(condition.images, masks, model=generator, cache=True)

    return generator, transform


def fserasing_model(fs, *, fr_train: Mapping | None = None, parser_train: Mapping | None = None,
                    augment_params: Mapping | None = None, parser_fs=None):
    """03_fserasing's ArcFace model trained with FSErasing (LookupError if 03 has not trained it);
    ``parser_fs``: the FaceSet 03's parser learnt from (its parsing corpus, synth_facesynthetics)."""
    from lib.fserasing import methods as fse_methods

    return fse_methods.trained_model(fs, "arcface", "fserasing", fr_train, params=augment_params,
                                    parser_train=parser_train, parser_fs=parser_fs).backbone


def lowres_model(fs, method: str, *, fr_train: Mapping | None = None, lowres_params: Mapping | None = None,
                 seed: int = 0):
    """04_lowres's model of ``method`` (arcface_crb, approach1, approach2, ...; LookupError if 04 has not trained it)."""
    from lib.lowres import methods as lr_methods

    return lr_methods.trained_model(fs, method, fr_train, lowres_params, seed=seed)


def combined_hook(fs, *, fr_train: Mapping | None = None, parser_train: Mapping | None = None,
                  augment_params: Mapping | None = None, lowres_params: Mapping | None = None, seed: int = 0,
                  parser_fs=None):
    """(batch_hook, key) of FSErasing followed by the Cross-Resolution Batch, with 03's parser masks
    (the parser 03 trained on ``parser_fs``, default ``fs``, loaded from the run cache).

    FSErasing runs first (the loop tells it which images it mirrored),
    then CRB degrades half of the batch, erased or not: one model sees both augmentations. The parser's
    masks and the training images are read when the hook first runs: a cached model never needs them.
    """
    from lib.fserasing import methods as fse_methods
    from lib.lowres import methods as lr_methods
    from lib.recognition.split_models import split_labels

    pfs = fs if parser_fs is None else parser_fs
    spec = fse_methods.preprocess_spec({**dict(fr_train or {}), "head": "arcface"})
    crb = lr_methods.make_hook("arcface_crb", lowres_params)
    built: dict = {}

    def erase(images, idx, rng, flipped):
        if not built:
            rows, _ = split_labels(fs.meta, "train")
            masks = fse_methods.training_masks(fs, _parser(pfs, parser_train, seed), parser_train, parser_fs=pfs)
            built["fse"] = fse_methods.make_hook("fserasing", augment_params, masks=masks,
                                                 images=np.asarray(fs.images[rows]), spec=spec)
        return built["fse"](images, idx, rng, flipped=flipped)

    def hook(images, idx, rng, flipped=None):
        return crb(erase(images, idx, rng, flipped), idx, rng)

    hook.uses_flips = True  # the loop's flips reach FSErasing (its photometric change defeats mirror detection)

    key = {"combined": ["fserasing", "crb"], "fserasing": fse_methods.hook_key("fserasing", augment_params, spec),
           "crb": crb.key(),
           "masks": fse_methods.parser_key(pfs, parser_train)}
    return hook, key


def combined_model(fs, **kwargs):
    """The ArcFace model trained with FSErasing + CRB together (runs/fr/arcface_fserasing_crb/): the one
    recogniser of this notebook that no earlier notebook trained."""
    from lib.recognition.split_models import train_on_split

    hook, key = combined_hook(fs, **kwargs)
    cfg = {**dict(kwargs.get("fr_train") or {}), "head": "arcface"}
    return train_on_split(fs, cfg, name="arcface_fserasing_crb", extra_key=key, batch_hook=hook,
                          progress=False).backbone


def build_methods(names, *, fs, train_fs, corpora: Mapping, bench, settings: Mapping, seed: int = 0,
                  notebooks_seed: int = 0) -> dict:
    """{name: Method} of 05_cross_method for one ``seed``.

    Args:
        fs: synth_kdef (FRA's data); train_fs: the FR training corpus; corpora: the corpora 02/03 trained the
            GAN (``synth_celeba``) and the parser (``synth_facesynthetics``) on; bench: the benchmark.
        settings: :func:`notebook_settings` (01-04's parameters).
        seed: the replication. At ``notebooks_seed`` every model comes from the notebook that trained it
            (LookupError if it has not run); at another seed the recognisers (pretraining included) and the
            FRA model are trained here with that seed, while 02's GANs and 03's parser stay the notebooks'
            (a GAN costs minutes per variant on 2 cores: the replication varies the recognisers).
    """
    from lib.fserasing import methods as fse_methods
    from lib.lowres import methods as lr_methods

    from lib.recognition.config import fr_train_at

    own = seed != notebooks_seed
    fr = fr_train_at(settings["fr_train"], seed, notebooks_seed)  # the notebooks' own settings at their seed
    fse, lowres = settings["fserasing_params"], settings["lowres_params"]
    parser_fs = corpora["synth_facesynthetics"]
    base = baseline_model(train_fs, fr)
    trio = {"crb": "arcface_crb", "approach1": "approach1", "approach2": "approach2"}
    if own:  # this replication's low-resolution models, trained side by side (lib.lowres.methods.train_methods)
        lr_methods.train_methods(train_fs, ["arcface", *(trio[n] for n in names if n in trio)], fr, lowres, seed=seed)
    built = {}
    for name in names:
        if name == "baseline":
            built[name] = Method(name, base)
        elif name == "fra_gallery":
            _, extra = fra_gallery(fs, bench, fra_params=settings["fra_params"], fr_train=fr, train_fs=train_fs, seed=seed)
            built[name] = Method(name, base, gallery_extra=extra)
        elif name in ("inpainting", "inpainting_masked"):
            gan = settings["inpaint_params"]
            _, transform = inpainting(corpora["synth_celeba"], gan=gan["gan"], max_yaw=gan["max_yaw"], seed=notebooks_seed,
                                      variant="gan" if name == "inpainting" else "gan_masked")
            built[name] = Method(name, base, probe_transform=transform)
        elif name == "fserasing":
            kw = {"params": fse.get("augment_params"), "parser_train": fse.get("parser_train"), "parser_fs": parser_fs}
            if own:
                masks = fse_methods.training_masks(train_fs, _parser(parser_fs, fse.get("parser_train"), notebooks_seed),
                                                   fse.get("parser_train"), parser_fs=parser_fs)
                model = fse_methods.train_model(train_fs, "arcface", "fserasing", fr, masks=masks, **kw).backbone
            else:
                model = fserasing_model(train_fs, fr_train=fr, parser_train=fse.get("parser_train"),
                                        augment_params=fse.get("augment_params"), parser_fs=parser_fs)
            built[name] = Method(name, model)
        elif name in ("crb", "approach1", "approach2"):
            method = trio[name]
            model = (lr_methods.train_method(train_fs, method, fr, lowres, seed=seed) if own
                     else lowres_model(train_fs, method, fr_train=fr, lowres_params=lowres, seed=seed))
            built[name] = Method(name, model)
        elif name == "combined":
            built[name] = Method(name, combined_model(train_fs, fr_train=fr, lowres_params=lowres, seed=notebooks_seed,
                                                      parser_fs=parser_fs, parser_train=fse.get("parser_train"),
                                                      augment_params=fse.get("augment_params")))
        else:
            raise ValueError(f"unknown method {name!r}")
    return built


def _parser(parser_fs, parser_train: Mapping | None, seed: int):
    """03's parser (trained on ``parser_fs``'s training rows), from the run cache."""
    from lib.fserasing.parser import ParserConfig, train_parser_cached
    from lib.recognition.split_models import data_key, split_labels

    prow, _ = split_labels(parser_fs.meta, "train")
    pcfg = ParserConfig(**{"seed": seed, **dict(parser_train or {})})
    return train_parser_cached(pcfg, np.asarray(parser_fs.images[prow]), parser_fs.array("parsing")[prow],
                               data_key=data_key(parser_fs, "train"))
