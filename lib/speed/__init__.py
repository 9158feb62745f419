"""Speed benchmarks, all in one place: each module measures one part of the companion on this
machine and prints (and, where it says so, merges into figures/metrics/benchmarks.json) what it
measured. None of them runs in ``make test``; speed targets are met here, never in a timed test.

    python -m lib.speed.engine        # synthetic face engine: images/s of the renderer
    python -m lib.speed.sources       # real-data adapters: conversion speed and peak memory
    python -m lib.speed.dlib_resnet   # dlib's network vs its PyTorch port
    python -m lib.speed.recognition   # FR training: GFLOP/s against the matmul peak
    python -m lib.speed.fra           # FRA training: pairs/s
    python -m lib.speed.inpaint       # V-Net inference: images/s
    python -m lib.speed.fserasing     # face parser inference, FSErasing hook
    python -m lib.speed.lowres        # 04_lowres's pieces
    python -m lib.speed.evaluation    # the two costliest evaluation protocols
"""
