"""lib.recognition.train.checked_step: the shared optimiser step of the parser, Octuplet and DeriveNet loops."""

import pytest
import torch

from lib.recognition.train import TrainingDiverged, checked_step


def test_checked_step_steps_on_a_finite_loss_and_names_a_diverged_one():
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = torch.optim.SGD([w], lr=0.5)
    checked_step(opt, (w ** 2).sum(), "demo", 0.5)
    assert torch.allclose(w.detach(), torch.tensor([0.0]))  # 1 - 0.5 * 2
    before = w.detach().clone()
    with pytest.raises(TrainingDiverged, match=r"parser training, step 7: loss is nan; lower lr \(now 0.5\)"):
        checked_step(opt, (w * float("nan")).sum(), "parser training, step 7", 0.5)
    assert torch.equal(w.detach(), before)  # nothing applied
