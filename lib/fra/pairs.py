"""FRA training pairs (posture, input, target) and the three triplet negatives, vectorised.

The rule (soroushhashemifar/Face-Representation-Augmentation at 00a10e3, code/step1_generate_dataset.py,
``prepare_final_database``; docs/fra.md): for every image of person1 (emotion e, pose p)
and every person2 (person1 included), each image of person2 with emotion e is an INPUT, the
image of person2 with emotion e and pose p is the TARGET, and the POSTURE map comes from the
person1 image. Inputs and targets of one (posture, person2) block are crossed, input-major, so
an input may be the target itself (input pose p). "Person" is the identity (KDEF: session +
person, docs/fra.md). Images whose landmark map failed are dropped from every role, as the
code drops them from its database (``usable``).

Stopping: the code scans person1 -> its images -> person2 in its database order and stops at
the first (posture image, person2) block after which it holds >= --num-samples pairs (so it
may hold a few more). Its database order is the person folders shuffled by an unseeded
``np.random.shuffle``, images in glob order. So the first N pairs all share one or two person1
identities. ``order="original"`` reproduces that scan and stop (identities in a seeded
permutation of their order of first appearance in ``meta``, images in ``meta`` order);
the default ``order="random"`` keeps a seeded uniform subsample of all pairs instead (in scan
order with identities in order of first appearance), so every identity, emotion and pose is
represented.

Negatives (code/dataset.py, ``CustomDataSet.__getitem__``), drawn from the code's pool of PAIRS
(the generated pairs of the same 2/3 train or 1/3 val part; here: the returned pairs), each a
uniform ``random.choice`` over the pool pairs that qualify, whose INPUT image is the negative:
- neg_identity: pairs whose identity (person2) differs from this pair's input identity.
- neg_pose: pairs of this pair's identity whose TARGET pose differs from this pair's target
  pose. The negative is that pair's input, whose own pose may equal this target's pose: with
  all 5 poses usable about 1 in 5 of them has the target's pose and about 1 in 35 is the
  target image itself.
- neg_emotion: pairs of this identity whose target emotion differs from this input's emotion;
  the negative (that pair's input) has the pair's emotion, so it differs too.
The code redraws them at every ``__getitem__`` (each epoch); here they are drawn once per seed
(``sample_negatives(pairs, seed=...)`` redraws, e.g. per epoch). Where no pair qualifies the
code raises IndexError; here the negative is -1 and a RuntimeWarning says how many.
``negatives="strict"`` draws images instead, uniformly from the usable rows, each satisfying
its definition on the image itself: a different identity; the target's identity with a pose
other than the target's; the input's identity with an emotion other than the input's.

Introduced by notebooks/01_fra (the FRA issue); maps: lib.fra.landmark_maps.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from lib.seeding import numpy_rng

ORDERS = ("random", "original")
NEGATIVES = ("original", "strict")
ROLES = ("posture", "input", "target")
NEGATIVE_COLUMNS = ("neg_identity", "neg_pose", "neg_emotion")


def _table(meta: pd.DataFrame, identity_col: str, usable) -> pd.DataFrame:
    """Usable rows of ``meta`` as (row label, identity, emotion, pose), in ``meta`` order."""
    missing = [c for c in (identity_col, "emotion", "pose") if c not in meta.columns]
    if missing:
        raise ValueError(f"meta lacks the columns {missing}")
    if not pd.api.types.is_integer_dtype(meta.index):
        raise ValueError("meta must keep integer row labels (e.g. fs.meta[fs.meta.split == 'train']): "
                         "the pairs refer to rows by these labels")
    if not meta.index.is_unique:
        raise ValueError("meta's row labels must be unique")
    keep = np.ones(len(meta), dtype=bool)
    if usable is not None:
        if isinstance(usable, pd.Series):
            usable = usable.reindex(meta.index)
            if usable.isna().any():
                raise ValueError("usable (a Series) must hold a value for every row label of meta")
        keep = np.asarray(usable, dtype=bool)
        if keep.shape != (len(meta),):
            raise ValueError(f"usable must be a boolean mask of len(meta) = {len(meta)}, got shape {keep.shape}")
    t = pd.DataFrame({"row": meta.index.to_numpy(np.int64), "identity": meta[identity_col].to_numpy(),
                      "emotion": meta["emotion"].to_numpy(), "pose": meta["pose"].to_numpy()})[keep]
    return t.reset_index(drop=True)


def _identity_order(identities: np.ndarray, order: str, seed: int) -> list:
    """Identities in order of first appearance; ``order="original"`` permutes them (seeded), as
    the code shuffled its person folders."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; choose from {ORDERS}")
    first = list(pd.unique(identities))
    if order == "original":
        first = [first[i] for i in numpy_rng(seed, "fra_pairs_identity_order").permutation(len(first))]
    return first


def _check_num_samples(num_samples) -> None:
    if num_samples is not None and int(num_samples) < 1:
        raise ValueError(f"num_samples must be None (all pairs) or >= 1, got {num_samples}")


def _select(n_total: int, num_samples, order: str, seed: int, block_end: np.ndarray) -> np.ndarray:
    """Positions (in scan order) of the pairs kept. ``block_end``: True at the last pair of each
    (posture, person2) block, where the code checks its count."""
    if num_samples is None or num_samples >= n_total:
        return np.arange(n_total)
    if order == "original":
        ends = np.flatnonzero(block_end)
        stop = ends[np.searchsorted(ends + 1, num_samples)]  # first block end with >= num_samples pairs
        return np.arange(stop + 1)
    rng = numpy_rng(seed, "fra_pairs_subsample")
    return np.sort(rng.choice(n_total, size=int(num_samples), replace=False))


def _postures_needed(ident, emo, pose, include_same_person: bool, max_pairs: int) -> np.ndarray:
    """Positions of the posture images the scan visits before it holds ``max_pairs`` pairs
    (the code's stop), from pair counts per posture image: no pair is built for the others."""
    n_id, n_emo, n_pose = ident.max() + 1, emo.max() + 1, pose.max() + 1
    n_in = np.bincount(ident * n_emo + emo, minlength=n_id * n_emo).reshape(n_id, n_emo)
    n_out = np.bincount((ident * n_emo + emo) * n_pose + pose, minlength=n_id * n_emo * n_pose)
    block = n_in[..., None] * n_out.reshape(n_id, n_emo, n_pose)  # pairs per (person2, emotion, pose)
    per_posture = block.sum(0)[emo, pose] - (0 if include_same_person else block[ident, emo, pose])
    scan = np.lexsort((np.arange(len(ident)), ident))  # person1 in identity order, its images in meta order
    last = np.searchsorted(np.cumsum(per_posture[scan]), max_pairs)  # first posture reaching max_pairs
    return np.sort(scan[:last + 1])


def _all_pairs(t: pd.DataFrame, order: str, seed: int, include_same_person: bool,
               max_pairs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every (posture, input, target) as positions into ``t``, in the code's scan order, and the
    block-end flags. Two merges on integer codes instead of the code's per-item scans.
    ``max_pairs``: build only the postures the code's scan visits before it holds that many."""
    ids = _identity_order(t["identity"].to_numpy(), order, seed)
    rank = pd.Series(np.arange(len(ids)), index=ids)
    ident = rank.reindex(t["identity"].to_numpy()).to_numpy()
    emo = pd.factorize(t["emotion"])[0]
    pose = pd.factorize(t["pose"])[0]
    pos = np.arange(len(t))
    post_pos = pos if max_pairs is None or not len(t) else _postures_needed(ident, emo, pose, include_same_person,
                                                                            max_pairs)
    post = pd.DataFrame({"posture": post_pos, "id1": ident[post_pos], "emo": emo[post_pos], "pose": pose[post_pos]})
    targ = pd.DataFrame({"target": pos, "id2": ident, "emo": emo, "pose": pose})
    inp = pd.DataFrame({"input": pos, "id2": ident, "emo": emo})
    m = post.merge(targ, on=["emo", "pose"]).merge(inp, on=["id2", "emo"])
    if not include_same_person:
        m = m[m["id1"].to_numpy() != m["id2"].to_numpy()]
    cols = {c: m[c].to_numpy() for c in ("id1", "posture", "id2", "input", "target")}
    sort = np.lexsort((cols["target"], cols["input"], cols["id2"], cols["posture"], cols["id1"]))
    triples = np.stack([cols["posture"][sort], cols["input"][sort], cols["target"][sort]], axis=1)
    block = np.stack([cols["posture"][sort], cols["id2"][sort]], axis=1)
    block_end = np.ones(len(block), dtype=bool)
    block_end[:-1] = (block[1:] != block[:-1]).any(1)
    return triples, block_end


def _draw_excluding(pool_group, pool_sub, query_group, query_sub, u, n_group: int, n_sub: int) -> np.ndarray:
    """For each query, a uniform pool position with group == query_group and sub != query_sub
    (-1 where none). Codes lie in [0, n_group) and [0, n_sub); ``u``: uniforms in [0, 1), one per
    query. Vectorised: the pool sorted by (group, sub), block offsets from a count table."""
    key = np.asarray(pool_group, np.int64) * n_sub + np.asarray(pool_sub, np.int64)
    small = n_group * n_sub <= np.iinfo(np.uint16).max + 1  # numpy radix-sorts 16-bit keys: ~8x faster
    order = np.argsort(key.astype(np.uint16) if small else key, kind="stable")
    counts = np.bincount(key, minlength=n_group * n_sub).reshape(n_group, n_sub)
    group_count = counts.sum(1)
    group_start = np.cumsum(group_count) - group_count
    sub_start = group_start[:, None] + np.cumsum(counts, 1) - counts
    lo_g, n_s = group_start[query_group], counts[query_group, query_sub]
    lo_s, n_ok = sub_start[query_group, query_sub], group_count[query_group] - n_s
    pos = lo_g + np.floor(u * n_ok).astype(np.int64)
    pos = np.where(pos >= lo_s, pos + n_s, pos)
    return np.where(n_ok > 0, order[np.minimum(pos, max(len(order) - 1, 0))] if len(order) else -1, -1)


def _codes(*columns) -> tuple[list[np.ndarray], int]:
    """Integer codes shared across columns holding the same kind of label, and their count."""
    sizes = np.cumsum([0] + [len(c) for c in columns])
    codes, uniques = pd.factorize(np.concatenate([np.asarray(c, dtype=object) for c in columns]), sort=True)
    return [codes[a:b] for a, b in zip(sizes[:-1], sizes[1:])], len(uniques)


def _negatives(seed: int, mode: str, pool_rows, pool, query) -> dict[str, np.ndarray]:
    """The three negatives as row labels (-1 where none). ``pool`` and ``query``: dicts of integer
    codes (identity, pose, emotion for the pool; in_id, tg_id, tg_pose, in_emo for the queries)
    sharing one code space per label kind, with the sizes in pool["n_id"], ["n_pose"], ["n_emo"]."""
    n = len(query["in_id"])
    u = numpy_rng(seed, "fra_pairs_negatives", mode).random((3, n))
    zeros_pool, zeros_query = np.zeros(len(pool_rows), np.int64), np.zeros(n, np.int64)
    picks = [_draw_excluding(zeros_pool, pool["identity"], zeros_query, query["in_id"], u[0], 1, pool["n_id"]),
             _draw_excluding(pool["identity"], pool["pose"], query["tg_id"], query["tg_pose"], u[1],
                             pool["n_id"], pool["n_pose"]),
             _draw_excluding(pool["identity"], pool["emotion"], query["in_id"], query["in_emo"], u[2],
                             pool["n_id"], pool["n_emo"])]
    out = {name: np.where(p >= 0, pool_rows[np.maximum(p, 0)], -1) if len(pool_rows) else np.full(n, -1)
           for name, p in zip(NEGATIVE_COLUMNS, picks)}
    missing = {name: int((v < 0).sum()) for name, v in out.items() if (v < 0).any()}
    if missing:
        warnings.warn(f"no qualifying negative for some pairs (set to -1; the FRA code would raise): {missing}",
                      RuntimeWarning, stacklevel=3)
    return out


def sample_negatives(pairs: pd.DataFrame, *, seed: int, mode: str = "original", meta: pd.DataFrame | None = None,
                     identity_col: str = "identity", usable=None) -> pd.DataFrame:
    """The three triplet negatives for ``pairs`` (a ``make_pairs`` result): columns neg_identity,
    neg_pose, neg_emotion (row labels; -1 where none qualifies), index as ``pairs``.

    Args:
        pairs: needs input and the input_/target_ identity, emotion and pose columns (as
            ``make_pairs`` returns them).
        seed: one draw per seed (the same as ``make_pairs(..., seed=seed)`` drew for these pairs);
            the code redraws every epoch (pass seed + epoch to imitate).
        mode: "original": inputs of qualifying pool pairs, the pool being ``pairs`` itself (the
            code's rule, see the module docstring; split pairs into train/val BEFORE drawing to
            match its per-part pools); "strict": images of ``meta`` (usable rows) that satisfy
            each definition themselves.
        meta, identity_col, usable: the image pool for "strict" mode, as in ``make_pairs``.
    """
    if mode not in NEGATIVES:
        raise ValueError(f"unknown negatives mode {mode!r}; choose from {NEGATIVES}")
    col = {c: pairs[c].to_numpy() for c in ("input_identity", "target_identity", "input_emotion",
                                             "target_emotion", "target_pose")}
    if mode == "original":
        pool_rows = pairs["input"].to_numpy(np.int64)
        pool_labels = {"identity": col["target_identity"], "pose": col["target_pose"],
                       "emotion": col["target_emotion"]}  # a pool pair's person2, target pose and emotion
    else:
        if meta is None:
            raise ValueError("negatives mode 'strict' draws images: pass meta (and usable) as given to make_pairs")
        t = _table(meta, identity_col, usable)
        if not np.isin(np.concatenate([col["input_identity"], col["target_identity"]]), t["identity"]).all():
            raise ValueError("pairs refer to identities absent from meta's usable rows")
        pool_rows = t["row"].to_numpy(np.int64)
        pool_labels = {k: t[k].to_numpy() for k in ("identity", "pose", "emotion")}
    (p_id, q_in, q_tg), n_id = _codes(pool_labels["identity"], col["input_identity"], col["target_identity"])
    (p_pose, q_pose), n_pose = _codes(pool_labels["pose"], col["target_pose"])
    (p_emo, q_emo), n_emo = _codes(pool_labels["emotion"], col["input_emotion"])
    pool = {"identity": p_id, "pose": p_pose, "emotion": p_emo, "n_id": n_id, "n_pose": n_pose, "n_emo": n_emo}
    query = {"in_id": q_in, "tg_id": q_tg, "tg_pose": q_pose, "in_emo": q_emo}
    return pd.DataFrame(_negatives(seed, mode, pool_rows, pool, query), index=pairs.index)


def make_pairs(meta: pd.DataFrame, *, num_samples: int | None, seed: int, identity_col: str = "identity",
               include_same_person: bool = True, order: str = "random", usable=None,
               negatives: str | None = "original") -> pd.DataFrame:
    """FRA's (posture, input, target) pairs with their negatives, from a meta table (vectorised).

    Args:
        meta: the rows to pair, e.g. ``fs.meta[fs.meta.split == "train"]``; needs the columns
            ``identity_col``, emotion, pose and integer row labels (returned as row indices).
        num_samples: pairs to keep; None keeps all (every usable image x identity x inputs).
        seed: the one seed (subsample, identity order for "original", negatives).
        identity_col: the column that names a person (the code: KDEF's session + person).
        include_same_person: person2 may be person1 (the code: yes).
        order: "random" (seeded uniform subsample, kept in scan order) or "original" (the
            code's scan order and its stop after the block that reaches num_samples).
        usable: boolean mask over meta's rows (or a Series on its labels), False where the
            landmark map failed: those rows take no role at all, as in the code.
        negatives: "original", "strict" (see ``sample_negatives``) or None (no negative columns).
    Returns one row per pair: posture, input, target, neg_identity, neg_pose, neg_emotion (int64
    row labels of meta) and the identity, emotion and pose of the posture, input and target images.
    """
    _check_num_samples(num_samples)
    if negatives is not None and negatives not in NEGATIVES:
        raise ValueError(f"unknown negatives mode {negatives!r}; choose from {NEGATIVES} or None")
    t = _table(meta, identity_col, usable)
    max_pairs = num_samples if order == "original" else None
    triples, block_end = _all_pairs(t, order, seed, include_same_person, max_pairs)
    triples = triples[_select(len(triples), num_samples, order, seed, block_end)]
    rows = t["row"].to_numpy(np.int64)
    # sorted codes: the draws depend only on the labels' order, so sample_negatives(pairs, seed) repeats them
    codes = {k: pd.factorize(t[k], sort=True)[0] for k in ("identity", "emotion", "pose")}
    n_codes = {k: int(v.max(initial=-1)) + 1 for k, v in codes.items()}
    cols = {role: rows[triples[:, j]] for j, role in enumerate(ROLES)}
    if negatives is not None:
        i, g = triples[:, 1], triples[:, 2]
        if negatives == "original":  # the pool is the pairs: their inputs, labelled by their targets
            pool_rows, pool_pos = cols["input"], g
        else:
            pool_rows, pool_pos = rows, np.arange(len(t))
        pool = {"identity": codes["identity"][pool_pos], "pose": codes["pose"][pool_pos],
                "emotion": codes["emotion"][pool_pos], "n_id": n_codes["identity"], "n_pose": n_codes["pose"],
                "n_emo": n_codes["emotion"]}
        query = {"in_id": codes["identity"][i], "tg_id": codes["identity"][g], "tg_pose": codes["pose"][g],
                 "in_emo": codes["emotion"][i]}
        cols.update(_negatives(seed, negatives, pool_rows, pool, query))
    for j, role in enumerate(ROLES):
        for c in ("identity", "emotion", "pose"):
            cols[f"{role}_{c}"] = t[c].array.take(triples[:, j])  # keeps meta's dtype, faster than objects
    return pd.DataFrame(cols)


def make_pairs_reference(meta: pd.DataFrame, *, num_samples: int | None, seed: int, identity_col: str = "identity",
                         include_same_person: bool = True, order: str = "random", usable=None) -> pd.DataFrame:
    """The same pairs as ``make_pairs`` (posture, input, target only), by the code's own loops.

    A transcription of ``prepare_final_database`` (O(images x identities x images per identity)
    Python work) kept as the obviously-correct reference for tests and the speed comparison.
    """
    _check_num_samples(num_samples)
    t = _table(meta, identity_col, usable)
    database = {}  # identity -> [(emotion, pose, row label)] in meta order
    for ident, emo, pose, row in zip(t["identity"], t["emotion"], t["pose"], t["row"]):
        database.setdefault(ident, []).append((emo, pose, int(row)))
    keys = _identity_order(t["identity"].to_numpy(), order, seed)
    stop_early = order == "original" and num_samples is not None
    final, block_end = [], []
    for person1 in keys:
        for item in database[person1]:
            for person2 in keys:
                if not include_same_person and person2 == person1:
                    continue
                inputs = [x for x in database[person2] if x[0] == item[0]]
                outputs = [x for x in database[person2] if x[0] == item[0] and x[1] == item[1]]
                for x_in in inputs:
                    for x_out in outputs:
                        final.append((item[2], x_in[2], x_out[2]))
                        block_end.append(False)
                if block_end:
                    block_end[-1] = True
                if stop_early and len(final) >= num_samples:
                    break
            if stop_early and len(final) >= num_samples:
                break
        if stop_early and len(final) >= num_samples:
            break
    if order == "random":
        final = [final[k] for k in _select(len(final), num_samples, order, seed, np.array(block_end))]
    return pd.DataFrame(final, columns=list(ROLES), dtype=np.int64) if final else \
        pd.DataFrame({role: np.zeros(0, np.int64) for role in ROLES})


def sample_negatives_reference(pairs: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """The "original" negatives by the code's own per-item filters over all pairs (O(pairs^2)).

    A transcription of ``CustomDataSet.__getitem__`` (code/dataset.py) with a seeded
    ``random.Random``: same candidate sets as ``sample_negatives(mode="original")``, another
    random stream. For tests and the speed comparison only; -1 where no pair qualifies.
    """
    import random

    rng = random.Random(seed)
    pool = list(zip(pairs["input"], pairs["target_identity"], pairs["target_pose"], pairs["target_emotion"]))
    out = {name: [] for name in NEGATIVE_COLUMNS}
    for in_id, tg_id, tg_pose, in_emo in zip(pairs["input_identity"], pairs["target_identity"],
                                             pairs["target_pose"], pairs["input_emotion"]):
        candidates = {"neg_identity": [x for x in pool if x[1] != in_id],
                      "neg_pose": [x for x in pool if x[1] == tg_id and x[2] != tg_pose],
                      "neg_emotion": [x for x in pool if x[1] == in_id and x[3] != in_emo]}
        for name, cands in candidates.items():
            out[name].append(int(rng.choice(cands)[0]) if cands else -1)
    return pd.DataFrame(out, index=pairs.index, dtype=np.int64)
