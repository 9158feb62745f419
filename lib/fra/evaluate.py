"""FRA's evaluation (notebook 01_fra): the paper's SVM objectives and a leakage-free protocol.

Two protocols, always reported side by side and labelled (DESIGN.md, "Evaluation honesty"):

- :func:`paper_protocol` -- **leaking**. The three objectives of the FRA code
  (code/step3_FRA_evaluation.py) on the pairs FRA was trained on: the test targets of the
  baseline and augmented objectives are the very target embeddings FRA learnt to produce
  (the FRA code's identity split is commented out and its evaluation pairs are its
  training pairs, docs/fra.md), so the "augmented" gain is measured on training data.
  Reported so that our numbers can be compared with the paper's.
- :func:`heldout_protocol` and :func:`pose_verification` -- **leakage-free**. Test
  identities only (seen neither by FRA nor by the FRL backbone); the gallery is each
  identity's images at ``gallery_poses`` (frontal), FRA adds embeddings for the missing
  poses generated from those gallery images only, and the probes are the real images at
  the other poses, which nothing was trained on.

Everything is numpy + pandas: the generated embeddings are inputs (lib.fra.train), the
SVM is lib.evaluation.classification.svm_evaluate (StandardScaler + RBF SVC fitted on the
training set only) and the verification numbers come from lib.evaluation.verification.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from lib import runcache
from lib.evaluation.classification import svm_evaluate
from lib.evaluation.paired import mcnemar
from lib.evaluation.verification import DEFAULT_FARS

TARGETS = ("identity", "emotion", "pose")
# The FRA code's objectives 1, 2, 3 (its figure tags "preaugment", "gen_embed", "postaugment").
OBJECTIVES = ("generated", "baseline", "augmented")
MATCHES = ("row", "coordinate")
YAW_EDGES = (0.0, 20.0, 50.0, 90.0)  # |yaw| buckets: near-frontal, half profile (KDEF 45, engine 30), full


# ---------------------------------------------------------------------------- inputs
def _embeddings(emb, meta, columns, what: str = "real_emb") -> np.ndarray:
    X = np.asarray(emb, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{what} must be (n, d), got shape {X.shape}")
    if len(X) != len(meta):
        raise ValueError(f"{what} has {len(X)} rows but meta has {len(meta)}")
    missing = [c for c in columns if c not in meta.columns]
    if missing:
        raise ValueError(f"meta lacks column(s) {missing}; it has {list(meta.columns)}")
    if not np.isfinite(X).all():
        raise ValueError(f"{what} contains NaN or inf")
    return X


def _index(index) -> pd.Index:
    """meta.index, or an int n for RangeIndex(n)."""
    return pd.RangeIndex(int(index)) if np.isscalar(index) else pd.Index(index)


def _positions(labels, index: pd.Index, what: str) -> np.ndarray:
    """Positions in meta of integer row labels (lib.fra.pairs' convention; = positions for a RangeIndex)."""
    labels = np.asarray(labels)
    if not index.is_unique:
        raise ValueError("meta's row labels must be unique")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what} must hold integer row labels of meta, got {labels.dtype}")
    pos = index.get_indexer(labels)
    if (pos < 0).any():
        raise ValueError(f"{what} names {int((pos < 0).sum())} rows not in meta's index (e.g. "
                         f"{labels[pos < 0][:5].tolist()}): pass the meta the rows were drawn from")
    return pos.astype(np.int64)


def _pair_rows(pairs, index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    missing = [c for c in ("input", "target") if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs lacks column(s) {missing} (lib.fra.pairs: posture, input, target, neg_*)")
    if not len(pairs):
        raise ValueError("no pairs")
    return tuple(_positions(pairs[c].to_numpy(), index, f"pairs[{c!r}]") for c in ("input", "target"))


def _coordinate_conflicts(X: np.ndarray, rows: np.ndarray) -> dict:
    """Row -> rows sharing at least one coordinate value with it (itself included)."""
    conflicts = {int(r): {int(r)} for r in rows}
    sub = X[rows]
    for j in range(sub.shape[1]):
        order = np.argsort(sub[:, j], kind="stable")
        v = sub[order, j]
        same = np.flatnonzero(v[1:] == v[:-1])
        if not same.size:
            continue
        # runs of equal values: consecutive indices in `same` belong to one run
        starts = same[np.r_[True, np.diff(same) > 1]]
        for s in starts:
            e = s + 1
            while e < v.size and v[e] == v[s]:
                e += 1
            group = {int(r) for r in rows[order[s:e]]}
            for r in group:
                conflicts[r] |= group
    return conflicts


def paper_rows(pairs, index, *, order=None, emb=None, match: str = "row") -> dict:
    """The real rows FRA's objectives 2 and 3 train and test on: the FRA code's loop, literally.

    For each pair in ``order`` the FRA code (step3_FRA_evaluation.py, "Objectives 2 and 3")
    appends the INPUT embedding to the training list when it is found in neither list, then
    the TARGET embedding to the test list when it is found in neither list (the input just
    appended included). Its conditions, ``(len(T) > 1 and x not in T and len(V) > 1 and x
    not in V) or len(T) in [0, 1]``, admit the first two inputs and the first two targets
    unconditionally, so the first two pairs may put one image in both lists; kept as is.

    Args:
        pairs: DataFrame with integer ``input`` and ``target`` columns: row labels of meta.
        index: meta.index (or an int n for ``RangeIndex(n)``).
        order: the order in which pairs are visited, as positions in pairs (default: as given).
        emb: (len(index), d) embeddings in meta's order, needed for ``match="coordinate"``.
        match: how "found in a list" is decided. "row" (default): the same image, which
            is what the code means. "coordinate": the FRA code's actual test,
            ``np.any(np.array(list) == x)``, which is true as soon as ONE coordinate of
            ``x`` equals the same coordinate of any listed embedding. Over thousands of
            512-d float32 embeddings such coincidences are rare but real and keep a few
            images out of a list the code meant them for. Compared in ``emb``'s dtype (the
            FRA code stored float32).

    Returns:
        dict of int64 arrays of meta row labels: ``train`` (inputs, in the order added) and
        ``test`` (targets).
    """
    if match not in MATCHES:
        raise ValueError(f"match must be one of {MATCHES}, got {match!r}")
    index = _index(index)
    n_rows = len(index)
    inputs, targets = _pair_rows(pairs, index)
    order = np.arange(inputs.size) if order is None else np.asarray(order, dtype=np.int64)
    if match == "coordinate":
        if emb is None:
            raise ValueError("match='coordinate' compares embedding values: pass emb")
        emb = np.asarray(emb)
        if len(emb) != n_rows:
            raise ValueError(f"emb has {len(emb)} rows, meta {n_rows}")
        conflicts = _coordinate_conflicts(emb, np.unique(np.r_[inputs, targets]))
    else:
        conflicts = None
    in_train = np.zeros(n_rows, bool)  # "found in the training list"
    in_test = np.zeros(n_rows, bool)
    train, test = [], []

    def _add(row, lst, found):
        lst.append(row)
        found[list(conflicts[row]) if conflicts is not None else row] = True

    for k in order:
        a, b = int(inputs[k]), int(targets[k])
        if len(train) < 2 or (len(test) > 1 and not in_train[a] and not in_test[a]):
            _add(a, train, in_train)
        if len(test) < 2 or (len(train) > 1 and not in_test[b] and not in_train[b]):
            _add(b, test, in_test)
    labels = index.to_numpy()
    return {"train": labels[np.asarray(train, dtype=np.int64)].astype(np.int64),
            "test": labels[np.asarray(test, dtype=np.int64)].astype(np.int64)}


def _classify(train_X, train_y, test_X, test_y, what: str, seed: int, svm: Mapping | None) -> dict:
    """svm_evaluate with the FRA code's accounting: test rows whose label the training set
    lacks are counted wrong (its SVC could never predict them) in ``accuracy``; the ``svm``
    result (curves, confusion) covers the other test rows."""
    seen = np.isin(test_y, np.unique(train_y))
    entry = {"n_train": int(len(train_y)), "n_test": int(len(test_y)), "n_unseen": int((~seen).sum())}
    try:
        res = svm_evaluate(train_X, train_y, test_X[seen], test_y[seen], seed=seed, **dict(svm or {})) \
            if seen.any() else None
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from e
    entry["accuracy"] = res["accuracy"] * seen.sum() / seen.size if res is not None else 0.0
    entry["correct"] = np.zeros(len(test_y), bool)  # per test row (unseen labels: wrong), for the paired test
    if res is not None:
        entry["correct"][seen] = res["predicted"] == np.asarray(test_y)[seen]
    entry["train_accuracy"] = float(res["model"].score(train_X, train_y)) if res is not None else np.nan
    entry["svm"] = res
    return entry


# ---------------------------------------------------------------------------- paper protocol
def _check_targets(targets) -> None:
    for target in targets:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; choose from {TARGETS}")


def _checked_generated(generated_emb, n_pairs: int, dim: int) -> np.ndarray:
    """FRA's output as float64 (n_pairs, dim), finite."""
    G = np.asarray(generated_emb, dtype=np.float64)
    if G.ndim != 2 or G.shape != (n_pairs, dim):
        raise ValueError(f"generated_emb must be (len(pairs), d) = ({n_pairs}, {dim}), got {G.shape}")
    if not np.isfinite(G).all():
        raise ValueError("generated_emb contains NaN or inf")
    return G


@runcache.memoized("fra/paper_protocol", version=2)  # 2: per-row correctness and McNemar
def paper_protocol(real_emb, meta, pairs, generated_emb, *, targets: Sequence[str] = TARGETS, seed: int = 0,
                   shuffle: bool = True, match: str = "row", svm: Mapping | None = None) -> dict:
    """The FRA code's three SVM objectives on its own pairs -- a LEAKING protocol.

    FRA was trained with the very target embeddings used as test here (the FRA code
    evaluates on its training pairs), so objective 3's gain over objective 2 is measured
    on FRA's training targets. Use :func:`heldout_protocol` for a leakage-free number.

    Objectives (step3_FRA_evaluation.py), one SVM per target:

    1. ``generated``: train on the real INPUT embedding of every pair (one row per pair,
       repeated inputs included), test on the GENERATED embedding of every pair.
    2. ``baseline``: train on the real inputs, test on the real TARGETS, each image kept
       once and in one list only (:func:`paper_rows`).
    3. ``augmented``: objective 2's test; train on objective 2's inputs plus the generated
       embedding of EVERY pair (one per pair).

    Labels: a real embedding has its own meta labels; a generated one has the target's
    pose and the input's identity and emotion (the FRA code's ``expected_pose_label``,
    ``input_id``, ``input_emo``; its pairs share identity and emotion between input and
    target).

    Deliberate difference: the FRA code standardises the test set with a StandardScaler
    fitted on the test set itself (``scaler2.fit(valdata)``); here the scaler is fitted on
    the training set only (svm_evaluate's pipeline). Test rows whose label never occurs in
    training count as errors in ``accuracy``, as they would for the FRA code's SVC.

    Args:
        real_emb: (n, d) real embeddings, one per meta row.
        meta: DataFrame with ``identity``, ``emotion``, ``pose`` (FaceSet meta).
        pairs: DataFrame (lib.fra.pairs) with integer ``input`` and ``target`` columns:
            row labels of meta (positions when meta has a RangeIndex, e.g. ``fs.meta``).
        generated_emb: (len(pairs), d) FRA's output for each pair, in pairs' order.
        targets: which labels to classify.
        seed: SVM seed, and the visiting order of the pairs when ``shuffle``.
        shuffle: visit the pairs in a seeded random order (the FRA code iterates
            ``list(set(file names))``, an order fixed by Python's per-process string hashing)
            or in pairs' order. The order decides which images land in train or test.
        match: "row" or "coordinate", see :func:`paper_rows`.
        svm: extra svm_evaluate arguments (C, gamma, probability).

    Returns:
        dict with ``protocol`` ("paper"), ``leaking`` (True), ``order`` (positions in pairs,
        as visited), ``rows`` = {"generated": {"train": input rows, "test": pair positions},
        "baseline": {"train", "test"}, "augmented": {"train", "train_generated" (pair
        positions), "test"}} (meta row labels unless said), ``results`` = {target:
        {objective: {"accuracy", "train_accuracy", "n_train", "n_test", "n_unseen", "svm"
        (the svm_evaluate dict)}}},
        ``accuracy`` (DataFrame, objectives x targets) and ``gain`` = {target: augmented
        minus baseline accuracy}.
    """
    _check_targets(targets)
    X = _embeddings(real_emb, meta, targets)
    inputs, tgt = _pair_rows(pairs, meta.index)
    G = _checked_generated(generated_emb, len(inputs), X.shape[1])
    order = np.random.default_rng(seed).permutation(len(inputs)) if shuffle else np.arange(len(inputs))
    sel = paper_rows(pairs, meta.index, order=order, emb=real_emb, match=match)
    labels = meta.index.to_numpy()
    rows = {"generated": {"train": labels[inputs[order]], "test": order},
            "baseline": {"train": sel["train"], "test": sel["test"]},
            "augmented": {"train": sel["train"], "train_generated": order, "test": sel["test"]}}
    sel = {k: _positions(v, meta.index, k) for k, v in sel.items()}  # positions from here on
    results = {}
    for target in targets:
        y = meta[target].to_numpy()
        y_gen = y[tgt] if target == "pose" else y[inputs]  # the generated embedding's label
        sets = {
            "generated": (X[inputs[order]], y[inputs[order]], G[order], y_gen[order]),
            "baseline": (X[sel["train"]], y[sel["train"]], X[sel["test"]], y[sel["test"]]),
            "augmented": (np.vstack([X[sel["train"]], G[order]]), np.r_[y[sel["train"]], y_gen[order]],
                          X[sel["test"]], y[sel["test"]]),
        }
        results[target] = {obj: _classify(*sets[obj], f"paper protocol, target {target!r}, objective {obj!r}",
                                          seed, svm) for obj in OBJECTIVES}
    accuracy = pd.DataFrame({t: [results[t][o]["accuracy"] for o in OBJECTIVES] for t in targets},
                            index=pd.Index(OBJECTIVES, name="objective"))
    gain = {t: results[t]["augmented"]["accuracy"] - results[t]["baseline"]["accuracy"] for t in targets}
    paired = {t: mcnemar(results[t]["baseline"]["correct"], results[t]["augmented"]["correct"]) for t in targets}  # same rows
    return {"protocol": "paper", "leaking": True, "order": order, "rows": rows, "results": results,
            "accuracy": accuracy, "gain": gain, "mcnemar": paired}


# ---------------------------------------------------------------------------- held-out protocol
def _heldout_split(meta, gallery_poses, identity_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Gallery and test rows of a test-identities-only meta; every identity on both sides."""
    if "split" in meta.columns:
        bad = meta["split"].astype(str) != "test"
        if bad.any():
            raise ValueError(f"the held-out protocol takes test identities only; {int(bad.sum())} rows have split "
                             f"{sorted(meta['split'][bad].astype(str).unique())} (pass meta[meta.split == 'test'])")
    pose = meta["pose"].to_numpy()
    gallery = np.isin(pose, list(gallery_poses))
    if not gallery.any():
        raise ValueError(f"no image at the gallery poses {tuple(gallery_poses)}; poses present: "
                         f"{sorted(map(str, np.unique(pose)))}")
    if gallery.all():
        raise ValueError(f"every image is at a gallery pose {tuple(gallery_poses)}: nothing to test")
    ids = meta[identity_col].to_numpy()
    g_ids, t_ids = set(ids[gallery]), set(ids[~gallery])
    only_g, only_t = sorted(map(str, g_ids - t_ids)), sorted(map(str, t_ids - g_ids))
    if only_g or only_t:
        raise ValueError("every identity must have both gallery and test images: "
                         + "; ".join(s for s in (f"missing from the test side: {only_g[:10]}" if only_g else "",
                                                 f"missing from the gallery: {only_t[:10]}" if only_t else "") if s))
    if len(g_ids) < 2:
        raise ValueError(f"need at least two identities, got {len(g_ids)}")
    return np.flatnonzero(gallery), np.flatnonzero(~gallery)


def _generated(generated, meta, gallery_rows, gallery_poses, identity_col: str, d: int):
    """Validate ``(frame, emb)``: generated for gallery identities, at missing poses, from gallery images."""
    if not isinstance(generated, (tuple, list)) or len(generated) != 2:
        raise TypeError("generated must be a pair (frame, emb): a DataFrame with identity, pose [, source] "
                        "and the (n, d) generated embeddings (see heldout_requests)")
    frame, emb = generated
    G = np.asarray(emb, dtype=np.float64)
    if G.ndim != 2 or G.shape[1] != d or len(G) != len(frame):
        raise ValueError(f"generated embeddings must be ({len(frame)}, {d}), got {G.shape}")
    if not len(G):
        raise ValueError("no generated embeddings")
    if not np.isfinite(G).all():
        raise ValueError("generated embeddings contain NaN or inf")
    missing = [c for c in (identity_col, "pose") if c not in frame.columns]
    if missing:
        raise ValueError(f"the generated frame lacks column(s) {missing}")
    at_gallery = np.isin(frame["pose"].to_numpy(), list(gallery_poses))
    if at_gallery.any():
        raise ValueError(f"{int(at_gallery.sum())} generated rows are at a gallery pose {tuple(gallery_poses)}; "
                         "FRA fills the missing poses only")
    g_ids = set(meta[identity_col].to_numpy()[gallery_rows])
    foreign = sorted(map(str, set(frame[identity_col].to_numpy()) - g_ids))
    if foreign:
        raise ValueError(f"generated embeddings for identities not in the gallery: {foreign[:10]}")
    if "source" in frame.columns:
        src = _positions(frame["source"].to_numpy(), meta.index, "generated 'source'")
        leak = ~np.isin(src, gallery_rows)
        if leak.any():
            raise ValueError(f"{int(leak.sum())} generated rows come from non-gallery images (test probes): leakage")
        wrong = meta[identity_col].to_numpy()[src] != frame[identity_col].to_numpy()
        if wrong.any():
            raise ValueError(f"{int(wrong.sum())} generated rows carry an identity other than their source image's")
    return frame, G


def heldout_requests(meta, *, gallery_poses: Sequence[str] = ("S",), poses: Sequence[str] | None = None,
                     identity_col: str = "identity") -> pd.DataFrame:
    """What FRA must generate for :func:`heldout_protocol`: one row per gallery image x missing pose.

    Columns: ``source`` (row label in meta of the gallery image: the INPUT embedding),
    ``identity`` (and ``identity_col``), ``emotion`` when meta has it, ``source_pose`` and
    ``pose`` (the pose to generate). The caller picks a posture map of ``pose`` (and the
    same emotion) from a training identity, generates, and passes ``(requests, emb)``.
    """
    gallery, _ = _heldout_split(meta, gallery_poses, identity_col)
    if poses is None:
        poses = sorted(set(meta["pose"].to_numpy()) - set(gallery_poses), key=str)
    cols = list(dict.fromkeys(c for c in ("identity", identity_col, "emotion") if c in meta.columns))
    base = meta.iloc[gallery][cols].reset_index(drop=True)
    base.insert(0, "source", meta.index.to_numpy()[gallery])
    base["source_pose"] = meta["pose"].to_numpy()[gallery]
    out = pd.concat([base.assign(pose=p) for p in poses], ignore_index=True)
    return out.sort_values(["source", "pose"], kind="stable").reset_index(drop=True)


@runcache.memoized("fra/heldout_protocol", version=2)  # 2: McNemar
def heldout_protocol(real_emb, meta, generated_for_missing, *, gallery_poses: Sequence[str] = ("S",), seed: int = 0,
                     identity_col: str = "identity", svm: Mapping | None = None) -> dict:
    """Identity classification across poses, leakage-free: baseline vs FRA-augmented gallery.

    ``meta`` and ``real_emb`` hold TEST identities only (never seen by FRA nor by the FRL
    backbone; a ``split`` column, when present, must read "test" everywhere). The SVM's
    training gallery is each identity's real embeddings at ``gallery_poses`` (every
    emotion); the augmented gallery adds FRA's embeddings for the missing poses, generated
    from the gallery images; the test set is the real embeddings at every other pose.

    Args:
        real_emb: (n, d) embeddings of meta's rows.
        meta: DataFrame with ``identity_col`` and ``pose`` (test identities only).
        generated_for_missing: ``(frame, emb)``: ``frame`` a DataFrame with ``identity_col``
            and ``pose`` (the generated pose, never a gallery pose) and optionally
            ``source`` (meta row label of the gallery image it was generated from, checked), e.g.
            :func:`heldout_requests`; ``emb`` the (len(frame), d) generated embeddings.
        gallery_poses: the poses enrolled (default frontal "S").
        seed: SVM seed.
        identity_col: the class label; KDEF identities carry the session letter (A/B) as
            in the paper, pass "person" to merge sessions.
        svm: extra svm_evaluate arguments.

    Returns:
        dict with ``protocol`` ("held-out"), ``leaking`` (False), ``gallery_poses``,
        ``test_poses``, ``rows`` = {"gallery", "test"} (meta row labels), ``n_identities``,
        ``n_generated``, ``baseline`` and ``augmented`` = {"accuracy", "n_train", "n_test",
        "svm"}, ``gain`` (augmented minus baseline accuracy) and ``per_pose`` (DataFrame:
        pose, n, baseline, augmented, gain).

    Raises:
        ValueError: a training-split row, an identity without gallery or test images,
            generated embeddings for a foreign identity, at a gallery pose, or from a test
            image.
    """
    X = _embeddings(real_emb, meta, (identity_col, "pose"))
    gallery, test = _heldout_split(meta, gallery_poses, identity_col)
    frame, G = _generated(generated_for_missing, meta, gallery, gallery_poses, identity_col, X.shape[1])
    ids = meta[identity_col].to_numpy()
    g_ids = frame[identity_col].to_numpy()
    out = {"protocol": "held-out", "leaking": False, "gallery_poses": tuple(gallery_poses),
           "test_poses": tuple(sorted(set(meta["pose"].to_numpy()[test]), key=str)),
           "rows": {"gallery": meta.index.to_numpy()[gallery], "test": meta.index.to_numpy()[test]},
           "n_identities": int(np.unique(ids).size),
           "n_generated": int(len(G))}
    sets = {"baseline": (X[gallery], ids[gallery]),
            "augmented": (np.vstack([X[gallery], G]), np.r_[ids[gallery], g_ids])}
    for name, (Xtr, ytr) in sets.items():
        try:
            res = svm_evaluate(Xtr, ytr, X[test], ids[test], seed=seed, **dict(svm or {}))
        except ValueError as e:
            raise ValueError(f"held-out protocol, {name}: {e}") from e
        out[name] = {"accuracy": res["accuracy"], "n_train": int(len(ytr)), "n_test": int(test.size), "svm": res}
    out["gain"] = out["augmented"]["accuracy"] - out["baseline"]["accuracy"]
    pose, truth = meta["pose"].to_numpy()[test], ids[test]
    # the gain's paired test: the same test images classified with and without the generated gallery embeddings
    out["mcnemar"] = mcnemar(out["baseline"]["svm"]["predicted"] == truth, out["augmented"]["svm"]["predicted"] == truth)
    rows = []
    for p in out["test_poses"]:
        m = pose == p
        b = float(np.mean(out["baseline"]["svm"]["predicted"][m] == truth[m]))
        a = float(np.mean(out["augmented"]["svm"]["predicted"][m] == truth[m]))
        rows.append({"pose": p, "n": int(m.sum()), "baseline": b, "augmented": a, "gain": a - b})
    out["per_pose"] = pd.DataFrame(rows)
    return out


def copy_input(real_emb, meta, requests) -> np.ndarray:
    """The trivial augmentation FRA must beat: each request's "generated" embedding is its INPUT
    (the gallery image's own embedding), copied to the missing pose. ``real_emb`` rows follow
    ``meta``; ``requests`` as :func:`heldout_requests` (its ``source`` column)."""
    X = _embeddings(real_emb, meta, ("pose",))
    return X[_positions(requests["source"].to_numpy(), meta.index, "requests 'source'")].copy()


def target_similarity(real_emb, meta, requests, generated) -> pd.DataFrame:
    """How close the generated embeddings come to the REAL embedding they stand for.

    For every request (gallery image of a session identity x missing pose), the target is the real
    test image of the same ``identity`` (session included), emotion and pose. Per requested pose:
    the mean cosine of the generated embedding to its target (``cos_generated``), the same for the
    copy-the-input baseline (``cos_input``: the gallery embedding itself), and the mean norms of the
    generated and real embeddings (FRA's Euclidean triplet margin inflates the generated norm).
    Requests without such a real image are left out (``n`` counts the rest).
    """
    X = _embeddings(real_emb, meta, ("identity", "emotion", "pose"))
    G = np.asarray(generated, dtype=np.float64)
    if G.shape != (len(requests), X.shape[1]):
        raise ValueError(f"generated must be ({len(requests)}, {X.shape[1]}), got {G.shape}")
    where = {k: i for i, k in enumerate(zip(meta["identity"], meta["emotion"], meta["pose"]))}
    tgt = np.array([where.get(k, -1) for k in zip(requests["identity"], requests["emotion"], requests["pose"])])
    src = _positions(requests["source"].to_numpy(), meta.index, "requests 'source'")
    ok = tgt >= 0
    cos = lambda a, b: np.sum(_unit(a) * _unit(b), axis=1)  # noqa: E731
    frame = pd.DataFrame({"pose": requests["pose"].to_numpy()[ok],
                          "cos_generated": cos(G[ok], X[tgt[ok]]), "cos_input": cos(X[src[ok]], X[tgt[ok]]),
                          "norm_generated": np.linalg.norm(G[ok], axis=1),
                          "norm_real": np.linalg.norm(X[tgt[ok]], axis=1)})
    per_pose = frame.groupby("pose", sort=True).mean()
    per_pose.insert(0, "n", frame.groupby("pose", sort=True).size())
    per_pose.loc["all"] = [len(frame), *frame.drop(columns="pose").mean().to_numpy()]
    return per_pose.reset_index()


# ---------------------------------------------------------------------------- verification across poses
def _unit(X):
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def _template_scores(probes, templates, template_ids, identities) -> np.ndarray:
    """(n_probe, n_identity): max cosine of each probe over each identity's template rows."""
    sims = _unit(probes) @ _unit(templates).T
    out = np.empty((len(probes), len(identities)))
    for k, ident in enumerate(identities):
        out[:, k] = sims[:, template_ids == ident].max(axis=1)
    return out


def far_key(far: float) -> str:
    return f"{far:.0e}".replace("e-0", "e-")


@runcache.memoized("fra/pose_verification")
def pose_verification(real_emb, meta, generated, *, gallery_poses: Sequence[str] = ("S",), fars=DEFAULT_FARS,
                      yaw_edges: Sequence[float] | None = YAW_EDGES, identity_col: str = "identity") -> dict:
    """Verification across poses, leakage-free: frontal templates vs non-frontal probes.

    Every probe (a real image at a non-gallery pose) is compared with every identity's
    template; the score is the maximum cosine similarity over the template's embeddings.
    A comparison with the probe's own identity is a genuine pair, any other an impostor
    pair (n_probe genuine, n_probe x (n_identity - 1) impostor). Two templates: ``real``
    (the identity's gallery images) and ``augmented`` (gallery + FRA's generated
    embeddings for that identity). Same inputs and checks as :func:`heldout_protocol`.

    TAR@FAR from lib.evaluation.verification.tar_at_far: with fewer than 1 / FAR impostor
    pairs the value is NaN and ``enough@far=...`` is False. Grouped per probe |yaw| bucket
    (``yaw_edges``, right-closed, the lowest edge included) when meta has ``yaw``, else per
    probe pose; the group "all" pools every probe.

    Returns:
        dict with ``table`` (DataFrame, one row per group x template: group, template,
        n_probes, n_genuine, n_impostor, eer, auc, ``tar@far=1e-2``, ``enough@far=1e-2``
        ... per target FAR), ``scores`` = {template: (n_probe, n_identity) array},
        ``same`` ((n_probe, n_identity) bool), ``identities``, ``probe_rows`` (meta row labels),
        ``probe_group`` (the group label of each probe) and ``roc`` = {template: {"fpr",
        "tpr", "auc"}} over all probes (for lib.plots.roc_curves).
    """
    from lib.evaluation import verification as ver

    X = _embeddings(real_emb, meta, (identity_col, "pose"))
    gallery, probes = _heldout_split(meta, gallery_poses, identity_col)
    frame, G = _generated(generated, meta, gallery, gallery_poses, identity_col, X.shape[1])
    ids = meta[identity_col].to_numpy()
    identities = np.unique(ids[gallery])
    templates = {"real": (X[gallery], ids[gallery]),
                 "augmented": (np.vstack([X[gallery], G]), np.r_[ids[gallery], frame[identity_col].to_numpy()])}
    scores = {name: _template_scores(X[probes], T, tid, identities) for name, (T, tid) in templates.items()}
    same = ids[probes][:, None] == identities[None, :]
    if "yaw" in meta.columns and yaw_edges is not None:
        yaw = np.abs(meta["yaw"].to_numpy(dtype=np.float64)[probes])
        labels = [f"|yaw| {lo:g}-{hi:g}" for lo, hi in zip(yaw_edges[:-1], yaw_edges[1:])]
        group = pd.cut(yaw, bins=list(yaw_edges), labels=labels, include_lowest=True).astype(object)
        group = np.where(pd.isna(group), "|yaw| other", group).astype(str)
    else:
        group = np.array([f"pose {p}" for p in meta["pose"].to_numpy()[probes]])
    groups = ["all"] + [g for g in dict.fromkeys(sorted(group))]
    rows, roc = [], {}
    for g in groups:
        m = np.ones(len(probes), bool) if g == "all" else group == g
        for name, S in scores.items():
            s, y = S[m].ravel(), same[m].ravel()
            row = {"group": g, "template": name, "n_probes": int(m.sum()), "n_genuine": int(y.sum()),
                   "n_impostor": int((~y).sum()), "eer": ver.eer(s, y), "auc": ver.auc(s, y)}
            for far, r in ver.tar_at_far(s, y, fars).items():
                row[f"tar@far={far_key(far)}"] = r["tar"]
                row[f"enough@far={far_key(far)}"] = r["enough_impostors"]
            rows.append(row)
            if g == "all":
                fpr, tpr, _ = ver.roc(s, y)
                roc[name] = {"fpr": fpr, "tpr": tpr, "auc": row["auc"]}
    return {"table": pd.DataFrame(rows), "scores": scores, "same": same, "identities": identities,
            "probe_rows": meta.index.to_numpy()[probes], "probe_group": group, "roc": roc}


# ---------------------------------------------------------------------------- summary
def gain_table(results: Mapping[str, Mapping[str, dict]]) -> pd.DataFrame:
    """Identity accuracy per FRL source and protocol, the input of lib.fra.plots.gain_bars.

    Args:
        results: {source: {label: paper_protocol(...) or heldout_protocol(...) result}},
            e.g. {"magface": {"paper": p, "held-out": h}}.

    Returns:
        DataFrame with columns source, protocol ("paper" / "held-out", from each result),
        leaking, baseline, augmented, gain (fractions).
    """
    rows = []
    for source, by_protocol in results.items():
        for res in by_protocol.values():
            if res["protocol"] == "paper":
                if "identity" not in res["results"]:
                    raise ValueError(f"{source}: the paper protocol was run without the 'identity' target")
                r = res["results"]["identity"]
                base, aug = r["baseline"]["accuracy"], r["augmented"]["accuracy"]
            else:
                base, aug = res["baseline"]["accuracy"], res["augmented"]["accuracy"]
            rows.append({"source": source, "protocol": res["protocol"], "leaking": res["leaking"],
                         "baseline": base, "augmented": aug, "gain": aug - base})
    return pd.DataFrame(rows, columns=["source", "protocol", "leaking", "baseline", "augmented", "gain"])
