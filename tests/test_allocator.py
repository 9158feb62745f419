"""lib.allocator: freed blocks stay in the process (no page faults when a training step allocates again)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = """
import resource
import numpy as np
from lib.allocator import keep_freed_memory
print(keep_freed_memory())
def one_pass():  # like a training step: several 16 MB buffers alive together, written, freed
    bufs = [np.ones(4 * 1024 * 1024, np.float32) for _ in range(5)]
    del bufs
for _ in range(2):
    one_pass()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    one_pass()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _probe(keep: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True,
                         env={**os.environ, "FACEAUG_KEEP_FREED_MEMORY": keep}).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_blocks_are_reused_without_page_faults():
    kept, faults = _probe("1")
    default, default_faults = _probe("0")
    assert kept and not default
    # glibc's defaults trim the freed 80 MB heap top and fault it in again on the next pass
    assert default_faults > 2000 and faults < default_faults / 10, (faults, default_faults)


def test_keep_freed_memory_is_set_once_per_process():
    from lib import allocator

    first = allocator.keep_freed_memory()
    assert allocator.keep_freed_memory() is first and allocator.keep_freed_memory.cache_info().misses == 1
