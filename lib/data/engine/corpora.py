"""The engine's training corpora: many persons for training, held-out persons for testing.

The papers train on large corpora and test on small ones: CASIA-WebFace (10,575 identities) or MS1M
for recognition, CelebA (~200k faces) for inpainting, FaceSynthetics (100k labelled renders) for
parsing; KDEF, LFW and SCface are only test sets. ``build_corpora(CorporaConfig())`` gives the engine
the same shape. One stream of distinct persons (the *person pool*) is cut by position into roles:

====================  =========================================================================
role (pool order)     images
====================  =========================================================================
``bench``             ``synth_bench``: a gallery image (session A, frontal, neutral) and probes
                      (session B, every ``bench_emotions`` x ``bench_poses``) per person: the
                      held-out benchmark of 05_cross_method, in no training corpus
``heldout``           the ``test`` split of ``synth_celeba`` and ``synth_facesynthetics``
``train``             ``synth_webface`` (recognition), and the ``train`` split of ``synth_celeba``
                      (frontal faces for inpainting) and ``synth_facesynthetics`` (parsing)
``spare``             none: only measured for the identity capacity
====================  =========================================================================

and every person of the pool, whatever its role, has one frontal neutral image per session in
``synth_capacity`` (lib.data.engine.capacity measures the pool with dlib on it).

The pool never holds an evaluation person: ``exclude`` lists the candidate indices of the KDEF-like
set's persons (``synth_kdef``); they are never tried, and a candidate whose face SFace finds as
close as ``distinct_max_cosine`` to one of them is rejected like a repeat.

Every image of a training corpus draws its own yaw, pitch, emotion, session and session look
(``Sampling``), like a web photo; a person's images therefore differ in pose, expression, light,
colour and scale. Persons are selected on the SFace embedding of the source face
(``candidates.evaluate_source``): the same distinctness rule as synth_kdef's, 2.4 times cheaper.
``distinct_max_cosine`` is 0.6 here (synth_kdef: 0.45): at 0.45 a pool of 1,000 persons took more
than 17 minutes to select; at 0.6, 3,000 persons of one pool still reach dlib TAR@1e-3 >= 0.8
(measured in 00_data_prep).

Everything is written into one temporary directory that becomes ``data/corpora/<config hash>/``
when every FaceSet is complete: an interrupted build leaves nothing half-written. Data card:
data_cards/synth_corpora.md.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lib import io, paths, provenance, runcache
from lib.data.engine import candidates, identity
from lib.data.engine.build import KDEF_POSES
from lib.data.engine.expressions import EMOTIONS
from lib.data.engine.sessions import SESSIONS

VERSION = "1.0"
NAMES = ("synth_webface", "synth_celeba", "synth_facesynthetics", "synth_bench", "synth_capacity")
ARRAYS = ("parsing", "landmarks68", "landmarks68_visible")
# The largest pool measured to hold (dlib TAR@1e-3 >= 0.8 over all its persons, 00_data_prep's
# engine.capacity.persons): a larger request stops unless ``measure_beyond`` says it is a measurement.
MEASURED_CAPACITY = 3000
GALLERY_SESSION, PROBE_SESSION = SESSIONS  # synth_bench: gallery from A, probes from B


@dataclass(frozen=True)
class Sampling:
    """How the images of one corpus are drawn, per image: yaw ~ U(-max_yaw, max_yaw), pitch ~
    U(-max_pitch, max_pitch), an emotion among ``emotions``, a session and a fresh look of it."""

    per_person: int
    max_yaw: float
    max_pitch: float
    emotions: tuple = EMOTIONS


@dataclass(frozen=True)
class CorporaConfig:
    """Args:
        bench_persons, heldout_persons, train_persons: persons of each role (module docstring);
        capacity_persons: the whole pool (0: exactly the three roles; more adds ``spare`` persons).
        webface, celeba, facesynthetics: per-image sampling of each corpus (train and held-out persons).
        bench_poses, bench_emotions: the benchmark's session-B probes (pose code -> yaw; its session A
            holds only the gallery image, frontal and neutral, as 05_cross_method uses it).
        exclude: candidate indices of evaluation persons that the pool must neither hold nor resemble.
        distinct_max_cosine: SFace cosine that every pool person stays below against every other.
        measure_beyond: allow a pool larger than MEASURED_CAPACITY (to measure the capacity further).
        seed, size, criteria: as in ``EngineConfig``; workers: processes (0: all cores).
        render_size: internal render resolution. 168 (1.5x supersampling), not synth_kdef's 224: a third
            faster per image, and on 192 test renders (8 heads x 6 yaws x 4 emotions) a mean difference of
            0.6 grey levels at 112 px, 1.6 % of parsing pixels different (all on class edges).
    """

    bench_persons: int = 300
    heldout_persons: int = 200
    train_persons: int = 2000
    capacity_persons: int = 0
    webface: Sampling = Sampling(10, 60.0, 15.0)
    celeba: Sampling = Sampling(5, 20.0, 10.0)
    facesynthetics: Sampling = Sampling(3, 60.0, 20.0)
    bench_poses: dict = field(default_factory=lambda: {"S": 0.0, "HR": 30.0, "FR": 60.0})
    bench_emotions: tuple = EMOTIONS
    exclude: tuple = ()
    distinct_max_cosine: float = 0.6
    measure_beyond: bool = False
    seed: int = 0
    size: int = 112
    render_size: int = 168
    criteria: identity.UsableCriteria = identity.UsableCriteria()
    workers: int = 0

    @property
    def pool_size(self) -> int:
        return max(self.capacity_persons, self.bench_persons + self.heldout_persons + self.train_persons)

    def key(self) -> dict:
        """Everything that changes the output (not ``workers``), the engine version and the 68-point map."""
        from lib.data.engine.build import VERSION as ENGINE_VERSION
        from lib.data.engine.mesh68 import MAP_FILE

        d = dataclasses.asdict(self)
        d.pop("workers")
        d.pop("measure_beyond")
        d["exclude"] = sorted(int(i) for i in self.exclude)
        d["version"], d["engine_version"] = VERSION, ENGINE_VERSION
        d["mesh68_sha256"] = provenance.sha256_file(MAP_FILE)
        return d


def check(cfg: CorporaConfig) -> None:
    """Stop, naming the parameter, on sizes the engine cannot give."""
    for name in ("bench_persons", "heldout_persons", "train_persons"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"CorporaConfig.{name}={getattr(cfg, name)}: every role needs at least 1 person")
    for name in ("webface", "celeba", "facesynthetics"):
        s = getattr(cfg, name)
        if s.per_person < 1 or not s.emotions or set(s.emotions) - set(EMOTIONS):
            raise ValueError(f"CorporaConfig.{name}={s}: per_person must be >= 1 and emotions among {EMOTIONS}")
    if not cfg.bench_poses or not cfg.bench_emotions:
        raise ValueError("CorporaConfig.bench_poses / bench_emotions: give at least one pose and one emotion")
    if cfg.pool_size > MEASURED_CAPACITY and not cfg.measure_beyond:
        raise ValueError(
            f"CorporaConfig: bench_persons + heldout_persons + train_persons (or capacity_persons) = {cfg.pool_size} "
            f"persons exceeds the engine's measured capacity of {MEASURED_CAPACITY} distinct persons (dlib TAR@1e-3 "
            f">= 0.8, 00_data_prep's engine.capacity.persons). Ask for at most {MEASURED_CAPACITY}, or set "
            "measure_beyond=True to build a larger pool and measure it")


def roles(cfg: CorporaConfig) -> list[str]:
    """The role of every pool person, in pool order."""
    b, h, t = cfg.bench_persons, cfg.heldout_persons, cfg.train_persons
    return ["bench"] * b + ["heldout"] * h + ["train"] * t + ["spare"] * (cfg.pool_size - b - h - t)


def corpora_dir(cfg: CorporaConfig) -> Path:
    return paths.data_dir() / "corpora" / provenance.config_hash(cfg.key())


def select_pool(cfg: CorporaConfig, pool, progress=None) -> candidates.Stream:
    """The pool's persons: distinct usable candidates in stream order, none of them an excluded person
    or like one (SFace on the source faces)."""
    skip = frozenset(int(i) for i in cfg.exclude)
    others = [c.embedding for c in pool.map(candidates.evaluate_source, [(cfg.seed, i, cfg.criteria) for i in sorted(skip)])
              if c.embedding is not None]
    return candidates.select_distinct(pool, candidates.evaluate_source, cfg.seed, cfg.criteria, cfg.pool_size,
                                      cfg.distinct_max_cosine, others=others, skip=skip, progress=progress,
                                      batch=candidates.BLOCK, chunksize=candidates.BLOCK,
                                      ahead=8)


def expected_counts(cfg: CorporaConfig) -> dict[str, int]:
    """Images of every corpus."""
    seen = cfg.train_persons + cfg.heldout_persons
    return {"synth_webface": cfg.train_persons * cfg.webface.per_person,
            "synth_celeba": seen * cfg.celeba.per_person,
            "synth_facesynthetics": seen * cfg.facesynthetics.per_person,
            "synth_bench": cfg.bench_persons * (1 + len(cfg.bench_emotions) * len(cfg.bench_poses)),
            "synth_capacity": cfg.pool_size * len(SESSIONS)}


def pose_code(yaw: float) -> str:
    """The KDEF pose code nearest to ``yaw`` (FL -60, HL -30, S 0, HR 30, FR 60): the ``pose`` column of
    images with a sampled yaw."""
    codes = list(KDEF_POSES)
    return codes[int(np.argmin([abs(yaw - KDEF_POSES[c]) for c in codes]))]


def _person_plan(cfg: CorporaConfig, person: int, role: str) -> list[tuple[str, dict, tuple]]:
    """Every image of one pool person: (corpus, row fields, (yaw, pitch, emotion, look)), in a fixed order."""
    from lib.data.engine.sessions import draw_look
    from lib.seeding import numpy_rng

    looks = {s: draw_look(numpy_rng(cfg.seed, "corpus-look", person, s), s) for s in SESSIONS}
    plan = [("synth_capacity", {"session": s, "emotion": "neutral", "pose": "S", "yaw": 0.0, "pitch": 0.0,
                                 "split": "train" if role == "train" else "test"},
             (0.0, 0.0, "neutral", looks[s])) for s in SESSIONS]
    if role == "bench":
        rng = numpy_rng(cfg.seed, "corpus-pitch", person)
        layout = [(GALLERY_SESSION, "neutral", "S", 0.0)] + [
            (PROBE_SESSION, e, code, yaw) for e in cfg.bench_emotions for code, yaw in cfg.bench_poses.items()]
        for s, emotion, code, yaw in layout:
            pitch = round(float(rng.uniform(-5.0, 5.0)), 3)
            plan.append(("synth_bench", {"session": s, "emotion": emotion, "pose": code, "yaw": float(yaw),
                                         "pitch": pitch, "split": "test"}, (yaw, pitch, emotion, looks[s])))
    wanted = {"train": ("synth_webface", "synth_celeba", "synth_facesynthetics"),
              "heldout": ("synth_celeba", "synth_facesynthetics")}.get(role, ())
    for corpus in wanted:
        s_cfg = getattr(cfg, corpus.removeprefix("synth_"))
        rng = numpy_rng(cfg.seed, "corpus", corpus, person)
        for _ in range(s_cfg.per_person):
            yaw = round(float(rng.uniform(-s_cfg.max_yaw, s_cfg.max_yaw)), 3)
            pitch = round(float(rng.uniform(-s_cfg.max_pitch, s_cfg.max_pitch)), 3)
            emotion = s_cfg.emotions[int(rng.integers(len(s_cfg.emotions)))]
            session = SESSIONS[int(rng.integers(len(SESSIONS)))]
            look = draw_look(rng, session)
            plan.append((corpus, {"session": session, "emotion": emotion, "pose": pose_code(yaw), "yaw": yaw, "pitch": pitch,
                                  "split": "train" if role == "train" else "test"}, (yaw, pitch, emotion, look)))
    return plan


def render_person(args) -> dict[str, dict]:
    """Worker: every image of one pool person, grouped by corpus ({name: {"rows", "images", arrays}})."""
    from lib.data.engine.build import labelled_render

    cfg, person, index, role = args
    h = candidates.selected_head(cfg.seed, index, cfg.criteria)
    name, out = f"{person:04d}", {}
    for corpus, fields, (yaw, pitch, emotion, look) in _person_plan(cfg, person, role):
        labels = labelled_render(h, yaw, pitch, emotion, look, cfg.size, cfg.render_size)
        part = out.setdefault(corpus, {"rows": [], **{k: [] for k in ("images", *ARRAYS)}})
        identity_name = f"{fields['session']}{name}" if corpus == "synth_bench" else name
        part["rows"].append({"identity": identity_name, "person": name, **fields, "role": role,
                             "source": f"dcgan:{cfg.seed}:{index}"})
        for k in ("images", *ARRAYS):
            part[k].append(labels[k])
    return {c: {"rows": p["rows"], **{k: np.stack(p[k]) for k in ("images", *ARRAYS)}} for c, p in out.items()}


def _card(cfg: CorporaConfig, stream: candidates.Stream) -> dict:
    """The card the five FaceSets share (each adds its ``name``)."""
    return {"kind": "synthetic", "generator": "lib.data.engine.corpora", "version": VERSION,
            "seed": cfg.seed, "parameters": cfg.key(), "data_card": "data_cards/synth_corpora.md",
            "pool": {"persons": len(stream.kept), "tried": stream.tried, "reasons": stream.reasons,
                     "not_distinct": stream.not_distinct,
                     "roles": {r: roles(cfg).count(r) for r in ("bench", "heldout", "train", "spare")},
                     "candidates": stream.kept}}


def build_corpora(cfg: CorporaConfig = CorporaConfig(), *, progress: bool = True) -> dict[str, Path]:
    """Build (or return the cached) corpora of ``cfg``: {name: FaceSet directory} for every name in NAMES.
    The build times are in ``<dir>/build.json``."""
    import time
    from contextlib import ExitStack

    import pandas as pd
    from tqdm import tqdm

    from lib.data.faceset import FaceSetWriter, faceset_exists

    check(cfg)
    out = corpora_dir(cfg)
    dirs = {n: out / n for n in NAMES}
    if all(faceset_exists(d) for d in dirs.values()) and (out / "build.json").exists() and not runcache.forced():
        return dirs
    workers = cfg.workers or max(1, min(mp.cpu_count(), 8))
    counts = expected_counts(cfg)
    with mp.get_context("spawn").Pool(workers, initializer=candidates.init_worker) as pool:
        t0 = time.perf_counter()
        with tqdm(total=cfg.pool_size, desc="corpus persons", mininterval=10, disable=not progress) as bar:
            stream = select_pool(cfg, pool, bar)
        t1 = time.perf_counter()
        tasks = [(cfg, p, idx, role) for p, (idx, role) in enumerate(zip(stream.kept, roles(cfg)))]
        card = _card(cfg, stream)
        with io.atomic_dir(out) as tmp, ExitStack() as stack:
            writers = {n: stack.enter_context(FaceSetWriter(tmp / n, n=counts[n], image_size=(cfg.size, cfg.size),
                                                            arrays=ARRAYS, card={"name": n, **card})) for n in NAMES}
            # chunks of 4 consecutive persons: a worker's heads then often share one DCGAN block of sources
            for res in tqdm(pool.imap(render_person, tasks, chunksize=4), total=len(tasks), desc="corpus renders",
                            mininterval=10, disable=not progress):
                for n, part in res.items():
                    writers[n].append(part["images"], pd.DataFrame(part["rows"]), {k: part[k] for k in ARRAYS})
            t2 = time.perf_counter()
            images = sum(counts.values())
            io.write_json(tmp / "build.json", {"workers": workers, "select_seconds": round(t1 - t0, 1),
                                               "render_seconds": round(t2 - t1, 1), "seconds": round(t2 - t0, 1),
                                               "images": images, "images_per_s": round(images / (t2 - t1), 1),
                                               "candidates_tried": stream.tried})
    return dirs


def make_config(seed: int = 0, exclude=(), **changes) -> CorporaConfig:
    """A CorporaConfig from notebook parameters: top-level fields as they are, a dict for a ``Sampling``
    field changes only the keys it names, e.g. ``make_config(train_persons=500, webface={"per_person": 20})``."""
    base = CorporaConfig()
    fields = {f.name for f in dataclasses.fields(CorporaConfig)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ValueError(f"corpora parameters {unknown} are not CorporaConfig fields; choose from {sorted(fields)}")
    for name, value in list(changes.items()):
        if isinstance(getattr(base, name), Sampling) and isinstance(value, dict):
            changes[name] = dataclasses.replace(getattr(base, name), **{k: (tuple(v) if k == "emotions" else v)
                                                                        for k, v in value.items()})
        elif name == "bench_poses":
            changes[name] = {k: float(v) for k, v in value.items()}
        elif name == "bench_emotions":
            changes[name] = tuple(value)
    return dataclasses.replace(base, seed=seed, exclude=tuple(int(i) for i in exclude), **changes)


def read_corpora(dirs: dict[str, Path], verify: str = "fast") -> dict:
    """{name: FaceSet} of ``build_corpora``'s directories."""
    from lib.data.faceset import read_faceset

    return {n: read_faceset(d, verify=verify) for n, d in dirs.items()}


def build_record(dirs: dict[str, Path]) -> dict:
    """The build's measured times (``build.json``: seconds, select_seconds, render_seconds, images_per_s)."""
    import json

    return json.loads((Path(next(iter(dirs.values()))).parent / "build.json").read_text())


def notebook_config(profile: str, seed: int = 0) -> CorporaConfig:
    """The corpora's config as 00_data_prep builds it under ``profile`` (its ``corpora`` parameter and
    that profile's section, the persons of the profile's synth_kdef excluded): the notebooks that train
    on a corpus (02 the GAN on synth_celeba, 03 the parser on synth_facesynthetics) read it here instead
    of repeating 00's parameters."""
    from lib import profiles
    from lib.data.engine import build
    from lib.data.faceset import read_faceset

    p = profiles.effective("00_data_prep", profile, ["corpora"])
    kdef = read_faceset(build.build_synth_kdef(build.notebook_config(profile, seed), progress=False), verify="none")
    selected = kdef.card["selection"]["candidates"]
    return make_config(seed=seed, exclude=selected, **p["corpora"])


def notebook_corpora(profile: str, seed: int = 0, names=NAMES, verify: str = "fast") -> dict:
    """{name: FaceSet} of the corpora 00_data_prep builds under ``profile`` (built here if 00 has not
    run yet: minutes on the default profile)."""
    dirs = build_corpora(notebook_config(profile, seed), progress=False)
    return read_corpora({n: dirs[n] for n in names}, verify=verify)
