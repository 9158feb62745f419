"""Small copies of the papers' data sets in their real on-disk layouts, drawn from engine faces.

    python -m lib.data.rehearsal OUT            # writes OUT/kdef, OUT/lfw, ... (about 5 MB)

The full profile reads KDEF, CelebA (and CelebA-C from it), FaceSynthetics with the FSErasing 25-class
pack, LFW with pairs.txt, SCface, QMUL-SurvFace and CASIA-WebFace from user paths (data_cards/). None
of them can ship here, so these trees stand in: the same folder names, file names, list and annotation
files and image sizes as the originals (each data card's "Expected layout"), holding engine faces
placed on the original canvas sizes. Every adapter in lib.data.sources converts its tree exactly as it
would the real one (detection, alignment, name parsing, protocol files): what the rehearsal of the full
profile runs on.

``write_checkpoints`` writes the FRA base models in their original file formats; ``write_broken`` the
faults a user meets. ``prepare`` writes everything the ``rehearsal`` profile reads (notebooks/params/
rehearsal.yaml: every tree, the checkpoints, and a KDEF tree with one truncated photo, whose reject 00 and 01
record) once per engine FaceSet, and points ``$FACEAUG_REHEARSAL`` at it: ``python -m lib.paper --profile
rehearsal`` (run by ``make test``) calls it first. Each tree writer takes a FaceSet of engine faces (112 x 112 aligned crops with ``landmarks68`` and the 25-class
``parsing`` maps, e.g. the smoke profile's synth_kdef) and returns the root to give the adapter.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lib.data.faceset import person_labels
from lib.data.sources.common import transform_points
from lib.faces.align import points5_from_68

KDEF_EMOTIONS = {"afraid": "AF", "angry": "AN", "disgusted": "DI", "happy": "HA", "neutral": "NE", "sad": "SA",
                 "surprised": "SU"}


# ------------------------------------------------------------------------------------- canvases
def on_canvas(crop: np.ndarray, height: int, width: int, face: int) -> tuple[np.ndarray, np.ndarray]:
    """``crop`` (a 112 x 112 aligned face) scaled to ``face`` pixels and centred on a height x width
    canvas of the crop's median border colour (a detector then sees a whole head in context); the 2 x 3
    affine matrix from crop to canvas coordinates."""
    s = face / crop.shape[1]
    tx, ty = (width - face) / 2, (height - face) / 2
    M = np.array([[s, 0, tx], [0, s, ty]], np.float64)
    border = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    fill = tuple(int(v) for v in np.median(border, axis=0))
    canvas = cv2.warpAffine(crop, M, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=fill)
    return canvas, M


def save(path: Path, image: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path, **kw)
    return path


def _write(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _rows(fs, per_person: int, persons: int, seed: int, frontal: bool = False) -> list[np.ndarray]:
    """Up to ``per_person`` rows of each of the first ``persons`` persons (frontal rows first if asked)."""
    names = person_labels(fs.meta)
    yaw = np.abs(fs.meta["yaw"].fillna(0).to_numpy())
    rng = np.random.default_rng(seed)
    out = []
    for p in sorted(set(names))[:persons]:
        rows = np.flatnonzero(names == p)
        rows = rows[np.argsort(yaw[rows], kind="stable")] if frontal else rng.permutation(rows)
        out.append(np.sort(rows[:per_person]) if not frontal else rows[:per_person])
    return out


# --------------------------------------------------------------------------------------- writers
def write_kdef(fs, root: Path, persons: int = 8) -> Path:
    """``KDEF/<AF01>/<AF01ANFL>.JPG`` at 562 x 762 (KDEF's size), each engine person as one KDEF person
    with both sessions, every emotion and pose the FaceSet holds."""
    meta = fs.meta
    codes = sorted(set(person_labels(meta)))[:persons]
    for k, person in enumerate(codes):
        gender = "FM"[k % 2]
        for i in np.flatnonzero(person_labels(meta) == person):
            row = meta.iloc[i]
            name = f"{row['session']}{gender}{k + 1:02d}{KDEF_EMOTIONS[row['emotion']]}{row['pose']}"
            save(root / name[:4] / f"{name}.JPG", on_canvas(fs.images[i], 762, 562, 300)[0], quality=92)
    return root


def write_lfw(fs, root: Path, persons: int = 6, per_person: int = 3) -> Path:
    """``lfw/<Name>/<Name>_0001.jpg`` at 250 x 250 and a view-2 ``pairs.txt`` of 2 folds."""
    people = {}
    for k, rows in enumerate(_rows(fs, per_person, persons, seed=1)):
        name = f"Person_{chr(65 + k)}{chr(97 + k)}"
        people[name] = len(rows)
        for j, i in enumerate(rows, 1):
            save(root / "lfw" / name / f"{name}_{j:04d}.jpg", on_canvas(fs.images[i], 250, 250, 120)[0], quality=92)
    names = list(people)
    folds = []
    for f in range(2):
        same = [f"{n}\t{1 + f % people[n]}\t{1 + (f + 1) % people[n]}" for n in names[f::2] if people[n] > 1][:2]
        diff = [f"{names[(f + j) % len(names)]}\t1\t{names[(f + j + 1) % len(names)]}\t1" for j in range(len(same))]
        folds.append(same + diff)
    per = min(len(x) // 2 for x in folds)
    lines = [f"2\t{per}"] + [line for x in folds for line in x[:per] + x[len(x) // 2:len(x) // 2 + per]]
    _write(root / "pairs.txt", lines)
    return root


def write_celeba(fs, root: Path, persons: int = 8, per_person: int = 4) -> Path:
    """``img_align_celeba/000001.jpg`` at 178 x 218, ``identity_CelebA.txt``, ``list_eval_partition.txt``
    (persons split train/val/test, two test persons: a verification needs impostors) and ``list_landmarks_align_celeba.txt`` (5 points). Frontal faces
    first, as CelebA-C keeps |yaw| <= 20 only."""
    from lib.data.sources.celeba import LANDMARK_COLUMNS

    ids, parts, marks, n = [], [], [], 0
    groups = _rows(fs, per_person, persons, seed=2, frontal=True)
    for k, rows in enumerate(groups):
        for i in rows:
            n += 1
            name = f"{n:06d}.jpg"
            canvas, M = on_canvas(fs.images[i], 218, 178, 110)
            save(root / "img_align_celeba" / name, canvas, quality=95)
            pts = transform_points(points5_from_68(fs.array("landmarks68")[i]), M)
            ids.append(f"{name} {1000 + k}")
            parts.append(f"{name} {0 if k < len(groups) - 3 else 1 if k == len(groups) - 3 else 2}")  # 2 test persons
            marks.append(f"{name} " + " ".join(str(int(round(v))) for v in pts.ravel()))
    _write(root / "identity_CelebA.txt", ids)
    _write(root / "list_eval_partition.txt", parts)
    _write(root / "list_landmarks_align_celeba.txt", [str(n), " ".join(LANDMARK_COLUMNS), *marks])
    return root


def labels19(parsing25: np.ndarray) -> np.ndarray:
    """FaceSynthetics' 19 classes (lib.data.sources.facesynthetics.CLASSES19) of a 25-class map: the parts
    both label sets name, the rest (cheeks, chin, forehead, around the eyes, nose base) as skin."""
    from lib.data.sources.facesynthetics import CLASSES19
    from lib.data.engine.labels import CLASSES

    to19 = {c: CLASSES19.index(c) for c in CLASSES if c in CLASSES19}
    table = np.full(len(CLASSES), CLASSES19.index("skin"), np.uint8)
    for c, j in to19.items():
        table[CLASSES.index(c)] = j
    return table[parsing25]


def write_facesynthetics(fs, root: Path, n: int = 24) -> Path:
    """``dataset_100000/000000.png`` (512 x 512), ``_seg.png`` (19 classes), ``_ldmks.txt`` (70 points:
    68 + the two pupils) and the FSErasing pack ``labels_25/000000_seg.png`` + ``anno_list.csv``."""
    lm68, parsing = fs.array("landmarks68"), fs.array("parsing")
    rows = np.linspace(0, len(fs) - 1, n).round().astype(int)
    for frame, i in enumerate(rows):
        name = f"{frame:06d}"
        canvas, M = on_canvas(fs.images[i], 512, 512, 300)
        save(root / "dataset_100000" / f"{name}.png", canvas)
        lab = cv2.warpAffine(np.asarray(parsing[i]), M, (512, 512), flags=cv2.INTER_NEAREST, borderValue=0)
        save(root / "dataset_100000" / f"{name}_seg.png", labels19(lab))
        save(root / "labels_25" / f"{name}_seg.png", lab.astype(np.uint8))
        pts = transform_points(np.vstack([lm68[i], points5_from_68(lm68[i])[:2]]), M)  # + the two pupils
        _write(root / "dataset_100000" / f"{name}_ldmks.txt", [f"{x:.6f} {y:.6f}" for x, y in pts])
    _write(root / "anno_list.csv", ["frame_id,with_25", *(f"{f},1" for f in range(n))])
    return root


def write_scface(fs, root: Path, persons: int = 5) -> Path:
    """``SCface_database/``: gallery ``mugshot_frontal_cropped_all/001_frontal.JPG`` (a large frontal
    crop) and probes ``surveillance_cameras_distance_<d>/cam_<c>/001_cam<c>_<d>.jpg`` for cameras 1-2 at
    the three distances, as small as the real ones (about 25, 45 and 100 pixels of face); plus one
    infrared camera-6 probe per person, which the default protocol leaves out."""
    base = root / "SCface_database"
    for k, rows in enumerate(_rows(fs, 7, persons, seed=3, frontal=True), 1):
        ident = f"{k:03d}"
        save(base / "mugshot_frontal_cropped_all" / f"{ident}_frontal.JPG",
             on_canvas(fs.images[rows[0]], 400, 300, 220)[0], quality=92)
        probes = iter(rows[1:])
        for d, (side, face) in zip((1, 2, 3), ((40, 28), (75, 50), (160, 110))):
            for c in (1, 2):
                i = next(probes, rows[-1])
                small = on_canvas(fs.images[i], side, side, face)[0]
                save(base / f"surveillance_cameras_distance_{d}" / f"cam_{c}" / f"{ident}_cam{c}_{d}.jpg", small,
                     quality=90)
        ir = cv2.cvtColor(cv2.cvtColor(fs.images[rows[-1]], cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        save(base / "surveillance_cameras_distance_3" / "cam_6" / f"{ident}_cam6_3.jpg", ir, quality=90)
    return base


def write_qmul(fs, root: Path, persons: int = 6, per_person: int = 3) -> Path:
    """``QMUL-SurvFace/Face_Verification_Test_Set/``: tiny ``verification_images/<id>_cam<c>_<n>.jpg``
    crops (24 x 20 pixels, the real ones' median size) and the MATLAB cell arrays
    ``positive_pairs_names.mat`` / ``negative_pairs_names.mat``."""
    from scipy.io import savemat

    folder = root / "QMUL-SurvFace" / "Face_Verification_Test_Set"
    names = []
    for k, rows in enumerate(_rows(fs, per_person, persons, seed=4), 1):
        mine = [f"{k}_cam{1 + j % 2}_{j + 1:04d}.jpg" for j in range(len(rows))]
        for name, i in zip(mine, rows):
            save(folder / "verification_images" / name, cv2.resize(fs.images[i], (20, 24), interpolation=cv2.INTER_AREA))
        names.append(mine)
    positive = [(m[0], m[j]) for m in names for j in range(1, len(m))]
    negative = [(names[k][0], names[(k + 1) % len(names)][-1]) for k in range(len(names))]
    negative += [(names[k][1], names[(k + 2) % len(names)][0]) for k in range(len(names))]

    def cells(pairs):
        out = np.empty((len(pairs), 2), dtype=object)
        for r, (a, b) in enumerate(pairs):
            out[r] = a, b
        return out

    savemat(folder / "positive_pairs_names.mat", {"positive_pairs_names": cells(positive)})
    savemat(folder / "negative_pairs_names.mat", {"negative_pairs_names": cells(negative)})
    return root / "QMUL-SurvFace"


def write_webface(fs, root: Path, persons: int = 8, per_person: int = 6) -> Path:
    """``CASIA-WebFace/<0000045>/<001>.jpg`` at 250 x 250 (the original's size) and the low-res project's
    ``train.txt`` list (``<path> <label>`` per line) beside the folders."""
    base = root / "CASIA-WebFace"
    lines = []
    for k, rows in enumerate(_rows(fs, per_person, persons, seed=5)):
        ident = f"{45 + 54 * k:07d}"
        for j, i in enumerate(rows, 1):
            save(base / ident / f"{j:03d}.jpg", on_canvas(fs.images[i], 250, 250, 130)[0], quality=92)
            lines.append(f"{ident}/{j:03d}.jpg {k}")
    _write(root / "train.txt", lines)
    return base


def _calibrated(model, input_size: tuple[int, int], batches: int = 4):
    """``model`` with its batch-norm statistics measured on noise images (a cumulative average over a few
    batches in training mode). Seeded weights with the initial statistics (mean 0, variance 1) give NaN
    embeddings through IResNet-100's 50 residual blocks; a trained checkpoint's statistics keep them finite,
    and so do these."""
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average
    model.train()
    h, w = input_size  # (H, W), as the registry's
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(8, 3, h, w))
    for bn in bns:
        bn.momentum = 0.1
    return model.eval()


def write_checkpoints(out: Path, seed: int = 0) -> dict[str, Path]:
    """The FRA paper's three base models as a user would give them (01_fra's ``checkpoints``), with
    seeded random weights in each original's file format, plus one that cannot load: {name: path}.

    - ``magface``: MagFace's ``{"epoch", "arch", "state_dict"}`` with the backbone under
      ``features.module.`` and its classifier ``fc.weight`` beside it (magface_iresnet100);
    - ``arcface``: the plain state dict of the same IResNet-100 (the FRA code's ArcFace model);
    - ``cosface``: CosFace_pytorch's ``sphere20`` state dict at 112 x 96 (``ACC99.pth``);
    - ``wrong_keys``: a small state dict of another network (no key fits: refused, naming the file).

    About 590 MB: the IResNet-100 files are full size (249 MB each)."""
    import torch

    from lib.fra.frl import CHECKPOINT_MODELS
    from lib.recognition.backbones import create_backbone

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    paths = {}
    for name in ("magface", "arcface", "cosface"):
        spec = CHECKPOINT_MODELS[name]
        kwargs = {"input_size": spec["input_size"]} if "input_size" in spec else {}
        state = _calibrated(create_backbone(spec["backbone"], **kwargs), spec.get("input_size", (112, 112))).state_dict()
        if name == "magface":
            state = {"epoch": 25, "arch": "iresnet100",
                     "state_dict": {**{f"features.module.{k}": v for k, v in state.items()},
                                    "fc.weight": torch.randn(16, 512)}}
        paths[name] = out / {"magface": "magface_epoch_00025.pth", "arcface": "backbone.pth",
                             "cosface": "ACC99.pth"}[name]
        torch.save(state, paths[name])
    paths["wrong_keys"] = out / "wrong_keys.pth"
    torch.save({f"layer{i}.conv.weight": torch.zeros(8, 8, 3, 3) for i in range(4)}, paths["wrong_keys"])
    return paths


WRITERS = {"kdef": (write_kdef, "KDEF"), "lfw": (write_lfw, "lfw"), "celeba": (write_celeba, "CelebA"),
           "facesynthetics": (write_facesynthetics, "FaceSynthetics"), "scface": (write_scface, "SCface"),
           "qmul": (write_qmul, "QMUL"), "webface": (write_webface, "WebFace")}


def write_broken(fs, out: Path) -> dict[str, Path]:
    """Trees with the faults users meet, each of which an adapter must stop on (naming the file and the
    data card) or record as a reject: {fault: root}.

    - ``lfw_without_pairs``: the LFW images without pairs.txt (stops: the protocol file is missing);
    - ``kdef_truncated``: a KDEF tree whose first photo is cut to half its bytes (a reject, the rest converts);
    - ``webface_bad_list``: a train.txt line without its label (stops, naming the line)."""
    out = Path(out)
    lfw = write_lfw(fs, out / "lfw_without_pairs")
    (lfw / "pairs.txt").unlink()
    kdef = write_kdef(fs, out / "kdef_truncated", persons=2)
    truncate_first_photo(kdef)
    web = write_webface(fs, out / "webface_bad_list", persons=2, per_person=2)
    listing = web.parent / "train.txt"
    lines = listing.read_text().splitlines()
    _write(listing, [lines[0].split()[0], *lines[1:]])
    return {"lfw_without_pairs": lfw, "kdef_truncated": kdef, "webface_bad_list": web}


def truncate_first_photo(kdef_root: Path) -> Path:
    """Cut the first KDEF photo (sorted by path) to half its bytes, as an interrupted copy leaves it."""
    first = sorted(Path(kdef_root).rglob("*.JPG"))[0]
    first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    return first


def write_all(fs, out: Path) -> dict[str, Path]:
    """Every tree under ``out``; {adapter name: the root to give it} (CelebA-C reads the CelebA tree)."""
    roots = {name: fn(fs, Path(out) / folder) for name, (fn, folder) in WRITERS.items()}
    roots["celeba_c"] = roots["celeba"]
    return roots


# ------------------------------------------------------------------------------ the rehearsal profile
VERSION = 2  # of what prepare writes: bump when a writer changes
ENV = "FACEAUG_REHEARSAL"


def prepare(out: Path | None = None, fs=None) -> Path:
    """Write the rehearsal profile's data once and set ``$FACEAUG_REHEARSAL`` to it; return its folder.

    The trees come from the smoke profile's synth_kdef (built if missing) and go to ``out`` (default:
    ``$FACEAUG_REHEARSAL``, else build/rehearsal/data/<hash of the FaceSet and VERSION>, so that a changed
    engine gets new trees and new conversions); ``fs``: another engine FaceSet to draw from. They are written into a ``.partial`` sibling and renamed
    when complete: an interrupted run leaves no half tree. A folder that exists without this function's
    ``rehearsal.json`` is never written into."""
    from lib import paths, provenance
    from lib.data.engine.build import build_synth_kdef, notebook_config
    from lib.data.faceset import read_faceset

    if fs is None:
        fs = read_faceset(build_synth_kdef(notebook_config("smoke"), progress=False), verify="fast")
    key = {"version": VERSION, "faceset": fs.card["arrays"]["images.npy"]["sha256"]}
    given = out or os.environ.get(ENV)
    out = Path(given).expanduser().resolve() if given else \
        paths.build_dir() / "rehearsal" / "data" / provenance.config_hash(key)
    stamp = out / "rehearsal.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == key:
        os.environ[ENV] = str(out)
        return out
    if out.exists() and any(out.iterdir()) and not stamp.is_file():
        raise FileExistsError(f"{out} exists and was not written by lib.data.rehearsal.prepare; point ${ENV} at "
                              "an empty or new folder")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    roots = write_all(fs, tmp)
    truncate_first_photo(roots["kdef"])
    write_checkpoints(tmp / "checkpoints")
    (tmp / "rehearsal.json").write_text(json.dumps(key) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)
    os.environ[ENV] = str(out)
    return out


def main(argv=None) -> int:
    from lib.data.faceset import read_faceset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="where the trees go")
    ap.add_argument("--faceset", type=Path, help="engine FaceSet to draw faces from (default: the smoke synth_kdef)")
    args = ap.parse_args(argv)
    if args.faceset is None:
        from lib.data.engine.build import build_synth_kdef, notebook_config

        args.faceset = build_synth_kdef(notebook_config("smoke"), progress=False)
    for name, root in write_all(read_faceset(args.faceset, verify="fast"), args.out).items():
        print(f"{name:15s} {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
