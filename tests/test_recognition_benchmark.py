"""The recognition benchmark's measuring functions (not timed: the numbers go to benchmarks.json)."""

from __future__ import annotations

import pytest

from lib.speed import recognition as benchmark
from lib.recognition.backbones import create_backbone


def test_forward_flops_per_image_is_independent_of_batch():
    model = create_backbone("iresnet_tiny")
    one, four = benchmark.forward_flops(model, batch=1), benchmark.forward_flops(model, batch=4)
    assert one == pytest.approx(four) and 1e7 < one < 1e9  # tens of MFLOPs at 64 px


def test_matmul_roof_is_positive():
    assert benchmark.matmul_gflops(n=64, repeats=2) > 0
