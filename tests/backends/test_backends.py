"""Backend choice and the loop backend's helpers."""

from __future__ import annotations

import copy

import pytest
import torch

import rnnkit
from rnnkit.backends import Workload, choose_backend, kernels_unavailable, reverse_padded


def test_reverse_padded_flips_only_the_valid_prefix_and_is_an_involution():
    x = torch.arange(12.0).view(4, 3)  # (T=4, B=3)
    lengths = torch.tensor([4, 2, 1])
    flipped = reverse_padded(x, lengths)
    assert flipped[:, 0].tolist() == [9.0, 6.0, 3.0, 0.0]
    assert flipped[:, 1].tolist() == [4.0, 1.0, 7.0, 10.0]
    assert flipped[:, 2].tolist() == [2.0, 5.0, 8.0, 11.0]
    assert torch.equal(reverse_padded(flipped, lengths), x)
    assert torch.equal(reverse_padded(x, None), x.flip(0))


def test_auto_choice_and_reasons():
    layer = rnnkit.Recurrent("lstm", 2, 3)
    assert layer.backend == "native" and "fused PyTorch kernel" in layer.backend.reason
    forced = rnnkit.Recurrent("gru", 2, 3, backend="loop")
    assert forced.backend == "loop" and forced.backend.reason == "forced with backend='loop'"
    assert "backend='loop'" in repr(forced)
    assert choose_backend("native", list(layer.cells.values())).reason.endswith("forced with backend='native'")


def test_subclass_of_standard_cell_is_not_sent_to_the_fused_kernel():
    class DoubledLSTMCell(rnnkit.LSTMCell):
        def step(self, px, state):
            y, s = super().step(px, state)
            return 2 * y, s

    layer = rnnkit.Recurrent(DoubledLSTMCell, 2, 3)
    assert layer.backend == "loop"


def test_dropin_loop_backend_survives_dtype_moves_and_deepcopy():
    lstm = rnnkit.LSTM(3, 4, backend="loop")
    x = torch.randn(5, 2, 3)
    out, _ = lstm(x)
    twin = copy.deepcopy(lstm).double()
    out64, _ = twin(x.double())
    assert (out64.float() - out).abs().max() < 1e-6
    assert out64.dtype == torch.float64
    # the loop template holds no parameters of its own
    assert [n for n, _ in lstm.named_parameters()] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]


@pytest.fixture
def threads():
    """Set torch's intra-op thread count for one test, restoring it after."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.skipif(kernels_unavailable() is not None, reason=str(kernels_unavailable()))
def test_measured_preferences_apply_only_at_the_measured_thread_count(threads):
    cells = list(rnnkit.Recurrent("gru", 2, 3).cells.values())
    threads(2)
    assert choose_backend("auto", cells, workload=Workload("cpu", 8, 100, grad=False)) == "native"


@pytest.mark.skipif(kernels_unavailable() is not None, reason=str(kernels_unavailable()))
def test_measured_preferences_depend_on_device_cell_size_and_grad_mode(threads):
    threads(1)  # the preferences were measured single-threaded
    cells = list(rnnkit.Recurrent("gru", 2, 3).cells.values())
    gru = choose_backend("auto", cells, workload=Workload("cpu", 8, 100, grad=False))
    assert gru == "fused" and "measured by `rnnkit bench speed`" in gru.reason
    assert choose_backend("auto", cells, workload=Workload("cuda", 8, 100, grad=True)) == "native"
    assert choose_backend("auto", cells, workload=Workload("cpu"), preferences=()) == "native"
    lstm = rnnkit.Recurrent("lstm", 2, 3)
    x = torch.randn(2, 4, 2)
    lstm(x)[0].sum().backward()
    assert lstm.backend == "fused" and "in training faster than oneDNN" in lstm.backend.reason
    with torch.no_grad():
        lstm(x)
    assert lstm.backend == "native"
    small, large = rnnkit.Recurrent("elman", 2, 128), rnnkit.Recurrent("elman", 2, 256)
    with torch.no_grad():
        small(torch.randn(8, 3, 2))
        large(torch.randn(8, 3, 2))
    assert small.backend == "fused" and large.backend == "native"  # batch x hidden: 1024 vs 2048


@pytest.mark.skipif(kernels_unavailable() is not None, reason=str(kernels_unavailable()))
def test_forced_backends_ignore_the_preferences(threads):
    threads(1)  # the preferences are active only at the thread count they were measured at
    cells = list(rnnkit.Recurrent("gru", 2, 3).cells.values())
    workload = Workload("cpu", 8, 100, grad=False)
    assert choose_backend("auto", cells, workload=workload) == "fused"  # a measured preference applies here...
    assert choose_backend("native", cells, workload=workload) == "native"  # ...and forcing a backend overrides it
    assert choose_backend("native", cells, workload=Workload("cpu", 8, 100, grad=True)) == "native"
