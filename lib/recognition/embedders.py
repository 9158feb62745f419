"""One ``embed`` for trained backbones and the offline pretrained embedders alike.

Evaluation code calls ``embed(model, crops)`` and never asks what ``model`` is:

- a torch backbone (``lib.recognition.backbones``): its own ``preprocess`` (size, channel
  order, normalisation), eval mode, no grad, batches on ``device`` (default: where the
  model is); with ``flip=True`` the
  embedding of the horizontally flipped crop is added, as arcface_torch's
  ``eval/verification.py`` does (sum, then compare by cosine);
- a ``lib.faces.embed`` embedder (SFace, dlib): crops are ArcFace-aligned already, so
  their 5 points are the template's; ``embed_faces`` then warps each crop to the
  embedder's own input (an identity warp for SFace's 112 crop, a 224 canvas with
  replicated borders for dlib's context margin). Crops of another size are first resized
  to 112 (bilinear). These embedders run on the CPU and return unit vectors.

Backbone embeddings are returned raw (not L2-normalised, as FRA uses them); pass
``normalize=True`` for unit vectors from both.
"""

from __future__ import annotations

import numpy as np

from lib import parallel
from lib.faces.align import ARCFACE_TEMPLATE


def _check_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected aligned uint8 RGB crops (N, H, W, 3), got {images.dtype} {images.shape}")
    return images


def _l2(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _embed_torch(model, images: np.ndarray, batch_size: int, device, flip: bool) -> np.ndarray:
    import torch

    from lib.device import select_device
    from lib.recognition.backbones import get_preprocess, preprocess

    spec = get_preprocess(model)
    home = next((p.device for p in model.parameters()), torch.device("cpu"))
    dev = home if device is None else select_device(device) if isinstance(device, str) else torch.device(device)
    was_training = model.training
    model.to(dev).eval()
    out = []
    try:
        with torch.inference_mode():
            for i in range(0, len(images), batch_size):
                x = preprocess(images[i:i + batch_size], spec, device=dev)
                e = model(x)
                if flip:
                    e = e + model(x.flip(3))
                out.append(e.float().cpu().numpy())
    finally:
        model.to(home).train(was_training)
    return np.concatenate(out).astype(np.float32, copy=False)


def _to_112(images: np.ndarray) -> np.ndarray:
    if images.shape[1:3] == (112, 112):
        return images
    import cv2

    return np.stack([cv2.resize(img, (112, 112), interpolation=cv2.INTER_LINEAR) for img in images])


def _embed_pretrained(embedder, images: np.ndarray, batch_size: int, flip: bool) -> np.ndarray:
    from lib.faces.embed import embed_faces

    out = []
    for i in range(0, len(images), batch_size):
        crops = _to_112(images[i:i + batch_size])
        points = np.repeat(ARCFACE_TEMPLATE[None], len(crops), axis=0)
        e = embed_faces(embedder, crops, points)
        if flip:  # the template is not mirror-symmetric: flipping the crop keeps it aligned to ~0.3 px
            e = e + embed_faces(embedder, np.ascontiguousarray(crops[:, :, ::-1]), points)
        out.append(e)
    return np.concatenate(out).astype(np.float32, copy=False)


_WORKER_EMBEDDER = None
PARALLEL_MIN_IMAGES = parallel.MIN_ITEMS


def _init_worker(name: str, kwargs: dict) -> None:
    global _WORKER_EMBEDDER
    from lib.faces.embed import create_embedder

    _WORKER_EMBEDDER = create_embedder(name, **kwargs)


def _worker_chunk(images: np.ndarray, batch_size: int, flip: bool) -> np.ndarray:
    return _embed_pretrained(_WORKER_EMBEDDER, images, batch_size, flip)


def _embed_pretrained_parallel(embedder, images: np.ndarray, batch_size: int, flip: bool,
                               workers: int) -> np.ndarray:
    """dlib's (and SFace's) network runs on about one thread: split the crops over ``workers`` processes
    (lib.parallel, each building its own embedder); the result equals the serial one, row for row."""
    return np.concatenate(parallel.map_chunks(_worker_chunk, images, workers=workers, args=(batch_size, flip),
                                              initializer=_init_worker,
                                              initargs=(embedder.name, getattr(embedder, "init_kwargs", {}))))


def embed(model_or_embedder, images, *, batch_size: int = 256, device=None, flip: bool = False,
          normalize: bool = False, workers: int = 1, cache: bool = False) -> np.ndarray:
    """Embeddings (N, D) float32 of aligned uint8 RGB crops (N, H, W, 3).

    Args:
        model_or_embedder: a backbone from ``create_backbone`` (any ``nn.Module`` with a
            ``preprocess_spec``) or a ``lib.faces.embed`` embedder (``create_embedder``).
        images: ArcFace-aligned crops; resized to what the model takes.
        batch_size: crops per forward pass.
        device: "cpu", "cuda", "auto" or a torch.device to run a backbone on; None (default)
            runs it where its weights are. The module goes back to its own device and
            train/eval mode afterwards, so an ``eval_fn`` may call this mid-training.
            The pretrained embedders always run on the CPU.
        flip: add the embedding of the mirrored crop.
        normalize: L2-normalise the result.
        workers: processes for the pretrained embedders (dlib, SFace: their networks use about
            one core) when there are at least PARALLEL_MIN_IMAGES crops; 1 (default) = in this
            process. Ignored for backbones (torch uses every core). The workers are
            spawned: a calling script needs the ``if __name__ == "__main__":`` guard (notebooks
            and imported modules need nothing).
        cache: keep the raw embeddings in the run cache (runs/embeddings/), keyed by the content of
            the weights (or the pretrained embedder) and of ``images`` (lib.fingerprint): evaluations
            of cached models then cost nothing on a warm run.
    """
    images = _check_images(images)
    if cache:
        from lib import runcache

        out = runcache.memo_array("embeddings", {"model": model_or_embedder, "images": images, "flip": flip,
                                                 "version": 1},
                                  lambda: embed(model_or_embedder, images, batch_size=batch_size, device=device,
                                                flip=flip, workers=workers))
        return _l2(out) if normalize else out
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    import torch

    if len(images) == 0:
        dim = getattr(model_or_embedder, "embedding_size", None) or getattr(model_or_embedder, "dim", None)
        if dim is None:
            raise ValueError("no images to embed")
        return np.zeros((0, int(dim)), np.float32)

    if isinstance(model_or_embedder, torch.nn.Module):
        out = _embed_torch(model_or_embedder, images, batch_size, device, flip)
    elif callable(model_or_embedder) and hasattr(model_or_embedder, "align"):
        if workers > 1 and len(images) >= PARALLEL_MIN_IMAGES and getattr(model_or_embedder, "single_threaded", False):
            out = _embed_pretrained_parallel(model_or_embedder, images, batch_size, flip, workers)
        else:
            out = _embed_pretrained(model_or_embedder, images, batch_size, flip)
    else:
        raise TypeError(f"cannot embed with {type(model_or_embedder).__name__}: expected a torch backbone "
                        "(lib.recognition.backbones.create_backbone) or a lib.faces.embed embedder (create_embedder)")
    return _l2(out) if normalize else out
