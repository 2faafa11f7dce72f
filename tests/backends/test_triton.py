"""The Triton kernels, run on the CPU by Triton's interpreter (``TRITON_INTERPRET=1``) at tiny sizes:
persistent and per-step LSTM/GRU (layer-norm variants included) and the chunked scan, against the
reference loop in float64 (outputs, final states, every gradient; lengths, both directions) to
float32 precision, which is what the kernels compute in.
Skipped, with the reason, where Triton is not installed. Their speed needs a GPU:
``benchmarks/gpu_check.py``."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before Triton is imported: kernels run on the CPU

import pytest
import torch

import rnnkit
from rnnkit.backends.triton import interpreting, triton_unavailable
from tests.conftest import max_diff

F64 = torch.float64
pytestmark = [
    pytest.mark.skipif(triton_unavailable("cpu") is not None, reason=str(triton_unavailable("cpu"))),
    pytest.mark.skipif(not interpreting(), reason="Triton was imported before TRITON_INTERPRET=1 could be set"),
]


def _loss(out, state):
    total = (out * torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).view_as(out)).sum()
    for t in rnnkit.cells.state_tensors(state):
        total = total + (t * torch.linspace(-1.0, 1.0, t.numel(), dtype=t.dtype).view_as(t)).sum()
    return total


def _compare(cell, mode, *, bidirectional=True, hidden=5):
    from rnnkit.backends.triton import runner

    torch.manual_seed(0)
    loop = rnnkit.Recurrent(cell, 3, hidden, bidirectional=bidirectional, backend="loop").double()
    ours = rnnkit.Recurrent(cell, 3, hidden, bidirectional=bidirectional, backend="triton").double()
    ours.load_state_dict(loop.state_dict())
    x = torch.randn(3, 5, 3, dtype=F64, requires_grad=True)
    h0 = rnnkit.cells.map_state(lambda t: torch.randn_like(t).requires_grad_(), loop.initial_state(3, dtype=F64))
    lengths = torch.tensor([5, 2, 4])
    results = []
    original, runner_mode = runner.run_triton, ({"mode": mode} if mode else {})
    for layer in (loop, ours):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(runner, "run_triton", lambda *a, **k: original(*a, **{**k, **runner_mode}))
            out, state = layer(x, h0, lengths)
        params = [x, *rnnkit.cells.state_tensors(h0), *layer.parameters()]
        results.append((out, state, torch.autograd.grad(_loss(out, state), params, allow_unused=True)))
    (out_a, state_a, grads_a), (out_b, state_b, grads_b) = results
    assert ours.backend == "triton"
    # The kernels compute in float32 whatever the storage dtype (bfloat16 on GPUs): float32 agreement.
    assert max_diff(out_a, out_b) < 1e-6 and max_diff(state_a, state_b) < 1e-6
    for a, b in zip(grads_a, grads_b, strict=True):
        assert (a is None and b is None) or max_diff(a, b) < 2e-5


@pytest.mark.parametrize("cell", ["lstm", "layernorm_lstm", "gru", "layernorm_gru"])
@pytest.mark.parametrize("mode", ["persistent", "steps"])
def test_triton_lstm_gru_kernels_equal_the_loop(cell, mode):
    _compare(cell, mode)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_triton_scan_equals_the_loop(cell):
    _compare(cell, None)


def test_chunked_triton_scan_crosses_chunks_and_keeps_the_initial_state():
    from rnnkit.backends.triton.scan import TritonLinearScan, triton_linear_scan_forward

    g = torch.Generator().manual_seed(1)
    a = torch.rand(37, 2, 3, generator=g, dtype=F64).requires_grad_()
    b = torch.randn(37, 2, 3, generator=g, dtype=F64).requires_grad_()
    h0 = torch.randn(2, 3, generator=g, dtype=F64).requires_grad_()
    expected, h = [], h0
    for t in range(37):
        h = a[t] * h + b[t]
        expected.append(h)
    expected = torch.stack(expected)
    # 37 steps in chunks of 8: five chunks, the last one partial; lanes in blocks of 4: two blocks.
    assert max_diff(triton_linear_scan_forward(a.detach(), b.detach(), h0.detach(), chunk=8, block=4),
                    expected) < 1e-12
    weights = torch.randn(37, 2, 3, generator=g, dtype=F64)
    grads = torch.autograd.grad((TritonLinearScan.apply(a, b, h0) * weights).sum(), (a, b, h0))
    reference = torch.autograd.grad((expected * weights).sum(), (a, b, h0))
    assert max(max_diff(x, y) for x, y in zip(grads, reference, strict=True)) < 1e-12


def test_auto_picks_triton_only_where_it_was_measured_faster():
    from rnnkit.backends import Workload

    cuda = Workload(device="cuda", batch=8, steps=100, grad=True)
    for cell in ("layernorm_lstm", "layernorm_gru", "mingru", "minlstm"):
        layer = rnnkit.Recurrent(cell, 2, 4)
        assert layer.backend != "triton"  # the CPU (the interpreter is a correctness tool, never picked)
        choice = layer.backend_for(cuda)
        assert choice == "triton" and "H200" in choice.reason
        assert rnnkit.Recurrent(cell, 2, 4).double().backend_for(cuda) != "triton"  # float64: not checked on GPU
    assert rnnkit.Recurrent("lstm", 2, 4).backend_for(cuda) == "native"  # cuDNN stays
    assert rnnkit.Recurrent("lru", 2, 4).backend_for(cuda) == "scan"  # complex: no Triton scan
    with pytest.raises(ValueError, match="SLSTMCell has no Triton kernel"):
        rnnkit.Recurrent("slstm", 2, 4, backend="triton")


def test_triton_scan_keeps_bfloat16_storage_accurate():
    """Regression: the scan used to multiply in the storage dtype; in bfloat16 (under the interpreter,
    garbage; on a GPU, products that drift over long sequences). It now computes in float32."""
    from rnnkit.backends.triton.scan import triton_linear_scan_forward

    g = torch.Generator().manual_seed(2)
    a = torch.rand(200, 6, generator=g, dtype=F64) * 0.1 + 0.9
    b = torch.randn(200, 6, generator=g, dtype=F64) * 0.1
    h0 = torch.randn(6, generator=g, dtype=F64)
    expected, h = [], h0
    for t in range(200):
        h = a[t] * h + b[t]
        expected.append(h)
    got = triton_linear_scan_forward(a.bfloat16(), b.bfloat16(), h0.bfloat16(), chunk=16, block=4)
    assert got.dtype == torch.bfloat16
    # bfloat16 storage of the inputs and outputs alone costs about 1e-2 of the scale here.
    assert max_diff(got.double(), torch.stack(expected)) < 3e-2 * torch.stack(expected).abs().max()


def test_triton_layer_can_be_built_on_the_cpu_and_says_why_a_cpu_input_cannot_run(monkeypatch):
    """Regression: construction refused backend="triton" because new parameters live on the CPU,
    so ``Recurrent(..., backend="triton").cuda()`` could never be written."""
    import rnnkit.backends.triton.runner as runner

    monkeypatch.setenv("TRITON_INTERPRET", "0")  # as on a machine without the interpreter
    layer = rnnkit.Recurrent("lstm", 3, 4, backend="triton")
    assert layer.backend == "triton"
    with pytest.raises(ValueError, match=r"backend='triton' cannot run this input: .*not on cpu"):
        runner.run_triton(layer.first_cell, torch.randn(2, 1, 3), layer.first_cell.initial_state(1))


def test_persistent_fits_counts_the_padded_tile():
    """Regression: fits() sized the weight by H, but the kernel loads tiles padded to a power of two,
    so a float32 LSTM at H=90 (a 128-wide tile, 256 KB: out of shared memory on an H200) passed."""
    from rnnkit.backends.triton import persistent

    assert persistent.fits(64, element_size=4) and not persistent.fits(90, element_size=4)
    assert persistent.fits(128, element_size=2) and not persistent.fits(128, element_size=2, layer_norm=True)
    assert not persistent.fits(140, gates=3, element_size=2)  # a 256-wide tile
