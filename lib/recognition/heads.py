"""Margin heads: embeddings and labels in, cross-entropy loss and logits out.

Used by notebooks 01_fra (ArcFace, CosFace, MagFace), 04_lowres (CosFace, SphereFace, ArcFace,
adaptive ArcFace) and the training loop ``lib.recognition.train``.

    head = create_head("arcface", 512, num_classes)                # the registry's defaults
    head = create_head("arcface", 512, num_classes, m=0.35)        # caller kwargs override them
    out = head(embeddings, labels)                                 # HeadOutput(loss, logits, cos)
    out = create_head("adaptive_arcface", 512, n)(emb, labels, margins)   # margins: (B,)

Every head normalises the embeddings (``eps``, so a zero embedding gives cosine 0, not NaN) and
the class weights, clamps cosines to ``[-1 + eps, 1 - eps]`` before ``acos`` and applies its
margin to the target column only. ``HeadOutput.logits`` are the scaled logits fed to
``F.cross_entropy``; ``HeadOutput.cos`` the plain cosines (argmax = predicted class);
``HeadOutput.loss`` includes any regulariser (MagFace ``g``). Formulas: docs/heads.md and
docs/lowres.md; the sources are cited at each class.

Choices between variants of the originals (each is a keyword, so either form can be had):

- Class weights are one ``(num_classes, embedding_size)`` parameter, xavier-normal initialised
  as in the low-resolution project's heads (and the SphereFace prototxt's ``xavier`` filler);
  arcface_torch's Partial FC uses normal(0, 0.01), MagFace/AdaFace uniform(-1, 1) renormed to
  unit columns. The weights are normalised inside the graph (arcface_torch, MagFace, AdaFace),
  not re-projected in place each step as the low-res code does (``w.data = normalize(w)``).
- ArcFace ``detach_margin=True`` (default): the margin is applied to the forward value only and
  the gradient is that of the plain normalised-softmax logit ``s * cos`` (straight-through):
  what arcface_torch's CombinedMarginLoss does since Dec 2022 (``arccos_``/``cos_`` under
  ``torch.no_grad``) and what the low-res code does (``d_theta`` under ``no_grad``).
  ``detach_margin=False`` gives the paper's exact gradient (the 2018 insightface form).
  MagFace and AdaFace keep their originals' differentiable margins (MagFace needs the margin's
  gradient with respect to the feature norm).
- ArcFace for theta + m > pi (where cos(theta + m) would rise again): ``easy_margin=False``,
  ``overflow="linear"`` (default) is the older insightface fallback ``cos - sin(pi - m) * m``
  whenever ``cos <= cos(pi - m)``; ``overflow="clamp"`` clamps theta + m to pi (the low-res
  code, used by the ``arcface_lowres`` and ``adaptive_arcface`` entries); ``overflow="none"``
  leaves cos(theta + m) as it is (current arcface_torch); ``easy_margin=True`` applies the margin
  only where cos > 0 (MagFace's default, kept for ``magface``).
- CosFace m = 0.4 (arcface_torch's CosFace default and configs ``margin_list=(1, 0, 0.4)``);
  the low-res project's s=30, m=0.35 is the ``cosface_lowres`` entry.
- SphereFace: the original A-Softmax (Caffe ``MarginInnerProduct``, QUADRUPLE): the feature norm
  is kept (no ``s``), psi(theta) = (-1)^k cos(m theta) - 2k, target
  ``||x|| (lambda cos + psi) / (1 + lambda)`` with lambda = max(lambda_min,
  base (1 + gamma it)^-power), ``it`` counted from 1 at the first training forward (Caffe
  increments before use). Gradients come from autograd, not Caffe's hand-normalised backward.
  (clcarwin/sphereface_pytorch anneals differently: max(5, 1500 / (1 + 0.1 it)).)
- ``sphereface_lowres``: the low-res code's s * cos(m theta) with m = 0.35 < 1, which raises the
  target logit (cos(0.35 theta) >= cos(theta)): a negative margin, one reason it performed
  poorly. The code also multiplied the logits by ``torch.linalg.norm(feats)``, the Frobenius norm
  of the whole batch (batch-size dependent); off by default, ``frobenius_scale=True`` restores it.
- AdaFace: with batch size 1 the batch std is undefined; the running std is then left unchanged
  (the original would write NaN). Running statistics update in ``train()`` mode only.
- Passing ``margins`` to a head that does not take them is an error (it would be ignored).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

EPS = 1e-6  # embedding-normalisation eps and cosine clamp before acos (float32-safe)
OVERFLOW_MODES = ("linear", "clamp", "none")


@dataclass
class HeadOutput:
    """What a head returns. ``extras`` holds detached monitoring values (e.g. MagFace ``g``)."""

    loss: Tensor  # scalar: cross-entropy on ``logits`` plus any regulariser
    logits: Tensor  # (B, C) scaled logits with the margin applied, fed to cross-entropy
    cos: Tensor  # (B, C) plain cosines between normalised embeddings and class weights
    extras: dict[str, Tensor] = field(default_factory=dict)


# ------------------------------------------------------------------------------ formulas

def arc_target(cos_y: Tensor, m: Tensor | float, *, easy_margin: bool = False, overflow: str = "linear",
               eps: float = EPS) -> Tensor:
    """cos(theta_y + m) with the chosen handling of theta_y + m > pi (see the module docstring).

    ``m`` is a float or a tensor broadcastable to ``cos_y`` (per-sample margins).
    """
    c = cos_y.clamp(-1 + eps, 1 - eps)
    m = torch.as_tensor(m, dtype=c.dtype, device=c.device)
    theta = torch.acos(c)
    if overflow == "clamp" and not easy_margin:
        return torch.cos(torch.clamp(theta + m, max=math.pi))
    phi = torch.cos(theta + m)
    if easy_margin:
        return torch.where(c > 0, phi, c)
    if overflow == "linear":
        return torch.where(c > torch.cos(math.pi - m), phi, c - torch.sin(math.pi - m) * m)
    return phi  # "none"


def sphereface_psi(cos: Tensor, m: int, eps: float = EPS) -> Tensor:
    """psi(theta) = (-1)^k cos(m theta) - 2k, k = floor(m theta / pi) (SphereFace, A-Softmax).

    cos(m theta) is the Chebyshev polynomial T_m(cos) (as the Caffe layer), so the gradient
    never goes through ``acos``; k is piecewise constant and computed without gradient.
    """
    c = cos.clamp(-1 + eps, 1 - eps)
    t_prev, t = torch.ones_like(c), c
    if m == 0:
        t = t_prev
    for _ in range(m - 1):
        t_prev, t = t, 2 * c * t - t_prev
    with torch.no_grad():
        k = torch.floor(m * torch.acos(c) / math.pi)
        sign = 1 - 2 * torch.remainder(k, 2)
    return sign * t - 2 * k


def sphereface_lambda(iteration: int, base: float = 1000.0, gamma: float = 0.12, power: float = 1.0,
                      lambda_min: float = 5.0) -> float:
    """The A-Softmax annealing weight: max(lambda_min, base * (1 + gamma * iteration)^-power)."""
    return max(lambda_min, base * (1.0 + gamma * iteration) ** (-power))


def magface_margin(a: Tensor, l_a: float, u_a: float, l_m: float, u_m: float) -> Tensor:
    """MagFace m(a) = (u_m - l_m) / (u_a - l_a) * (a - l_a) + l_m, for a already clamped."""
    return (u_m - l_m) / (u_a - l_a) * (a - l_a) + l_m


def magface_g(a: Tensor, u_a: float) -> Tensor:
    """MagFace regulariser g(a) = a / u_a^2 + 1 / a."""
    return a / u_a ** 2 + 1.0 / a


# ------------------------------------------------------------------------------ base class

class MarginHead(nn.Module):
    """Base: a normalised class-weight matrix, cosines, cross-entropy on ``self.logits``.

    Args:
        embedding_size: dimension D of the embeddings.
        num_classes: number of identities C.
        **hparams: none here; subclasses declare theirs as keyword arguments.

    Subclasses implement ``logits(embeddings, cos, labels, margins) -> (logits, regulariser,
    extras)``; ``regulariser`` is a scalar added to the loss, or None.
    """

    takes_margins = False  # True: forward requires per-sample ``margins`` of shape (B,)

    def __init__(self, embedding_size: int, num_classes: int, **hparams):
        super().__init__()
        if hparams:
            raise TypeError(f"{type(self).__name__} got unknown hyper-parameters {sorted(hparams)}")
        if embedding_size < 1 or num_classes < 1:
            raise ValueError(f"embedding_size and num_classes must be >= 1, got {embedding_size}, {num_classes}")
        self.embedding_size, self.num_classes = int(embedding_size), int(num_classes)
        self.weight = nn.Parameter(torch.empty(self.num_classes, self.embedding_size))
        nn.init.xavier_normal_(self.weight)  # as the low-res project's heads and the SphereFace prototxt
        self.hparams: dict[str, Any] = {}

    def cosine(self, embeddings: Tensor) -> Tensor:
        """(B, C) cosines between the embeddings and the class weights."""
        return F.normalize(embeddings, dim=1, eps=EPS) @ F.normalize(self.weight, dim=1, eps=EPS).t()

    def logits(self, embeddings: Tensor, cos: Tensor, labels: Tensor, margins: Tensor | None):
        raise NotImplementedError

    def forward(self, embeddings: Tensor, labels: Tensor, margins: Tensor | None = None) -> HeadOutput:
        name = type(self).__name__
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_size:
            raise ValueError(f"{name}: embeddings must be (B, {self.embedding_size}), got {tuple(embeddings.shape)}")
        if labels.shape != embeddings.shape[:1]:
            raise ValueError(f"{name}: labels must be ({embeddings.shape[0]},), got {tuple(labels.shape)}")
        if margins is not None:
            if not self.takes_margins:
                raise ValueError(f"{name} takes no per-sample margins; use 'adaptive_arcface' for them")
            margins = torch.as_tensor(margins, dtype=torch.float32, device=embeddings.device)
            if margins.shape != labels.shape:
                raise ValueError(f"{name}: margins must be ({labels.shape[0]},), got {tuple(margins.shape)}")
        elif self.takes_margins:
            raise ValueError(f"{name} needs per-sample margins: head(embeddings, labels, margins) with margins "
                             f"of shape (B,) = ({labels.shape[0]},), e.g. from a batch_hook returning "
                             f"(images, margins)")
        embeddings = embeddings.to(self.weight.dtype)
        labels = labels.long()
        cos = self.cosine(embeddings)
        logits, reg, extras = self.logits(embeddings, cos, labels, margins)
        loss = F.cross_entropy(logits, labels)
        if reg is not None:
            extras = {"ce": loss.detach(), **extras}
            loss = loss + reg
        return HeadOutput(loss, logits, cos, extras)

    @staticmethod
    def _replace_target(cos: Tensor, labels: Tensor, target: Tensor) -> Tensor:
        """``cos`` with column ``labels[i]`` of row i replaced by ``target[i]`` (differentiable)."""
        return cos.scatter(1, labels[:, None], target[:, None].to(cos.dtype))

    def extra_repr(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.hparams.items())
        return f"embedding_size={self.embedding_size}, num_classes={self.num_classes}" + (f", {hp}" if hp else "")


def _target_cos(cos: Tensor, labels: Tensor) -> Tensor:
    return cos.gather(1, labels[:, None]).squeeze(1)


# ------------------------------------------------------------------------------ heads

class SoftmaxHead(MarginHead):
    """Plain linear classifier with bias and cross-entropy (no normalisation, no margin).

    ``logits`` = x W^T + b; ``cos`` = normalised cosines of the same W (for monitoring).
    Initialised as ``nn.Linear`` (kaiming-uniform weight, uniform bias).
    """

    def __init__(self, embedding_size: int, num_classes: int):
        super().__init__(embedding_size, num_classes)
        self.bias = nn.Parameter(torch.empty(self.num_classes))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.embedding_size)
        nn.init.uniform_(self.bias, -bound, bound)

    def logits(self, embeddings, cos, labels, margins):
        return F.linear(embeddings, self.weight, self.bias), None, {}


class ArcFaceHead(MarginHead):
    """ArcFace (Deng et al. 2019; insightface arcface_torch CombinedMarginLoss m1=1, m2=m, m3=0).

    Target logit s * cos(theta_y + m), other logits s * cos(theta_j).

    Args:
        s: scale (64).
        m: additive angular margin (0.5; the low-res project used 0.35).
        easy_margin: margin only where cos > 0 (MagFace's choice); overrides ``overflow``.
        overflow: theta + m > pi handling, one of "linear" (cos - sin(pi - m) m, older
            insightface; default), "clamp" (theta + m clamped to pi, low-res code), "none"
            (current arcface_torch).
        detach_margin: straight-through margin (gradient of s * cos), as arcface_torch since
            Dec 2022 and the low-res code; False for the exact gradient of s * cos(theta + m).
    """

    def __init__(self, embedding_size: int, num_classes: int, s: float = 64.0, m: float = 0.5,
                 easy_margin: bool = False, overflow: str = "linear", detach_margin: bool = True):
        super().__init__(embedding_size, num_classes)
        if overflow not in OVERFLOW_MODES:
            raise ValueError(f"overflow must be one of {OVERFLOW_MODES}, got {overflow!r}")
        self.s, self.m = float(s), float(m)
        self.easy_margin, self.overflow, self.detach_margin = bool(easy_margin), overflow, bool(detach_margin)
        self.hparams = {"s": self.s, "m": self.m, "easy_margin": self.easy_margin, "overflow": overflow,
                        "detach_margin": self.detach_margin}

    def margin(self, labels: Tensor, margins: Tensor | None) -> Tensor | float:
        return self.m

    def logits(self, embeddings, cos, labels, margins):
        cos_y = _target_cos(cos, labels)
        phi = arc_target(cos_y, self.margin(labels, margins), easy_margin=self.easy_margin, overflow=self.overflow)
        target = cos_y + (phi - cos_y).detach() if self.detach_margin else phi
        return self.s * self._replace_target(cos, labels, target), None, {}


class AdaptiveArcFaceHead(ArcFaceHead):
    """ArcFace with a per-sample margin m_i (low-res project, AdaptiveArcFace; s=64).

    ``forward(embeddings, labels, margins)``: ``margins`` (B,) is required (Approach1: 0.5 for
    low-resolution samples, 0.35 for high; Approach2: 1 / mean|Laplacian|). Other arguments as
    ``ArcFaceHead`` (the registry entry uses the low-res code's ``overflow="clamp"``).
    """

    takes_margins = True

    def __init__(self, embedding_size: int, num_classes: int, s: float = 64.0, easy_margin: bool = False,
                 overflow: str = "linear", detach_margin: bool = True):
        super().__init__(embedding_size, num_classes, s=s, m=float("nan"), easy_margin=easy_margin,
                         overflow=overflow, detach_margin=detach_margin)
        del self.hparams["m"]

    def margin(self, labels, margins):
        return margins.to(labels.device)


class CosFaceHead(MarginHead):
    """CosFace / large-margin cosine loss (arcface_torch m3): target s * (cos_y - m).

    Args:
        s: scale (64; the low-res project used 30).
        m: additive cosine margin (0.4 as arcface_torch; the low-res project used 0.35).
    """

    def __init__(self, embedding_size: int, num_classes: int, s: float = 64.0, m: float = 0.4):
        super().__init__(embedding_size, num_classes)
        self.s, self.m = float(s), float(m)
        self.hparams = {"s": self.s, "m": self.m}

    def logits(self, embeddings, cos, labels, margins):
        return self.s * self._replace_target(cos, labels, _target_cos(cos, labels) - self.m), None, {}


class SphereFaceHead(MarginHead):
    """SphereFace A-Softmax as the original Caffe MarginInnerProduct layer (wy1iu/sphereface).

    Logits keep the feature norm: f_j = ||x|| cos_j (j != y) and
    f_y = ||x|| (lambda cos_y + psi(theta_y)) / (1 + lambda), psi as ``sphereface_psi``.
    lambda anneals with the number of training forwards (buffer ``iteration``, saved in the
    state dict so a resumed run continues the schedule); eval-mode forwards do not advance it.

    Args:
        m: integer multiplicative angular margin (4, the QUADRUPLE type).
        base, gamma, power, lambda_min: the annealing of the prototxt (1000, 0.12, 1, 5).
    """

    def __init__(self, embedding_size: int, num_classes: int, m: int = 4, base: float = 1000.0,
                 gamma: float = 0.12, power: float = 1.0, lambda_min: float = 5.0):
        super().__init__(embedding_size, num_classes)
        if int(m) != m or m < 1:
            raise ValueError(f"SphereFace m must be a positive integer, got {m} (for a fractional angle "
                             f"multiplier use 'sphereface_lowres')")
        self.m, self.base, self.gamma, self.power, self.lambda_min = int(m), float(base), float(gamma), \
            float(power), float(lambda_min)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        self.hparams = {"m": self.m, "base": self.base, "gamma": self.gamma, "power": self.power,
                        "lambda_min": self.lambda_min}

    @property
    def lambda_(self) -> float:
        """lambda at the current ``iteration``."""
        return sphereface_lambda(int(self.iteration), self.base, self.gamma, self.power, self.lambda_min)

    def logits(self, embeddings, cos, labels, margins):
        if self.training:
            self.iteration += 1
        lam = self.lambda_
        norm = torch.linalg.vector_norm(embeddings, dim=1)
        cos_y = _target_cos(cos, labels)
        target = (lam * cos_y + sphereface_psi(cos_y, self.m)) / (1 + lam)
        logits = norm[:, None] * self._replace_target(cos, labels, target)
        return logits, None, {"lambda": torch.tensor(lam)}


class SphereFaceLowResHead(MarginHead):
    """The low-res project's SphereFace: target s * cos(m theta_y), m = 0.35 (non-standard).

    With m < 1 the target logit goes up (a negative margin); see the module docstring.

    Args:
        s: scale (32).
        m: angle multiplier (0.35).
        frobenius_scale: also multiply all logits by the Frobenius norm of the batch's raw
            embeddings, as the original code did (``torch.linalg.norm(feats)``).
    """

    def __init__(self, embedding_size: int, num_classes: int, s: float = 32.0, m: float = 0.35,
                 frobenius_scale: bool = False):
        super().__init__(embedding_size, num_classes)
        self.s, self.m, self.frobenius_scale = float(s), float(m), bool(frobenius_scale)
        self.hparams = {"s": self.s, "m": self.m, "frobenius_scale": self.frobenius_scale}

    def logits(self, embeddings, cos, labels, margins):
        cos_y = _target_cos(cos, labels).clamp(-1 + EPS, 1 - EPS)
        logits = self.s * self._replace_target(cos, labels, torch.cos(self.m * torch.acos(cos_y)))
        if self.frobenius_scale:
            logits = logits * torch.linalg.norm(embeddings)
        return logits, None, {}


class MagFaceHead(MarginHead):
    """MagFace (IrvingMeng/MagFace models/magface.py MagLinear + MagLoss).

    a = clamp(||f||, l_a, u_a); m(a) linear from l_m (a = l_a) to u_m (a = u_a); target
    s * cos(theta_y + m(a)) (margin differentiable in a, as the original);
    loss = CE + lambda_g * mean(g(a)), g(a) = a / u_a^2 + 1 / a.

    Args:
        s: scale (64).
        l_a, u_a: feature-norm range (10, 110).
        l_m, u_m: margin range (0.45, 0.8).
        lambda_g: weight of the regulariser (20; the repository's run.sh uses 35).
        easy_margin: margin only where cos > 0 (True, the original's default).
        overflow: handling of theta + m > pi when ``easy_margin=False`` (the original: "linear").
    """

    def __init__(self, embedding_size: int, num_classes: int, s: float = 64.0, l_a: float = 10.0,
                 u_a: float = 110.0, l_m: float = 0.45, u_m: float = 0.8, lambda_g: float = 20.0,
                 easy_margin: bool = True, overflow: str = "linear"):
        super().__init__(embedding_size, num_classes)
        if not 0 < l_a < u_a:
            raise ValueError(f"MagFace needs 0 < l_a < u_a, got l_a={l_a}, u_a={u_a}")
        if overflow not in OVERFLOW_MODES:
            raise ValueError(f"overflow must be one of {OVERFLOW_MODES}, got {overflow!r}")
        self.s, self.l_a, self.u_a, self.l_m, self.u_m, self.lambda_g = map(float, (s, l_a, u_a, l_m, u_m, lambda_g))
        self.easy_margin, self.overflow = bool(easy_margin), overflow
        self.hparams = {"s": self.s, "l_a": self.l_a, "u_a": self.u_a, "l_m": self.l_m, "u_m": self.u_m,
                        "lambda_g": self.lambda_g, "easy_margin": self.easy_margin, "overflow": overflow}

    def logits(self, embeddings, cos, labels, margins):
        a = torch.linalg.vector_norm(embeddings, dim=1).clamp(self.l_a, self.u_a)
        m = magface_margin(a, self.l_a, self.u_a, self.l_m, self.u_m)
        target = arc_target(_target_cos(cos, labels), m, easy_margin=self.easy_margin, overflow=self.overflow)
        g = magface_g(a, self.u_a).mean()
        return (self.s * self._replace_target(cos, labels, target), self.lambda_g * g,
                {"g": g.detach(), "a": a.detach(), "margin": m.detach()})


class AdaFaceHead(MarginHead):
    """AdaFace (mk-minchul/AdaFace head.py): a norm-adaptive angular plus additive margin.

    norms = clip(||z||, 0.001, 100), detached; running mean/std (buffers ``batch_mean``,
    ``batch_std``, init 20 and 100) updated in train mode with momentum ``t_alpha`` *before*
    use, as the original; zhat = clip(h (norm - mean) / (std + eps), -1, 1); target
    s * [cos(clip(theta_y - m zhat, eps, pi - eps)) - (m + m zhat)]; cosines clamped to
    [-1 + eps, 1 - eps] with the original's eps = 1e-3.

    Args:
        s: scale (64).  m: margin (0.4).  h: concentration (0.333; 68% of zhat in [-h, h]).
        t_alpha: momentum of the running statistics (0.01, the training default).
        eps: the original's 1e-3.
    """

    def __init__(self, embedding_size: int, num_classes: int, s: float = 64.0, m: float = 0.4,
                 h: float = 0.333, t_alpha: float = 0.01, eps: float = 1e-3):
        super().__init__(embedding_size, num_classes)
        self.s, self.m, self.h, self.t_alpha, self.eps = map(float, (s, m, h, t_alpha, eps))
        self.register_buffer("batch_mean", torch.full((1,), 20.0))
        self.register_buffer("batch_std", torch.full((1,), 100.0))
        self.hparams = {"s": self.s, "m": self.m, "h": self.h, "t_alpha": self.t_alpha, "eps": self.eps}

    def logits(self, embeddings, cos, labels, margins):
        norms = torch.linalg.vector_norm(embeddings, dim=1).clamp(0.001, 100).detach()
        if self.training:
            with torch.no_grad():
                self.batch_mean.mul_(1 - self.t_alpha).add_(self.t_alpha * norms.mean())
                if norms.numel() > 1:
                    self.batch_std.mul_(1 - self.t_alpha).add_(self.t_alpha * norms.std())
        zhat = (self.h * (norms - self.batch_mean) / (self.batch_std + self.eps)).clamp(-1, 1)
        cos = cos.clamp(-1 + self.eps, 1 - self.eps)
        theta_y = torch.acos(_target_cos(cos, labels))
        theta_m = (theta_y - self.m * zhat).clamp(self.eps, math.pi - self.eps)
        target = torch.cos(theta_m) - (self.m + self.m * zhat)
        return self.s * self._replace_target(cos, labels, target), None, {"zhat": zhat, "norms": norms}


# ------------------------------------------------------------------------------ registry

HEADS: dict[str, type] = {}
HEAD_DEFAULTS: dict[str, dict[str, Any]] = {}


def _hparam_names(cls) -> list[str]:
    params = list(inspect.signature(cls.__init__).parameters.values())[3:]  # self, embedding_size, num_classes
    return [p.name for p in params if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD]


def _check_hparams(name: str, cls, kwargs) -> None:
    allowed = _hparam_names(cls)
    bad = sorted(set(kwargs) - set(allowed))
    if bad:
        raise TypeError(f"head {name!r} ({cls.__name__}) has no hyper-parameter(s) {', '.join(bad)}; "
                        f"it takes: {', '.join(allowed) or '(none)'}")


def register_head(name: str, cls: type, **defaults) -> None:
    """Register ``cls`` under ``name`` with ``defaults`` overriding the class's own defaults."""
    if name in HEADS:
        raise ValueError(f"head {name!r} is already registered")
    _check_hparams(name, cls, defaults)
    HEADS[name], HEAD_DEFAULTS[name] = cls, dict(defaults)


def head_names() -> list[str]:
    """The registered head names, sorted."""
    return sorted(HEADS)


def head_hparams(name: str) -> dict[str, Any]:
    """The effective default hyper-parameters of head ``name`` (class defaults + registry)."""
    cls = _lookup(name)
    sig = inspect.signature(cls.__init__).parameters
    return {**{k: sig[k].default for k in _hparam_names(cls)}, **HEAD_DEFAULTS[name]}


def _lookup(name: str) -> type:
    try:
        return HEADS[name]
    except KeyError:
        raise ValueError(f"unknown head {name!r}; choose one of: {', '.join(head_names())}") from None


def create_head(name: str, embedding_size: int, num_classes: int, **overrides) -> MarginHead:
    """Build head ``name``; ``overrides`` replace the registered defaults (unknown keys: TypeError)."""
    cls = _lookup(name)
    kwargs = {**HEAD_DEFAULTS[name], **overrides}
    _check_hparams(name, cls, kwargs)
    return cls(embedding_size, num_classes, **kwargs)


register_head("softmax", SoftmaxHead)
register_head("arcface", ArcFaceHead)                                   # s=64, m=0.5 (insightface)
register_head("arcface_lowres", ArcFaceHead, m=0.35, overflow="clamp")  # low-res project, s=64
register_head("adaptive_arcface", AdaptiveArcFaceHead, overflow="clamp")  # low-res, per-sample m_i
register_head("cosface", CosFaceHead)                                   # s=64, m=0.4 (arcface_torch)
register_head("cosface_lowres", CosFaceHead, s=30.0, m=0.35)            # low-res project
register_head("sphereface", SphereFaceHead)                             # original A-Softmax, m=4
register_head("sphereface_lowres", SphereFaceLowResHead)                # low-res: s=32, cos(0.35 theta)
register_head("magface", MagFaceHead)
register_head("adaface", AdaFaceHead)
