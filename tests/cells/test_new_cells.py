"""The cells of issue 5 (IndRNN, layer-norm LSTM/GRU, minGRU, minLSTM, LRU, sLSTM): their math by
hand, and every driver feature through ``Recurrent`` (layers, bidirectional, lengths, streaming,
gradcheck, save/load)."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch.nn import functional as F

import rnnkit
from rnnkit.cells import (
    IndRNNCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LRUCell,
    LSTMState,
    MinGRUCell,
    MinLSTMCell,
    SLSTMCell,
    state_tensors,
)
from tests.conftest import max_diff

F64 = torch.float64
NEW_CELLS = [
    ("indrnn", {}),
    ("indrnn", {"nonlinearity": "tanh", "recurrent_max_abs": 0.9, "recurrent_min_abs": 0.1}),
    ("layernorm_lstm", {}),
    ("layernorm_gru", {}),
    ("mingru", {}),
    ("minlstm", {}),
    ("lru", {}),
    ("lru", {"output_size": 4}),
    ("slstm", {"num_heads": 2}),
    ("slstm", {"forget_gate": "exp"}),
]
IDS = ["indrnn", "indrnn-tanh-bounded", "ln-lstm", "ln-gru", "mingru", "minlstm", "lru", "lru-out4"]
IDS += ["slstm-2h", "slstm-exp"]


def _layer(cell, options, *, seed=0, **kwargs):
    torch.manual_seed(seed)
    return rnnkit.Recurrent(cell, 3, 4, **kwargs, **options).double()


# --- every driver feature ---------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "options"), NEW_CELLS, ids=IDS)
def test_lengths_padding_final_state_and_reverse_direction(cell, options):
    layer = _layer(cell, options, num_layers=2, bidirectional=True)
    x = torch.randn(3, 7, 3, dtype=F64)
    lengths = torch.tensor([7, 2, 5])
    out, state = layer(x, lengths=lengths)
    assert out.shape == (3, 7, layer.output_size)
    for b, length in enumerate(lengths.tolist()):
        assert torch.all(out[b, length:] == 0)
        # The row of a padded batch equals the sequence run alone: final state at its last real step,
        # and the reverse direction read its valid part only.
        alone, alone_state = layer(x[b : b + 1, :length])
        assert max_diff(out[b : b + 1, :length], alone) <= 1e-12
        row = rnnkit.cells.map_state(lambda t, b=b: t[:, b : b + 1], state)
        assert max_diff(row, alone_state) <= 1e-12


@pytest.mark.parametrize(("cell", "options"), NEW_CELLS, ids=IDS)
def test_streaming_chunks_and_steps_equal_one_call(cell, options):
    layer = _layer(cell, options, num_layers=2)
    x = torch.randn(2, 9, 3, dtype=F64)
    whole, final = layer(x)
    state, outs, start = None, [], 0
    for size in (1, 5, 3):
        out, state = layer(x[:, start : start + size], state)
        outs.append(out)
        start += size
    assert max_diff(torch.cat(outs, dim=1), whole) <= 1e-10 and max_diff(state, final) <= 1e-10
    state, outs = None, []
    for x_t in x.unbind(1):
        y, state = layer.step(x_t, state)
        outs.append(y)
    assert max_diff(torch.stack(outs, 1), whole) <= 1e-10 and max_diff(state, final) <= 1e-10


@pytest.mark.parametrize(("cell", "options"), NEW_CELLS, ids=IDS)
def test_gradcheck_through_recurrent(cell, options):
    torch.manual_seed(1)
    layer = rnnkit.Recurrent(cell, 2, 2, bidirectional=True, **options).double()
    names = [n for n, _ in layer.named_parameters()]
    x = torch.randn(2, 3, 2, dtype=F64, requires_grad=True)
    lengths = torch.tensor([3, 2])

    def f(x, *weights):
        params = dict(zip(names, weights, strict=True))
        out, state = torch.func.functional_call(layer, params, (x,), {"lengths": lengths})
        return (out, *state_tensors(state))

    weights = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    # fast_mode compares the Jacobian along random directions: far fewer passes, and a wrong
    # gradient still fails it with probability ~1.
    assert torch.autograd.gradcheck(f, (x, *weights), fast_mode=True)


@pytest.mark.parametrize(("cell", "options"), NEW_CELLS, ids=IDS)
def test_state_dict_round_trip(cell, options):
    layer = _layer(cell, options, num_layers=2, bidirectional=True)
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    twin = _layer(cell, options, seed=99, num_layers=2, bidirectional=True)
    x = torch.randn(2, 5, 3, dtype=F64)
    assert max_diff(twin(x)[0], layer(x)[0]) > 1e-3  # different weights before loading
    buffer.seek(0)
    twin.load_state_dict(torch.load(buffer, weights_only=True))
    assert max_diff(twin(x), layer(x)) == 0.0


def test_registered_names():
    expected = {
        "indrnn": IndRNNCell, "layernorm_lstm": LayerNormLSTMCell, "layernorm_gru": LayerNormGRUCell,
        "mingru": MinGRUCell, "minlstm": MinLSTMCell, "lru": LRUCell, "slstm": SLSTMCell,
    }
    for name, cls in expected.items():
        assert rnnkit.cells.CELLS[name] is cls


# --- the math of each cell, by hand -------------------------------------------------------------


def test_indrnn_toy_values_and_constraint():
    cell = IndRNNCell(1, 2, recurrent_max_abs=0.5).double()
    with torch.no_grad():
        cell.weight_ih.fill_(1.0)
        cell.weight_hh.copy_(torch.tensor([0.25, 3.0]))  # the second is past the bound
    h = torch.zeros(1, 2, dtype=F64)
    _, h = cell(torch.tensor([[1.0]], dtype=F64), h)
    _, h = cell(torch.tensor([[2.0]], dtype=F64), h)
    assert h.tolist() == [[2.0 + 0.25 * 1.0, 2.0 + 0.5 * 1.0]]  # u clamped to 0.5 in the step
    assert cell.weight_hh[1].item() == 3.0
    cell.constrain_()
    assert cell.weight_hh.tolist() == [0.25, 0.5]
    assert IndRNNCell.recurrent_bound(1000) == pytest.approx(2 ** (1 / 1000))
    low = IndRNNCell(1, 3, recurrent_min_abs=0.2)
    with torch.no_grad():
        low.weight_hh.copy_(torch.tensor([0.05, -0.1, 0.7]))
    assert low.recurrent_weight().tolist() == pytest.approx([0.2, -0.2, 0.7])
    with pytest.raises(ValueError, match="recurrent_min_abs, recurrent_max_abs"):
        IndRNNCell(1, 2, recurrent_max_abs=0.1, recurrent_min_abs=0.5)


def test_indrnn_initial_weights_respect_the_bound():
    bound = IndRNNCell.recurrent_bound(100)
    cell = IndRNNCell(3, 500, recurrent_max_abs=bound)
    assert 0 <= cell.weight_hh.min() and cell.weight_hh.max() <= 1.0


def test_layernorm_lstm_matches_its_equations():
    torch.manual_seed(2)
    cell = LayerNormLSTMCell(3, 4).double()
    with torch.no_grad():
        for norm in (cell.norm_ih, cell.norm_hh, cell.norm_cell):
            norm.weight.uniform_(0.5, 1.5)
        cell.norm_cell.bias.uniform_(-0.5, 0.5)
    x, h, c = (torch.randn(2, n, dtype=F64) for n in (3, 4, 4))
    _, (h1, c1) = cell(x, LSTMState(h, c))
    ln = lambda v, norm: F.layer_norm(v, v.shape[-1:], norm.weight, norm.bias, 1e-5)  # noqa: E731
    gates = ln(x @ cell.weight_ih.T, cell.norm_ih) + ln(h @ cell.weight_hh.T, cell.norm_hh) + cell.bias
    i, f, g, o = gates.chunk(4, -1)
    c_ref = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_ref = torch.sigmoid(o) * torch.tanh(ln(c_ref, cell.norm_cell))
    assert max_diff(c1, c_ref) < 1e-14 and max_diff(h1, h_ref) < 1e-14
    assert torch.equal(cell.bias[4:8], torch.ones(4, dtype=F64))  # forget bias


def test_layernorm_gru_matches_its_equations():
    torch.manual_seed(3)
    cell = LayerNormGRUCell(3, 4).double()
    x, h = torch.randn(2, 3, dtype=F64), torch.randn(2, 4, dtype=F64)
    _, h1 = cell(x, h)
    gx = F.layer_norm(x @ cell.weight_ih.T, (12,), cell.norm_ih.weight) + cell.bias_ih
    gh = F.layer_norm(h @ cell.weight_hh.T, (12,), cell.norm_hh.weight) + cell.bias_hh
    (xr, xz, xn), (hr, hz, hn) = gx.chunk(3, -1), gh.chunk(3, -1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    assert max_diff(h1, (1 - z) * n + z * h) < 1e-14


def _g(v):
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def test_mingru_step_is_the_papers_sequential_form():
    torch.manual_seed(4)
    cell = MinGRUCell(3, 4).double()
    x, h = torch.randn(5, 3, dtype=F64), torch.randn(5, 4, dtype=F64)
    y, h1 = cell(x, h)
    k, cand = (x @ cell.weight_ih.T + cell.bias_ih).chunk(2, -1)
    z = torch.sigmoid(k)
    assert max_diff(h1, (1 - z) * h + z * _g(cand)) < 1e-14 and y is h1
    # g is continuous at 0 with g(0) = 1/2, and its log is finite far into the negative side.
    assert _g(torch.tensor([0.0])).item() == 0.5
    assert torch.isfinite(rnnkit.cells.mingru.log_g(torch.tensor([-200.0, 0.0, 200.0]))).all()


def test_minlstm_step_is_the_papers_normalised_form():
    torch.manual_seed(5)
    cell = MinLSTMCell(3, 4).double()
    x, h = torch.randn(5, 3, dtype=F64), torch.randn(5, 4, dtype=F64)
    _, h1 = cell(x, h)
    kf, ki, cand = (x @ cell.weight_ih.T + cell.bias_ih).chunk(3, -1)
    f, i = torch.sigmoid(kf), torch.sigmoid(ki)
    assert max_diff(h1, f / (f + i) * h + i / (f + i) * _g(cand)) < 1e-14


def test_lru_step_is_its_complex_recurrence():
    torch.manual_seed(6)
    cell = LRUCell(3, 5, output_size=2, r_min=0.4, r_max=0.9).double()
    x = torch.randn(2, 3, dtype=F64)
    h = torch.randn(2, 5, dtype=torch.complex128)
    y, state = cell(x, torch.view_as_real(h))
    lam = torch.exp(-torch.exp(cell.nu_log) + 1j * torch.exp(cell.theta_log))
    b_matrix = torch.complex(cell.B_re, cell.B_im)
    h_ref = lam * h + torch.exp(cell.gamma_log) * (x.to(torch.complex128) @ b_matrix.T)
    y_ref = (h_ref @ torch.complex(cell.C_re, cell.C_im).T).real + x @ cell.D.T
    assert max_diff(torch.view_as_complex(state), h_ref) < 1e-14 and max_diff(y, y_ref) < 1e-14


def test_lru_initialisation_ring_and_normalisation():
    torch.manual_seed(7)
    cell = LRUCell(2, 2000, r_min=0.9, r_max=0.999, max_phase=math.pi / 10).double()
    modulus = cell.eigenvalues().abs()
    assert 0.9 - 1e-12 <= modulus.min() and modulus.max() <= 0.999 + 1e-12
    assert cell.eigenvalues().angle().abs().max() <= math.pi / 10 + 1e-12
    assert max_diff(torch.exp(cell.gamma_log), torch.sqrt(1 - modulus**2)) < 1e-6  # initialised in float32
    # Any nu keeps |lambda| < 1: the exponential parameterisation is stable by construction.
    with torch.no_grad():
        cell.nu_log.uniform_(-30, 5)
    assert cell.eigenvalues().abs().max() < 1
    assert LRUCell(3, 4)(torch.randn(1, 3))[0].shape == (1, 3)  # the paper's block: output = input width


def test_slstm_stabilised_step_equals_the_unstabilised_equations():
    torch.manual_seed(8)
    cell = SLSTMCell(3, 4, num_heads=2, forget_gate="exp").double()
    xs = torch.randn(6, 2, 3, dtype=F64)
    state = cell.initial_state(2, dtype=F64)
    h, c, n = (torch.zeros(2, 4, dtype=F64) for _ in range(3))
    for x in xs:
        y, state = cell(x, state)
        rec = torch.stack([h[:, :2] @ cell.weight_hh[0].T, h[:, 2:] @ cell.weight_hh[1].T], 1)  # (B, heads, 4*dh)
        rec = rec.view(2, 2, 4, 2).transpose(1, 2).reshape(2, 16)
        i, f, z, o = (x @ cell.weight_ih.T + cell.bias + rec).chunk(4, -1)
        c = torch.exp(f) * c + torch.exp(i) * torch.tanh(z)
        n = torch.exp(f) * n + torch.exp(i)
        h = torch.sigmoid(o) * c / n
        assert max_diff(y, h) < 1e-12
    # The stabiliser keeps the stored c, n bounded although exp(i) * ... is not.
    assert state.n.abs().max() < 1e6


def test_slstm_survives_gates_that_overflow_exp():
    layer = rnnkit.Recurrent(SLSTMCell, 1, 2, forget_gate="exp").double()
    with torch.no_grad():
        layer.cells["l0"].weight_ih.fill_(100.0)  # pre-activations ~1000: exp overflows float64
    y, state = layer(torch.full((1, 5, 1), 10.0, dtype=F64))
    assert torch.isfinite(y).all() and all(torch.isfinite(t).all() for t in state)


def test_option_errors_name_the_argument():
    with pytest.raises(ValueError, match="num_heads"):
        SLSTMCell(2, 5, num_heads=2)
    with pytest.raises(ValueError, match="forget_gate"):
        SLSTMCell(2, 4, forget_gate="relu")
    with pytest.raises(ValueError, match="r_min, r_max"):
        LRUCell(2, 4, r_min=0.9, r_max=0.5)
    with pytest.raises(ValueError, match="nonlinearity"):
        IndRNNCell(2, 4, nonlinearity="sigmoid")
