"""The scan backend: the parallel form equals stepping (float64, <= 1e-8), with lengths, an initial
state, both directions and layers; the scan algorithms against a plain loop; the backend choice."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.backends import choose_backend
from rnnkit.backends.scan import chunked_scan, default_chunk_size, linear_scan, log_space_scan
from rnnkit.layers import VariationalDropout, Zoneout
from tests.conftest import max_diff

F64 = torch.float64
LINEAR_CELLS = [("mingru", {}), ("minlstm", {}), ("lru", {}), ("lru", {"output_size": 4, "r_min": 0.9, "r_max": 0.999})]
LINEAR_IDS = ["mingru", "minlstm", "lru", "lru-ring"]


def sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    h, out = h0, []
    for a_t, b_t in zip(a.expand_as(b).unbind(0), b.unbind(0), strict=True):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out)


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(1, 70), chunk=st.integers(1, 20), complex_=st.booleans(), seed=st.integers(0, 2**16))
def test_scans_equal_the_sequential_recurrence(steps, chunk, complex_, seed):
    g = torch.Generator().manual_seed(seed)
    dtype = torch.complex128 if complex_ else F64
    a = torch.rand(steps, 3, 2, generator=g, dtype=F64).to(dtype)
    if complex_:
        a = a * torch.exp(1j * torch.rand(steps, 3, 2, generator=g, dtype=F64))
    b = torch.randn(steps, 3, 2, generator=g, dtype=dtype)  # any sign
    h0 = torch.randn(3, 2, generator=g, dtype=dtype)
    expected = sequential(a, b, h0)
    assert max_diff(linear_scan(a, b, h0), expected) <= 1e-12
    assert max_diff(chunked_scan(a, b, h0, chunk_size=chunk), expected) <= 1e-12
    assert max_diff(chunked_scan(a, b, None, chunk_size=chunk), sequential(a, b, torch.zeros_like(h0))) <= 1e-12
    if not complex_:  # the paper's log-space scan: positive b, any h0
        b_pos = b.abs() + 1e-3
        got = log_space_scan(a.log(), b_pos.log(), h0, chunk_size=chunk)
        assert max_diff(got, sequential(a, b_pos, h0)) <= 1e-10


def test_default_chunk_size_is_about_sqrt_t():
    assert [default_chunk_size(t) for t in (1, 16, 100, 4096, 10**5)] == [4, 4, 8, 64, 256]


@pytest.mark.parametrize(("cell", "options"), LINEAR_CELLS, ids=LINEAR_IDS)
def test_auto_runs_the_scan_and_equals_the_loop_with_lengths_state_and_directions(cell, options):
    torch.manual_seed(0)
    scan = rnnkit.Recurrent(cell, 3, 5, num_layers=2, bidirectional=True, **options).double()
    loop = rnnkit.Recurrent(cell, 3, 5, num_layers=2, bidirectional=True, backend="loop", **options).double()
    loop.load_state_dict(scan.state_dict())
    assert scan.backend == "scan" and "linear in its state" in scan.backend.reason
    x = torch.randn(4, 150, 3, dtype=F64)  # several chunks, the last one partial
    lengths = torch.tensor([150, 1, 77, 64])
    h0 = torch.randn_like(scan.initial_state(4, dtype=F64))
    out_s, h_s = scan(x, h0, lengths)
    out_l, h_l = loop(x, h0, lengths)
    assert max_diff(out_s, out_l) <= 1e-8 and max_diff(h_s, h_l) <= 1e-8
    for b, length in enumerate(lengths.tolist()):
        assert torch.all(out_s[b, length:] == 0)


@pytest.mark.parametrize(("cell", "options"), LINEAR_CELLS, ids=LINEAR_IDS)
def test_step_streams_with_the_same_weights(cell, options):
    torch.manual_seed(1)
    layer = rnnkit.Recurrent(cell, 3, 5, num_layers=2, **options).double()
    x = torch.randn(2, 40, 3, dtype=F64)
    h0 = torch.randn_like(layer.initial_state(2, dtype=F64))
    whole, final = layer(x, h0)
    state, outs = h0, []
    for x_t in x.unbind(1):
        y, state = layer.step(x_t, state)
        outs.append(y)
    assert max_diff(torch.stack(outs, 1), whole) <= 1e-8 and max_diff(state, final) <= 1e-8


@st.composite
def problems(draw):
    batch, steps = draw(st.integers(1, 4)), draw(st.integers(1, 40))
    return {
        "cell": draw(st.sampled_from(["mingru", "minlstm", "lru"])),
        "batch": batch,
        "steps": steps,
        "hidden": draw(st.integers(1, 4)),
        "layers": draw(st.integers(1, 2)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "lengths": torch.tensor(draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))),
        "with_state": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=25, deadline=None)
@given(problems())
def test_scan_equals_loop_for_any_shape(p):
    torch.manual_seed(p["seed"])
    options = dict(num_layers=p["layers"], bidirectional=p["bidirectional"], batch_first=p["batch_first"])
    scan = rnnkit.Recurrent(p["cell"], 2, p["hidden"], **options).double()
    loop = rnnkit.Recurrent(p["cell"], 2, p["hidden"], backend="loop", **options).double()
    loop.load_state_dict(scan.state_dict())
    shape = (p["batch"], p["steps"]) if p["batch_first"] else (p["steps"], p["batch"])
    x = torch.randn(*shape, 2, dtype=F64)
    h0 = torch.randn_like(scan.initial_state(p["batch"], dtype=F64)) if p["with_state"] else None
    out_s, h_s = scan(x, h0, p["lengths"])
    out_l, h_l = loop(x, h0, p["lengths"])
    assert max_diff(out_s, out_l) <= 1e-8 and max_diff(h_s, h_l) <= 1e-8


@pytest.mark.parametrize("cell", ["mingru", "lru"])
def test_gradcheck_through_the_scan(cell):
    torch.manual_seed(2)
    layer = rnnkit.Recurrent(cell, 2, 2, bidirectional=True).double()
    assert layer.backend == "scan"
    names = [n for n, _ in layer.named_parameters()]
    x = torch.randn(2, 6, 2, dtype=F64, requires_grad=True)
    h0 = torch.randn_like(layer.initial_state(2, dtype=F64)).requires_grad_()

    def f(x, h0, *weights):
        params = dict(zip(names, weights, strict=True))
        out, h = torch.func.functional_call(layer, params, (x, h0), {"lengths": torch.tensor([6, 4])})
        return out, h

    weights = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradcheck(f, (x, h0, *weights), fast_mode=True)


def test_float32_long_sequence_stays_precise():
    # The chunked scan only multiplies and adds, so in float32 it keeps stepping's ~1e-7 relative
    # error over thousands of steps (Heinsen's unchunked log-space form loses ~1e-4 here).
    torch.manual_seed(3)
    layer = rnnkit.Recurrent("mingru", 4, 8)
    exact = rnnkit.Recurrent("mingru", 4, 8).double()
    exact.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3000, 4)
    expected, _ = exact(x.double())
    got, _ = layer(x)
    assert (got.double() - expected).abs().max().item() / expected.abs().max().item() < 1e-6


def test_backend_choice_for_linear_cells():
    layer = rnnkit.Recurrent("minlstm", 2, 3)
    assert layer.backend == "scan"
    assert rnnkit.Recurrent("mingru", 2, 3, backend="loop").backend == "loop"
    forced = rnnkit.Recurrent("lru", 2, 3, backend="scan")
    assert forced.backend.reason.endswith("forced with backend='scan'")
    with pytest.raises(ValueError, match="backend='scan' is not available: LSTMCell is not linear in its state"):
        rnnkit.Recurrent("lstm", 2, 3, backend="scan")
    with pytest.raises(ValueError, match="backend='native' is not available: MinGRUCell has no fused"):
        rnnkit.Recurrent("mingru", 2, 3, backend="native")
    # A per-step regulariser rules the scan out, and the reason says so.
    zoned = rnnkit.Recurrent("mingru", 2, 3, regularizers=[Zoneout(0.1)])
    assert zoned.backend == "loop" and "zoneout (p=0.1)" in zoned.backend.reason
    assert "which the scan backend cannot do" in zoned.backend.reason
    # Variational dropout acts only in training: in evaluation the scan runs again.
    dropped = rnnkit.Recurrent("mingru", 2, 3, regularizers=[VariationalDropout(0.3)])
    assert dropped.backend == "loop"
    assert dropped.eval().backend == "scan"
    cells = list(rnnkit.Recurrent("mingru", 2, 3).cells.values())
    assert choose_backend("auto", cells, per_step_hooks=["x happens"]).reason.startswith("MinGRUCell has no fused")
