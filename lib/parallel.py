"""Chunks of an array over spawned worker processes, for native code that uses one core (dlib's
detector and predictors, OpenCV's DNN): ``map_chunks(job, images, workers=2, args=(...))``.

The workers are spawned (no fork of a process holding torch threads): a calling script needs the
``if __name__ == "__main__":`` guard; notebooks and imported modules need nothing. ``job`` and
``initializer`` must be module-level functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MIN_ITEMS = 256  # below this, starting worker processes costs more than it saves


def _init(initializer: Callable | None, initargs: tuple) -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core: no thread oversubscription inside OpenCV
    if initializer is not None:
        initializer(*initargs)


def map_chunks(job: Callable, items: np.ndarray, *, workers: int, args: tuple = (),
               initializer: Callable | None = None, initargs: tuple = ()) -> list:
    """``[job(chunk, *args) for chunk in items split in order]`` on ``workers`` processes.

    ``items`` is split into ``4 * workers`` contiguous chunks (for load balance); each process runs
    ``initializer(*initargs)`` once. The results come back in the order of the chunks.
    """
    import multiprocessing as mp

    chunks = [c for c in np.array_split(np.arange(len(items)), workers * 4) if len(c)]
    with mp.get_context("spawn").Pool(workers, initializer=_init, initargs=(initializer, initargs)) as pool:
        return pool.starmap(job, [(np.ascontiguousarray(items[c]), *args) for c in chunks])
