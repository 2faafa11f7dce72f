"""Cells: hand-computed toy outputs, parity with torch's cells, gradcheck, the subclassing contract."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell, LSTMState, RecurrentCell, map_state, resolve_cell
from tests.conftest import max_diff


def _fill(cell: nn.Module, value: float) -> nn.Module:
    with torch.no_grad():
        for p in cell.parameters():
            p.fill_(value)
    return cell.double()


def test_elman_toy_values_by_hand():
    # All weights 0.5, biases 0.5: h1 = tanh(0.5*(1+1) + 0.5 + 0.5) = tanh(2) for input [1, 1].
    cell = _fill(ElmanCell(2, 1), 0.5)
    x = torch.ones(1, 2, dtype=torch.float64)
    y, h = cell(x)
    assert y.item() == pytest.approx(math.tanh(2.0), abs=1e-15)
    y2, _ = cell(x, h)
    assert y2.item() == pytest.approx(math.tanh(2.0 + 0.5 * math.tanh(2.0)), abs=1e-15)


def test_lstm_toy_values_by_hand():
    # Weights 0 and biases 0 except what we set: every gate pre-activation equals the bias sum.
    cell = _fill(LSTMCell(1, 1, forget_bias=None), 0.0)
    with torch.no_grad():
        cell.bias_ih.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))  # i, f, g, o
    state = LSTMState(torch.zeros(1, 1, dtype=torch.float64), torch.full((1, 1), 0.5, dtype=torch.float64))
    y, (h, c) = cell(torch.zeros(1, 1, dtype=torch.float64), state)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    c_expected = sig(2.0) * 0.5 + sig(1.0) * math.tanh(3.0)
    assert c.item() == pytest.approx(c_expected, abs=1e-15)
    assert h.item() == pytest.approx(sig(4.0) * math.tanh(c_expected), abs=1e-15)
    assert y is h


def test_gru_toy_values_by_hand():
    # Reset gate applied after the recurrent product: n = tanh(b_in + r * (W_hn h + b_hn)).
    cell = _fill(GRUCell(1, 1), 0.0)
    with torch.no_grad():
        cell.weight_hh.copy_(torch.tensor([[0.0], [0.0], [2.0]]))
        cell.bias_hh.copy_(torch.tensor([0.0, 0.0, 1.0]))
    h0 = torch.full((1, 1), 0.5, dtype=torch.float64)
    _, h = cell(torch.zeros(1, 1, dtype=torch.float64), h0)
    r, z = 0.5, 0.5  # sigmoid(0)
    n = math.tanh(r * (2.0 * 0.5 + 1.0))
    assert h.item() == pytest.approx((1 - z) * n + z * 0.5, abs=1e-15)


def test_lstm_forget_bias_initialisation():
    cell = LSTMCell(3, 4)
    total = cell.bias_ih + cell.bias_hh
    assert torch.equal(total[4:8], torch.ones(4))
    assert LSTMCell(3, 4, forget_bias=None).bias_ih[4:8].abs().max() <= 0.5


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: ElmanCell(3, 5), lambda: nn.RNNCell(3, 5)),
        (
            lambda: ElmanCell(3, 5, nonlinearity="relu", bias=False),
            lambda: nn.RNNCell(3, 5, bias=False, nonlinearity="relu"),
        ),
        (lambda: LSTMCell(3, 5), lambda: nn.LSTMCell(3, 5)),
        (lambda: GRUCell(3, 5), lambda: nn.GRUCell(3, 5)),
        (lambda: GRUCell(3, 5, bias=False), lambda: nn.GRUCell(3, 5, bias=False)),
    ],
)
def test_cell_matches_torch_cell(ours, theirs):
    torch.manual_seed(0)
    a, b = ours().double(), theirs().double()
    a.load_state_dict(b.state_dict())
    x = torch.randn(4, 3, dtype=torch.float64)
    if isinstance(b, nn.LSTMCell):
        hc = (torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64))
        _, state = a(x, LSTMState(*hc))
        assert max_diff(state, b(x, hc)) < 1e-14
    else:
        h = torch.randn(4, 5, dtype=torch.float64)
        _, state = a(x, h)
        assert max_diff(state, b(x, h)) < 1e-14


@pytest.mark.parametrize(
    ("cell", "hidden", "options"),
    [
        ("elman", 3, {}),
        ("elman", 3, {"nonlinearity": "relu"}),
        ("lstm", 3, {}),
        ("lstm", 4, {"proj_size": 2}),
        ("gru", 3, {}),
    ],
    ids=["elman-tanh", "elman-relu", "lstm", "lstm-proj", "gru"],
)
def test_gradcheck_loop_backend_every_cell(cell, hidden, options):
    torch.manual_seed(1)
    layer = rnnkit.Recurrent(cell, 2, hidden, num_layers=2, bidirectional=True, backend="loop", **options).double()
    names = [n for n, _ in layer.named_parameters()]
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])

    def f(x, *weights):
        params = dict(zip(names, weights, strict=True))
        out, state = torch.func.functional_call(layer, params, (x,), {"lengths": lengths})
        return (out, *rnnkit.cells.state_tensors(state))

    weights = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradcheck(f, (x, *weights))


def test_invalid_cell_options():
    with pytest.raises(ValueError, match="nonlinearity"):
        ElmanCell(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size"):
        LSTMCell(2, 3, proj_size=3)
    with pytest.raises(ValueError, match="hidden_size"):
        GRUCell(2, 0)
    with pytest.raises(ValueError, match="unknown name 'lstmm'"):
        resolve_cell("lstmm")
    with pytest.raises(TypeError, match="RecurrentCell subclass"):
        resolve_cell(nn.Linear)


class LeakyIntegratorCell(RecurrentCell):
    """A user-written cell: h_t = a * h_{t-1} + W x_t, with a fixed leak."""

    def __init__(self, input_size: int, hidden_size: int, *, leak: float = 0.5) -> None:
        super().__init__(input_size, hidden_size)
        self.leak = leak
        self.proj = nn.Linear(input_size, hidden_size, bias=False)

    def project_input(self, x):
        return self.proj(x)

    def step(self, px, state):
        h = self.leak * state + px
        return h, h


def test_user_written_cell_runs_through_the_driver_with_known_values():
    layer = rnnkit.Recurrent(LeakyIntegratorCell, 1, 1, leak=0.5).double()
    with torch.no_grad():
        layer.cells["l0"].proj.weight.fill_(1.0)
    x = torch.tensor([[[1.0], [2.0], [4.0]]], dtype=torch.float64)
    out, h = layer(x)
    assert out.flatten().tolist() == [1.0, 2.5, 5.25]
    assert h.item() == 5.25
    assert layer.backend == "loop"
    assert "no fused PyTorch kernel" in layer.backend.reason


def test_map_state_keeps_namedtuple_type():
    state = LSTMState(torch.ones(2), torch.zeros(2))
    doubled = map_state(lambda t: t * 2, state)
    assert isinstance(doubled, LSTMState) and doubled.h.tolist() == [2.0, 2.0]
