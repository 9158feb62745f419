"""dlib's own face-recognition network vs its PyTorch port (lib.faces.dlib_resnet) on real LFW chips:
``python -m lib.speed.dlib_resnet`` prints images/s of both and their largest descriptor difference."""

from __future__ import annotations

import numpy as np
import torch

from lib.faces.dlib_resnet import CHIP_SIZE


def benchmark(n: int = 128, seed: int = 0) -> dict:
    """Images/s of dlib's own network and of this port on ``n`` real LFW faces as dlib chips."""
    import time

    import dlib

    from lib.faces.assets import asset_path
    from lib.faces.dlib_resnet import describe, load_dlib_resnet

    chips = lfw_chips(n, seed)
    native = dlib.face_recognition_model_v1(str(asset_path("dlib_resnet")))
    net = load_dlib_resnet()
    t = time.perf_counter()
    ref = np.array([np.array(native.compute_face_descriptor(c)) for c in chips], np.float32)
    t_dlib = time.perf_counter() - t
    describe(net, chips[:8])  # warm-up
    t = time.perf_counter()
    ours = describe(net, chips)
    t_torch = time.perf_counter() - t
    return {"images": n, "dlib_images_per_s": n / t_dlib, "torch_images_per_s": n / t_torch,
            "torch_threads": torch.get_num_threads(), "max_abs_diff": float(np.abs(ours - ref).max())}


def lfw_chips(n: int, seed: int) -> np.ndarray:
    """``n`` dlib-sized chips of scikit-image's real LFW crops (lib.data.real_photos), drawn at random
    (with repeats when ``n`` exceeds the 100 faces) and upscaled to 150 px."""
    import cv2

    from lib.data.real_photos import LFW_FACES, lfw_crops

    faces = lfw_crops(LFW_FACES)
    pick = np.random.default_rng(seed).choice(len(faces), n, replace=n > len(faces))
    return np.stack([cv2.resize(faces[i], (CHIP_SIZE, CHIP_SIZE), interpolation=cv2.INTER_CUBIC) for i in pick])


if __name__ == "__main__":
    import json

    print(json.dumps(benchmark(), indent=1))
