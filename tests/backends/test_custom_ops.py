"""rnnkit's compiled kernels as custom operators: opcheck, torch.compile and torch.export for every backend."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend
from torch.utils._pytree import tree_leaves

import rnnkit
from rnnkit.backends.fused import kernels_ready, kernels_unavailable

needs_kernels = pytest.mark.skipif(kernels_unavailable() is not None, reason=f"no kernels: {kernels_unavailable()}")


def _args(family: str, generator: torch.Generator) -> tuple:
    steps, batch, hidden = 5, 3, 4
    r = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64, requires_grad=True)  # noqa: E731
    lengths = torch.tensor([5, 2, 4])
    if family == "lstm":  # layer-norm LSTM with lengths and evaluation-mode zoneout
        return (r(steps, batch, 4 * hidden), r(batch, hidden), r(batch, hidden), r(4 * hidden, hidden), r(4 * hidden),
                r(hidden), r(hidden), 1e-5, lengths, None, None, 0.2, None, 0.1, True)
    if family == "gru":
        return (r(steps, batch, 3 * hidden), r(batch, hidden), r(3 * hidden, hidden), r(3 * hidden), None, 1e-5,
                lengths, None, None, 0.0, True)
    if family == "simple":
        return (r(steps, batch, hidden), r(batch, hidden), r(hidden, hidden), False, lengths, None, None, 0.0, True)
    if family == "scan":
        return (torch.rand(steps, batch, hidden, generator=generator, dtype=torch.float64).requires_grad_(),
                r(steps, batch, hidden), r(batch, hidden), False)
    return (r(steps, batch, 2 * hidden), r(batch, hidden), False)  # min (minGRU)


@needs_kernels
@pytest.mark.parametrize("family", ["lstm", "gru", "simple", "scan", "min"])
def test_opcheck_and_gradients_of_each_operator(family):
    assert kernels_ready()
    op = getattr(torch.ops.rnnkit, f"{family}_forward").default
    args = _args(family, torch.Generator().manual_seed(0))
    # Schema, fake tensors, autograd registration, aot dispatch. Without lengths: with them, the saved
    # buffers (outputs past the backward-only ones) are not written past each sequence's end, so two
    # runs differ there (never read by the backward) and the aot comparison of every output fails.
    no_lengths = tuple(None if i == _LENGTHS.get(family) else a for i, a in enumerate(args))
    torch.library.opcheck(op, no_lengths)
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_autograd_registration", "test_faketensor"))
    # The registered backward is the hand-written BPTT: against finite differences (float64).
    inputs = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]

    def first_outputs(*tensors):
        full = list(args)
        for i, t in zip(inputs, tensors, strict=True):
            full[i] = t
        out = op(*full)
        return tuple(out[:_OUTPUTS[family]]) if isinstance(out, list) else out  # not the saved buffers

    assert torch.autograd.gradcheck(first_outputs, [args[i] for i in inputs], atol=1e-6)


_OUTPUTS = {"lstm": 3, "gru": 2, "simple": 2}  # out, h(, c); the rest are the backward's buffers
_LENGTHS = {"lstm": 8, "gru": 6, "simple": 4}  # the argument index of lengths

CASES = [("layernorm_lstm", "fused"), ("gru", "fused"), ("indrnn", "fused"), ("mingru", "scan"), ("lru", "scan")]
OPS = {"layernorm_lstm": "lstm_forward", "gru": "gru_forward", "indrnn": "simple_forward", "mingru": "min_forward",
       "lru": "scan_forward"}


@needs_kernels
@pytest.mark.parametrize(("cell", "backend"), CASES)
def test_torch_compile_traces_the_kernels_forward_and_backward(cell, backend):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(cell, 3, 4, backend=backend, bidirectional=True)
    x = torch.randn(3, 7, 3, requires_grad=True)
    lengths = torch.tensor([7, 2, 5])
    out, _ = layer(x, lengths=lengths)
    out.square().sum().backward()
    expected = [p.grad.clone() for p in layer.parameters()] + [x.grad.clone()]
    layer.zero_grad()
    x.grad = None
    counter = CompileCounterWithBackend("aot_eager")
    compiled_out, _ = torch.compile(layer, backend=counter)(x, lengths=lengths)
    compiled_out.square().sum().backward()
    traced = {str(n.target) for graph in counter.graphs for n in graph.graph.nodes}
    assert any(f"rnnkit.{OPS[cell]}" in t for t in traced)  # the operator, not a graph break around a Function
    assert torch.equal(compiled_out, out)
    for got, want in zip([p.grad for p in layer.parameters()] + [x.grad], expected, strict=True):
        assert torch.allclose(got, want, atol=1e-6)


@pytest.mark.parametrize(("cell", "backend", "op"), [
    ("lstm", "native", "rnnkit.lstm_layer.default"),
    ("elman", "loop", "rnnkit.rnn_layer.default"),
    ("indrnn", "loop", "scan"),
    pytest.param("layernorm_lstm", "fused", "rnnkit.lstm_forward.default", marks=needs_kernels),
    pytest.param("mingru", "scan", "rnnkit.min_forward.default", marks=needs_kernels),
])
def test_torch_export_with_dynamic_batch_and_time_for_every_backend(cell, backend, op):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(cell, 3, 4, backend=backend, bidirectional=True).eval()
    batch, time = torch.export.Dim("batch"), torch.export.Dim("time")
    program = torch.export.export(layer, (torch.randn(2, 6, 3), None, torch.tensor([6, 3])),
                                  dynamic_shapes=({0: batch, 1: time}, None, {0: batch}))
    assert any(op in str(n.target) for n in program.graph.nodes)
    x, lengths = torch.randn(5, 11, 3), torch.tensor([11, 1, 4, 11, 6])
    got = tree_leaves(program.module()(x, None, lengths))
    want = tree_leaves(layer(x, lengths=lengths))
    assert max((a - b).abs().max().item() for a, b in zip(got, want, strict=True)) < 1e-5


def test_a_drop_in_on_the_loop_backend_exports_with_dynamic_time():
    torch.manual_seed(0)
    module = rnnkit.GRU(3, 4, num_layers=2, batch_first=True, backend="loop").eval()
    batch, time = torch.export.Dim("batch"), torch.export.Dim("time")
    program = torch.export.export(module, (torch.randn(2, 6, 3),), dynamic_shapes=({0: batch, 1: time},))
    x = torch.randn(4, 13, 3)
    (out, h), (want_out, want_h) = program.module()(x), module(x)
    assert (out - want_out).abs().max().item() < 1e-5 and (h - want_h).abs().max().item() < 1e-5
