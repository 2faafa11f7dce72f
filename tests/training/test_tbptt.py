"""Truncated BPTT: k = T is full BPTT; k < T and BPTT(k2; k1) equal their hand-written definitions."""

from __future__ import annotations

import pytest
import torch

from rnnkit import Trainer
from rnnkit.models import RecurrentRegressor
from rnnkit.training import BatchError
from rnnkit.training.batches import detach_state, time_slice
from tests.training_helpers import LinearModel

T = 12


def _model_and_batch(seed: int = 0, cell: str = "lstm"):
    torch.manual_seed(seed)
    model = RecurrentRegressor(cell, 2, 6, 1, num_layers=2, per_step=True).double()
    x = torch.randn(3, T, 2, dtype=torch.float64)
    y = x.cumsum(1)[..., :1] * 0.1
    return model, (x, y)


def _update_by_trainer(model, batch, **options):
    """Weights after one SGD step with lr 1: the negative of the gradient the Trainer computed."""
    before = {k: v.clone() for k, v in model.named_parameters()}
    Trainer(max_steps=1, optimizer="sgd", lr=1.0, batch_size=3, shuffle=False, progress_bar=False, **options).fit(
        model, [batch])
    return {k: before[k] - v.detach() for k, v in model.named_parameters()}


def _grads(model):
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()
    return grads


@pytest.mark.parametrize("cell", ["lstm", "elman"])
def test_tbptt_with_k_equal_to_T_is_full_bptt(cell):
    model, batch = _model_and_batch(cell=cell)
    model.training_step(batch)[0].backward()
    full = _grads(model)
    for k in (T, 100):
        trained, _ = _model_and_batch(cell=cell)
        update = _update_by_trainer(trained, batch, tbptt_steps=k)
        for name, grad in full.items():
            torch.testing.assert_close(update[name], grad, rtol=1e-9, atol=1e-12)


def test_tbptt_chunks_carry_the_state_and_cut_the_graph():
    model, batch = _model_and_batch()
    state = None
    for start in range(0, T, 4):  # the definition: chunks of 4, state passed on and detached
        loss, state = model.training_step(time_slice(batch, start, start + 4), state)
        (loss / 3).backward()
        state = detach_state(state)
    expected = _grads(model)
    model.training_step(batch)[0].backward()
    full = _grads(model)
    trained, _ = _model_and_batch()
    update = _update_by_trainer(trained, batch, tbptt_steps=4, accumulate_grad_batches=3)
    for name, grad in expected.items():
        torch.testing.assert_close(update[name], grad, rtol=1e-9, atol=1e-12)
    # ...and truncation really changes the gradient of the recurrent weights.
    assert (expected["rnn.cells.l0.weight_hh"] - full["rnn.cells.l0.weight_hh"]).abs().max() > 1e-6


def test_bptt_k2_k1_backpropagates_through_the_previous_chunk():
    model, batch = _model_and_batch()
    c = [time_slice(batch, s, s + 4) for s in range(0, T, 4)]
    step = model.training_step
    (step(c[0], None)[0] / 3).backward()  # window [c0]
    _, s = step(c[0], None)
    (step(c[1], s)[0] / 3).backward()  # window [c0, c1], loss of c1 only
    _, s0 = step(c[0], None)
    _, s1 = step(c[1], detach_state(s0))
    (step(c[2], s1)[0] / 3).backward()  # window [c1, c2] from the detached state after c0
    expected = _grads(model)
    trained, _ = _model_and_batch()
    update = _update_by_trainer(trained, batch, tbptt_steps=4, tbptt_backprop_steps=8, accumulate_grad_batches=3)
    for name, grad in expected.items():
        torch.testing.assert_close(update[name], grad, rtol=1e-9, atol=1e-12)


def test_tbptt_errors_are_clear():
    with pytest.raises(TypeError, match=r"must take \(batch, state\)"):
        Trainer(max_steps=1, tbptt_steps=4, progress_bar=False).fit(
            LinearModel(), [(torch.randn(2, 3), torch.randn(2))])
    model, _ = _model_and_batch()
    ragged = (torch.randn(3, T, 2, dtype=torch.float64), torch.randn(3, T + 1, 1, dtype=torch.float64))
    with pytest.raises(BatchError, match="cannot split this batch along time"):
        Trainer(max_steps=1, tbptt_steps=4, progress_bar=False).fit(model, [ragged])


def test_tbptt_trains_a_long_sequence_in_chunks():
    model, _batch = _model_and_batch()
    model.float()
    x = torch.randn(2, 400, 2)
    result = Trainer(max_epochs=1, tbptt_steps=50, lr=1e-2, progress_bar=False).fit(model, [(x, x[..., :1])])
    assert result.steps == 8  # one optimizer step per chunk
