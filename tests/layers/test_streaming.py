"""Streaming: step-by-step and chunked calls equal one call over the whole sequence."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from tests.cells.test_cells import LeakyIntegratorCell
from tests.conftest import max_diff

CELLS = [
    ("elman", {}),
    ("elman", {"nonlinearity": "relu"}),
    ("lstm", {}),
    ("lstm", {"proj_size": 3}),
    ("gru", {}),
    (LeakyIntegratorCell, {"leak": 0.9}),
]
IDS = ["elman-tanh", "elman-relu", "lstm", "lstm-proj", "gru", "custom"]


@pytest.mark.parametrize(("cell", "options"), CELLS, ids=IDS)
@pytest.mark.parametrize("backend", ["auto", "loop"])
@pytest.mark.parametrize("chunks", [[10], [1, 9], [3, 3, 4], [1] * 10])
def test_chunked_calls_equal_one_call(cell, options, backend, chunks):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(cell, 4, 5, num_layers=2, residual=True, backend=backend, **options).double()
    x = torch.randn(3, sum(chunks), 4, dtype=torch.float64)
    whole, final = layer(x)
    state, outs, start = None, [], 0
    for size in chunks:
        out, state = layer(x[:, start : start + size], state)
        outs.append(out)
        start += size
    assert max_diff(torch.cat(outs, dim=1), whole) <= 1e-12
    assert max_diff(state, final) <= 1e-12


@pytest.mark.parametrize(("cell", "options"), CELLS, ids=IDS)
def test_step_by_step_equals_one_call(cell, options):
    torch.manual_seed(1)
    layer = rnnkit.Recurrent(cell, 4, 5, num_layers=3, **options).double()
    x = torch.randn(2, 7, 4, dtype=torch.float64)
    whole, final = layer(x)
    state, outs = None, []
    for x_t in x.unbind(1):
        y, state = layer.step(x_t, state)
        outs.append(y)
    assert max_diff(torch.stack(outs, dim=1), whole) <= 1e-12
    assert max_diff(state, final) <= 1e-12


def test_time_major_chunks():
    torch.manual_seed(2)
    layer = rnnkit.Recurrent("gru", 2, 3, batch_first=False, backend="loop").double()
    x = torch.randn(8, 2, 2, dtype=torch.float64)
    whole, final = layer(x)
    a, s = layer(x[:5])
    b, s = layer(x[5:], s)
    assert max_diff(torch.cat([a, b]), whole) <= 1e-12 and max_diff(s, final) <= 1e-12


def test_streaming_a_bidirectional_layer_is_an_error():
    layer = rnnkit.Recurrent("lstm", 2, 3, bidirectional=True)
    with pytest.raises(RuntimeError, match="bidirectional layer cannot stream"):
        layer.step(torch.randn(1, 2))


def test_final_state_is_last_real_step_and_padding_is_zero():
    torch.manual_seed(3)
    for backend in ("loop", "native"):
        layer = rnnkit.Recurrent("lstm", 2, 3, bidirectional=True, backend=backend).double()
        x = torch.randn(2, 6, 2, dtype=torch.float64)
        out, (h, c) = layer(x, lengths=torch.tensor([6, 3]))
        assert torch.all(out[1, 3:] == 0)
        alone, (h_alone, c_alone) = layer(x[1:, :3])
        assert max_diff(out[1:, :3], alone) <= 1e-12
        assert max_diff(h[:, 1:], h_alone) <= 1e-12 and max_diff(c[:, 1:], c_alone) <= 1e-12
