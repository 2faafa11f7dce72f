"""Recurrent regularisers through the driver: what each does to the numbers, in training and in
evaluation, on every backend it allows, with every driver feature."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.cells import LSTMState, RecurrentCell
from rnnkit.layers import DropConnect, VariationalDropout, Zoneout
from tests.conftest import max_diff

F64 = torch.float64


class CounterCell(RecurrentCell):
    """h_t = h_{t-1} + x_t: with x = 1 every step, h counts the steps the state really took."""

    def project_input(self, x):
        return x.expand(*x.shape[:-1], self.hidden_size)

    def step(self, px, state):
        h = state + px
        return h, h


class RecordingLSTMCell(rnnkit.LSTMCell):
    """An LSTM cell that records the recurrent weight each step used."""

    seen: list

    def step(self, px, state):
        self.seen.append(self.weight_hh.detach().clone())
        return super().step(px, state)


def _ones(batch, steps, width=1):
    return torch.ones(batch, steps, width, dtype=F64)


# --- variational dropout --------------------------------------------------------------------------


def test_variational_dropout_uses_one_mask_per_sequence_at_every_step():
    torch.manual_seed(0)
    p = 0.5
    layer = rnnkit.Recurrent(CounterCell, 1, 64, regularizers=[VariationalDropout(p)]).double()
    out, _ = layer(_ones(4, 6))
    # Each (sequence, unit) had mask 0 (h_t = 1 at every step) or 1/(1-p) = 2 (h_t = 2 h_{t-1} + 1)
    # for the whole sequence; a mask resampled per step would mix the two.
    dropped = torch.ones(6, dtype=F64)
    kept = torch.tensor([2.0**t - 1 for t in range(1, 7)], dtype=F64)
    traces = out.permute(0, 2, 1).reshape(-1, 6)
    is_dropped = (traces == dropped).all(1)
    is_kept = (traces == kept).all(1)
    assert torch.all(is_dropped | is_kept)
    assert 0.3 < is_dropped.double().mean() < 0.7  # 256 draws of Bernoulli(0.5)
    # Different sequences of a batch draw different masks.
    assert not torch.equal(is_dropped.view(4, 64)[0], is_dropped.view(4, 64)[1])


def test_variational_dropout_is_identity_in_eval_and_masks_only_h_of_an_lstm():
    torch.manual_seed(1)
    plain = rnnkit.Recurrent("lstm", 3, 4, num_layers=2, bidirectional=True).double()
    regular = rnnkit.Recurrent("lstm", 3, 4, num_layers=2, bidirectional=True, regularizers=[VariationalDropout(0.4)])
    regular = regular.double()
    regular.load_state_dict(plain.state_dict())
    x, lengths = torch.randn(2, 5, 3, dtype=F64), torch.tensor([5, 3])
    regular.eval()
    assert regular.backend == "native"
    assert max_diff(regular(x, lengths=lengths), plain(x, lengths=lengths)) == 0.0
    # In training, the step reads m * h and the untouched c (checked on one cell by hand).
    cell = rnnkit.LSTMCell(2, 3).double()
    hook = VariationalDropout(0.5).bind(cell, LSTMState(torch.ones(1, 3, dtype=F64), torch.ones(1, 3, dtype=F64)), True)
    read = hook.before(LSTMState(torch.ones(1, 3, dtype=F64), torch.full((1, 3), 7.0, dtype=F64)))
    assert set(read.h.flatten().tolist()) <= {0.0, 2.0} and read.c.flatten().tolist() == [7.0] * 3


# --- zoneout --------------------------------------------------------------------------------------


def test_zoneout_training_keeps_old_or_new_values_and_eval_uses_the_expectation():
    torch.manual_seed(2)
    p, steps = 0.3, 8
    layer = rnnkit.Recurrent(CounterCell, 1, 200, regularizers=[Zoneout(p)]).double()
    out, h = layer(_ones(2, steps))
    # Each step either advances a unit by 1 or keeps it: integer, non-decreasing by 0 or 1.
    increments = torch.diff(torch.cat([torch.zeros(2, 1, 200, dtype=F64), out], 1), dim=1)
    assert set(increments.unique().tolist()) == {0.0, 1.0}
    assert abs(increments.mean().item() - (1 - p)) < 0.05  # 3,200 draws
    assert torch.equal(out[:, -1], h[0])  # output is the zoned-out state
    # Evaluation: h_t = p h_{t-1} + (1 - p)(h_{t-1} + 1) = h_{t-1} + (1 - p), exactly.
    layer.eval()
    out, _ = layer(_ones(1, steps))
    expected = torch.arange(1, steps + 1, dtype=F64) * (1 - p)
    assert max_diff(out[0, :, 0], expected) < 1e-14


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_zoneout_rates_per_state_tensor_match_a_hand_loop_in_eval(backend):
    torch.manual_seed(3)
    layer = rnnkit.Recurrent("lstm", 2, 3, regularizers=[Zoneout((0.0, 0.5))], backend=backend).double().eval()
    assert layer.backend == backend
    cell = layer.first_cell
    x = torch.randn(2, 4, 2, dtype=F64)
    h = c = torch.zeros(2, 3, dtype=F64)
    outs = []
    for x_t in x.unbind(1):
        _, (h_new, c_new) = cell(x_t, LSTMState(h, c))
        h, c = h_new, 0.5 * c + 0.5 * c_new  # c zoned out in expectation, h not
        outs.append(h)
    out, (_, c_final) = layer(x)
    assert max_diff(out, torch.stack(outs, 1)) < 1e-14 and max_diff(c_final[0], c) < 1e-14


def test_zoneout_refuses_cells_it_cannot_apply_to():
    with pytest.raises(ValueError, match="LRUCell allows no zoneout"):
        rnnkit.Recurrent("lru", 2, 3, regularizers=[Zoneout(0.1)])
    with pytest.raises(ValueError, match="SLSTMCell allows zoneout on its first 1 state tensor"):
        rnnkit.Recurrent("slstm", 2, 4, regularizers=[Zoneout((0.1, 0.5))])
    layer = rnnkit.Recurrent("slstm", 2, 4, regularizers=[Zoneout(0.1)])  # h only
    assert layer(torch.randn(1, 3, 2))[0].shape == (1, 3, 4)
    with pytest.raises(ValueError, match="p: expected a probability"):
        Zoneout(1.0)
    with pytest.raises(ValueError, match=r"p: expected at most 2 rates"):
        rnnkit.Recurrent("lstm", 2, 3, regularizers=[Zoneout((0.1, 0.1, 0.1))])


def test_forcing_a_fused_backend_with_a_per_step_regulariser_is_an_error():
    with pytest.raises(ValueError, match="backend='native' is not available: zoneout"):
        rnnkit.Recurrent("gru", 2, 3, backend="native", regularizers=[Zoneout(0.1)])
    with pytest.raises(TypeError, match="regularizers: expected Regularizer instances"):
        rnnkit.Recurrent("gru", 2, 3, regularizers=[nn.Dropout(0.1)])


# --- DropConnect ----------------------------------------------------------------------------------


def test_dropconnect_samples_one_mask_per_forward_shared_by_every_step():
    torch.manual_seed(4)
    p = 0.5
    layer = rnnkit.Recurrent(RecordingLSTMCell, 2, 8, regularizers=[DropConnect(p)]).double()
    cell = layer.first_cell
    original = cell.weight_hh.detach().clone()
    cell.seen = []
    layer(torch.randn(3, 5, 2, dtype=F64))
    assert len(cell.seen) == 5 and all(torch.equal(w, cell.seen[0]) for w in cell.seen)
    used = cell.seen[0]
    kept = used != 0
    assert torch.allclose(used[kept], original[kept] / (1 - p))
    assert 0.3 < kept.double().mean() < 0.7
    cell.seen = []
    layer(torch.randn(3, 5, 2, dtype=F64))
    assert not torch.equal(cell.seen[0], used)  # a new forward, a new mask
    assert torch.equal(cell.weight_hh, original)  # the parameter itself is untouched
    layer.eval()
    cell.seen = []
    layer(torch.randn(3, 5, 2, dtype=F64))
    assert torch.equal(cell.seen[0], original)


def test_dropconnect_keeps_the_fused_kernel_and_matches_the_loop():
    torch.manual_seed(5)
    native = rnnkit.Recurrent("lstm", 3, 4, num_layers=2, bidirectional=True, regularizers=[DropConnect(0.3)]).double()
    loop = rnnkit.Recurrent(
        "lstm", 3, 4, num_layers=2, bidirectional=True, backend="loop", regularizers=[DropConnect(0.3)]
    ).double()
    loop.load_state_dict(native.state_dict())
    assert native.backend == "native"
    assert "DropConnect (p=0.3) masks weight_hh once per forward" in native.backend.reason
    x, lengths = torch.randn(2, 6, 3, dtype=F64), torch.tensor([6, 4])
    torch.manual_seed(6)
    out_n, h_n = native(x, lengths=lengths)
    torch.manual_seed(6)  # the same masks: they are drawn before the backend runs
    out_l, h_l = loop(x, lengths=lengths)
    assert max_diff(out_n, out_l) < 1e-12 and max_diff(h_n, h_l) < 1e-12
    out_n.sum().backward()
    grad = native.first_cell.weight_hh.grad
    assert grad is not None and (grad == 0).any() and (grad != 0).any()  # dropped weights get no gradient


def test_dropconnect_errors_name_the_missing_weight():
    with pytest.raises(ValueError, match="DropConnect: MinGRUCell has no parameter 'weight_hh'"):
        rnnkit.Recurrent("mingru", 2, 3, regularizers=[DropConnect(0.2)])
    layer = rnnkit.Recurrent("mingru", 2, 3, regularizers=[DropConnect(0.2, weights=("weight_ih",))])
    assert layer.backend == "scan"  # weight regularisers leave the scan available
    with pytest.raises(ValueError, match="weights: expected a non-empty sequence"):
        DropConnect(0.2, weights="weight_hh")


# --- every cell, every regulariser, every driver feature -----------------------------------------

CELLS = ["elman", "lstm", "gru", "indrnn", "layernorm_lstm", "layernorm_gru", "slstm", "mingru", "minlstm", "lru"]


@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_trains_with_regularisers_and_streams_in_eval(cell):
    torch.manual_seed(7)
    regs = [VariationalDropout(0.2)]
    regs += [Zoneout(0.1)] if cell != "lru" else []
    regs += [DropConnect(0.2)] if cell not in ("mingru", "minlstm", "lru") else []
    layer = rnnkit.Recurrent(cell, 3, 4, num_layers=2, bidirectional=True, regularizers=regs).double()
    x, lengths = torch.randn(2, 5, 3, dtype=F64), torch.tensor([5, 2])
    out, _ = layer(x, lengths=lengths)
    out.sum().backward()
    assert torch.all(out[1, 2:] == 0)
    assert all(p.grad is not None for p in layer.parameters() if p.requires_grad)
    # In evaluation everything is deterministic: streaming equals one call, even with zoneout.
    uni = rnnkit.Recurrent(cell, 3, 4, num_layers=2, regularizers=regs).double().eval()
    whole, final = uni(x)
    state, outs = None, []
    for x_t in x.unbind(1):
        y, state = uni.step(x_t, state)
        outs.append(y)
    assert max_diff(torch.stack(outs, 1), whole) < 1e-12 and max_diff(state, final) < 1e-12
