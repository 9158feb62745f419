"""Keep freed memory in the process instead of returning it to the system (glibc only).

A training step of a small convolutional network on the CPU allocates and frees the same large
activation and gradient buffers (16 MB each for iresnet_tiny at 64 px, batch 64) every step. glibc
serves such blocks with fresh ``mmap`` calls (above its mmap threshold, and its heap top is trimmed
back when freed), so every step touches new pages and takes a page fault per 4 KB on first write:
about a million page faults in 64 steps, 8 % of the step time on the 2-core Zen 3 (measured with
``/usr/bin/time``: 1.20 M -> 0.21 M minor faults, step time 14.0 -> 12.8 s). Raising the mmap
threshold to glibc's maximum (32 MB) and the trim threshold above any working set keeps those
blocks in the heap, reused step after step. Only where memory is placed changes, never a result.

Every training loop calls it at its start (FR, FRA, the GAN, the parser, Octuplet, DeriveNet); the
notebooks do not otherwise: 05_cross_method's warm run, which trains nothing and handles many arrays of
1-30 MB, took 32.2-34.2 s with it against 31.2 s without (alternating runs). The cost: a process that
trained keeps its peak heap until it ends (a few GB at most here). On other C libraries (macOS, musl)
nothing is changed; ``FACEAUG_KEEP_FREED_MEMORY=0`` in the environment (inherited by spawned workers)
leaves glibc's defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 1024 * 1024 * 1024
TOP_PAD = 64 * 1024 * 1024


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds as the module docstring says, once per process; True when
    set (False where the C library is not glibc or refuses a value)."""
    ok = False
    wanted = os.environ.get("FACEAUG_KEEP_FREED_MEMORY", "1").strip() not in ("0", "false", "False")
    if wanted and platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = all(libc.mallopt(p, v) == 1 for p, v in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                                                       (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD)))
    return ok
