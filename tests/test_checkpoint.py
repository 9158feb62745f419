"""lib.checkpoint: resume only the same configuration, every RNG restored, never a non-finite checkpoint."""

import pytest
import torch

from lib.checkpoint import Checkpointer, TrainingDiverged, load


def _parts():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    return net, torch.optim.SGD(net.parameters(), lr=0.1)


def test_save_read_restore_round_trip(tmp_path):
    net, opt = _parts()
    ckpt = Checkpointer(tmp_path / "last.pt", {"lr": 0.1})
    ckpt.save(7, {"net": net, "opt": opt, "absent": None}, check=[net], extra={"history": [1, 2]})
    expected = torch.rand(3)  # the RNG stream after the checkpoint
    fresh = torch.nn.Linear(3, 2)
    state = ckpt.read()
    assert state["history"] == [1, 2] and state["absent"] == {}
    assert ckpt.restore(state, {"net": fresh, "absent": None}) == 7
    assert torch.equal(fresh.weight, net.weight)
    assert torch.equal(torch.rand(3), expected)  # RNG state restored
    assert Checkpointer(tmp_path / "last.pt", {"lr": 0.2}).read() is None  # another config: start afresh
    assert Checkpointer(tmp_path / "missing.pt", {"lr": 0.1}).read() is None


def test_non_finite_parameters_keep_the_last_good_checkpoint(tmp_path):
    net, opt = _parts()
    ckpt = Checkpointer(tmp_path / "last.pt", {}, unit="epoch")
    ckpt.save(1, {"net": net}, check=[net])
    with torch.no_grad():
        net.weight[0, 0] = float("nan")
    with pytest.raises(TrainingDiverged, match=r"epoch 2: parameters are not finite.*last.pt \(kept\)\. lower lr"):
        ckpt.save(2, {"net": net}, check=[net], diverged="lower lr")
    assert load(tmp_path / "last.pt")["step"] == 1


def test_an_unreadable_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match=r"(?s)last.pt: cannot be read as a FRA checkpoint.*delete it"):
        Checkpointer(bad, {}, what="FRA").read()
