"""The face parser of FSErasing: a U-Net with a ResNet-18 encoder, 25 classes.

Published (docs/fserasing.md, README "Face parsing model"): U-Net whose encoder is a
ResNet-18 (stem 3x3 stride 1, four stages of two BasicBlocks), transposed-conv decoder with
skips, 1x1 conv to 25 classes; trained on 88,084 aligned 112x112 FaceSynthetics images.

Ours: ``segmentation_models_pytorch.Unet("resnet18", encoder_weights=None)`` (nothing
downloads). Departures, and why:
- smp's ResNet-18 keeps torchvision's stem (7x7 stride 2 + max-pool) and its decoder upsamples
  by interpolation + convs instead of transposed convs: the maintained implementation, the same
  encoder stages and skips.
- Input ``cfg.input_size`` (a multiple of 32, smp's requirement): 96 on the default profile, 128
  on ``full``; the logits are resized back to the crop size (bilinear) before the argmax.
- A decoder 2x narrower than smp's default on the default profile, (128, 64, 32, 32, 16); ``full``
  uses smp's default widths.
- 5 epochs of synth_facesynthetics' 6,000 training images on the default profile. Measured on its 600
  held-out images (1 CPU thread each, two trainings side by side): 64 px, decoder (64, 32, 16, 16, 8),
  3 epochs: mIoU 0.579, eyes 0.28 / 0.14 (286 s); 96 px, same decoder, 3 epochs: 0.636, eyes 0.42 / 0.44,
  brows 0.44 / 0.44 (498 s); 5 epochs: 0.677, brows 0.47 / 0.47, mouth 0.51 (694 s); 96 px with the
  (128, 64, 32, 32, 16) decoder, 3 epochs: 0.671, eyes 0.53 / 0.56, brows 0.48 / 0.48, mouth 0.48
  (495 s); 128 px, narrow decoder, 2 epochs: 0.617 (500 s). Small parts need the resolution, the
  decoder's width at full resolution and the steps together.
- AdamW 2e-3, batch 8, cosine schedule, pixel-wise cross-entropy (the paper's optimiser is not published).

Evaluation: per-class IoU and mIoU over the classes present in the ground truth or the
prediction of the evaluation set, or (``over="truth"``, 03_fserasing's parser scores) over the classes
present in the ground truth only (classes the engine never produces, e.g. glasses, do not count).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from lib import runcache

N_CLASSES = 25


@dataclass(frozen=True)
class ParserConfig:
    """Defaults-plus-changes: every field has the default-profile value."""

    encoder: str = "resnet18"
    input_size: int = 96  # multiple of 32; full profile: 128
    decoder_channels: tuple = (128, 64, 32, 32, 16)  # 2x narrower than smp's (256, 128, 64, 32, 16) (full): CPU
    epochs: int = 5
    batch_size: int = 8  # small batches: more steps for the same CPU time (a scratch U-Net needs steps)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    max_images: int | None = None  # training images drawn (seeded) from the split; None = all
    hflip: bool = True  # flipped images get flipped labels with right/left classes swapped
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    amp: bool = True  # bfloat16 autocast on CUDA (lib.device.autocast); no effect on CPU

    def __post_init__(self):
        if self.input_size % 32:
            raise ValueError(f"ParserConfig.input_size must be a multiple of 32 (U-Net strides), "
                             f"got {self.input_size}")

    def key(self) -> dict:
        d = asdict(self)
        d.pop("device"), d.pop("threads"), d.pop("amp")
        d["decoder_channels"] = list(d["decoder_channels"])
        return d


def _swap_table() -> np.ndarray:
    """Class id after a horizontal flip: subject-right classes become subject-left ones."""
    from lib.fserasing.labels import ID

    table = np.arange(N_CLASSES, dtype=np.uint8)
    for part in ("cheek", "chin", "forehead", "eye", "brow", "ear"):
        r, l_ = ID[f"right_{part}"], ID[f"left_{part}"]
        table[r], table[l_] = l_, r
    r, l_ = ID["around_right_eye"], ID["around_left_eye"]
    table[r], table[l_] = l_, r
    return table


FLIP_CLASSES = _swap_table()


def flip_labels(labels: np.ndarray) -> np.ndarray:
    """Mirror label maps (..., H, W) and swap right/left classes (what a mirrored face shows)."""
    return FLIP_CLASSES[np.asarray(labels)[..., ::-1]]


def create_parser(cfg: ParserConfig = ParserConfig()):
    """The U-Net of ``cfg`` (random init, no download)."""
    import segmentation_models_pytorch as smp

    return smp.Unet(cfg.encoder, encoder_weights=None, in_channels=3, classes=N_CLASSES,
                    decoder_channels=tuple(cfg.decoder_channels))


def _to_input(images: np.ndarray, size: int, device):
    import torch
    import torch.nn.functional as F

    images = np.ascontiguousarray(images)
    if not images.flags.writeable:
        images = images.copy()
    x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return (x - 127.5) / 127.5


def _to_target(labels: np.ndarray, size: int, device):
    import torch
    import torch.nn.functional as F

    y = torch.from_numpy(np.ascontiguousarray(labels)).to(device)
    if y.shape[-1] != size:
        y = F.interpolate(y[:, None].float(), size=(size, size), mode="nearest")[:, 0]
    return y.long()


def _check(images, labels=None):
    if getattr(images, "dtype", None) != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {getattr(images, 'dtype', None)} "
                         f"{getattr(images, 'shape', None)}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != images.shape[:3] or labels.dtype != np.uint8 or labels.max(initial=0) >= N_CLASSES:
            raise ValueError(f"labels must be uint8 (N, H, W) = {images.shape[:3]} with ids < {N_CLASSES}, "
                             f"got {labels.dtype} {labels.shape}")


def parser_step(cfg: ParserConfig, model, opt, x, y, lr: float, where: str) -> float:
    """One AdamW step at ``lr`` on the device tensors ``x`` (B, 3, S, S) and ``y`` (B, S, S) class ids:
    pixel-wise cross-entropy (bfloat16 autocast on CUDA when ``cfg.amp``); the loss."""
    import torch.nn.functional as F

    from lib.device import autocast
    from lib.recognition.train import checked_step

    for g in opt.param_groups:
        g["lr"] = lr
    with autocast(x.device, cfg.amp):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y)
    checked_step(opt, loss, where, cfg.lr)
    return loss.item()


def train_parser(cfg: ParserConfig, images, labels, *, progress: bool = False):
    """Train the parser on uint8 ``images`` (N, H, W, 3) and ``labels`` (N, H, W). Returns (model, history)."""
    import torch
    from tqdm import tqdm

    from lib.allocator import keep_freed_memory
    from lib.device import select_device
    from lib.seeding import numpy_rng, seed_everything

    _check(images, labels)
    seed_everything(cfg.seed, threads=cfg.threads)
    keep_freed_memory()  # each step's buffers stay mapped: fewer page faults, the same numbers
    device = select_device(cfg.device)
    rows = np.arange(len(images))
    if cfg.max_images is not None and cfg.max_images < len(rows):
        rows = np.sort(numpy_rng(cfg.seed, "parser_subset").choice(rows, cfg.max_images, replace=False))
    model = create_parser(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(rows) // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    history, step = [], 0
    bar = tqdm(total=total, desc="parser", disable=not progress)
    for epoch in range(cfg.epochs):
        order = rows[numpy_rng(cfg.seed, "parser_epoch", epoch).permutation(len(rows))]
        model.train()
        loss_sum = 0.0
        for b in range(steps_per_epoch):
            idx = np.sort(order[b * cfg.batch_size:(b + 1) * cfg.batch_size])
            img, lab = np.asarray(images[idx]), np.asarray(labels[idx])
            if cfg.hflip:
                flip = numpy_rng(cfg.seed, "parser_step", step).random(len(idx)) < 0.5
                img, lab = img.copy(), lab.copy()
                img[flip], lab[flip] = img[flip, :, ::-1], flip_labels(lab[flip])
            x, y = _to_input(img, cfg.input_size, device), _to_target(lab, cfg.input_size, device)
            loss = parser_step(cfg, model, opt, x, y, cfg.lr * 0.5 * (1 + math.cos(math.pi * step / total)),
                               f"parser training, step {step}")
            loss_sum += loss
            step += 1
            bar.update(1)
        history.append({"epoch": epoch + 1, "loss": loss_sum / steps_per_epoch})
    bar.close()
    model.eval()
    return model.cpu(), history


def train_parser_cached(cfg: ParserConfig, images, labels, *, data_key, progress: bool = False):
    """``train_parser`` once per (config, data) under runs/fserasing/parser/<hash>/; then loaded."""
    import torch

    from lib import io

    key = {"parser": cfg.key(), "data": data_key}
    trained = {}

    def build(tmp):
        model, history = train_parser(cfg, images, labels, progress=progress)
        torch.save(model.state_dict(), tmp / "parser.pt")
        io.write_json(tmp / "history.json", history)
        trained["model"] = model

    out = runcache.cached("fserasing/parser", key, build)
    if "model" in trained:
        return trained["model"]
    model = create_parser(cfg)
    model.load_state_dict(torch.load(out / "parser.pt", map_location="cpu", weights_only=True))
    return model.eval()


@runcache.memoized("fserasing/predicted")
def predict(model, images, *, input_size: int, batch_size: int = 128, device=None) -> np.ndarray:
    """Class ids (N, H, W) uint8 of uint8 crops (N, H, W, 3), at the crops' size."""
    import torch
    import torch.nn.functional as F

    images = np.asarray(images)
    _check(images)
    device = device or next(model.parameters()).device
    h, w = images.shape[1:3]
    out = []
    with torch.inference_mode():
        for s in range(0, len(images), batch_size):
            logits = model(_to_input(images[s:s + batch_size], input_size, device))
            if logits.shape[-2:] != (h, w):
                logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            out.append(logits.argmax(1).to(torch.uint8).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, h, w), np.uint8)


def predict_cached(model, cfg: ParserConfig, images, *, data_key, parser_key) -> np.ndarray:
    """``predict`` of every image, cached under runs/fserasing/masks/ (the training-set masks of
    FSErasing, precomputed once as the published ``_estimate_masks``; there the softmax is cast to
    uint8 by mistake, here the argmax is stored)."""
    key = {"data": data_key, "parser": parser_key}
    return runcache.cached_arrays("fserasing/masks", key,
                                  lambda: {"masks": predict(model, images, input_size=cfg.input_size)})["masks"]


def confusion(pred, true, n_classes: int = N_CLASSES) -> np.ndarray:
    """(n_classes, n_classes) pixel counts, rows = true class, columns = predicted class."""
    pred, true = np.asarray(pred), np.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have one shape, got {pred.shape} and {true.shape}")
    idx = true.astype(np.int64).ravel() * n_classes + pred.astype(np.int64).ravel()
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def iou_scores(pred, true, n_classes: int = N_CLASSES, over: str = "any") -> dict:
    """Per-class IoU and their mean ``miou``. ``over="any"``: every class present in the truth or the
    prediction (NaN for classes absent from both); ``"truth"``: only the classes the ground truth holds
    (NaN for the others; a class predicted where the truth has none still lowers the IoU of the classes
    it covers): the mIoU "over the classes the data set produces"."""
    if over not in ("any", "truth"):
        raise ValueError(f"over must be 'any' or 'truth'; got {over!r}")
    cm = confusion(pred, true, n_classes)
    inter = np.diag(cm).astype(float)
    union = cm.sum(0) + cm.sum(1) - np.diag(cm)
    counted = (cm.sum(1) > 0) if over == "truth" else (union > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(counted, inter / np.maximum(union, 1), np.nan)
    return {"iou": iou, "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
            "pixel_acc": float(inter.sum() / max(cm.sum(), 1))}
