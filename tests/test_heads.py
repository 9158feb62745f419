"""Margin heads: hand-computed logits and losses from each paper's formula, not just shapes.

The tiny case: 2-D embeddings and three classes whose weights are unit vectors at known angles,
so every theta is a difference of angles and the expected logits follow from math/numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lib.recognition import heads as H

ANGLES = [0.0, 1.5, 3.0]  # class weight directions (radians)
PI = math.pi


def make(name, **overrides):
    head = H.create_head(name, 2, len(ANGLES), **overrides)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[math.cos(a), math.sin(a)] for a in ANGLES]))
    return head


def emb(phis, norms=1.0):
    norms = np.broadcast_to(np.asarray(norms, float), (len(phis),))
    return torch.tensor([[r * math.cos(p), r * math.sin(p)] for p, r in zip(phis, norms)], dtype=torch.float32)


def cosines(phis):
    return np.array([[math.cos(p - a) for a in ANGLES] for p in phis])


def ce(logits, labels):
    logits = np.asarray(logits, float)
    lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    return float(np.mean(lse - logits[np.arange(len(labels)), labels]))


def expected(cos, labels, targets, scale):
    """Scaled logits: ``cos`` with the label column of each row replaced by ``targets``."""
    out = np.array(cos, float)
    out[np.arange(len(labels)), labels] = targets
    return np.asarray(scale, float).reshape(-1, 1) * out if np.ndim(scale) else scale * out


def check(out, logits, loss, rtol=1e-5, atol=1e-4):
    np.testing.assert_allclose(out.logits.detach().numpy(), logits, rtol=rtol, atol=atol)
    assert out.loss.ndim == 0
    assert out.loss.item() == pytest.approx(loss, rel=1e-5, abs=1e-5)


# ------------------------------------------------------------------------------ ArcFace

def test_arcface_target_and_overflow_fallback():
    # sample 0: theta_y = 0.3 (ordinary); sample 1: theta_y = 2.9, theta_y + 0.5 > pi
    phis, y = [0.3, 2.9], [0, 0]
    cos = cosines(phis)
    t0 = math.cos(0.3 + 0.5)
    variants = {
        "linear": math.cos(2.9) - math.sin(PI - 0.5) * 0.5,  # default: older insightface fallback
        "clamp": -1.0,  # low-res code: theta + m clamped to pi
        "none": math.cos(2.9 + 0.5),  # current arcface_torch: no handling
    }
    for overflow, t1 in variants.items():
        head = make("arcface", overflow=overflow)
        logits = expected(cos, y, [t0, t1], 64.0)
        check(head(emb(phis), torch.tensor(y)), logits, ce(logits, y))
    assert H.head_hparams("arcface")["overflow"] == "linear" and not H.head_hparams("arcface")["easy_margin"]
    # easy margin: only where cos > 0, so sample 1 keeps its plain cosine
    logits = expected(cos, y, [t0, math.cos(2.9)], 64.0)
    check(make("arcface", easy_margin=True)(emb(phis), torch.tensor(y)), logits, ce(logits, y))
    # arcface_lowres: s=64, m=0.35, clamp
    phis2, y2 = [1.2, 2.0], [1, 2]
    cos2 = cosines(phis2)
    logits = expected(cos2, y2, [math.cos(0.3 + 0.35), math.cos(1.0 + 0.35)], 64.0)
    check(make("arcface_lowres")(emb(phis2), torch.tensor(y2)), logits, ce(logits, y2))


def _arcface_grad(phi, r, y, m, s, exact):
    """d loss / d x for one sample by hand: dL/dcos_j = s (p_j - 1[j=y]) (* dphi/dcos at y)."""
    x = np.array([r * math.cos(phi), r * math.sin(phi)])
    w = np.array([[math.cos(a), math.sin(a)] for a in ANGLES])
    c = w @ x / r
    theta = math.acos(c[y])
    z = c.copy()
    z[y] = math.cos(theta + m)
    p = np.exp(s * z - (s * z).max())
    p /= p.sum()
    d = s * (p - np.eye(len(ANGLES))[y])
    if exact:
        d[y] *= math.sin(theta + m) / math.sin(theta)
    dcos_dx = w / r - np.outer(w @ x, x) / r ** 3
    return d @ dcos_dx


@pytest.mark.parametrize("detach", [True, False])
def test_arcface_gradient_straight_through_or_exact(detach):
    head = make("arcface", detach_margin=detach, s=8.0)
    x = emb([0.7], 2.0).requires_grad_(True)
    head(x, torch.tensor([1])).loss.backward()
    np.testing.assert_allclose(x.grad.numpy()[0], _arcface_grad(0.7, 2.0, 1, 0.5, 8.0, exact=not detach),
                               rtol=1e-4, atol=1e-5)


def test_adaptive_arcface_equals_arcface_with_each_margin():
    phis, y, margins = [0.3, 2.0], [0, 2], [0.5, 0.35]
    head = make("adaptive_arcface")
    out = head(emb(phis), torch.tensor(y), torch.tensor(margins))
    targets = [math.cos(0.3 + 0.5), math.cos(1.0 + 0.35)]
    logits = expected(cosines(phis), y, targets, 64.0)
    check(out, logits, ce(logits, y))
    for i, m in enumerate(margins):
        ref = make("arcface", m=m, overflow="clamp")(emb(phis), torch.tensor(y))
        torch.testing.assert_close(out.logits[i], ref.logits[i])
    # the overflow handling of the registry entry is the low-res code's clamp
    out = head(emb([2.9]), torch.tensor([0]), torch.tensor([0.5]))
    assert out.logits[0, 0].item() == pytest.approx(-64.0, abs=1e-3)


def test_margins_required_or_refused():
    head = make("adaptive_arcface")
    with pytest.raises(ValueError, match=r"needs per-sample margins.*shape \(B,\)"):
        head(emb([0.1, 0.2]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"margins must be \(2,\)"):
        head(emb([0.1, 0.2]), torch.tensor([0, 1]), torch.tensor([0.3]))
    with pytest.raises(ValueError, match="takes no per-sample margins.*adaptive_arcface"):
        make("arcface")(emb([0.1]), torch.tensor([0]), torch.tensor([0.3]))


# ------------------------------------------------------------------------------ CosFace, softmax

@pytest.mark.parametrize("name,s,m", [("cosface", 64.0, 0.4), ("cosface_lowres", 30.0, 0.35)])
def test_cosface(name, s, m):
    phis, y = [0.3, 2.0, 4.0], [0, 2, 1]
    cos = cosines(phis)
    logits = expected(cos, y, cos[np.arange(3), y] - m, s)
    check(make(name)(emb(phis, [1.0, 5.0, 0.2]), torch.tensor(y)), logits, ce(logits, y))


def test_softmax_is_a_plain_linear_layer():
    head = make("softmax")
    with torch.no_grad():
        head.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    phis, norms, y = [0.3, 2.0], [2.0, 0.5], [0, 2]
    out = head(emb(phis, norms), torch.tensor(y))
    logits = cosines(phis) * np.array(norms)[:, None] + np.array([0.1, -0.2, 0.3])
    check(out, logits, ce(logits, y))
    np.testing.assert_allclose(out.cos.detach().numpy(), cosines(phis), atol=1e-6)


# ------------------------------------------------------------------------------ SphereFace

def test_sphereface_psi_regions():
    thetas = np.array([0.5, 1.0, 1.8, 2.6])  # k = floor(4 theta / pi) = 0, 1, 2, 3
    k = np.floor(4 * thetas / PI)
    assert list(k) == [0, 1, 2, 3]
    want = (-1) ** k * np.cos(4 * thetas) - 2 * k
    got = H.sphereface_psi(torch.tensor(np.cos(thetas), dtype=torch.float32), 4).numpy()
    np.testing.assert_allclose(got, want, atol=2e-5)
    # psi is continuous and decreasing across the region borders (it is built to be)
    grid = torch.linspace(0.999, -0.999, 2001)
    assert (H.sphereface_psi(grid, 4).diff() < 0).all()


def test_sphereface_head_keeps_the_feature_norm():
    phis, norms, y = [0.5, 2.0, 3.0 + 1.8], [3.0, 0.5, 2.0], [0, 0, 2]  # theta_y = 0.5, 2.0, 1.8
    cos = cosines(phis)
    thetas = np.array([0.5, 2.0, 1.8])
    k = np.floor(4 * thetas / PI)
    psi = (-1) ** k * np.cos(4 * thetas) - 2 * k
    # lambda forced to 0: the target logit is ||x|| psi(theta_y)
    head = make("sphereface", base=0.0, lambda_min=0.0)
    logits = expected(cos, y, psi, np.array(norms))
    check(head(emb(phis, norms), torch.tensor(y)), logits, ce(logits, y), atol=2e-4)
    # default schedule, first training forward: lambda = 1000 / (1 + 0.12)
    head = make("sphereface").train()
    lam = 1000 / 1.12
    logits = expected(cos, y, (lam * cos[np.arange(3), y] + psi) / (1 + lam), np.array(norms))
    out = head(emb(phis, norms), torch.tensor(y))
    check(out, logits, ce(logits, y))
    assert out.extras["lambda"].item() == pytest.approx(lam)


def test_sphereface_lambda_schedule():
    assert H.sphereface_lambda(0) == 1000.0
    assert H.sphereface_lambda(1) == pytest.approx(1000 / 1.12)
    assert H.sphereface_lambda(1000) == pytest.approx(1000 / 121)
    assert H.sphereface_lambda(2000) == 5.0  # 1000 / 241 < lambda_min
    assert H.sphereface_lambda(10, base=100, gamma=0.5, power=2, lambda_min=0) == pytest.approx(100 / 36)
    head = make("sphereface").train()
    x, y = emb([0.2, 1.0]), torch.tensor([0, 1])
    for _ in range(3):
        head(x, y)
    assert int(head.iteration) == 3 and head.lambda_ == pytest.approx(1000 / 1.36)
    head.eval()
    head(x, y)
    assert int(head.iteration) == 3  # evaluation does not advance the schedule
    again = H.create_head("sphereface", 2, 3)
    again.load_state_dict(head.state_dict())
    assert int(again.iteration) == 3  # a resumed run continues the schedule


def test_sphereface_lowres():
    phis, norms, y = [0.3, 2.0], [2.0, 0.5], [0, 2]
    cos = cosines(phis)
    targets = [math.cos(0.35 * 0.3), math.cos(0.35 * 1.0)]
    logits = expected(cos, y, targets, 32.0)
    check(make("sphereface_lowres")(emb(phis, norms), torch.tensor(y)), logits, ce(logits, y))
    # the original's batch Frobenius-norm factor, on request
    fro = math.sqrt(sum(r * r for r in norms))
    logits = logits * fro
    check(make("sphereface_lowres", frobenius_scale=True)(emb(phis, norms), torch.tensor(y)), logits,
          ce(logits, y), atol=1e-3)
    assert targets[0] > cos[0, 0] and targets[1] > cos[1, 2]  # m < 1 raises the target: a negative margin


# ------------------------------------------------------------------------------ MagFace

def test_magface_margin_regions_and_regulariser():
    l_a, u_a, l_m, u_m = 10.0, 110.0, 0.45, 0.8
    norms = [5.0, 60.0, 200.0, 60.0]  # below l_a, between, above u_a; last: cos_y < 0
    a = np.clip(norms, l_a, u_a)
    assert list(a) == [10.0, 60.0, 110.0, 60.0]
    m = (u_m - l_m) / (u_a - l_a) * (a - l_a) + l_m
    assert m[0] == pytest.approx(0.45) and m[1] == pytest.approx(0.625) and m[2] == pytest.approx(0.8)
    phis, y = [0.3, 1.5 + 0.3, 3.0 - 0.3, 2.0], [0, 1, 2, 0]
    cos = cosines(phis)
    targets = [math.cos(0.3 + m[0]), math.cos(0.3 + m[1]), math.cos(0.3 + m[2]), math.cos(2.0)]  # easy margin
    logits = expected(cos, y, targets, 64.0)
    g = a / u_a ** 2 + 1 / a
    out = make("magface")(emb(phis, norms), torch.tensor(y))
    check(out, logits, ce(logits, y) + 20.0 * g.mean())
    assert out.extras["g"].item() == pytest.approx(g.mean())
    assert out.extras["ce"].item() == pytest.approx(ce(logits, y), rel=1e-5)
    np.testing.assert_allclose(out.extras["margin"].numpy(), m, rtol=1e-6)
    # without easy margin the cos < 0 sample gets its margin too (theta + m < pi here)
    out = make("magface", easy_margin=False)(emb(phis, norms), torch.tensor(y))
    assert out.logits[3, 0].item() == pytest.approx(64 * math.cos(2.0 + m[3]), abs=1e-3)


def test_magface_margin_gets_gradient_from_the_norm():
    x = emb([0.3], 60.0).requires_grad_(True)
    make("magface", lambda_g=0.0)(x, torch.tensor([0])).loss.backward()
    radial = (x.grad @ x.detach().t()).item()  # gradient along x: only through a = ||x||
    assert radial > 0  # a larger norm -> larger margin -> larger loss (without g)


# ------------------------------------------------------------------------------ AdaFace

def _adaface_targets(thetas, zhat, s=64.0, m=0.4, eps=1e-3):
    return s * (np.cos(np.clip(np.asarray(thetas) - m * zhat, eps, PI - eps)) - (m + m * zhat))


def test_adaface_zhat_clipping_and_margin():
    head = make("adaface", h=10.0).eval()
    norms = np.array([0.0, 25.0, 100.0, 150.0])  # 0 -> clipped to 0.001; 150 -> clipped to 100
    safe = np.clip(norms, 0.001, 100)
    zhat = np.clip(10.0 * (safe - 20.0) / (100.0 + 1e-3), -1, 1)
    assert list(zhat[[0, 2, 3]]) == [-1.0, 1.0, 1.0] and -1 < zhat[1] < 1
    # theta_y = pi/2 (a zero embedding has cosine 0 with every class), 1.0, 0.2 (0.2 - 0.4 < 0:
    # clipped to eps), 0.5
    phis, y = [0.3, 1.0, 0.2, 2.0], [0, 0, 0, 1]
    thetas = [PI / 2, 1.0, 0.2, 0.5]
    cos = np.clip(cosines(phis), -1 + 1e-3, 1 - 1e-3)
    cos[0] = 0.0
    out = head(emb(phis, norms), torch.tensor(y))
    logits = 64.0 * cos
    logits[np.arange(4), y] = _adaface_targets(thetas, zhat)
    check(out, logits, ce(logits, y))
    np.testing.assert_allclose(out.extras["zhat"].numpy(), zhat, rtol=1e-5)
    assert logits[2, 0] == pytest.approx(64 * (math.cos(1e-3) - 0.8))


def test_adaface_running_stats_update_in_train_mode_only():
    head = make("adaface")
    x, y = emb([0.3, 1.0], [10.0, 50.0]), torch.tensor([0, 1])
    head.eval()
    head(x, y)
    assert head.batch_mean.item() == 20.0 and head.batch_std.item() == 100.0
    head.train()
    out = head(x, y)
    mean = 0.01 * 30.0 + 0.99 * 20.0
    std = 0.01 * np.std([10.0, 50.0], ddof=1) + 0.99 * 100.0  # unbiased std, as torch.std
    assert head.batch_mean.item() == pytest.approx(mean) and head.batch_std.item() == pytest.approx(std)
    # the updated statistics are the ones used (update before use, as the original)
    zhat = np.clip(0.333 * (np.array([10.0, 50.0]) - mean) / (std + 1e-3), -1, 1)
    np.testing.assert_allclose(out.extras["zhat"].numpy(), zhat, rtol=1e-5)
    cos = np.clip(cosines([0.3, 1.0]), -1 + 1e-3, 1 - 1e-3)
    logits = 64.0 * cos
    logits[[0, 1], [0, 1]] = _adaface_targets([0.3, 0.5], zhat)
    check(out, logits, ce(logits, [0, 1]))
    head(emb([0.3], 10.0), torch.tensor([0]))  # batch of one: std undefined, kept
    assert torch.isfinite(head.batch_std).all() and head.batch_std.item() == pytest.approx(std)
    assert {"batch_mean", "batch_std"} <= set(head.state_dict())


# ------------------------------------------------------------------------------ every head

def _call(head, x, y):
    return head(x, y, torch.full((len(y),), 0.4)) if head.takes_margins else head(x, y)


@pytest.mark.parametrize("name", H.head_names())
def test_zero_norm_embeddings_are_finite(name):
    head = make(name).train()
    x = torch.tensor([[0.0, 0.0], [1.0, 0.5], [0.0, 0.0]], requires_grad=True)
    out = _call(head, x, torch.tensor([0, 1, 2]))
    assert torch.isfinite(out.loss) and torch.isfinite(out.logits).all() and torch.isfinite(out.cos).all()
    out.loss.backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(head.weight.grad).all()


@pytest.mark.parametrize("name", H.head_names())
def test_outputs_and_gradients_reach_embeddings_and_weights(name):
    torch.manual_seed(0)
    head = H.create_head(name, 8, 5).train()
    x = (torch.randn(6, 8) * 5).requires_grad_(True)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    out = _call(head, x, y)
    assert out.loss.ndim == 0 and out.logits.shape == out.cos.shape == (6, 5)
    plain = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(head.weight, dim=1).t()
    torch.testing.assert_close(out.cos, plain)
    out.loss.backward()
    assert x.grad.abs().sum() > 0 and head.weight.grad.abs().sum() > 0


def test_shape_errors_are_clear():
    head = make("arcface")
    with pytest.raises(ValueError, match=r"embeddings must be \(B, 2\)"):
        head(torch.zeros(3, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels must be \(3,\)"):
        head(torch.ones(3, 2), torch.tensor([0, 1]))


# ------------------------------------------------------------------------------ registry

def test_registry_create_override_and_errors():
    assert {"softmax", "arcface", "cosface", "sphereface", "sphereface_lowres", "magface", "adaface",
            "adaptive_arcface", "arcface_lowres", "cosface_lowres"} <= set(H.head_names())
    assert H.head_names() == sorted(H.HEADS)
    assert isinstance(H.create_head("arcface", 4, 3), H.ArcFaceHead)
    default = H.create_head("arcface", 4, 3)
    assert (default.s, default.m, default.detach_margin) == (64.0, 0.5, True)
    assert H.create_head("cosface", 4, 3).m == 0.4
    low = H.create_head("cosface_lowres", 4, 3)
    assert (low.s, low.m) == (30.0, 0.35)
    assert H.create_head("cosface_lowres", 4, 3, m=0.2).m == 0.2  # caller overrides the entry
    mag = H.head_hparams("magface")
    assert (mag["l_a"], mag["u_a"], mag["l_m"], mag["u_m"], mag["lambda_g"], mag["s"], mag["easy_margin"]) == \
        (10.0, 110.0, 0.45, 0.8, 20.0, 64.0, True)
    ada = H.head_hparams("adaface")
    assert (ada["m"], ada["h"], ada["s"], ada["t_alpha"]) == (0.4, 0.333, 64.0, 0.01)
    assert H.head_hparams("sphereface_lowres")["s"] == 32.0 and H.head_hparams("sphereface")["m"] == 4
    with pytest.raises(ValueError, match=r"unknown head 'arcfase'; choose one of: .*arcface.*sphereface"):
        H.create_head("arcfase", 4, 3)
    with pytest.raises(TypeError, match=r"'cosface' .* no hyper-parameter\(s\) margin; it takes: s, m"):
        H.create_head("cosface", 4, 3, margin=0.3)
    with pytest.raises(ValueError, match="already registered"):
        H.register_head("arcface", H.ArcFaceHead)
    with pytest.raises(ValueError, match="overflow must be one of"):
        H.create_head("arcface", 4, 3, overflow="wrap")
    with pytest.raises(ValueError, match="positive integer"):
        H.create_head("sphereface", 4, 3, m=0.35)


def test_xavier_init_for_margin_heads():
    torch.manual_seed(0)
    w = H.create_head("arcface", 256, 512).weight
    assert w.std().item() == pytest.approx(math.sqrt(2.0 / (256 + 512)), rel=0.05)
