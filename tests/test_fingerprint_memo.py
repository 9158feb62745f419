"""Content fingerprints and the memoised evaluations built on them (lib.fingerprint, runcache.memo)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lib import runcache
from lib.fingerprint import array_digest, digest, module_digest


def test_array_digest_sees_dtype_shape_and_bytes():
    a = np.arange(12, dtype=np.float32)
    assert array_digest(a) == array_digest(a.copy())
    assert array_digest(a) != array_digest(a.astype(np.float64))
    assert array_digest(a) != array_digest(a.reshape(3, 4))
    b = a.copy()
    b[5] += 1e-6
    assert array_digest(a) != array_digest(b)
    assert array_digest(a[::2]) == array_digest(np.ascontiguousarray(a[::2]))  # views are hashed by content
    with pytest.raises(TypeError, match="object array"):
        array_digest(np.array([{}, 1], dtype=object))


def test_module_digest_follows_the_weights():
    torch.manual_seed(0)
    m = torch.nn.Linear(4, 2)
    d0 = module_digest(m)
    assert module_digest(m) == d0
    with torch.no_grad():
        m.bias[0] += 1e-4
    assert module_digest(m) != d0
    assert digest({"m": m}) == {"m": {"module": module_digest(m)}}


def test_remembered_module_digest_sees_every_change(monkeypatch):
    import lib.fingerprint as fp

    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    d0 = module_digest(m)
    hashed = []
    monkeypatch.setattr(fp, "_content_digest", lambda a, f=fp._content_digest: hashed.append(1) or f(a))
    assert module_digest(m) == d0 and not hashed  # remembered: nothing re-hashed
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    m(torch.randn(8, 4)).sum().backward()
    opt.step()  # parameters and BN running statistics written in place
    d1 = module_digest(m)
    assert d1 != d0 and hashed
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    fresh.load_state_dict(m.state_dict())
    assert module_digest(fresh) == d1
    m.load_state_dict(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)).state_dict())
    assert module_digest(m) not in (d0, d1)
    m[0].weight = torch.nn.Parameter(fresh[0].weight.detach().clone())  # a replaced tensor
    m[0].bias, m[1].weight, m[1].bias = fresh[0].bias, fresh[1].weight, fresh[1].bias
    m[1].running_mean.copy_(fresh[1].running_mean)
    m[1].running_var.copy_(fresh[1].running_var)
    m[1].num_batches_tracked.copy_(fresh[1].num_batches_tracked)
    assert module_digest(m) == d1
    m[0].bias.data = torch.zeros(3)  # new storage behind the same Parameter (no version bump): seen
    assert module_digest(m) != d1
    for _ in range(3):  # tensors replaced again and again (a freed tensor's id may be reused): never stale
        before = module_digest(m)
        m[0].bias = torch.nn.Parameter(m[0].bias.detach() + 1)
        assert module_digest(m) != before


def test_frozen_arrays_are_hashed_once_and_stay_read_only(monkeypatch):
    import lib.fingerprint as fp

    a = fp.freeze(np.arange(1000, dtype=np.uint8))
    d = array_digest(a)
    hashed = []
    monkeypatch.setattr(fp, "_content_digest", lambda x, f=fp._content_digest: hashed.append(1) or f(x))
    assert array_digest(a) == d and digest({"x": a}) == {"x": {"array": d}} and not hashed
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 1
    b = np.arange(1000, dtype=np.uint8)  # not frozen: hashed on every call
    assert array_digest(b) == d and hashed
    b[0] = 7
    assert array_digest(b) != d
    view = a[::2]  # a view of a frozen array is not itself remembered: hashed by content
    assert array_digest(view) == array_digest(np.ascontiguousarray(view))


def test_memo_array_freeze_keeps_the_digest_of_what_it_stored(isolated_dirs, monkeypatch):
    import lib.fingerprint as fp

    x = np.arange(600, dtype=np.float32).reshape(20, 30)
    out = runcache.memo_array("test/frozen", {"x": x, "version": 1}, lambda: x * 2, freeze=True)
    assert not out.flags.writeable and array_digest(out) == array_digest(x * 2)
    expected = array_digest(x * 2)
    (entry,) = (isolated_dirs / "runs" / "test" / "frozen").iterdir()
    assert (entry / "digest.json").is_file()  # the digest lives in the artifact it describes
    hashed = []
    monkeypatch.setattr(fp, "_content_digest", lambda a, f=fp._content_digest: hashed.append(a.shape) or f(a))
    again = runcache.memo_array("test/frozen", {"x": x, "version": 1}, lambda: 1 / 0, freeze=True)
    hashed.clear()  # the key's own digest (x) is hashed; the stored result is not
    assert array_digest(again) == expected and not hashed and np.array_equal(again, x * 2)
    plain = runcache.memo_array("test/frozen", {"x": x, "version": 1}, lambda: 1 / 0)
    assert plain.flags.writeable  # without freeze: an ordinary array


def test_digest_tables_and_refusals():
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert digest(df) == digest(df.copy())
    assert digest(df) != digest(df.iloc[::-1])
    assert digest({"k": [1, 2.5, None, np.int64(3)]}) == {"k": [1, 2.5, None, 3]}
    with pytest.raises(TypeError, match="cannot fingerprint object"):
        digest(object())


def test_memoized_runs_once_per_content_and_is_off_by_default(isolated_dirs):
    calls = []

    @runcache.memoized("test/sum")
    def total(x, *, scale=1.0):
        calls.append(1)
        return {"sum": float(x.sum() * scale)}

    x = np.arange(5.0)
    assert total(x) == {"sum": 10.0} and len(calls) == 1  # no cache: plain call
    assert total(x, cache=True) == {"sum": 10.0} and len(calls) == 2
    assert total(x.copy(), cache=True) == {"sum": 10.0} and len(calls) == 2  # equal content: loaded
    assert total(x, scale=2.0, cache=True) == {"sum": 20.0} and len(calls) == 3
    y = x.copy()
    y[0] = 1
    assert total(y, cache=True) == {"sum": 11.0} and len(calls) == 4
    assert [e["status"] for e in runcache.log()[-4:]] == ["built", "loaded", "built", "built"]


def test_embed_cache_matches_and_tracks_weights(isolated_dirs):
    from lib.recognition.backbones import create_backbone
    from lib.recognition.embedders import embed

    torch.manual_seed(0)
    model = create_backbone("iresnet_tiny").eval()
    images = np.random.default_rng(0).integers(0, 255, (5, 64, 64, 3), dtype=np.uint8)
    plain = embed(model, images)
    first = embed(model, images, cache=True)
    again = embed(model, images, cache=True)
    np.testing.assert_allclose(first, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.linalg.norm(embed(model, images, cache=True, normalize=True), axis=1), 1, rtol=1e-5)
    with torch.no_grad():
        next(model.parameters()).mul_(0.5)
    changed = embed(model, images, cache=True)
    assert not np.allclose(changed, first)
    np.testing.assert_allclose(changed, embed(model, images), rtol=1e-5, atol=1e-6)


def test_faceset_cache_key_follows_arrays_and_meta(tmp_path):
    from lib.data.faceset import read_faceset, write_faceset

    images = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    meta = pd.DataFrame({"identity": ["a", "a", "b"], "session": "A", "emotion": "neutral", "pose": "S", "yaw": 0.0,
                         "split": ["train"] * 3, "source": "fixture"})
    card = {"name": "fixture", "kind": "synthetic", "version": "1", "seed": 0, "parameters": {}, "generator": "test"}
    fs = read_faceset(write_faceset(tmp_path / "a", images, meta, card=card))
    same = read_faceset(write_faceset(tmp_path / "b", images.copy(), meta.copy(), card=card))
    assert digest(fs) == digest(same)
    other = read_faceset(write_faceset(tmp_path / "c", images, meta.assign(split=["train", "test", "train"]), card=card))
    assert digest(fs) != digest(other)
    images2 = images.copy()
    images2[0, 0, 0, 0] ^= 1
    assert digest(fs) != digest(read_faceset(write_faceset(tmp_path / "d", images2, meta, card=card)))


def test_memo_array_keys_on_content(isolated_dirs):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(3.0)

    a = runcache.memo_array("test/arr", {"x": np.ones(4), "version": 1}, compute)
    b = runcache.memo_array("test/arr", {"x": np.ones(4), "version": 1}, compute)
    np.testing.assert_array_equal(a, b)
    assert len(calls) == 1
    runcache.memo_array("test/arr", {"x": np.zeros(4), "version": 1}, compute)
    assert len(calls) == 2
