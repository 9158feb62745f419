"""Build the ``synth_kdef`` FaceSet: KDEF-like persons x 2 sessions x 7 emotions x 5 poses.

``build_synth_kdef(EngineConfig(...))`` selects distinct usable identities from the DCGAN
stream, renders every person in worker processes and streams the images and labels into
a FaceSet (lib.data.faceset) under data/synth_kdef/<config hash>/. The result is cached
by config: a second call returns the finished FaceSet at once (FORCE=1 rebuilds). The
write is atomic: an interrupted build leaves no half-written FaceSet and restarts cleanly.

KDEF naming: identity = session + person (docs/fra.md: the session letter is part of
the identity), e.g. "A007"; persons are split into train/test, both sessions of a person
in the same split.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lib import paths, provenance, runcache
from lib.data.engine import candidates, identity
from lib.data.engine.expressions import EMOTIONS, KDEF_CODE
from lib.data.engine.sessions import SESSIONS

VERSION = "1.2"
KDEF_POSES = {"FL": -60.0, "HL": -30.0, "S": 0.0, "HR": 30.0, "FR": 60.0}  # +-90 renders poorly: see data card


@dataclass(frozen=True)
class EngineConfig:
    """Args:
        n_train, n_test: persons per split (each person appears in both sessions).
        seed: the one seed; same seed and parameters give byte-identical arrays.
        poses: KDEF pose code -> yaw in degrees.
        emotions, sessions: subsets of the 7 KDEF emotions and of ("A", "B").
        pitch_jitter: per-image pitch drawn uniformly in +-pitch_jitter degrees.
        distinct_max_cosine: SFace cosine similarity that every kept identity must stay
            below against every other kept one. SFace's own same-person threshold is 0.363;
            DCGAN faces are alike (pairwise cosine among usable samples: median 0.25, 95th
            percentile 0.42), and 0.363 keeps only 23 of 89 usable samples, so the default is
            0.45 (55 of 89): a few kept pairs may look alike to SFace. The quality check uses
            the other recogniser (dlib), so selection and measurement are independent.
        include_astronaut: make the skimage astronaut (a real photo) the first test person.
        size, render_size: output and internal render resolution.
        render_splits: which persons' images are rendered ("train", "test"). Identity selection
            and the person split are the same whatever this is, so a set rendered with
            ``("test",)`` and larger ``n_test`` holds the SAME test persons as the smaller set plus
            new ones, and never a training person of a set with the same n_train (05_cross_method).
        workers: processes (default: all cores).
    """

    n_train: int = 48
    n_test: int = 16
    seed: int = 0
    poses: dict = field(default_factory=lambda: dict(KDEF_POSES))
    emotions: tuple = EMOTIONS
    sessions: tuple = SESSIONS
    pitch_jitter: float = 5.0
    distinct_max_cosine: float = 0.45
    include_astronaut: bool = False
    size: int = 112
    render_size: int = 224
    criteria: identity.UsableCriteria = identity.UsableCriteria()
    render_splits: tuple = ("train", "test")
    workers: int = 0

    def key(self) -> dict:
        """Everything that changes the output (not ``workers``): the parameters, the engine
        version and the committed 478 -> 68 map (so a re-derived map never reuses stale labels)."""
        from lib.data.engine.mesh68 import MAP_FILE

        d = dataclasses.asdict(self)
        d.pop("workers")
        if tuple(d["render_splits"]) == ("train", "test"):
            d.pop("render_splits")  # the default: keeps the keys (and caches) of sets made before the field
        d["version"] = VERSION
        d["mesh68_sha256"] = provenance.sha256_file(MAP_FILE)
        return d


@dataclass
class Selection:
    persons: list  # candidate indices, in person order
    tried: int
    reasons: dict  # reason -> count over tried candidates
    not_distinct: int
    max_cosine: np.ndarray  # per kept person: SFace cosine to the most similar other kept person

    @property
    def accept_rate(self) -> float:
        return len(self.persons) / max(self.tried, 1)


def select_identities(cfg: EngineConfig, pool) -> Selection:
    """Accept usable DCGAN candidates in stream order while distinct from all kept ones."""
    kept, embs = [], []
    if cfg.include_astronaut:
        c = candidates.evaluate((cfg.seed, candidates.ASTRONAUT, cfg.criteria))
        if c.embedding is None:
            raise RuntimeError(f"the astronaut photo is not usable as an identity ({c.reason})")
        kept, embs = [c.index], [c.embedding]
    s = candidates.select_distinct(pool, candidates.evaluate, cfg.seed, cfg.criteria, cfg.n_train + cfg.n_test,
                                   cfg.distinct_max_cosine, kept=kept, kept_embeddings=embs)
    E = s.embeddings
    S = E @ E.T - np.eye(len(E)) * 2
    return Selection(s.kept, s.tried, s.reasons, s.not_distinct, S.max(1))


def person_split(cfg: EngineConfig, n: int) -> list[str]:
    """Test persons first when the astronaut is included (she is person 0), else last."""
    if cfg.include_astronaut:
        return ["test"] * cfg.n_test + ["train"] * cfg.n_train
    return ["train"] * cfg.n_train + ["test"] * cfg.n_test


LABELLED = ("images", "parsing", "mesh478", "mesh478_visible", "landmarks68", "landmarks68_visible")


def labelled_render(h, yaw: float, pitch: float, emotion: str, look, size: int, render_size: int) -> dict:
    """One render and its exact labels, keyed as the FaceSet arrays (``LABELLED``; "images" = the image)."""
    from lib.data.engine.mesh68 import landmarks68
    from lib.data.engine.render import render

    r = render(h, yaw, pitch, emotion, look, size=size, render_size=render_size)
    lm, vis = landmarks68(r.mesh478, r.visible478)
    return dict(zip(LABELLED, (r.image, r.parsing, r.mesh478, r.visible478, lm, vis)))


def render_person(args) -> dict:
    """Worker: every image of one person (sessions x emotions x poses) with labels."""
    from lib.data.engine.sessions import session_look
    from lib.seeding import numpy_rng

    cfg, person, index, split = args
    h = candidates.selected_head(cfg.seed, index, cfg.criteria)
    rng = numpy_rng(cfg.seed, "pitch", person)
    out = {k: [] for k in LABELLED}
    rows = []
    source = "astronaut" if index == candidates.ASTRONAUT else f"dcgan:{cfg.seed}:{index}"
    for session in cfg.sessions:
        look = session_look(cfg.seed, person, session)
        for emotion in cfg.emotions:
            for code, yaw in cfg.poses.items():
                pitch = float(rng.uniform(-cfg.pitch_jitter, cfg.pitch_jitter))
                for k, v in labelled_render(h, yaw, pitch, emotion, look, cfg.size, cfg.render_size).items():
                    out[k].append(v)
                rows.append({"identity": f"{session}{person:03d}", "session": session, "emotion": emotion,
                             "pose": code, "yaw": yaw, "split": split, "source": source,
                             "person": f"{person:03d}", "pitch": round(pitch, 3),
                             "kdef_code": f"{session}X{person:02d}{KDEF_CODE[emotion]}{code}"})
    return {"rows": rows, **{k: np.stack(v) for k, v in out.items()}}


def notebook_config(profile: str, seed: int = 0) -> EngineConfig:
    """The KDEF-like FaceSet's config as 00_data_prep builds it under ``profile`` (its ``engine_*``
    parameters and that profile's section): every notebook reads the one shared FaceSet through here
    instead of repeating the parameters."""
    from lib import profiles

    p = profiles.effective("00_data_prep", profile, ["engine_train", "engine_test", "engine_emotions", "engine_poses",
                                                      "engine_include_astronaut"])
    return EngineConfig(n_train=p["engine_train"], n_test=p["engine_test"], seed=seed,
                        emotions=tuple(p["engine_emotions"]), poses={k: float(v) for k, v in p["engine_poses"].items()},
                        include_astronaut=p["engine_include_astronaut"])


def faceset_dir(cfg: EngineConfig) -> Path:
    return paths.data_dir() / "synth_kdef" / provenance.config_hash(cfg.key())


def build_synth_kdef(cfg: EngineConfig = EngineConfig(), *, progress: bool = True) -> Path:
    """Build (or return the cached) synth_kdef FaceSet for ``cfg``; returns its directory."""
    import pandas as pd
    from tqdm import tqdm

    from lib.data.faceset import FaceSetWriter, faceset_exists

    out = faceset_dir(cfg)
    if faceset_exists(out) and not runcache.forced():
        return out
    workers = cfg.workers or max(1, min(mp.cpu_count(), 8))
    bad = sorted(set(cfg.render_splits) - {"train", "test"})
    if bad or not cfg.render_splits:
        raise ValueError(f"render_splits {cfg.render_splits!r}: choose one or both of 'train', 'test'")
    n_persons = cfg.n_train + cfg.n_test
    per_person = len(cfg.sessions) * len(cfg.emotions) * len(cfg.poses)
    with mp.get_context("spawn").Pool(workers, initializer=candidates.init_worker) as pool:
        sel = select_identities(cfg, pool)
        splits = person_split(cfg, n_persons)
        card = {"name": "synth_kdef", "kind": "synthetic", "generator": "lib.data.engine", "version": VERSION,
                "seed": cfg.seed, "parameters": cfg.key(), "data_card": "data_cards/synth_kdef.md",
                "selection": {"tried": sel.tried, "accepted": len(sel.persons), "accept_rate": sel.accept_rate,
                              "reasons": sel.reasons, "not_distinct": sel.not_distinct,
                              "nearest_cosine_mean": float(sel.max_cosine.mean()),
                              "candidates": sel.persons}}
        arrays = ["parsing", "mesh478", "mesh478_visible", "landmarks68", "landmarks68_visible"]
        tasks = [(cfg, p, idx, splits[p]) for p, idx in enumerate(sel.persons) if splits[p] in cfg.render_splits]
        with FaceSetWriter(out, n=len(tasks) * per_person, image_size=(cfg.size, cfg.size), arrays=arrays,
                           card=card) as writer:
            for res in tqdm(pool.imap(render_person, tasks), total=len(tasks), desc="synth_kdef persons",
                            disable=not progress):
                writer.append(res["images"], pd.DataFrame(res["rows"]), {k: res[k] for k in arrays})
    return out
