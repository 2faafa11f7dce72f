"""Initialisations: each one checked for the property it promises."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

import rnnkit
from rnnkit.cells import ConvLSTMCell, IndRNNCell, LSTMCell

F64 = torch.float64


@pytest.mark.parametrize(
    ("cell", "options", "gates"),
    [("elman", {}, 1), ("gru", {}, 3), ("lstm", {}, 4), ("layernorm_lstm", {}, 4), ("slstm", {"num_heads": 2}, 4)],
)
def test_orthogonal_blocks_have_unit_singular_values(cell, options, gates):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(cell, 3, 6, num_layers=2, **options).double()
    assert rnnkit.init.orthogonal_recurrent_(layer, gain=1.5) is layer
    for c in layer.cells.values():
        weight = c.weight_hh if c.weight_hh.dim() == 2 else c.weight_hh.flatten(0, 1)
        blocks = weight.split(weight.shape[1])
        assert len(blocks) == gates * (c.weight_hh.shape[0] if c.weight_hh.dim() == 3 else 1)
        for block in blocks:
            assert torch.allclose(torch.linalg.svdvals(block), torch.full((block.shape[1],), 1.5, dtype=F64))


def test_orthogonal_with_projection_is_semi_orthogonal():
    cell = LSTMCell(3, 6, proj_size=2).double()
    rnnkit.init.orthogonal_recurrent_(cell)
    for block in cell.weight_hh.split(6):  # (6, 2): orthonormal columns
        assert torch.allclose(block.T @ block, torch.eye(2, dtype=F64))


def test_identity_init_makes_the_recurrent_map_the_identity():
    torch.manual_seed(1)
    layer = rnnkit.Recurrent("elman", 3, 5, nonlinearity="relu").double()
    rnnkit.init.identity_recurrent_(layer)
    assert torch.equal(layer.first_cell.weight_hh, torch.eye(5, dtype=F64))
    lstm = rnnkit.init.identity_recurrent_(LSTMCell(3, 4), scale=0.5)
    assert all(torch.equal(b, 0.5 * torch.eye(4)) for b in lstm.weight_hh.split(4))
    ind = rnnkit.init.identity_recurrent_(IndRNNCell(3, 4))
    assert torch.equal(ind.weight_hh, torch.ones(4))
    conv = rnnkit.init.identity_recurrent_(ConvLSTMCell(1, 3, kernel_size=3)).double()
    h = torch.randn(2, 3, 6, 7, dtype=F64)
    for block in conv.weight_hh.split(3):  # each gate's recurrent convolution passes h through
        assert torch.equal(F.conv2d(h, block, padding=1), h)


def test_init_errors_name_the_cell():
    with pytest.raises(ValueError, match="orthogonal_recurrent_: IndRNNCell has no recurrent weight matrix"):
        rnnkit.init.orthogonal_recurrent_(IndRNNCell(2, 3))
    with pytest.raises(ValueError, match="ConvLSTMCell's recurrent weight is a convolution kernel"):
        rnnkit.init.orthogonal_recurrent_(ConvLSTMCell(1, 2))
    with pytest.raises(ValueError, match="module contains no RecurrentCell"):
        rnnkit.init.chrono_(torch.nn.Linear(2, 2), max_timescale=10)
    with pytest.raises(ValueError, match="chrono_: LRUCell is not supported"):
        rnnkit.init.chrono_(rnnkit.LRUCell(2, 3), max_timescale=10)
    with pytest.raises(ValueError, match="bias=False"):
        rnnkit.init.chrono_(LSTMCell(2, 3, bias=False), max_timescale=10)
    with pytest.raises(ValueError, match="max_timescale: expected a number > 2"):
        rnnkit.init.chrono_(LSTMCell(2, 3), max_timescale=2)


def _keep_at_zero_input(cell: str, layer: rnnkit.Recurrent) -> torch.Tensor:
    """Per-unit fraction of the memory kept in one step at zero input and zero state."""
    c = layer.first_cell
    zeros = torch.zeros(1, c.input_size, dtype=F64)
    if cell in ("mingru", "minlstm"):
        return torch.exp(c.coefficients(c.project_input(zeros)).log_a)[0]
    h = c.hidden_size
    if cell == "lstm":
        return torch.sigmoid(c.bias_ih[h : 2 * h] + c.bias_hh[h : 2 * h])
    if cell == "layernorm_lstm":
        return torch.sigmoid(c.bias[h : 2 * h])
    return torch.sigmoid(c.bias_ih[h : 2 * h] + c.bias_hh[h : 2 * h])  # gru: z keeps


@pytest.mark.parametrize("cell", ["lstm", "layernorm_lstm", "gru", "mingru", "minlstm"])
def test_chrono_spreads_memory_time_constants_over_2_to_t_max(cell):
    torch.manual_seed(2)
    t_max = 500.0
    layer = rnnkit.Recurrent(cell, 3, 2000).double()
    rnnkit.init.chrono_(layer, max_timescale=t_max)
    timescales = 1 / (1 - _keep_at_zero_input(cell, layer))
    assert timescales.min() >= 2 - 1e-9 and timescales.max() <= t_max + 1e-6
    # u ~ U(1, T_max - 1): the time constants 1 + u are uniform over [2, T_max].
    assert timescales.min() < 3 and timescales.max() > 0.99 * t_max
    assert abs(timescales.mean().item() - (2 + t_max) / 2) < 0.05 * t_max
    c = layer.first_cell
    if cell in ("lstm", "layernorm_lstm"):
        bias = c.bias if cell == "layernorm_lstm" else c.bias_ih
        assert torch.equal(bias[:2000], -bias[2000:4000])  # input gate = -forget gate
    if cell == "minlstm":  # b_i = -b_f makes f + i = 1, so the normalised f' is sigmoid(b_f) itself
        assert torch.allclose(c.bias_ih[:2000], -c.bias_ih[2000:4000])
        assert math.isclose(timescales.max().item(), 1 + math.exp(c.bias_ih[:2000].max().item()), rel_tol=1e-9)
