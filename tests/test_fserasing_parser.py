"""lib.fserasing.parser: the U-Net/ResNet-18 parser, flips of label maps, IoU."""

from __future__ import annotations

import numpy as np
import pytest

from lib.fserasing import labels as L
from lib.fserasing import parser as P


def test_config_needs_a_multiple_of_32():
    with pytest.raises(ValueError, match="multiple of 32"):
        P.ParserConfig(input_size=112)
    assert "device" not in P.ParserConfig().key()


def test_flip_swaps_right_and_left_and_is_an_involution():
    assert L.CLASSES[P.FLIP_CLASSES[L.ID["right_cheek"]]] == "left_cheek"
    assert L.CLASSES[P.FLIP_CLASSES[L.ID["around_left_eye"]]] == "around_right_eye"
    assert P.FLIP_CLASSES[L.ID["nose"]] == L.ID["nose"]
    assert np.array_equal(P.FLIP_CLASSES[P.FLIP_CLASSES], np.arange(25))
    lab = np.zeros((1, 2, 4), np.uint8)
    lab[0, :, 0] = L.ID["right_eye"]
    assert (P.flip_labels(lab)[0, :, 3] == L.ID["left_eye"]).all()


def test_iou_known_values():
    true = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1]])
    s = P.iou_scores(pred, true, n_classes=3)
    assert np.allclose(s["iou"][:2], [1 / 2, 2 / 3]) and np.isnan(s["iou"][2])
    assert s["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2) and s["pixel_acc"] == 0.75
    assert P.iou_scores(true, true, n_classes=3)["miou"] == 1.0
    with pytest.raises(ValueError, match="one shape"):
        P.iou_scores(pred[:, :2], true)
    stray = np.array([[0, 2, 1, 1]])  # class 2 predicted where the truth has none
    anyc, truth = P.iou_scores(stray, true, n_classes=3), P.iou_scores(stray, true, n_classes=3, over="truth")
    assert anyc["iou"][2] == 0 and np.isnan(truth["iou"][2]) and truth["iou"][0] == pytest.approx(1 / 2)
    assert truth["miou"] == pytest.approx((1 / 2 + 1) / 2) and anyc["miou"] == pytest.approx((1 / 2 + 1) / 3)
    with pytest.raises(ValueError, match="over"):
        P.iou_scores(pred, true, over="both")


def test_parser_predicts_class_maps_at_the_crop_size():
    model = P.create_parser(P.ParserConfig(input_size=32, decoder_channels=(16, 8, 8, 8, 8))).eval()
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    out = P.predict(model, images, input_size=32, batch_size=2)
    assert out.shape == (3, 40, 40) and out.dtype == np.uint8 and out.max() < 25
    with pytest.raises(ValueError, match="uint8"):
        P.predict(model, images.astype(np.float32), input_size=64)


def test_training_lowers_the_loss_on_a_tiny_set():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    labels = np.zeros((4, 32, 32), np.uint8)
    labels[:, :16] = L.ID["hair"]
    images[:, :16] = 250  # hair is bright: learnable
    cfg = P.ParserConfig(input_size=32, decoder_channels=(16, 8, 8, 8, 8), epochs=3, batch_size=4, max_images=None,
                         lr=3e-3, hflip=False, device="cpu")
    model, history = P.train_parser(cfg, images, labels)
    assert len(history) == 3 and history[-1]["loss"] < history[0]["loss"]
    with pytest.raises(ValueError, match="labels must be uint8"):
        P.train_parser(cfg, images, labels.astype(np.int64))


def test_per_class_bars_draws_the_target_and_a_legend_below():
    from lib.fserasing import labels
    from lib.fserasing.plots import per_class_bars

    values = {"nose": {"held-out": 0.8, "kdef": 0.7}, "mouth": {"held-out": np.nan, "kdef": 0.45}}
    fig = per_class_bars(values, labels.PALETTE, "IoU", target=0.5)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["target 0.5", "held-out", "kdef"]
    assert any(np.allclose(line.get_xdata(), 0.5) for line in ax.get_lines())
    assert ax.get_legend().get_bbox_to_anchor().y0 < ax.get_window_extent().y0  # below the axes
    assert "absent" in [t.get_text() for t in ax.texts]
