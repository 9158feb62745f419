"""Train an FR model on a FaceSet from the command line, alone or on several GPUs / processes.

    python -m lib.recognition.cli FACESET [--set key=value ...] [--name fr/arcface] [--split train]
    torchrun --nproc_per_node=8 -m lib.recognition.cli FACESET --set backbone=iresnet50 ...

``FACESET`` is a FaceSet directory (``data/<name>/<hash>/``, e.g. CASIA-WebFace converted by
``python -m lib.data.sources webface``). Each ``--set`` changes one field of
:class:`lib.recognition.train.TrainConfig` (values are JSON: ``--set epochs=20 --set lr=0.1
--set hflip=false --set 'backbone_kwargs={"width": 32}'``). One class per person of the
``--split`` rows (``all``: every row).

Without ``--work-dir`` the model goes to the run cache exactly as the notebooks train it
(:func:`lib.recognition.split_models.train_on_split`: ``runs/<name>/<hash>/``, the hash of the
config and the data), so a notebook that asks for the same model under the same name loads it
instead of training: train the full profile's big models here with torchrun, then run
``python -m lib.paper --profile full``. ``--work-dir DIR`` trains into DIR instead (``last.pt``,
``model.pt``, ``history.csv``). A stopped run (Ctrl-C, ``--max-steps``, a lost node) resumes from
its last checkpoint when the same command is run again.

Under torchrun every process trains on ``batch_size / world`` images of each global batch,
gradients are averaged (DDP: Gloo on CPU, NCCL on CUDA) and rank 0 alone writes files; BatchNorm
statistics stay per process, as in arcface_torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def parse_sets(items) -> dict:
    """``["epochs=2", "hflip=false"]`` -> ``{"epochs": 2, "hflip": False}`` (JSON values; bare words stay text)."""
    from dataclasses import fields

    from lib.recognition.train import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            raise SystemExit(f"--set {item!r}: expected key=value with key one of {sorted(known)}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv=None) -> int:
    import numpy as np

    from lib.data.faceset import read_faceset
    from lib.device import rank_and_world
    from lib.recognition.split_models import split_labels, train_on_split, wild_regions
    from lib.recognition.train import TrainConfig, train

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("faceset", type=Path, help="a FaceSet directory")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a TrainConfig change")
    ap.add_argument("--split", default="train", help="rows to train on: a value of meta's split column, or all")
    ap.add_argument("--name", help="run-cache name (default: fr/<head>, as the notebooks)")
    ap.add_argument("--work-dir", type=Path, help="train here instead of the run cache")
    ap.add_argument("--max-steps", type=int, help="stop after this many steps in total (resume later)")
    args = ap.parse_args(argv)
    cfg = TrainConfig(**parse_sets(args.set))
    fs = read_faceset(args.faceset, verify="fast")
    rank, world = rank_and_world()
    main_rank = rank == 0
    if args.work_dir is None:
        if args.max_steps is not None:
            raise SystemExit("--max-steps needs --work-dir (the run cache holds finished models only)")
        if args.split == "all":
            raise SystemExit("--split all needs --work-dir (the run cache keys the rows by split)")
        result = train_on_split(fs, cfg, name=args.name, split=args.split, progress=main_rank)
    else:
        rows, labels = split_labels(fs.meta, None if args.split == "all" else args.split)
        regions = wild_regions(fs, rows) if cfg.photometric == "wild" else None
        result = train(cfg, np.asarray(fs.images[rows]), labels, work_dir=args.work_dir, progress=main_rank,
                       max_steps=args.max_steps, regions=regions)
    if main_rank:
        done = result.history.iloc[-1].to_dict() if len(result.history) else {}
        resumed = f", resumed from step {result.resumed_from}" if result.resumed_from else ""
        print(f"trained {cfg.backbone}+{cfg.head} on {world} process(es){resumed}: {result.work_dir}; last epoch "
              + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in done.items()}))
    if world > 1:
        import torch.distributed as tdist

        if tdist.is_initialized():
            tdist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
