"""lib.inpaint.model and lib.inpaint.losses: the published shapes, parameter counts and loss values."""

from __future__ import annotations

import pytest
import torch

from lib.inpaint import losses
from lib.inpaint.model import VARIANTS, Discriminator, VNet, count_parameters, create_generator


def test_published_parameter_counts():
    # published (lib/inpaint/published.py): generator 26.06 M, discriminator 7.38 M (256 px); ours within 0.05 %
    assert count_parameters(VNet(width=1.0)) == 26_046_595
    assert count_parameters(Discriminator(256)) == 7_378_564


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_shapes_and_range(name):
    torch.manual_seed(0)
    g = create_generator(name, width=0.05, size=32).eval()
    x = torch.rand(2, g.in_channels, 32, 32)
    y = g(x)
    assert y.shape == (2, 3, 32, 32) and y.min() >= 0 and y.max() <= 1
    assert g.train_size == 32 and g.multiple == 16


def test_paste_keeps_known_pixels_exactly():
    g = create_generator("gan_masked", width=0.05).eval()
    x = torch.rand(1, 4, 16, 16)
    x[:, 3] = 0
    x[:, 3, 4:8, 4:8] = 1
    y = g(x)
    known = x[:, 3:4].expand(-1, 3, -1, -1) == 0
    assert torch.equal(y[known], x[:, :3][known])
    assert not torch.equal(y[~known], x[:, :3][~known])


def test_discriminator_logits_shape():
    d = Discriminator(32, width=0.05).eval()
    assert d(torch.rand(3, 3, 32, 32)).shape == (3,)
    p = d.predict_proba(torch.rand(3, 3, 32, 32))
    assert ((p > 0) & (p < 1)).all()


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="multiples of 16"):
        VNet(width=0.05)(torch.rand(1, 3, 24, 24))
    with pytest.raises(ValueError, match=r"\(B, 3, S, S\)"):
        VNet(width=0.05)(torch.rand(1, 4, 16, 16))
    with pytest.raises(ValueError, match="in_channels=4"):
        VNet(paste=True)
    with pytest.raises(ValueError, match="gan_masked"):
        create_generator("pix2pix")
    with pytest.raises(ValueError, match="multiple of 16"):
        Discriminator(40)
    with pytest.raises(ValueError, match="built for 32x32"):
        Discriminator(32, width=0.05)(torch.rand(1, 3, 16, 16))


def test_label_smoothing_matches_keras():
    assert losses.smooth(1.0) == 0.875 and losses.smooth(0.0) == 0.125
    logits = torch.tensor([0.3, -1.2])
    p = torch.sigmoid(logits)
    bce = lambda t: -(t * p.log() + (1 - t) * (1 - p).log()).mean()  # noqa: E731
    assert torch.allclose(losses.bce_logits(logits, 1.0), bce(0.875))
    expected = 0.5 * (bce(0.875) + bce(0.125))
    assert torch.allclose(losses.discriminator_loss(logits, logits), expected)


def test_pixel_loss_sum_quirk_is_mean_times_pixels():
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    mean, total = losses.pixel_loss(a, b, "mean"), losses.pixel_loss(a, b, "sum")
    assert torch.allclose(total, mean * 2 * 8 * 8)
    assert torch.allclose(mean, ((a - b) ** 2).mean())
    with pytest.raises(ValueError, match="reduction"):
        losses.pixel_loss(a, b, "max")
    with pytest.raises(ValueError, match="differ in shape"):
        losses.pixel_loss(a, b[:1])


def test_generator_loss_weights():
    out, tgt = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    no_d = losses.generator_loss(None, out, tgt)
    assert torch.allclose(no_d["total"], torch.tensor(100 * 0.25)) and no_d["adversarial"] == 0
    with_d = losses.generator_loss(torch.zeros(2), out, tgt)
    assert torch.allclose(with_d["total"], with_d["adversarial"] + 25.0)
