"""SCface (Surveillance Cameras Face database) -> one FaceSet holding the gallery and the probes.

Layouts (data_cards/scface.md), under ``<root>`` or ``<root>/SCface_database``:
- the original distribution: gallery ``mugshot_frontal_cropped_all/001_frontal.JPG`` (130 high-res
  mugshots); probes ``surveillance_cameras_distance_<d>/<cam folder>/001_cam<c>_<d>.jpg`` for
  d = 1..3 (camera folders ``cam_1`` .. ``cam_7``, also ``cam1``), or the flat
  ``surveillance_cameras_all/``; IR mugshots ``surveillance_cameras_IR_cam8/001_cam8.jpg``;
- the low-res project's cropped tree: gallery ``models_croppped/`` (sic, three p's), probes flat in
  ``sc_cropped/``. These are MTCNN crops already: convert them with ``align="resize"``.

Names, as docs/lowres.md: identity = the first three characters; a probe
``<id>_cam<c>_<d>.<ext>`` was taken by camera c at distance d (1 = 4.20 m, the farthest and
smallest, 2 = 2.60 m, 3 = 1.00 m). A name that does not parse, a file lying in a folder that
contradicts its name, a duplicate, and a probe whose identity has no (usable) gallery mugshot are
rejects, listed in rejects.csv with the reason.

The protocol (closed-set rank-1 per distance) uses the daytime cameras 1-5: ``cameras`` selects
them (cam6/cam7 are infrared night cameras, cam8 the infrared mugshot), ``distances`` the
distances. Unselected images are not converted and are counted in the card (``excluded``).

Meta: identity, session/emotion/pose "", yaw NaN, split "test", source "scface", ``role``
("gallery"/"probe"), ``camera`` and ``distance`` (ints, 0 for the gallery; an IR mugshot is camera
8, distance 0), ``file`` (relative to ``root``), ``aligned_by``, ``det_score``, and ``width``/``height``
(the source image's pixels; their medians per distance are in the card). Alignment: YuNet
-> 5 points -> ArcFace template; a face YuNet cannot find (most distance-1 probes are a few dozen
pixels) keeps the central square (``fallback="resize"``), recorded as ``aligned_by =
"center_fallback"`` and counted per role and distance in the card. An image of at most 32 x 32
pixels goes to the fallback without detection (common.MIN_DETECT_SIDE: YuNet reports phantom faces there).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from lib.data.sources.common import (ALIGN_METHODS, IMAGE_SUFFIXES, Aligner, Reject, Rejects, Sample,
                                     convert as _convert, read_image, require_dir, source_error)

VERSION = "1"
ENV = "FACEAUG_SCFACE"
DATA_CARD = "scface"
DEFAULTS = {"cameras": [1, 2, 3, 4, 5], "distances": [1, 2, 3], "align": "detect", "fallback": "resize", "size": 112}
IR_CAMERAS = (6, 7)  # night (infrared) surveillance cameras; 8 is the infrared mugshot camera
CAMERAS, DISTANCES = tuple(range(1, 9)), (1, 2, 3)
GALLERY_DIRS = ("mugshot_frontal_cropped_all", "models_croppped", "models_cropped", "mugshot_frontal_original_all")
DISTANCE_DIR = "surveillance_cameras_distance_{}"
FLAT_PROBE_DIRS = ("surveillance_cameras_all", "sc_cropped")
IR_MUGSHOT_DIR = "surveillance_cameras_IR_cam8"
BASES = ("", "SCface_database")
GALLERY_NAME = re.compile(r"^(?P<id>\d{3})(?:_frontal)?$", re.IGNORECASE)
PROBE_NAME = re.compile(r"^(?P<id>\d{3})_cam(?P<camera>[1-7])_(?P<distance>[1-3])$", re.IGNORECASE)
IR_MUGSHOT_NAME = re.compile(r"^(?P<id>\d{3})_cam(?P<camera>8)$", re.IGNORECASE)
CAMERA_DIR = re.compile(r"^cam_?(?P<camera>\d)$", re.IGNORECASE)
SCHEME = ("<id>_frontal.JPG (gallery), <id>_cam<1-7>_<1-3>.jpg (probe: camera, distance) or <id>_cam8.jpg "
          "(IR mugshot), <id> three digits")
_FETCH = "request SCface from the University of Zagreb (scface.org: signed licence agreement) and unpack it"


def parse_name(name: str) -> dict:
    """Fields of an SCface file name (``001_frontal.JPG``, ``001_cam1_1.jpg``, ``001_cam8.jpg``): identity,
    role, camera, distance; ``Reject`` if it follows none of the schemes."""
    path = Path(name)
    stem = path.stem if path.suffix.lower() in IMAGE_SUFFIXES else ""
    for pattern, role in ((GALLERY_NAME, "gallery"), (PROBE_NAME, "probe"), (IR_MUGSHOT_NAME, "probe")):
        m = pattern.match(stem)
        if m:
            g = m.groupdict()
            return {"identity": g["id"], "role": role, "camera": int(g.get("camera") or 0),
                    "distance": int(g.get("distance") or 0)}
    raise Reject(f"file name does not follow the SCface scheme {SCHEME}")


def _selection(values, allowed: tuple[int, ...], what: str) -> list[int]:
    """``values`` (an int or a list of ints) as a sorted list, each in ``allowed``; ValueError otherwise."""
    values = [values] if isinstance(values, (int, np.integer)) else list(values or [])
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v not in allowed]
    if bad or not values:
        raise ValueError(f"{what}={values!r}: give a non-empty list of integers from {list(allowed)}")
    return sorted({int(v) for v in values})


def find_layout(root: Path) -> tuple[Path, Path, list[tuple[Path, int | None]]]:
    """(base, gallery folder, probe folders with their distance or None for a flat folder); SourceError if
    the gallery or the probes are missing."""
    base = next((root / b for b in BASES if any((root / b / g).is_dir() for g in GALLERY_DIRS)), None)
    if base is None:
        looked = ", ".join(f"{g}/" for g in GALLERY_DIRS)
        raise source_error(root, f"no SCface gallery folder found (looked for {looked} in the root and in "
                           "SCface_database/)", f"give the folder that holds the mugshot folder; {_FETCH}", DATA_CARD)
    gallery = next(base / g for g in GALLERY_DIRS if (base / g).is_dir())
    probes = [(base / DISTANCE_DIR.format(d), d) for d in DISTANCES if (base / DISTANCE_DIR.format(d)).is_dir()]
    if not probes:  # the flat folders hold the same probes: read the first that exists
        probes = [(base / f, None) for f in FLAT_PROBE_DIRS if (base / f).is_dir()][:1]
    if not probes:
        looked = ", ".join([DISTANCE_DIR.format("1..3") + "/", *(f + "/" for f in FLAT_PROBE_DIRS)])
        raise source_error(base, f"no SCface surveillance (probe) folder found next to {gallery.name}/ (looked for "
                           f"{looked})", f"unpack the surveillance images next to the mugshots; {_FETCH}", DATA_CARD)
    if (base / IR_MUGSHOT_DIR).is_dir():
        probes.append((base / IR_MUGSHOT_DIR, None))
    return base, gallery, probes


def _images(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _folder_conflict(fields: dict, path: Path, distance: int | None, folder: Path) -> str | None:
    """Why a probe's name contradicts the folder it lies in (distance folder, camera folder), else None."""
    if distance is not None and fields["distance"] != distance:
        said = "an IR mugshot (camera 8)" if fields["camera"] == 8 else f"distance {fields['distance']}"
        return f"name says {said} but it lies in {folder.name}/"
    if folder.name == IR_MUGSHOT_DIR and fields["camera"] != 8:
        return f"name says camera {fields['camera']} but it lies in {folder.name}/"
    m = CAMERA_DIR.match(path.parent.name) if path.parent != folder else None
    if m and int(m["camera"]) != fields["camera"]:
        return f"name says camera {fields['camera']} but it lies in {path.parent.name}/"
    return None


def scan(root: Path, rejects: Rejects) -> tuple[pd.DataFrame, dict]:
    """Every SCface image under the layout's folders: (one row per usable name, layout info for the card)."""
    base, gallery, probes = find_layout(root)
    rows = []
    for folder, distance in [(gallery, None), *probes]:
        role = "gallery" if folder == gallery else "probe"
        for path in _images(folder, recursive=distance is not None):
            rel = path.relative_to(root).as_posix()
            try:
                fields = parse_name(path.name)
                if fields["role"] != role:
                    raise Reject(f"a {fields['role']} name in the {role} folder {folder.name}/")
                problem = _folder_conflict(fields, path, distance, folder) if role == "probe" else None
                if problem:
                    raise Reject(f"folder does not match the name ({problem})")
            except Reject as err:
                rejects.add(rel, str(err))
                continue
            rows.append({**fields, "file": rel})
    df = pd.DataFrame(rows, columns=["identity", "role", "camera", "distance", "file"])
    if not (df["role"] == "gallery").any():
        raise source_error(gallery, f"holds no SCface mugshot (names like 001_frontal.JPG; {len(rejects)} other "
                           "files were rejected)", f"give the SCface root; {_FETCH}", DATA_CARD)
    if not (df["role"] == "probe").any():
        raise source_error(probes[0][0], "holds no SCface probe (names like 001_cam1_1.jpg)",
                           f"give the SCface root; {_FETCH}", DATA_CARD)
    dup = df.duplicated(["identity", "role", "camera", "distance"], keep="first")
    first = df[~dup].set_index(["identity", "role", "camera", "distance"])["file"]
    for row in df[dup].itertuples(index=False):
        rejects.add(row.file, f"duplicate of {first[(row.identity, row.role, row.camera, row.distance)]} (same "
                    "identity, camera and distance; the first is kept)")
    layout = {"base": base.relative_to(root).as_posix() or ".", "gallery": gallery.name,
              "probes": [f.name for f, _ in probes]}
    return df[~dup].reset_index(drop=True), layout


def select(df: pd.DataFrame, cameras: list[int], distances: list[int], rejects: Rejects) -> tuple[pd.DataFrame, dict]:
    """Keep the gallery and the selected probes (an IR mugshot, camera 8, needs only 8 in ``cameras``); count
    the rest; a selected probe whose identity has no gallery mugshot is a reject."""
    probe = (df["role"] == "probe").to_numpy()
    ir8 = (df["camera"] == 8).to_numpy()
    chosen = df["camera"].isin(cameras).to_numpy() & (df["distance"].isin(distances).to_numpy() | ir8)
    out = ~chosen & probe
    excluded = {"total": int(out.sum()),
                "ir_night_cameras_6_7": int((out & df["camera"].isin(IR_CAMERAS).to_numpy()).sum()),
                "ir_mugshots_cam8": int((out & ir8).sum()),
                "by_camera_distance": {f"cam{c}_d{d}": int(n) for (c, d), n in
                                       df[out].groupby(["camera", "distance"]).size().items()}}
    df = df[~out].reset_index(drop=True)
    gallery = set(df.loc[df["role"] == "gallery", "identity"])
    orphan = ((df["role"] == "probe") & ~df["identity"].isin(gallery)).to_numpy()
    for row in df[orphan].itertuples(index=False):
        rejects.add(row.file, f"no gallery mugshot for identity {row.identity}")
    df = df[~orphan]
    # gallery first ("gallery" < "probe"): a probe is loaded only if its mugshot was kept
    return df.sort_values(["role", "distance", "camera", "identity"], kind="stable").reset_index(drop=True), excluded


def summarise(meta: pd.DataFrame) -> dict:
    """Card entries: images per role / distance / camera, alignment per role and distance."""
    group = np.where(meta["role"] == "gallery", "gallery",
                     np.where(meta["camera"] == 8, "ir_mugshot", "d" + meta["distance"].astype(str)))
    probes = meta[meta["role"] == "probe"]
    gallery_ids = set(meta.loc[meta["role"] == "gallery", "identity"])
    return {"roles": {"gallery": int((meta["role"] == "gallery").sum()), "probe": len(probes)},
            "probes": {f"cam{c}_d{d}": int(n) for (c, d), n in probes.groupby(["camera", "distance"]).size().items()},
            "gallery_without_probes": sorted(gallery_ids - set(probes["identity"])),
            "alignment": {"center_fallback": int((meta["aligned_by"] == "center_fallback").sum()),
                          "by_group": {g: dict(Counter(meta.loc[group == g, "aligned_by"]))
                                       for g in sorted(set(group))}},
            "source_size_median_wh": {g: [float(meta.loc[group == g, "width"].median()),
                                       float(meta.loc[group == g, "height"].median())] for g in sorted(set(group))}}


def convert(root, out, *, cameras=(1, 2, 3, 4, 5), distances=(1, 2, 3), align: str = "detect",
            fallback: str | None = "resize", size: int = 112, progress: bool = True) -> Path:
    """Convert SCface at ``root`` into the FaceSet ``out`` (gallery + selected probes; module docstring)."""
    root = require_dir(root, DATA_CARD, "the SCface folder holding mugshot_frontal_cropped_all/ (or models_croppped/)")
    cameras = _selection(cameras, CAMERAS, "cameras")
    distances = _selection(distances, DISTANCES, "distances")
    if align not in ALIGN_METHODS:
        raise ValueError(f"align={align!r}; choose from {ALIGN_METHODS}")
    rejects = Rejects()
    df, layout = scan(root, rejects)
    df, excluded = select(df, cameras, distances, rejects)
    if not (df["role"] == "probe").any():
        raise source_error(root, f"no probe of cameras {cameras} at distances {distances} is left ({excluded['total']} "
                           f"other probes excluded, {len(rejects)} files rejected: {rejects.counts()})",
                           "choose cameras and distances that the data holds", DATA_CARD)
    for col, value in [("session", ""), ("emotion", ""), ("pose", ""), ("yaw", np.nan), ("split", "test"),
                       ("source", "scface")]:
        df[col] = value
    aligner = Aligner(align, size, fallback=fallback)
    kept_gallery: set[str] = set()

    def load(row: dict) -> Sample:
        if row["role"] == "probe" and row["identity"] not in kept_gallery:
            raise Reject(f"no gallery mugshot for identity {row['identity']} (its mugshot was rejected)")
        image = read_image(root / row["file"])
        crop, info = aligner(image)
        if row["role"] == "gallery":
            kept_gallery.add(row["identity"])
        return Sample(crop, meta={**info, "width": image.shape[1], "height": image.shape[0]})

    card = {"name": "scface", "kind": "real", "version": VERSION, "seed": 0, "source": str(root),
            "data_card": f"data_cards/{DATA_CARD}.md",
            "parameters": {"cameras": cameras, "distances": distances, "align": aligner.describe(),
                           "split_by": "none (every image is test)", "layout": layout},
            "protocol": "closed-set identification: gallery = the high-res mugshots (role gallery), probes = the "
                        f"surveillance images of cameras {cameras} at distances {distances}; rank-1 per distance",
            "excluded": excluded}
    return _convert(df, out, load, size=size, card=card, rejects=rejects, summarise=summarise, progress=progress,
                    desc="scface")
