"""Training FRA: the posture autoencoder and the ViT combiner, end to end (code/step2_train_FRA.py).

    cfg = FRAConfig.paper("magface")                      # dropout 0.4 (0.05 for "cosface")
    result = train_fra(maps, embeddings, pairs, cfg, work_dir=Path("runs/x"))     # or:
    result = train_fra_cached("fra/magface", cfg, maps, embeddings, pairs, data_key={...})
    generated = generate(result.model, maps, embeddings, pairs["posture"], pairs["input"])

Data: ``maps`` (N, 112, 112) binary landmark maps (lib.fra.landmark_maps), ``embeddings`` (M, D)
FRL embeddings (lib.fra.frl), ``pairs`` a table (lib.fra.pairs) whose columns posture, input,
target, neg_identity, neg_pose, neg_emotion are row indices: posture into ``maps``, the rest into
``embeddings``. Both arrays go to the device once; a batch is gathered with ``index_select``.

Loss per batch, as the code: BCE(mean) between the reconstruction and the POSTURE map fed in
(the autoencoder reconstructs its own input: ``criterion_bce(reconstructed_pose, pose_img)``)
plus the sum of three TripletMarginLoss(margin 10, p 2) with anchor = generated embedding,
positive = target embedding, negatives = the pair's neg_identity, neg_pose and neg_emotion
embeddings, weights 1:1. Adam (lr 1e-3, weight decay 1e-4); ReduceLROnPlateau(factor 0.5,
patience 30, min_lr 1e-7) stepped once per EPOCH on the validation loss (with 3 epochs and
patience 30 it never lowers the lr).

Departures from the code, on purpose:
- the scheduler steps on the epoch's mean validation loss (``val_pairs``; without them, the mean
  training loss); the code passes the LAST validation batch's loss (a variable left over from
  its loop);
- validation runs in eval mode (dropout off); the code never calls ``net.eval()``;
- negatives are the caller's columns, fixed per pair; the code redraws them in every
  ``__getitem__`` (each epoch): pass ``negatives=lambda epoch: ...`` to redraw per epoch;
- the returned model is the last epoch's; the code keeps the epoch with the best validation loss;
- loss means are per pair (batch-size weighted); the code averages batch means.

Like lib.recognition.train: a checkpoint (``last.pt``, atomic) at every epoch end; a new call
with the same config and data resumes from it, bit-exactly on CPU (epoch permutations come from
``numpy_rng(seed, "epoch", e)``, torch's RNG state — dropout — is stored); a NaN/inf loss raises
``TrainingDiverged`` and keeps the last good checkpoint; per-epoch metrics go to ``history.csv``.

Introduced by notebooks/01_fra (the FRA issue); model: lib.fra.model.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from lib import io, runcache
from lib.allocator import keep_freed_memory
from lib.checkpoint import Checkpointer, TrainingDiverged, load, save_atomic
from lib.seeding import numpy_rng, seed_everything

CHECKPOINT = "last.pt"
FINAL = "model.pt"
HISTORY = "history.csv"
PAIR_COLUMNS = ("posture", "input", "target", "neg_identity", "neg_pose", "neg_emotion")
NEGATIVE_COLUMNS = PAIR_COLUMNS[3:]
LOSS_TERMS = ("loss", "bce", "triplet", "triplet_identity", "triplet_pose", "triplet_emotion")
# --dropout-rate of the code's run script per FRL (code/run); others take the MagFace value.
PAPER_DROPOUT = {"magface": 0.4, "arcface": 0.4, "cosface": 0.05}

__all__ = ["FRAConfig", "FRAResult", "TrainingDiverged", "build_model", "fra_loss", "train_fra",
           "train_fra_cached", "load_fra", "generate"]


@dataclass(frozen=True)
class FRAConfig:
    """Defaults-plus-changes: the code's run script (code/run) for MagFace/ArcFace.

    Args:
        epochs, batch_size, lr: --num-epochs 3, --batch-size 256, --learning-rate 1e-3.
        weight_decay: Adam's (1e-4).
        plateau_factor, plateau_patience, min_lr: ReduceLROnPlateau(0.5, 30, min_lr=1e-7).
        dropout: the autoencoder's --dropout-rate (0.4 MagFace/ArcFace, 0.05 CosFace).
        dropout_vit: the combiner's dropout (0.05, fixed in the code).
        triplet_margin: margin of each of the three triplet losses (10).
        triplet_unit: False (the code): the triplet distances are Euclidean between the raw
            embeddings. Unit-norm FRL embeddings (dlib, SFace) are never more than 2 apart, so a
            margin of 10 can never be met: every hinge stays active and the only way to lower the
            loss is to push the GENERATED embedding's norm up (measured on the default profile:
            norms of 27-28 for dlib and SFace after 160 steps). The backbones trained here give norms of about 10, where it can be met. True (our labelled ablation,
            ``FRAConfig.unit_triplets()``): anchor, positive and negatives are L2-normalised before
            the distances, with a margin for unit vectors (0.2, FaceNet's).
        seed: model initialisation, batch order and dropout draws.
        device: "auto" (CUDA when available), "cpu", "cuda", ...
        threads: torch CPU threads (None: torch's choice).
    """

    epochs: int = 3
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    plateau_factor: float = 0.5
    plateau_patience: int = 30
    min_lr: float = 1e-7
    dropout: float = 0.4
    dropout_vit: float = 0.05
    triplet_margin: float = 10.0
    triplet_unit: bool = False
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    amp: bool = True  # bfloat16 autocast on CUDA (lib.device.autocast); no effect on CPU

    @classmethod
    def paper(cls, frl: str, **changes) -> FRAConfig:
        """The code's setting for FRL ``frl`` (dropout 0.05 for cosface, else 0.4), plus ``changes``."""
        return cls(**{"dropout": PAPER_DROPOUT.get(frl, cls.dropout), **changes})

    def unit_triplets(self, margin: float = 0.2) -> FRAConfig:
        """This config with normalised triplets (the ablation of ``triplet_unit``)."""
        return replace(self, triplet_unit=True, triplet_margin=margin)

    def key(self) -> dict:
        """The JSON-able identity of the run (device and threads left out, as in lib.recognition.train)."""
        d = asdict(self)
        for k in ("device", "threads", "amp"):
            d.pop(k)
        return d


@dataclass
class FRAResult:
    model: object  # the trained lib.fra.model.FRA (eval mode, on CPU)
    history: pd.DataFrame  # one row per epoch: epoch, step, loss terms, lr, seconds, pairs_per_s[, val_*]
    work_dir: Path
    resumed_from: int | None  # epochs done when resumed, if any


def build_model(cfg: FRAConfig, identity_dim: int):
    from lib.fra.model import FRA

    return FRA(identity_dim, dropout_ae=cfg.dropout, dropout_vit=cfg.dropout_vit)


def fra_loss(reconstruction, posture_maps, generated, target, negatives, margin: float = 10.0,
             unit: bool = False) -> dict:
    """The code's loss: BCE(reconstruction, posture map) + sum of 3 triplet losses; every term as a tensor.

    Args:
        reconstruction: (B, 1, 112, 112) in (0, 1); posture_maps: the maps fed in, same shape, {0, 1}.
        generated, target: (B, D) anchor and positive.
        negatives: (neg_identity, neg_pose, neg_emotion), each (B, D).
        unit: L2-normalise every embedding before the triplet distances (``FRAConfig.triplet_unit``).
    Returns: loss, bce, triplet, triplet_identity, triplet_pose, triplet_emotion.
    """
    import torch.nn.functional as F

    bce = F.binary_cross_entropy(reconstruction.float(), posture_maps.float().reshape(reconstruction.shape))
    if unit:
        generated, target = F.normalize(generated, dim=1), F.normalize(target, dim=1)
        negatives = [F.normalize(n, dim=1) for n in negatives]
    trip = [F.triplet_margin_loss(generated, target, neg, margin=margin, p=2) for neg in negatives]
    triplet = trip[0] + trip[1] + trip[2]
    return {"loss": bce + triplet, "bce": bce, "triplet": triplet, "triplet_identity": trip[0],
            "triplet_pose": trip[1], "triplet_emotion": trip[2]}


# ------------------------------------------------------------------------------------- data

def _check_maps(maps) -> np.ndarray:
    maps = np.asarray(maps)
    if maps.ndim == 4 and maps.shape[-1] == 1:  # the code's (112, 112, 1) maps
        maps = maps[..., 0]
    if maps.ndim != 3 or maps.shape[1:] != (112, 112):
        raise ValueError(f"maps must be (N, 112, 112) landmark maps, got shape {maps.shape}")
    if maps.dtype == bool:
        return maps.view(np.uint8)
    if maps.dtype == np.uint8:
        if maps.size and maps.max() > 1:
            raise ValueError("uint8 maps must hold 0/1 (binary landmark maps), found values > 1")
        return maps
    if maps.dtype.kind == "f":
        if maps.size and not (np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1):
            raise ValueError("float maps must be finite values in [0, 1] (BCE targets)")
        return maps.astype(np.float32, copy=False)
    raise ValueError(f"maps must be bool, uint8 (0/1) or float in [0, 1], got {maps.dtype}")


def _check_embeddings(embeddings) -> np.ndarray:
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] == 0:
        raise ValueError(f"embeddings must be a non-empty (M, D) array, got shape {emb.shape}")
    if not np.isfinite(emb).all():
        raise ValueError(f"embeddings hold {int((~np.isfinite(emb)).sum())} NaN/inf values; FRA cannot train "
                         f"on them. To fix: recompute them or drop those rows from the pairs")
    return emb


def _check_index(arr: np.ndarray, columns, n_maps: int, n_emb: int, what: str) -> np.ndarray:
    if arr.ndim != 2 or arr.shape[1] != len(columns) or arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integers of shape (P, {len(columns)}) ({', '.join(columns)}), "
                         f"got {arr.dtype} {arr.shape}")
    for j, col in enumerate(columns):
        n = n_maps if col == "posture" else n_emb
        bad = (arr[:, j] < 0) | (arr[:, j] >= n)
        if bad.any():
            hint = (f". -1 marks a negative that could not be drawn: drop those pairs, e.g. "
                    f"pairs[(pairs[{list(NEGATIVE_COLUMNS)}] >= 0).all(axis=1)]" if (arr[:, j] == -1).any() else "")
            raise ValueError(f"{what}: {int(bad.sum())} values of column {col!r} are outside [0, {n}) (rows of "
                             f"{'maps' if col == 'posture' else 'embeddings'}){hint}")
    return arr.astype(np.int64, copy=False)


def _check_pairs(pairs, n_maps: int, n_emb: int, what: str = "pairs") -> np.ndarray:
    missing = [c for c in PAIR_COLUMNS if c not in getattr(pairs, "columns", ())]
    if missing:
        raise ValueError(f"{what} lacks the columns {missing}; needs {list(PAIR_COLUMNS)} (lib.fra.pairs.make_pairs)")
    arr = _check_index(pairs[list(PAIR_COLUMNS)].to_numpy(), PAIR_COLUMNS, n_maps, n_emb, what)
    if len(arr) == 0:
        raise ValueError(f"{what} is empty")
    return arr


def _tensor(arr: np.ndarray, device):
    """``arr`` as a tensor on ``device`` (read-only arrays, e.g. memmaps or pandas views, are copied)."""
    import torch

    return torch.from_numpy(np.require(arr, requirements=["C", "W"])).to(device)


def _sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


# ------------------------------------------------------------------------------------ train

def _batch_terms(model, maps_t, emb_t, rows, margin: float, unit: bool = False, amp: bool = False) -> dict:
    """Forward one batch given (B, 6) index rows on the device (under bfloat16 autocast on CUDA when
    ``amp``); returns fra_loss's terms, computed in float32."""
    import torch

    from lib.device import autocast

    x = maps_t.index_select(0, rows[:, 0]).unsqueeze(1).float().contiguous(memory_format=torch.channels_last)
    e = emb_t.index_select(0, rows[:, 1:].reshape(-1)).view(len(rows), 5, -1)
    with autocast(x.device, amp):
        recon, generated = model(x, e[:, 0])
    recon, generated = recon.float(), generated.float()
    return fra_loss(recon, x, generated, e[:, 1], (e[:, 2], e[:, 3], e[:, 4]), margin, unit)


def _evaluate(model, maps_t, emb_t, rows_t, batch_size: int, margin: float, unit: bool = False) -> dict:
    """Mean loss terms over ``rows_t`` in eval mode (no dropout, no gradients)."""
    import torch

    was = model.training
    model.eval()
    sums = torch.zeros(len(LOSS_TERMS), dtype=torch.float64)
    with torch.no_grad():
        for s in range(0, len(rows_t), batch_size):
            rows = rows_t[s:s + batch_size]
            t = _batch_terms(model, maps_t, emb_t, rows, margin, unit)
            sums += torch.stack([t[k].detach().double() for k in LOSS_TERMS]).cpu() * len(rows)
    model.train(was)
    return {f"val_{k}": float(v) for k, v in zip(LOSS_TERMS, sums / len(rows_t))}


def _epoch_pairs(pairs_t, negatives, epoch: int, n_maps: int, n_emb: int, device):
    """The pairs of ``epoch``: their own negatives, or those ``negatives(epoch)`` redraws."""
    import torch

    if negatives is None:
        return pairs_t
    neg = _check_index(np.asarray(negatives(epoch)), NEGATIVE_COLUMNS, n_maps, n_emb, f"negatives({epoch})")
    if len(neg) != len(pairs_t):
        raise ValueError(f"negatives({epoch}) returned {len(neg)} rows for {len(pairs_t)} pairs")
    return torch.cat([pairs_t[:, :3], _tensor(neg, device)], 1)


def _fra_step(cfg: FRAConfig, model, opt, maps_t, emb_t, rows_b, where: str, ckpt_path: Path) -> list:
    """One optimiser step on the pair rows ``rows_b``; the batch's LOSS_TERMS values. A non-finite loss
    stops training."""
    import torch

    terms = _batch_terms(model, maps_t, emb_t, rows_b, cfg.triplet_margin, cfg.triplet_unit, cfg.amp)
    values = torch.stack([terms[k].detach() for k in LOSS_TERMS]).tolist()
    if not np.isfinite(values[0]):
        raise TrainingDiverged(
            f"{where}: loss is {values[0]} (bce {values[1]}, triplet {values[2]}); training stopped. The last "
            f"good checkpoint is {ckpt_path if ckpt_path.is_file() else '(none yet)'}, kept. To fix: lower lr "
            f"(now {cfg.lr}) or check the maps and embeddings")
    opt.zero_grad(set_to_none=True)
    terms["loss"].backward()
    opt.step()
    return values


def _fra_models(cfg: FRAConfig, dim: int, device):
    """The FRA model (channels_last), its Adam optimiser and the plateau scheduler."""
    import torch

    # channels_last: the autoencoder's convolutions ran ~1.4x faster on 2 CPU cores (same results
    # up to float reduction order); also cuDNN's preferred layout.
    model = build_model(cfg, dim).to(device, memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=cfg.plateau_factor,
                                                       patience=cfg.plateau_patience, min_lr=cfg.min_lr)
    return model, opt, sched


def _fra_epoch(cfg: FRAConfig, model, opt, maps_t, emb_t, epoch_t, epoch: int, bar, ckpt_path: Path) -> np.ndarray:
    """One epoch over the pairs ``epoch_t`` in the epoch's order; the summed LOSS_TERMS (x batch size)."""
    import torch

    n = len(epoch_t)
    steps_per_epoch = -(-n // cfg.batch_size)
    order = torch.from_numpy(numpy_rng(cfg.seed, "epoch", epoch).permutation(n)).to(epoch_t.device)
    model.train()
    sums = np.zeros(len(LOSS_TERMS))
    for b in range(steps_per_epoch):
        rows_b = epoch_t.index_select(0, order[b * cfg.batch_size:(b + 1) * cfg.batch_size])
        values = _fra_step(cfg, model, opt, maps_t, emb_t, rows_b, f"epoch {epoch + 1}, step {b + 1}/{steps_per_epoch}",
                           ckpt_path)
        sums += np.asarray(values) * len(rows_b)
        bar.update(1)
        bar.set_postfix(loss=f"{values[0]:.3f}", refresh=False)
    return sums


def train_fra(maps, embeddings, pairs: pd.DataFrame, cfg: FRAConfig = FRAConfig(), *, work_dir,
              val_pairs: pd.DataFrame | None = None, negatives: Callable | None = None, progress: bool = True,
              max_epochs: int | None = None) -> FRAResult:
    """Train FRA on ``pairs`` of (posture map, input / target / negative embeddings).

    Args:
        maps: (N, 112, 112) bool / uint8 0-1 / float [0, 1] landmark maps ((N, 112, 112, 1) accepted).
        embeddings: (M, D) float FRL embeddings, not normalised.
        pairs: columns posture (row of ``maps``), input, target, neg_identity, neg_pose, neg_emotion
            (rows of ``embeddings``).
        work_dir: where ``last.pt``, ``model.pt`` and ``history.csv`` go; an existing ``last.pt``
            of the same config and data is resumed.
        val_pairs: pairs for the per-epoch validation loss (the code's 1/3 split) on which the
            plateau scheduler steps; None: it steps on the training loss.
        negatives: ``negatives(epoch) -> (P, 3)`` rows (neg_identity, neg_pose, neg_emotion) that
            replace the pairs' negatives in that epoch (the code redraws them every epoch), e.g.
            ``lambda e: sample_negatives(pairs, seed=e)``; must depend on ``epoch`` only (resume).
        max_epochs: stop after this many epochs in total (tests of resume; normal runs leave it None).
    """
    from tqdm import tqdm

    from lib.device import select_device

    maps_np, emb_np = _check_maps(maps), _check_embeddings(embeddings)
    n_maps, (n_emb, dim) = len(maps_np), emb_np.shape
    pair_np = _check_pairs(pairs, n_maps, n_emb)
    val_np = None if val_pairs is None else _check_pairs(val_pairs, n_maps, n_emb, "val_pairs")
    work_dir = Path(work_dir)
    seed_everything(cfg.seed, threads=cfg.threads)
    keep_freed_memory()  # each step's buffers stay mapped: fewer page faults, the same numbers
    device = select_device(cfg.device)
    model, opt, sched = _fra_models(cfg, dim, device)
    maps_t, emb_t, pairs_t = _tensor(maps_np, device), _tensor(emb_np, device), _tensor(pair_np, device)
    val_t = None if val_np is None else _tensor(val_np, device)

    n = len(pair_np)
    steps_per_epoch = -(-n // cfg.batch_size)  # the code's DataLoader keeps the last, smaller batch
    config_key = {**cfg.key(), "n_maps": n_maps, "n_embeddings": n_emb, "identity_dim": dim,
                  "pairs_sha256": _sha256(pair_np), "val_pairs_sha256": None if val_np is None else _sha256(val_np),
                  "negatives_per_epoch": negatives is not None}
    ckpt = Checkpointer(work_dir / CHECKPOINT, config_key, unit="epoch", what="FRA")
    ckpt_path, parts = ckpt.path, {"model": model, "optimizer": opt, "scheduler": sched}
    epoch, rows, resumed = 0, [], None
    if (state := ckpt.read()) is not None:
        epoch = resumed = ckpt.restore(state, parts, device)
        rows = list(state["history"])

    def checkpoint(done: int) -> None:
        ckpt.save(done, parts, check=[model], extra={"history": rows}, device=device,
                  diverged=f"To fix: lower lr (now {cfg.lr})")
        io.write_text(work_dir / HISTORY, pd.DataFrame(rows).to_csv(index=False))

    last = cfg.epochs if max_epochs is None else min(cfg.epochs, max_epochs)
    bar = tqdm(total=cfg.epochs * steps_per_epoch, initial=epoch * steps_per_epoch, desc=f"FRA D={dim}",
               unit="step", disable=not progress)
    try:
        while epoch < last:
            epoch_t = _epoch_pairs(pairs_t, negatives, epoch, n_maps, n_emb, device)
            lr = opt.param_groups[0]["lr"]
            t0 = time.perf_counter()
            sums = _fra_epoch(cfg, model, opt, maps_t, emb_t, epoch_t, epoch, bar, ckpt_path)
            seconds = time.perf_counter() - t0
            epoch += 1
            row = {"epoch": epoch, "step": epoch * steps_per_epoch, **dict(zip(LOSS_TERMS, (sums / n).tolist())),
                   "lr": lr, "seconds": round(seconds, 3), "pairs_per_s": round(n / max(seconds, 1e-9), 1)}
            if val_t is not None:
                row.update(_evaluate(model, maps_t, emb_t, val_t, cfg.batch_size, cfg.triplet_margin,
                                     cfg.triplet_unit))
            sched.step(row["val_loss"] if val_t is not None else row["loss"])  # once per epoch, as the code
            rows.append(row)
            checkpoint(epoch)
    finally:
        bar.close()
    model.eval()
    if epoch >= cfg.epochs:
        save_atomic(work_dir / FINAL, {"model": model.state_dict(), "identity_dim": dim, "config": config_key})
    return FRAResult(model.cpu(), pd.DataFrame(rows), work_dir, resumed)


def load_fra(path, cfg: FRAConfig):
    """The FRA model saved as ``model.pt`` by ``train_fra`` (eval mode, CPU)."""
    import torch

    state = load(Path(path), "FRA")
    with torch.device("meta"):  # no random init for weights about to be replaced (~0.2 s a model)
        model = build_model(cfg, int(state["identity_dim"]))
    # fresh (uninitialised) CPU tensors, then the saved values copied in: the tensors keep the layout a built
    # model has (the saved ones can be channels_last, and a conv's last bits depend on the weights' layout)
    model.to_empty(device="cpu").load_state_dict(state["model"])
    return model.eval()


def train_fra_cached(name: str, cfg: FRAConfig, maps, embeddings, pairs: pd.DataFrame, *, data_key,
                     extra_key: Mapping | None = None, **kwargs) -> FRAResult:
    """``train_fra`` once per (config, data, pairs, extra) under runs/<name>/<hash>/; later calls load it.

    Args:
        data_key: identifies the maps and embeddings (e.g. the FaceSet's sha256, the FRL run's hash);
            the pairs (and val_pairs) are hashed here and join the key.
        extra_key: anything else that changes the result (e.g. how ``negatives`` redraws).
    A stopped run keeps its checkpoints in runs/<name>/<hash>.work/ and resumes from them.
    """

    emb = _check_embeddings(embeddings)
    pair_np = _check_pairs(pairs, len(_check_maps(maps)), len(emb))
    val = kwargs.get("val_pairs")
    key = {"train": cfg.key(), "data": data_key, "pairs_sha256": _sha256(pair_np), "embeddings_shape": list(emb.shape),
           "val_pairs_sha256": None if val is None else _sha256(val[list(PAIR_COLUMNS)].to_numpy(np.int64)),
           "extra": dict(extra_key or {})}
    out, result = runcache.cached_resumable(
        name, key, lambda work: train_fra(maps, embeddings, pairs, cfg, work_dir=work, **kwargs), (FINAL, HISTORY))
    if result is not None:
        return replace(result, work_dir=out)
    history = pd.read_csv(out / HISTORY) if (out / HISTORY).is_file() else pd.DataFrame()
    return FRAResult(load_fra(out / FINAL, cfg), history, out, None)


# ---------------------------------------------------------------------------------- generate

@runcache.memoized("fra/generated")
def generate(model, maps, embeddings, posture_idx, identity_idx, batch_size: int = 1024,
             device: str = "auto") -> np.ndarray:
    """Generated embeddings (P, out_dim) float32 for posture ``maps[posture_idx]`` and identity
    ``embeddings[identity_idx]``, in eval mode (dropout off), ``batch_size`` pairs at a time."""
    import torch

    from lib.device import select_device

    maps_np, emb_np = _check_maps(maps), _check_embeddings(embeddings)
    p_idx, i_idx = np.asarray(posture_idx, dtype=np.int64), np.asarray(identity_idx, dtype=np.int64)
    if p_idx.shape != i_idx.shape or p_idx.ndim != 1:
        raise ValueError(f"posture_idx and identity_idx must be 1-D of equal length, got {p_idx.shape} "
                         f"and {i_idx.shape}")
    _check_index(np.stack([p_idx, i_idx], 1), ("posture", "input"), len(maps_np), len(emb_np), "indices")
    dev = select_device(device)
    home = next(model.parameters()).device
    model.to(dev)
    out = []
    try:
        for s in range(0, len(p_idx), batch_size):
            x = torch.from_numpy(maps_np[p_idx[s:s + batch_size]]).to(dev).float()
            e = torch.from_numpy(emb_np[i_idx[s:s + batch_size]]).to(dev)
            out.append(model.generate(x, e).float().cpu().numpy())
    finally:
        model.to(home)
    dim = model.combiner.out_dim
    return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


def reconstruct(model, maps, batch_size: int = 256) -> np.ndarray:
    """The autoencoder's reconstruction (N, 112, 112) float32 of landmark ``maps``, eval mode, no grad."""
    import torch

    maps_np = _check_maps(maps)
    was = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for s in range(0, len(maps_np), batch_size):
                x = torch.from_numpy(maps_np[s:s + batch_size]).float().to(next(model.parameters()).device)
                out.append(model.autoencoder.decode(model.autoencoder.encode(x)).squeeze(1).float().cpu().numpy())
    finally:
        model.train(was)
    return np.concatenate(out)
