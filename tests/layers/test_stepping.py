"""The cheap streaming step: same numbers as the whole-sequence forward, errors kept."""

from __future__ import annotations

import pytest
import torch

import rnnkit

from ..conftest import max_diff

F64 = torch.float64
CELLS = [("lstm", {}), ("gru", {}), ("elman", {"nonlinearity": "relu"}), ("lstm", {"bias": False}),
         ("layernorm_lstm", {}), ("layernorm_gru", {}), ("indrnn", {}), ("mingru", {}), ("lstm", {"proj_size": 3})]


@pytest.mark.parametrize(("cell", "options"), CELLS)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_step_and_length_one_forward_equal_the_whole_sequence(cell, options, num_layers):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(cell, 4, 5, num_layers=num_layers, residual=num_layers > 1, **options).double()
    x = torch.randn(3, 6, 4, dtype=F64)
    whole, final = layer(x)
    state, steps, chunks, chunk_state = None, [], [], None
    for t in range(x.shape[1]):
        y, state = layer.step(x[:, t], state)
        steps.append(y)
        out, chunk_state = layer(x[:, t : t + 1], chunk_state)  # length-1 forward: the step path
        chunks.append(out)
        assert torch.equal(out[:, 0], y)  # the very same computation
    assert max_diff(torch.stack(steps, dim=1), whole) <= 1e-12
    assert max_diff(torch.cat(chunks, dim=1), whole) <= 1e-12
    assert max_diff(state, final) <= 1e-12 and max_diff(chunk_state, final) <= 1e-12


def test_step_gradients_equal_the_forward_gradients():
    torch.manual_seed(1)
    layer = rnnkit.Recurrent("lstm", 3, 4, num_layers=2).double()
    x = torch.randn(2, 5, 3, dtype=F64)
    whole, _ = layer(x)
    expected = torch.autograd.grad(whole.square().sum(), list(layer.parameters()))
    state, loss = None, 0.0
    for x_t in x.unbind(1):
        y, state = layer.step(x_t, state)
        loss = loss + y.square().sum()
    got = torch.autograd.grad(loss, list(layer.parameters()))
    assert max(max_diff(a, b) for a, b in zip(got, expected, strict=True)) <= 1e-12


def test_step_keeps_its_errors():
    layer = rnnkit.Recurrent("lstm", 3, 4)
    with pytest.raises(ValueError, match="x: expected input_size=3 features"):
        layer.step(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"state\.h: expected shape"):
        layer.step(torch.randn(2, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 3, 4)))
    with pytest.raises(TypeError, match=r"x: expected dtype torch\.float32"):
        layer.step(torch.randn(2, 3, dtype=F64))
    with pytest.raises(ValueError, match="input"):  # a length-1 forward of the wrong size: forward's own check
        layer(torch.randn(2, 1, 5))
    y, state = layer.step(torch.randn(2, 3), [torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)])  # a list is fine
    assert isinstance(state, rnnkit.LSTMState) and y.shape == (2, 4)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize(("num_layers", "bias", "batch_first", "with_state"),
                         [(1, True, True, False), (2, True, False, True), (2, False, True, True)])
def test_dropin_length_one_input_equals_torch(kind, num_layers, bias, batch_first, with_state):
    torch.manual_seed(2)
    reference = getattr(torch.nn, kind)(3, 4, num_layers=num_layers, bias=bias, batch_first=batch_first).double()
    ours = getattr(rnnkit, kind)(3, 4, num_layers=num_layers, bias=bias, batch_first=batch_first).double()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 1, 3, dtype=F64) if batch_first else torch.randn(1, 2, 3, dtype=F64)
    hx = None
    if with_state:
        h = torch.randn(num_layers, 2, 4, dtype=F64)
        hx = (h, torch.randn_like(h)) if kind == "LSTM" else h
    want_out, want_state = reference(x, hx)
    got_out, got_state = ours(x, hx)
    assert got_out.shape == want_out.shape
    assert max_diff(got_out, want_out) <= 1e-12 and max_diff(got_state, want_state) <= 1e-12
    # Gradients flow through the step path as through torch's kernel.
    want = torch.autograd.grad(want_out.sum(), list(reference.parameters()))
    got = torch.autograd.grad(ours(x, hx)[0].sum(), list(ours.parameters()))
    assert max(max_diff(a, b) for a, b in zip(got, want, strict=True)) <= 1e-12


def test_dropin_unusual_inputs_take_torchs_path():
    layer = rnnkit.LSTM(3, 4, batch_first=True)
    with pytest.raises(RuntimeError, match=r"input\.size\(-1\) must be equal to input_size"):
        layer(torch.randn(2, 1, 5))  # torch's own message
    with pytest.raises(RuntimeError, match="Expected hidden"):
        layer(torch.randn(2, 1, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 3, 4)))


def test_dropin_refuses_a_non_boolean_flag_at_construction():
    import pytest

    import rnnkit

    with pytest.raises(TypeError, match="bidirectional: expected True or False, got None"):
        rnnkit.RNN(1, 1, bidirectional=None)


def test_dropin_refuses_a_boolean_size_at_construction():
    # torch.nn takes num_layers=True (bool is an int) and fails in forward with a TypeError about the
    # kernel's argument list; found by the fuzz suite.
    import pytest

    import rnnkit

    for kind in (rnnkit.RNN, rnnkit.GRU, rnnkit.LSTM):
        with pytest.raises(TypeError, match="num_layers: expected an integer, got True"):
            kind(1, 2, num_layers=True)
    with pytest.raises(TypeError, match="hidden_size: expected an integer, got True"):
        rnnkit.GRU(1, True)
    assert rnnkit.LSTM(1, 2, num_layers=2)(torch.randn(3, 1, 1))[0].shape == (3, 1, 2)


def test_recurrent_refuses_bad_options_naming_them():
    import pytest

    import rnnkit

    with pytest.raises(TypeError, match="regularizers: expected a list"):
        rnnkit.Recurrent("lstm", 2, 3, regularizers=None)
    with pytest.raises(TypeError, match="dropout: expected a probability"):
        rnnkit.Recurrent("lstm", 2, 3, dropout=None)
    with pytest.raises(TypeError, match="nonlinearity: not an option of LSTMCell"):
        rnnkit.Recurrent("lstm", 2, 3, nonlinearity="tanh")
    assert rnnkit.Recurrent("elman", 2, 3, nonlinearity="relu").cells["l0"].nonlinearity == "relu"
