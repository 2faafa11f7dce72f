"""Bad arguments get an exception that names the argument, what was expected and what came."""

from __future__ import annotations

import pytest
import torch

import rnnkit


@pytest.fixture
def layer():
    return rnnkit.Recurrent("lstm", 3, 4, num_layers=2)


def test_wrong_rank(layer):
    with pytest.raises(ValueError, match=r"x: expected a 3-D tensor .*input_size=3.*got shape \(5, 3\)"):
        layer(torch.randn(5, 3))


def test_wrong_feature_size(layer):
    with pytest.raises(ValueError, match=r"x: expected input_size=3 .*got shape \(2, 5, 7\)"):
        layer(torch.randn(2, 5, 7))


def test_integer_input(layer):
    with pytest.raises(TypeError, match=r"x: expected a floating-point tensor, got dtype torch.int64"):
        layer(torch.ones(2, 5, 3, dtype=torch.long))


def test_dtype_mismatch(layer):
    with pytest.raises(TypeError, match=r"x: expected dtype torch.float32 .*got torch.float64"):
        layer(torch.randn(2, 5, 3, dtype=torch.float64))


def test_lengths_longer_than_time(layer):
    with pytest.raises(ValueError, match=r"lengths: .*<= the time dimension 5, got a maximum of 6"):
        layer(torch.randn(2, 5, 3), lengths=torch.tensor([6, 2]))


def test_lengths_below_one(layer):
    with pytest.raises(ValueError, match=r"lengths: every length must be >= 1, got a minimum of 0"):
        layer(torch.randn(2, 5, 3), lengths=[0, 2])


def test_lengths_wrong_shape(layer):
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\) .*got \(3,\)"):
        layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 2, 1]))
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\)"):
        layer(torch.randn(2, 5, 3), lengths=torch.tensor([[5, 2]]))


def test_lengths_wrong_dtype(layer):
    with pytest.raises(TypeError, match=r"lengths: expected integers, got dtype torch.float32"):
        layer(torch.randn(2, 5, 3), lengths=torch.tensor([5.0, 2.0]))


def test_lengths_wrong_device(layer):
    lengths = torch.tensor([5, 2], device="meta")
    with pytest.raises(ValueError, match=r"lengths: expected a tensor on the CPU or on the input's device cpu, got meta"):  # noqa: E501
        layer(torch.randn(2, 5, 3), lengths=lengths)


def test_state_wrong_shape(layer):
    good = layer.initial_state(2)
    with pytest.raises(ValueError, match=r"state.c: expected shape \(2, 2, 4\), got \(2, 3, 4\)"):
        layer(torch.randn(2, 5, 3), (good.h, torch.zeros(2, 3, 4)))
    with pytest.raises(TypeError, match=r"state: expected a tuple of 2 tensors \(h, c\), got Tensor"):
        layer(torch.randn(2, 5, 3), good.h)
    gru = rnnkit.Recurrent("gru", 3, 4)
    with pytest.raises(ValueError, match=r"state: expected shape \(1, 2, 4\), got \(2, 4\)"):
        gru(torch.randn(2, 5, 3), torch.zeros(2, 4))


def test_mask_and_lengths_together_and_bad_mask(layer):
    x = torch.randn(2, 3, 3)
    with pytest.raises(ValueError, match="give one of them"):
        layer(x, lengths=[3, 1], mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask: expected right padding"):
        layer(x, mask=torch.tensor([[True, False, True], [True, True, True]]))
    out, _ = layer(x, mask=torch.tensor([[True, True, False], [True, True, True]]))
    assert torch.all(out[0, 2] == 0)


def test_empty_time_dimension(layer):
    with pytest.raises(ValueError, match="x: the time dimension is empty"):
        layer(torch.randn(2, 0, 3))


@pytest.mark.parametrize("backend", ["native", "loop"])
def test_empty_batch_returns_empty_outputs(backend):
    layer = rnnkit.Recurrent("lstm", 3, 4, num_layers=2, bidirectional=True, backend=backend)
    out, (h, c) = layer(torch.randn(0, 5, 3), lengths=torch.zeros(0, dtype=torch.long))
    assert out.shape == (0, 5, 8) and h.shape == (4, 0, 4) and c.shape == (4, 0, 4)


def test_forcing_native_for_a_cell_without_kernel():
    from tests.cells.test_cells import LeakyIntegratorCell

    with pytest.raises(ValueError, match="backend='native' is not available: LeakyIntegratorCell has no fused"):
        rnnkit.Recurrent(LeakyIntegratorCell, 2, 3, backend="native")
    expected = r"backend: expected one of \('auto', 'native', 'scan', 'fused', 'triton', 'loop'\), got 'cuda'"
    with pytest.raises(ValueError, match=expected):
        rnnkit.Recurrent("gru", 2, 3, backend="cuda")


def test_constructor_errors():
    with pytest.raises(ValueError, match="num_layers: expected a positive integer, got 0"):
        rnnkit.Recurrent("gru", 2, 3, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\), got 1.5"):
        rnnkit.Recurrent("gru", 2, 3, dropout=1.5)


def test_step_errors():
    layer = rnnkit.Recurrent("gru", 3, 4)
    with pytest.raises(ValueError, match=r"x: expected one step of shape \(batch, input_size=3\), got \(2, 1, 3\)"):
        layer.step(torch.randn(2, 1, 3))
    with pytest.raises(ValueError, match="x: expected input_size=3"):
        layer.step(torch.randn(2, 5))


def test_dropin_errors_are_torchs_own():
    lstm = rnnkit.LSTM(3, 4, backend="loop")
    reference = torch.nn.LSTM(3, 4)
    for bad in (torch.randn(5, 2, 7), torch.randn(1, 5, 2, 3)):
        with pytest.raises(Exception) as ours:
            lstm(bad)
        with pytest.raises(Exception) as theirs:
            reference(bad)
        assert type(ours.value) is type(theirs.value)
    with pytest.raises(TypeError, match=r"input: expected a floating-point tensor, got dtype torch\.int64"):
        lstm(torch.ones(5, 2, 3, dtype=torch.long))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size"):
        lstm(torch.randn(5, 2, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 2, 4)))
