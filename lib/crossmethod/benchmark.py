"""The cross-method benchmark: held-out persons, a gallery, and probe sets along four difficulty axes.

Persons, as in every FR step of the companion (lib.data.faceset.person_labels; the models learn one
class per person). The gallery is each benchmark person's session-A frontal neutral image and every
probe comes from session B (another lighting and look, as a second photo session), so even the clean
condition asks the recogniser to match across sessions.

The persons are the engine's ``synth_bench`` corpus (lib.data.engine.corpora, built by 00_data_prep):
300 persons on the default profile that no training corpus holds (the recognisers learn from
synth_webface, the GAN from synth_celeba, the parser from synth_facesynthetics) and that are not
synth_kdef persons either; :func:`check_held_out` verifies it from the FaceSets' ``source`` column (the
engine's generator, seed and candidate index of each person). FAR = 1e-3 needs at least 1,000 impostor
comparisons per condition; 300 persons give 300 x 299 per probe set of one image per person.

Axes and levels (gallery: session A, pose S, neutral; probes: session B):
- clean ``0``: pose S, every emotion;
- pose ``30``, ``60``: yaw +30 (HR) and +60 (FR), every emotion;
- expression: one level per emotion at pose S (``clean`` is their union);
- occlusion: the clean probes with the CelebA-C damage (``celeba_c``), a sunglasses-like band
  (``band``) or one parsed region erased with noise (``region``: eyes+brows, nose or mouth, from
  the engine's exact 25-class parsing, one per probe at random);
- resolution ``56``, ``28``, ``14``, ``7``: the clean probes down-sampled 112 -> t -> 112 (bilinear).
The random parts (which stroke, band and region each probe gets) are drawn from the ``seed`` given to
:func:`build_benchmark`: a replication with another seed redraws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lib.data import degrade
from lib.fingerprint import freeze

AXES = ("clean", "pose", "occlusion", "resolution", "expression")
POSE_LEVELS = {"30": "HR", "60": "FR"}
OCCLUSIONS = ("celeba_c", "band", "region")
RESOLUTIONS = (56, 28, 14, 7)
# 25-class ids (lib.data.engine.labels.CLASSES) erased together by the ``region`` occlusion
REGIONS = {"eyes": (8, 9, 11, 12, 13, 14), "nose": (10,), "mouth": (17, 18, 19)}


@dataclass(frozen=True)
class BenchmarkConfig:
    """Args:
        emotions: emotions of the probe sets (the gallery is always neutral).
        gallery_session, probe_session: the two sessions.
        resolutions, occlusions: the levels of those two axes.
    """

    emotions: tuple = ("afraid", "angry", "disgusted", "happy", "neutral", "sad", "surprised")
    gallery_session: str = "A"
    probe_session: str = "B"
    resolutions: tuple = RESOLUTIONS
    occlusions: tuple = OCCLUSIONS


def check_held_out(bench_fs, **training_sets) -> None:
    """Raise if a person of ``bench_fs`` is a person of any of ``training_sets`` ({name: FaceSet}), compared
    by the ``source`` column (the engine's ``dcgan:<seed>:<candidate>``: one value per person; a real data
    set's sources never equal an engine person's)."""
    bench = set(bench_fs.meta["source"])
    for name, fs in training_sets.items():
        shared = bench & set(fs.meta["source"])
        if shared:
            raise ValueError(f"{len(shared)} benchmark persons are persons of {name} (sources {sorted(shared)[:3]}): "
                             "the benchmark would not be held out; rebuild the corpora with 00_data_prep")


@dataclass
class Condition:
    axis: str
    level: str
    images: np.ndarray  # (n, 112, 112, 3) uint8 probes as the methods see them
    persons: np.ndarray  # (n,) person labels
    rows: np.ndarray  # (n,) row labels of the source images in the benchmark FaceSet
    masks: np.ndarray | None = None  # (n, 112, 112) bool: the damaged pixels (occlusions only)


@dataclass
class Benchmark:
    gallery_images: np.ndarray
    gallery_persons: np.ndarray
    gallery_rows: np.ndarray
    conditions: list = field(default_factory=list)

    def condition(self, axis: str, level: str) -> Condition:
        for c in self.conditions:
            if c.axis == axis and c.level == level:
                return c
        raise KeyError(f"no condition {axis}/{level}; have {[(c.axis, c.level) for c in self.conditions]}")

    def table(self):
        import pandas as pd

        return pd.DataFrame([{"axis": c.axis, "level": c.level, "probes": len(c.persons),
                              "persons": len(set(c.persons))} for c in self.conditions])


def _rows(meta, **eq) -> np.ndarray:
    keep = np.ones(len(meta), bool)
    for col, value in eq.items():
        values = value if isinstance(value, (list, tuple, set)) else [value]
        keep &= meta[col].isin(values).to_numpy()
    return meta.index.to_numpy()[keep]


def region_erase(image: np.ndarray, parsing: np.ndarray, rng, region: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Erase one parsed region (``REGIONS``: eyes+brows, nose, mouth; random if None) with uniform noise."""
    rng = np.random.default_rng(rng)
    name = region or list(REGIONS)[int(rng.integers(len(REGIONS)))]
    if name not in REGIONS:
        raise ValueError(f"region {name!r}: choose from {sorted(REGIONS)}")
    mask = np.isin(parsing, REGIONS[name])
    out = image.copy()
    out[mask] = rng.integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
    return out, mask


def occlude(images: np.ndarray, kind: str, seed: int, parsing: np.ndarray | None = None):
    """(occluded images, masks) for occlusion ``kind``; one seeded generator per image."""
    out, masks = np.empty_like(images), np.zeros(images.shape[:3], bool)
    for i, img in enumerate(images):
        rng = np.random.default_rng([seed, i, OCCLUSIONS.index(kind) if kind in OCCLUSIONS else 99])
        if kind == "celeba_c":
            out[i], masks[i] = degrade.celeba_c_damage(img, rng)
        elif kind == "band":
            out[i], masks[i] = degrade.band_occlusion(img, rng)
        elif kind == "region":
            if parsing is None:
                raise ValueError("the 'region' occlusion needs the probes' 25-class parsing")
            out[i], masks[i] = region_erase(img, parsing[i], rng)
        else:
            raise ValueError(f"occlusion {kind!r}: choose from {OCCLUSIONS}")
    return out, masks


def _derived(what: str, compute, key: dict, cache: bool) -> np.ndarray:
    """A degraded probe set (or its masks), computed or, with ``cache``, kept in the run cache
    (runs/crossmethod/probes) by the content of its inputs and returned frozen with its digest known."""
    if not cache:
        return compute()
    from lib import runcache

    return runcache.memo_array("crossmethod/probes", {**key, "what": what, "version": 1}, compute, freeze=True)


def build_benchmark(fs, cfg: BenchmarkConfig = BenchmarkConfig(), seed: int = 0, cache: bool = False) -> Benchmark:
    """The gallery and every probe condition of the benchmark FaceSet ``fs`` (see the module docstring).

    ``cache=True`` keeps the occluded and down-sampled probe sets in the run cache, keyed by the clean
    probes' content, the level and the seed (on the default profile drawing them takes ~7 s per seed)."""
    m = fs.meta
    if (m["split"] != "test").any():
        raise ValueError("the benchmark FaceSet must hold test persons only (the synth_bench corpus)")
    images = fs.images
    gallery = _rows(m, session=cfg.gallery_session, pose="S", emotion="neutral")
    persons = m["person"].to_numpy()
    missing = sorted(set(persons) - set(persons[gallery]))
    if missing:
        raise ValueError(f"persons {missing[:5]} have no gallery image (session {cfg.gallery_session}, S, neutral)")
    # frozen (read-only, digested once): every method's cached embeddings and reconstructions key on them
    bench = Benchmark(freeze(images[gallery]), persons[gallery], gallery)

    def add(axis, level, rows, imgs=None, masks=None):
        rows = np.asarray(rows)
        bench.conditions.append(Condition(axis, str(level), freeze(images[rows] if imgs is None else imgs),
                                          persons[rows], rows, None if masks is None else freeze(masks)))

    probe = {"session": cfg.probe_session, "emotion": list(cfg.emotions)}
    clean = _rows(m, pose="S", **probe)
    clean_images = freeze(images[clean])
    add("clean", "0", clean, clean_images)
    for level, pose in POSE_LEVELS.items():
        add("pose", level, _rows(m, pose=pose, **probe))
    parsing = freeze(fs.array("parsing")[clean]) if "region" in cfg.occlusions else None
    for kind in cfg.occlusions:
        drawn = {}  # occlude draws images and masks together: once, whichever the cache asks for first

        def part(i, kind=kind, drawn=drawn):
            if not drawn:
                drawn["v"] = occlude(clean_images, kind, seed, parsing)
            return drawn["v"][i]

        key = {"clean": clean_images, "parsing": parsing, "occlusion": kind, "seed": seed}
        add("occlusion", kind, clean, _derived("images", lambda: part(0), key, cache),
            _derived("masks", lambda: part(1), key, cache))
    for t in cfg.resolutions:
        add("resolution", t, clean, _derived("images", lambda t=t: degrade.down_up_batch(clean_images, int(t)),
                                             {"clean": clean_images, "resolution": int(t)}, cache))
    for emotion in cfg.emotions:
        add("expression", emotion, _rows(m, pose="S", session=cfg.probe_session, emotion=emotion))
    return bench
