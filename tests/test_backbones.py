"""Backbones: original state-dict layouts, registry, preprocessing, checkpoints, embed()."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from lib.recognition import backbones as B
from lib.recognition.backbones import CheckpointError, Preprocess, create_backbone, load_checkpoint, preprocess
from lib.recognition.embedders import embed


# ------------------------------------------------ expected layouts, transcribed from the originals

def _bn(name, c):
    return {f"{name}.weight": (c,), f"{name}.bias": (c,), f"{name}.running_mean": (c,),
            f"{name}.running_var": (c,), f"{name}.num_batches_tracked": ()}


def arcface_iresnet_keys(layers, num_features=512, fc_scale=7 * 7):
    """insightface arcface_torch backbones/iresnet.py IResNet (MagFace models/iresnet.py: same)."""
    k = {"conv1.weight": (64, 3, 3, 3), **_bn("bn1", 64), "prelu.weight": (64,)}
    inplanes = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        for b in range(blocks):
            p = f"layer{i}.{b}"
            k.update(_bn(f"{p}.bn1", inplanes))
            k[f"{p}.conv1.weight"] = (planes, inplanes, 3, 3)
            k.update(_bn(f"{p}.bn2", planes))
            k[f"{p}.prelu.weight"] = (planes,)
            k[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            k.update(_bn(f"{p}.bn3", planes))
            if b == 0:  # _make_layer: stride 2 -> downsample = Sequential(conv1x1, BN)
                k[f"{p}.downsample.0.weight"] = (planes, inplanes, 1, 1)
                k.update(_bn(f"{p}.downsample.1", planes))
            inplanes = planes
    k.update(_bn("bn2", 512))
    k.update({"fc.weight": (num_features, 512 * fc_scale), "fc.bias": (num_features,)})
    k.update(_bn("features", num_features))
    return k


def facex_zoo_resnet_ir_keys(units=(3, 4, 14, 3), feat_dim=512, out_h=7, out_w=7):
    """FaceX-Zoo backbone/ResNets.py Resnet(50, drop, 'ir'): input_layer, output_layer, body."""
    k = {"input_layer.0.weight": (64, 3, 3, 3), **_bn("input_layer.1", 64), "input_layer.2.weight": (64,)}
    k.update(_bn("output_layer.0", 512))
    k.update({"output_layer.3.weight": (feat_dim, 512 * out_h * out_w), "output_layer.3.bias": (feat_dim,)})
    k.update(_bn("output_layer.4", feat_dim))
    n, cin = 0, 64
    for depth, count in zip((64, 128, 256, 512), units):
        for u in range(count):
            i, p = (cin, 2) if u == 0 else (depth, 1)
            if i != depth:  # else MaxPool2d(1, stride): no parameters
                k[f"body.{n}.shortcut_layer.0.weight"] = (depth, i, 1, 1)
                k.update(_bn(f"body.{n}.shortcut_layer.1", depth))
            k.update(_bn(f"body.{n}.res_layer.0", i))
            k[f"body.{n}.res_layer.1.weight"] = (depth, i, 3, 3)
            k[f"body.{n}.res_layer.2.weight"] = (depth,)
            k[f"body.{n}.res_layer.3.weight"] = (depth, depth, 3, 3)
            k.update(_bn(f"body.{n}.res_layer.4", depth))
            n += 1
        cin = depth
    return k


def cosface_sphere20_keys():
    """MuggleWang CosFace_pytorch net.py sphere(type=20): layer{i} = [Conv(bias), PReLU, Block...]."""
    k, f = {}, [3, 64, 128, 256, 512]
    for i, blocks in enumerate((1, 2, 4, 1), start=1):
        k.update({f"layer{i}.0.weight": (f[i], f[i - 1], 3, 3), f"layer{i}.0.bias": (f[i],),
                  f"layer{i}.1.weight": (f[i],)})
        for b in range(2, 2 + blocks):
            k.update({f"layer{i}.{b}.conv1.weight": (f[i], f[i], 3, 3), f"layer{i}.{b}.prelu1.weight": (f[i],),
                      f"layer{i}.{b}.conv2.weight": (f[i], f[i], 3, 3), f"layer{i}.{b}.prelu2.weight": (f[i],)})
    return {**k, "fc.weight": (512, 512 * 7 * 6), "fc.bias": (512,)}


def sphereface_sphere20a_keys():
    """clcarwin sphereface_pytorch net_sphere.py sphere20a: conv{s}_{j} + relu{s}_{j}, fc5 (fc6 left out)."""
    k, f = {}, [3, 64, 128, 256, 512]
    for s, convs in enumerate((3, 5, 9, 3), start=1):
        for j in range(1, convs + 1):
            cin = f[s - 1] if j == 1 else f[s]
            k.update({f"conv{s}_{j}.weight": (f[s], cin, 3, 3), f"conv{s}_{j}.bias": (f[s],),
                      f"relu{s}_{j}.weight": (f[s],)})
    return {**k, "fc5.weight": (512, 512 * 7 * 6), "fc5.bias": (512,)}


def _meta(name, **kw):
    with torch.device("meta"):
        return create_backbone(name, **kw)


def _layout(model):
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


@pytest.mark.parametrize("name,expected", [
    ("iresnet18", arcface_iresnet_keys((2, 2, 2, 2))),
    ("iresnet34", arcface_iresnet_keys((3, 4, 6, 3))),
    ("iresnet50", arcface_iresnet_keys((3, 4, 14, 3))),
    ("iresnet100", arcface_iresnet_keys((3, 13, 30, 3))),
    ("magface_iresnet100", arcface_iresnet_keys((3, 13, 30, 3))),
    ("resnet50_ir", facex_zoo_resnet_ir_keys()),
    ("sphere20", cosface_sphere20_keys()),
    ("sphere20a", sphereface_sphere20a_keys()),
])
def test_state_dict_layout_matches_original(name, expected):
    assert _layout(_meta(name)) == list(expected.items())  # names, shapes and order


def test_original_details():
    arc, mag = _meta("iresnet100"), _meta("magface_iresnet100")
    assert arc.fc.in_features == 512 * 7 * 7 and arc.embedding_size == 512
    assert arc.bn1.eps == 1e-5 and mag.bn1.eps == 2e-5 and mag.features.eps == 2e-5
    assert not arc.features.weight.requires_grad and mag.features.weight.requires_grad
    ir = _meta("resnet50_ir")
    assert isinstance(ir.body[0].shortcut_layer, torch.nn.MaxPool2d) and ir.output_layer[1].p == 0.4
    assert B.Sphere20a.ignore_checkpoint_keys == ("fc6.",)


# ------------------------------------------------------------------------------- registry

@pytest.mark.parametrize("name", B.backbone_names())
def test_every_backbone_builds_with_its_contract(name):
    model = _meta(name)
    spec = B.get_preprocess(model)
    assert model.backbone_name == name and spec.input_size == model.input_size
    out = model.eval()(torch.empty(2, 3, *spec.input_size, device="meta"))
    assert tuple(out.shape) == (2, model.embedding_size)


@pytest.mark.parametrize("name", ["iresnet_tiny", "sphere20", "resnet50_ir", "sphere20a"])
def test_fc_follows_input_size(name):
    for size, cells in [(56, 4 * 4), ((72, 60), 5 * 4), (112, 7 * 7), ((112, 96), 7 * 6)]:
        model = create_backbone(name, input_size=size, layers=(1, 1, 1, 1), width=4, embedding_size=32).eval()
        fc = {"iresnet_tiny": "fc", "sphere20": "fc", "sphere20a": "fc5"}.get(name)
        linear = getattr(model, fc) if fc else model.output_layer[3]
        assert linear.in_features == 8 * 4 * cells and linear.out_features == 32
        assert model(torch.zeros(3, 3, *model.input_size)).shape == (3, 32)


def test_tiny_variant_runs_on_cpu():
    torch.manual_seed(0)
    model = create_backbone("iresnet_tiny", embedding_size=96, input_size=56)
    assert model.preprocess_spec.input_size == (56, 56) and model.layer1[0].conv1.out_channels == 16
    model.train()
    y = model(torch.randn(4, 3, 56, 56))
    y.pow(2).mean().backward()
    assert y.shape == (4, 96) and model.conv1.weight.grad is not None
    ir = create_backbone("resnet50_ir", layers=(1, 1, 1, 1), width=8, input_size=32).eval()
    assert torch.allclose(ir(torch.randn(2, 3, 32, 32)).norm(dim=1), torch.ones(2), atol=1e-5)


def test_registry_errors_and_overrides():
    with pytest.raises(ValueError, match=r"unknown backbone 'r50'; choose from \[.*'iresnet50'"):
        create_backbone("r50")
    assert "iresnet_tiny" in B.backbone_names() and B.backbone_names() == sorted(B.BACKBONES)
    m = create_backbone("sphere20", preprocess={"channels": "BGR", "std": 128.0, "fit": "resize"})
    spec = B.get_preprocess(m)
    assert (spec.channels, spec.std, spec.fit, spec.input_size) == ("BGR", 128.0, "resize", (112, 96))
    assert spec.source.endswith("overridden: channels, std, fit")
    fra_cosface = _meta("sphere20", input_size=(96, 112))  # FRA's cv2.resize(img, (112, 96)) is 96 high
    assert _layout(fra_cosface) == _layout(_meta("sphere20"))
    m = create_backbone("iresnet_tiny", preprocess=Preprocess(channels="BGR", mean=0, std=255))
    assert B.get_preprocess(m).input_size == (64, 64) and B.get_preprocess(m).channels == "BGR"
    wrapped = torch.nn.Module()
    wrapped.module = m  # as DDP holds it
    assert B.get_preprocess(wrapped) is m.preprocess_spec
    with pytest.raises(ValueError, match="no preprocess_spec"):
        B.get_preprocess(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="four positive ints"):
        create_backbone("iresnet_tiny", layers=(1, 1, 1))


# ----------------------------------------------------------------------------- preprocess

def test_preprocess_normalisation_and_channel_order():
    img = np.zeros((1, 4, 4, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 255, 0, 128  # R, G, B
    arc = preprocess(img, B.ARCFACE.with_size(4))
    assert arc.shape == (1, 3, 4, 4) and arc.dtype == torch.float32
    assert torch.allclose(arc[0, :, 0, 0], torch.tensor([1.0, -1.0, 0.5 / 127.5]))  # (x/255-.5)/.5
    mag = preprocess(img, B.MAGFACE.with_size(4))
    assert torch.allclose(mag[0, :, 0, 0], torch.tensor([128 / 255, 0.0, 1.0]))  # BGR, x/255
    fx = preprocess(img, B.FACEX_ZOO.with_size(4))
    assert torch.allclose(fx[0, :, 0, 0], torch.tensor([0.5 / 128, -127.5 / 128, 127.5 / 128]))
    per = preprocess(torch.from_numpy(img), Preprocess(input_size=(4, 4), mean=(255, 0, 128), std=(1, 2, 4)))
    assert torch.count_nonzero(per) == 0  # torch input, per-channel mean/std


def test_preprocess_resize_and_crop():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    flat = Preprocess(input_size=(112, 96), mean=0, std=1)
    crop = preprocess(img, Preprocess(input_size=(112, 96), mean=0, std=1, fit="crop"))
    # ArcFace 112x112 -> SphereFace 112x96 is the centre 96 columns, untouched
    assert torch.equal(crop, torch.from_numpy(img[:, :, 8:104].astype(np.float32)).permute(0, 3, 1, 2))
    assert preprocess(img, flat).shape == (2, 3, 112, 96)
    small = preprocess(img, Preprocess(input_size=64, mean=0, std=1))
    assert small.shape == (2, 3, 64, 64) and 0 <= small.min() and small.max() <= 255
    const = np.full((1, 30, 30, 3), 77, np.uint8)  # bilinear keeps a constant image constant
    assert torch.allclose(preprocess(const, Preprocess(input_size=(64, 50), mean=0, std=1)), torch.tensor(77.0))
    assert preprocess(img[:0], flat).shape == (0, 3, 112, 96)


@pytest.mark.parametrize("bad", [np.zeros((2, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8),
                                 np.zeros((1, 8, 8, 4), np.uint8), [[1, 2]]])
def test_preprocess_rejects(bad):
    with pytest.raises(ValueError, match=r"expected uint8 RGB images \(N, H, W, 3\)"):
        preprocess(bad, B.ARCFACE)


def test_preprocess_spec_validation():
    with pytest.raises(ValueError, match="channels"):
        Preprocess(channels="GBR")
    with pytest.raises(ValueError, match="std"):
        Preprocess(std=0)
    assert Preprocess(input_size=64).input_size == (64, 64)


# ---------------------------------------------------------------------------- checkpoints

@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return create_backbone("iresnet_tiny")


def _randomised(model):
    return {k: (torch.randn_like(v) if v.is_floating_point() else v) for k, v in model.state_dict().items()}


def _assert_loaded(model, state):
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


@pytest.mark.parametrize("wrap,container,stripped", [
    (lambda s: s, None, []),
    (lambda s: {"model": s, "epoch": 3}, "model", []),
    (lambda s: {"state_dict_backbone": s, "state_dict_softmax_fc": {}, "epoch": 3}, "state_dict_backbone", []),
    (lambda s: {"backbone": s, "head": {"weight": torch.zeros(2, 2)}, "step": 7}, "backbone", []),  # lib train
    (lambda s: {f"module.{k}": v for k, v in s.items()}, None, ["module."]),  # DDP
    (lambda s: {"state_dict": {**{f"module.backbone.{k}": v for k, v in s.items()}}}, "state_dict",
     ["module.", "backbone."]),
])
def test_load_checkpoint_containers_and_prefixes(tmp_path, tiny, wrap, container, stripped):
    state = _randomised(tiny)
    torch.save(wrap(state), tmp_path / "ck.pt")
    info = load_checkpoint(tiny, tmp_path / "ck.pt")
    _assert_loaded(tiny, state)
    assert (info.container, info.stripped, info.missing, info.unexpected) == (container, stripped, [], [])


def test_load_magface_layout(tmp_path, tiny):
    """MagFace: {"state_dict": {"features.module.<iresnet key>": ..., "fc.weight": <its classifier>}}."""
    state = _randomised(tiny)
    ck = {"epoch": 25, "arch": "iresnet100", "state_dict": {
        **{f"features.module.{k}": v for k, v in state.items()}, "fc.weight": torch.zeros(128, 1000)}}
    torch.save(ck, tmp_path / "magface_epoch_00025.pth")
    info = load_checkpoint(tiny, tmp_path / "magface_epoch_00025.pth")
    _assert_loaded(tiny, state)
    assert info.stripped == ["features.module."] and info.ignored == ["fc.weight"]
    assert "stripped prefix 'features.module.'" in str(info) and "1 ignored" in str(info)


def test_load_sphere20a_drops_fc6_and_old_bn_counters(tmp_path):
    torch.manual_seed(0)
    small = {"width": 8, "input_size": 32, "embedding_size": 16}
    model = create_backbone("sphere20a", **small)
    state = {**_randomised(model), "fc6.weight": torch.zeros(16, 10574)}
    torch.save(state, tmp_path / "sphere20a_20171020.pth")
    assert load_checkpoint(model, tmp_path / "sphere20a_20171020.pth").ignored == ["fc6.weight"]
    tiny = create_backbone("iresnet_tiny")  # pre-0.4.1 checkpoints have no num_batches_tracked
    old = {k: v for k, v in _randomised(tiny).items() if not k.endswith("num_batches_tracked")}
    torch.save(old, tmp_path / "old.pth")
    assert load_checkpoint(tiny, tmp_path / "old.pth").missing == []


def test_load_checkpoint_mismatch_errors(tmp_path, tiny):
    state = _randomised(tiny)
    torch.save(state, tmp_path / "tiny128.pt")
    other = create_backbone("iresnet_tiny", embedding_size=64)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(other, tmp_path / "tiny128.pt")
    msg = str(e.value)
    assert str(tmp_path / "tiny128.pt") in msg and "'iresnet_tiny'" in msg
    assert "fc.weight: checkpoint (128, 2048) vs model (64, 2048)" in msg
    assert "It fits: iresnet_tiny." in msg and "Pick the backbone" in msg

    partial = {k: v for k, v in state.items() if not k.startswith("layer4.")}
    partial["head.weight"] = torch.zeros(3)
    torch.save(partial, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match=r"(?s)missing 20 keys: layer4\.0\.bn1\.weight, .*\(\+10 more\)"
                                              r".*unexpected 1 keys: head\.weight"):
        load_checkpoint(tiny, tmp_path / "partial.pt")
    fresh = create_backbone("iresnet_tiny")
    info = load_checkpoint(fresh, tmp_path / "partial.pt", strict=False)
    assert len(info.missing) == 20 and info.unexpected == ["head.weight"]
    assert torch.equal(fresh.conv1.weight, state["conv1.weight"])

    with pytest.raises(CheckpointError, match="(?s)does not fit backbone .iresnet50.*It fits: iresnet_tiny"):
        load_checkpoint(_meta("iresnet50"), tmp_path / "tiny128.pt")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # would create a file if ever unpickled with weights_only=False
        return (open, (self.marker, "w"))


def test_load_checkpoint_refuses_unsafe_and_garbage(tmp_path, tiny):
    marker = tmp_path / "pwned"
    torch.save({"state_dict": tiny.state_dict(), "args": _Payload(str(marker))}, tmp_path / "unsafe.pth")
    with pytest.raises(CheckpointError, match=r"unsafe\.pth: refusing to load.*weights_only=False"):
        load_checkpoint(tiny, tmp_path / "unsafe.pth")
    assert not marker.exists()

    (tmp_path / "garbage.pt").write_bytes(b"\x00\x01 definitely not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match=r"garbage\.pt: not a torch checkpoint"):
        load_checkpoint(tiny, tmp_path / "garbage.pt")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(CheckpointError, match=r"plain\.pkl: not a torch checkpoint"):
        load_checkpoint(tiny, tmp_path / "plain.pkl")
    torch.save({"epoch": 1, "optimizer": {"lr": 0.1}}, tmp_path / "nostate.pt")
    with pytest.raises(CheckpointError, match="without a state dict"):
        load_checkpoint(tiny, tmp_path / "nostate.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tiny, tmp_path / "nope.pt")


# ---------------------------------------------------------------------------------- embed()

def _crops(n=5, size=112, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_embed_torch_backbone(tiny):
    tiny.train()
    crops = _crops()
    e = embed(tiny, crops)
    assert e.shape == (5, 128) and e.dtype == np.float32 and tiny.training  # mode restored
    assert np.allclose(embed(tiny, crops, batch_size=2, device="cpu"), e, atol=1e-5)
    with torch.no_grad():
        x = preprocess(crops, tiny.preprocess_spec)
        tiny.eval()
        ref = (tiny(x) + tiny(x.flip(3))).numpy()
    assert np.allclose(embed(tiny, crops, flip=True), ref, atol=1e-5)
    unit = embed(tiny, crops, normalize=True)
    assert np.allclose(np.linalg.norm(unit, axis=1), 1, atol=1e-5)
    assert embed(tiny, crops[:0]).shape == (0, 128)
    with pytest.raises(TypeError, match="cannot embed with str"):
        embed("arcface", crops)
    with pytest.raises(ValueError, match="aligned uint8 RGB crops"):
        embed(tiny, crops.astype(np.float32))


@pytest.mark.slow
def test_embed_pretrained_embedders():
    from lib.data import real_photos
    from lib.faces import detect, embed as fe, pipeline

    photo = real_photos.astronaut()
    aligned = pipeline.detect_and_align([photo], detect.create_detector("yunet"))
    crop = fe.SFaceEmbedder().align(photo, aligned.points5[0])[None]  # an ArcFace 112 crop
    crops = np.concatenate([crop, crop[:, :, ::-1], _crops(1)])
    models = {name: fe.create_embedder(name) for name in ("sface", "dlib")}
    for model in models.values():
        e = embed(model, crops, batch_size=2)
        assert e.shape == (3, 128) and e.dtype == np.float32
        sims = e @ e.T
        assert sims[0, 1] > model.native_threshold > sims[0, 2]  # mirror = same person; noise is not
        half = embed(model, crops[:1, ::2, ::2])  # a 56 px crop: resized to 112 first
        assert half.shape == (1, 128) and float(half[0] @ e[0]) > model.native_threshold
    sface = models["sface"]  # its input is the 112 crop itself: the template warp is the identity
    e = embed(sface, crops)
    assert np.allclose(e, sface(crops), atol=1e-5)
    both = embed(sface, crops[:1], flip=True, normalize=True)
    assert np.allclose(both, fe.l2_normalise(e[:1] + e[1:2]), atol=1e-5)  # crop + its mirror
