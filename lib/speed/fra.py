"""Speed of FRA training on this machine: ``python -m lib.speed.fra``.

Trains the same FRA model (D = 128) for one epoch on synthetic data two ways, same batch size:
- ``fra.train_pairs_per_s``: ``lib.fra.train.train_fra`` (maps and embeddings kept as tensors,
  each batch gathered with ``index_select``);
- ``fra.train_pairs_per_s_per_item``: the code's way (code/dataset.py + step2_train_FRA.py): a
  Dataset whose ``__getitem__`` returns one pair's tensors, collated by a DataLoader (batch 256,
  shuffle). Kinder than the code, which also reads 6 .npy files and filters its whole pair list
  3 times per item.
and the data path alone (no model), ``fra.gather_pairs_per_s`` / ``fra.gather_pairs_per_s_per_item``.
Results are merged into figures/metrics/benchmarks.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np
import pandas as pd


def synthetic(n_maps: int = 4000, dim: int = 128, n_pairs: int = 2560, seed: int = 0):
    """Sparse binary maps (about 68 landmark pixels each), Gaussian embeddings, random pair rows."""
    from lib.fra.train import PAIR_COLUMNS

    rng = np.random.default_rng(seed)
    maps = np.zeros((n_maps, 112 * 112), np.uint8)
    maps[np.arange(n_maps)[:, None], rng.integers(0, 112 * 112, (n_maps, 68))] = 1
    emb = rng.normal(size=(n_maps, dim)).astype(np.float32)
    pairs = pd.DataFrame(rng.integers(0, n_maps, (n_pairs, len(PAIR_COLUMNS))), columns=list(PAIR_COLUMNS))
    return maps.reshape(n_maps, 112, 112), emb, pairs


class PairDataset:
    """One pair per ``__getitem__``: (map (1, 112, 112) float32, input, target, 3 negatives)."""

    def __init__(self, maps: np.ndarray, emb: np.ndarray, pairs: pd.DataFrame):
        from lib.fra.train import PAIR_COLUMNS

        self.maps, self.emb, self.rows = maps, emb, pairs[list(PAIR_COLUMNS)].to_numpy()

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        import torch

        p, *e = self.rows[i]
        return (torch.from_numpy(self.maps[p][None].astype(np.float32)),
                *(torch.from_numpy(self.emb[j]) for j in e))


def per_item_epoch(maps, emb, pairs, cfg, *, train_model: bool = True) -> float:
    """Pairs/s of one epoch of the per-item pipeline (train_model=False: the data path alone)."""
    import torch

    from lib.fra.train import build_model, fra_loss
    from lib.seeding import seed_everything

    seed_everything(cfg.seed, threads=cfg.threads)
    model = build_model(cfg, emb.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loader = torch.utils.data.DataLoader(PairDataset(maps, emb, pairs), batch_size=cfg.batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(cfg.seed))
    model.train()
    t0 = time.perf_counter()
    for x, inp, tgt, n1, n2, n3 in loader:
        if not train_model:
            continue
        recon, gen = model(x, inp)
        loss = fra_loss(recon, x, gen, tgt, (n1, n2, n3), cfg.triplet_margin, cfg.triplet_unit)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    return len(pairs) / (time.perf_counter() - t0)


def gather_epoch(maps, emb, pairs, cfg) -> float:
    """Pairs/s of train_fra's data path alone: tensors + index_select per batch."""
    import torch

    from lib.fra.train import PAIR_COLUMNS

    maps_t, emb_t = torch.from_numpy(maps), torch.from_numpy(emb)
    rows_t = torch.from_numpy(np.array(pairs[list(PAIR_COLUMNS)], dtype=np.int64))
    order = torch.randperm(len(rows_t), generator=torch.Generator().manual_seed(cfg.seed))
    t0 = time.perf_counter()
    for s in range(0, len(rows_t), cfg.batch_size):
        rows = rows_t.index_select(0, order[s:s + cfg.batch_size])
        maps_t.index_select(0, rows[:, 0]).unsqueeze(1).float()
        emb_t.index_select(0, rows[:, 1:].reshape(-1)).view(len(rows), 5, -1)
    return len(rows_t) / (time.perf_counter() - t0)


def run(n_maps: int = 4000, dim: int = 128, n_pairs: int = 2560, threads: int = 2, seed: int = 0) -> dict:
    import torch

    from lib.fra.train import FRAConfig, train_fra

    torch.set_num_threads(threads)
    maps, emb, pairs = synthetic(n_maps, dim, n_pairs, seed)
    cfg = FRAConfig(epochs=1, batch_size=256, seed=seed, device="cpu", threads=threads)
    out = {"fra.threads": threads, "fra.benchmark_pairs": n_pairs, "fra.benchmark_identity_dim": dim,
           "fra.gather_pairs_per_s": gather_epoch(maps, emb, pairs, cfg),
           "fra.gather_pairs_per_s_per_item": per_item_epoch(maps, emb, pairs, cfg, train_model=False)}
    with tempfile.TemporaryDirectory() as tmp:
        result = train_fra(maps, emb, pairs, cfg, work_dir=tmp, progress=False)
    out["fra.train_pairs_per_s"] = float(result.history["pairs_per_s"].iloc[0])
    out["fra.train_pairs_per_s_per_item"] = per_item_epoch(maps, emb, pairs, cfg)
    return out


def main(argv=None) -> int:
    from lib import io, paths, provenance
    from lib.device import describe

    ap = argparse.ArgumentParser(prog="python -m lib.speed.fra", description=__doc__.splitlines()[0])
    ap.add_argument("--maps", type=int, default=4000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--pairs", type=int, default=2560, help="pairs in the epoch (10 batches of 256 by default)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    result = run(args.maps, args.dim, args.pairs, args.threads, args.seed)
    for k, v in result.items():
        print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")
    file = paths.figures_dir() / "metrics" / "benchmarks.json"
    rounded = {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}
    io.update_json(file, lambda d: d.update({**rounded, "fra.when": provenance.now(), "fra.device": describe("cpu"),
                                             "fra.commit": provenance.git_commit()}))
    print(f"written: {file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
