"""dlib's face recognition ResNet read into PyTorch gives dlib's own descriptors; damaged files are named."""

import numpy as np
import pytest

from lib.faces import dlib_resnet
from lib.faces.assets import asset_path
from lib.speed.dlib_resnet import lfw_chips


@pytest.fixture(scope="module")
def net():
    return dlib_resnet.load_dlib_resnet()


def test_port_equals_dlib_on_real_chips(net):
    dlib = pytest.importorskip("dlib")
    chips = lfw_chips(6, seed=1)
    native = dlib.face_recognition_model_v1(str(asset_path("dlib_resnet")))
    ref = np.array([np.array(native.compute_face_descriptor(c)) for c in chips], np.float32)
    ours = dlib_resnet.describe(net, chips, batch_size=4)  # two batches, the second partial
    assert ours.shape == (6, 128)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    # real, different faces: the check above is not comparing constants
    assert np.linalg.norm(ref[0] - ref[1]) > 0.1


def test_embedder_backends_agree():
    from lib.data.real_photos import lfw_crops
    from lib.faces.embed import create_embedder
    from lib.recognition.embedders import embed

    crops = lfw_crops(4)
    a = embed(create_embedder("dlib"), crops)
    b = embed(create_embedder("dlib", backend="dlib"), crops)
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="unknown dlib backend"):
        create_embedder("dlib", backend="onnx")


def test_add_padded_is_dlibs_add_prev():
    import torch

    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 4, 4, 4), 2.0)
    out = dlib_resnet.add_padded(a, b)
    assert out.shape == (1, 4, 4, 4)
    assert out[0, 0, 0, 0] == 3 and out[0, 1, 2, 2] == 3  # both present
    assert out[0, 0, 3, 3] == 2 and out[0, 3, 0, 0] == 2  # only b: a is zero-padded at the end


def test_layout_read_from_the_file():
    layers = dlib_resnet.read_layers(asset_path("dlib_resnet"))
    convs = [ints for kind, _, ints in layers if kind == "con"]
    assert len(convs) == 29 and convs[0] == (32, 7, 7, 2, 2, 0, 0)
    assert [kind for kind, _, _ in layers][-1] == "fc"


def test_wrong_and_damaged_files_are_named(tmp_path):
    other = tmp_path / "shape_predictor.dat"
    other.write_bytes(asset_path("dlib_5").read_bytes()[:4096])
    with pytest.raises(dlib_resnet.DlibModelError, match="shape_predictor.dat"):
        dlib_resnet.load_dlib_resnet(other)
    cut = tmp_path / "cut.dat"
    cut.write_bytes(asset_path("dlib_resnet").read_bytes()[:200_000])  # stops inside a conv's weights
    with pytest.raises(dlib_resnet.DlibModelError, match="cut.dat.*past the end"):
        dlib_resnet.load_dlib_resnet(cut)
    with pytest.raises(ValueError, match="150, 150, 3"):
        dlib_resnet.dlib_chips_to_tensor(np.zeros((2, 112, 112, 3), np.uint8))
