"""FS-CAM (gsisaoki/FSErasing cam/fscam.py) and Grad-CAM for a trained FR classifier.

FS-CAM as published (docs/fserasing.md): parse x into binary masks M_c (c = 0..24); run the
classifier on x * M_c (only region c kept, the rest 0 in NORMALISED space) and take
s_c = ReLU(p(target | x * M_c)), target = the class predicted for x; saliency = sum_c s_c M_c,
min-max normalised. (Score-CAM with semantic regions.) The classifier is the backbone and the
identity head of training: logits = the head's logits WITHOUT margin (softmax head: x W^T + b;
margin heads: s cos). Grad-CAM: the maintained ``pytorch-grad-cam`` package (GradCAM on the
backbone's last stage, ``layer4``), same target.

Per-class importance (the paper's bar chart; its exact averaging is not published): the mean of
s_c over the images where class c is present.
"""

from __future__ import annotations

import numpy as np

from lib import runcache

N_CLASSES = 25


def _classifier(backbone, head):
    import torch
    from torch import nn

    from lib.recognition.heads import SoftmaxHead

    class Classifier(nn.Module):
        """Backbone + identity head -> class logits (no margin), on normalised input."""

        def __init__(self):
            super().__init__()
            self.backbone, self.head = backbone, head

        def forward(self, x):
            emb = self.backbone(x).float()
            if isinstance(self.head, SoftmaxHead):
                return torch.nn.functional.linear(emb, self.head.weight, self.head.bias)
            return getattr(self.head, "s", 1.0) * self.head.cosine(emb)

    return Classifier().eval()


def _inputs(backbone, images):
    from lib.recognition.backbones import get_preprocess, preprocess

    return preprocess(np.ascontiguousarray(images), get_preprocess(backbone))


def _resize_masks(masks: np.ndarray, size) -> np.ndarray:
    import cv2

    if masks.shape[1:] == tuple(size):
        return masks
    return np.stack([cv2.resize(m, (size[1], size[0]), interpolation=cv2.INTER_NEAREST) for m in masks])


def _to_image_size(maps: np.ndarray, shape) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(m.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
                     for m in maps])


def _minmax(m: np.ndarray) -> np.ndarray:
    lo, hi = float(m.min()), float(m.max())
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


@runcache.memoized("fserasing/fscam")
def fscam(backbone, head, images: np.ndarray, masks: np.ndarray) -> dict:
    """FS-CAM of uint8 crops (N, H, W, 3) with parser class maps (N, H, W).

    Returns ``saliency`` (N, H, W) in [0, 1], ``scores`` (N, 25) s_c (0 for absent classes),
    ``present`` (N, 25) bool, ``target`` (N,) predicted class, ``p_full`` (N,) p(target | x).
    """
    import torch

    images, masks = np.asarray(images), np.asarray(masks)
    if images.shape[:3] != masks.shape:
        raise ValueError(f"fscam: masks {masks.shape} must match the images {images.shape[:3]}")
    model = _classifier(backbone, head)
    x = _inputs(backbone, images)
    small = _resize_masks(masks.astype(np.uint8), x.shape[-2:])
    n = len(images)
    scores = np.zeros((n, N_CLASSES), np.float32)
    present = np.zeros((n, N_CLASSES), bool)
    target, p_full = np.zeros(n, np.int64), np.zeros(n, np.float32)
    saliency = np.zeros((n, *small.shape[1:]), np.float32)
    with torch.inference_mode():
        for i in range(n):
            prob = model(x[i:i + 1]).softmax(1)[0]
            target[i] = int(prob.argmax())
            p_full[i] = float(prob[target[i]])
            onehot = torch.from_numpy(np.stack([small[i] == c for c in range(N_CLASSES)]).astype(np.float32))
            present[i] = onehot.flatten(1).any(1).numpy()
            p = model(x[i:i + 1] * onehot[:, None]).softmax(1)[:, target[i]]
            s = torch.relu(p) * torch.from_numpy(present[i])
            scores[i] = s.numpy()
            saliency[i] = _minmax((s[:, None, None] * onehot).sum(0).numpy())
    return {"saliency": _to_image_size(saliency, images.shape[1:3]), "scores": scores, "present": present,
            "target": target, "p_full": p_full}


@runcache.memoized("fserasing/gradcam")
def gradcam(backbone, head, images: np.ndarray, target=None) -> np.ndarray:
    """Grad-CAM maps (N, H, W) in [0, 1] (pytorch-grad-cam, layer4) for ``target`` (default: predicted)."""
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    images = np.asarray(images)
    model = _classifier(backbone, head)
    x = _inputs(backbone, images)
    if target is None:
        with torch.inference_mode():
            target = model(x).argmax(1).numpy()
    with GradCAM(model=model, target_layers=[backbone.layer4]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in target])
    return np.clip(_to_image_size(np.asarray(maps), images.shape[1:3]), 0, 1)


def class_importance(scores: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean s_c over the images where class c is present (NaN where never present), shape (25,)."""
    scores, present = np.asarray(scores, float), np.asarray(present, bool)
    counts = present.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (scores * present).sum(0) / np.maximum(counts, 1), np.nan)
