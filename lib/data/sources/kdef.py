"""KDEF (Karolinska Directed Emotional Faces) -> FaceSet.

Layout (data_cards/kdef.md): ``<root>/<AF01>/<AF01ANFL.JPG>``, 70 people x 2 sessions x 7
emotions x 5 poses = 4,900 JPEGs of 562x762. The name is session (A/B), gender (F/M), person
number (01-35), emotion (AF AN DI HA NE SA SU) and pose (FL HL S HR FR).

As in FRA (docs/fra.md) identity = the first 4 characters, so the two sessions of one
person are two identities. The split is by PERSON (gender + number), so both sessions of
one person always fall in the same split: a leakage-free protocol must not test on a
person whose other session it trained on.

Images are aligned from the raw photos (YuNet, 5 points, ArcFace template) by default; with
``aligned_root`` (FRA's CROPPED_ALIGNED tree, same relative paths) the pre-aligned crops are
used instead (resized). ``file`` in meta is the raw photo's path relative to ``root``, so
notebooks can reload it (FRA draws its landmark maps from the raw image).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from lib.data.engine.expressions import KDEF_CODE
from lib.data.sources.common import (Aligner, Reject, Rejects, Sample, convert as _convert, read_image,
                                     require_dir, source_error, split_by_group)

VERSION = "1"
ENV = "FACEAUG_KDEF"
DATA_CARD = "kdef"
NAME = re.compile(r"^(?P<session>[AB])(?P<gender>[FM])(?P<number>\d{2})(?P<emotion>AF|AN|DI|HA|NE|SA|SU)"
                  r"(?P<pose>FL|HL|S|HR|FR)\.jpe?g$", re.IGNORECASE)
EMOTION = {code: name for name, code in KDEF_CODE.items()}
# Yaw in degrees, the engine's sign convention (lib.data.engine.build.KDEF_POSES): KDEF's
# profiles are full (90) and half (45) turns; the engine renders them at 60 and 30.
POSE_YAW = {"FL": -90.0, "HL": -45.0, "S": 0.0, "HR": 45.0, "FR": 90.0}
DEFAULTS = {"aligned_root": None, "align": "detect", "size": 112, "detector": "yunet",
            "test_fraction": 0.25, "seed": 0}


def parse_name(name: str) -> dict:
    """Fields of a KDEF file name, e.g. ``AF01ANFL.JPG``; ``Reject`` if it does not follow the scheme."""
    m = NAME.match(name)
    if not m:
        raise Reject(f"file name does not follow the KDEF scheme <A|B><F|M><NN><emotion><pose>.JPG ({name!r})")
    g = {k: v.upper() for k, v in m.groupdict().items()}
    return {"identity": g["session"] + g["gender"] + g["number"], "session": g["session"],
            "person": g["gender"] + g["number"], "gender": g["gender"], "emotion": EMOTION[g["emotion"]],
            "pose": g["pose"], "yaw": POSE_YAW[g["pose"]],
            "kdef_code": f"{g['session']}{g['gender']}{g['number']}{g['emotion']}{g['pose']}"}


def scan(root: Path, rejects: Rejects) -> pd.DataFrame:
    """One row per KDEF photo under ``root`` (any depth); other .jpg names go to ``rejects``."""
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg")):
        rel = path.relative_to(root).as_posix()
        try:
            rows.append({**parse_name(path.name), "file": rel})
        except Reject as err:
            rejects.add(rel, str(err))
    if not rows:
        raise source_error(root, f"no KDEF photos found (names like AF01ANFL.JPG; {len(rejects)} other .jpg files)",
                           "point the root at the KDEF folder that holds AF01/, AM01/, ... (KDEF_and_AKDEF/KDEF)",
                           DATA_CARD)
    df = pd.DataFrame(rows)
    dup = df["kdef_code"].duplicated(keep="first")
    for rel in df.loc[dup, "file"]:
        rejects.add(rel, "duplicate of a photo with the same KDEF code (the first one is kept)")
    return df[~dup].reset_index(drop=True)


def convert(root, out, *, aligned_root=None, align: str = "detect", size: int = 112, detector: str = "yunet",
            test_fraction: float = 0.25, seed: int = 0, progress: bool = True) -> Path:
    """Convert KDEF at ``root`` into the FaceSet ``out`` (see the module docstring)."""
    root = require_dir(root, DATA_CARD, "the KDEF folder holding AF01/ ... BM35/")
    aligned = require_dir(aligned_root, DATA_CARD, "the CROPPED_ALIGNED tree") if aligned_root else None
    rejects = Rejects()
    df = scan(root, rejects)
    df["split"] = split_by_group(df["person"], {"train": 1 - test_fraction, "test": test_fraction}, seed)
    df["source"] = "kdef"
    aligner = Aligner("resize" if aligned else align, size, detector=detector)

    def load(row: dict) -> Sample:
        image = read_image((aligned or root) / row["file"])
        crop, info = aligner(image)
        return Sample(crop, meta=info)

    card = {"name": "kdef", "kind": "real", "version": VERSION, "seed": seed, "source": str(root),
            "data_card": f"data_cards/{DATA_CARD}.md",
            "parameters": {"aligned_root": str(aligned) if aligned else None, "align": aligner.describe(),
                           "test_fraction": test_fraction, "split_by": "person (both sessions together)"}}
    return _convert(df, out, load, size=size, card=card, rejects=rejects, progress=progress, desc="kdef")
