"""The fused backend (compiled CPU kernels, hand-written BPTT): gradcheck of every kernel family in
float64, parity with the reference loop through ``Recurrent`` (outputs, final states, every
gradient; lengths, both directions, several layers, regularisers), the opt-in rule for custom
cells, and what happens without a compiler or when the build fails."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import rnnkit
from rnnkit.backends import fused
from rnnkit.backends.fused import GRUSequence, LSTMSequence, SimpleSequence, StepRegularization
from rnnkit.backends.fused.runner import run_fused
from rnnkit.backends.loop import run_loop
from rnnkit.cells import LSTMState, RecurrentCell
from rnnkit.cells.kernel import KernelSpec, declared_kernel
from rnnkit.layers import DropConnect, VariationalDropout, Zoneout
from rnnkit.layers.regularizers import HookedCell, StepHook
from tests.conftest import max_diff

F64 = torch.float64
pytestmark = pytest.mark.skipif(fused.kernels_unavailable() is not None, reason=str(fused.kernels_unavailable()))


def _rand(*shape, **kw):
    return torch.randn(*shape, dtype=F64, **kw)


def _masks(steps, batch, hidden, generator):
    keep = (torch.rand(steps, batch, hidden, generator=generator) < 0.3).to(F64)
    var = (torch.rand(batch, hidden, generator=generator) < 0.7).to(F64) / 0.7
    return keep, var


# --- gradcheck of each kernel family, with lengths, variational dropout and zoneout ---------------

LENGTHS = torch.tensor([4, 1, 3])


@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("regularized", [False, True])
def test_gradcheck_lstm_kernel(layer_norm, regularized):
    g = torch.Generator().manual_seed(0)
    steps, batch, hidden = 4, 3, 2
    keep, var = _masks(steps, batch, hidden, g)
    reg = StepRegularization(var, (keep, 0.4)) if regularized else StepRegularization()
    inputs = (
        _rand(steps, batch, 4 * hidden, requires_grad=True), _rand(batch, hidden, requires_grad=True),
        _rand(batch, hidden, requires_grad=True), _rand(4 * hidden, hidden, requires_grad=True),
        *((_rand(4 * hidden, requires_grad=True), _rand(hidden, requires_grad=True), _rand(hidden, requires_grad=True))
          if layer_norm else (None, None, None)),
    )
    assert torch.autograd.gradcheck(lambda *a: LSTMSequence.apply(*a, 1e-5, LENGTHS, reg), inputs)


@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("regularized", [False, True])
def test_gradcheck_gru_kernel(layer_norm, regularized):
    g = torch.Generator().manual_seed(1)
    steps, batch, hidden = 4, 3, 2
    keep, var = _masks(steps, batch, hidden, g)
    reg = StepRegularization(var, (keep,)) if regularized else StepRegularization()
    inputs = (
        _rand(steps, batch, 3 * hidden, requires_grad=True), _rand(batch, hidden, requires_grad=True),
        _rand(3 * hidden, hidden, requires_grad=True), _rand(3 * hidden, requires_grad=True),
        _rand(3 * hidden, requires_grad=True) if layer_norm else None,
    )
    assert torch.autograd.gradcheck(lambda *a: GRUSequence.apply(*a, 1e-5, LENGTHS, reg), inputs)


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("relu", [False, True])
def test_gradcheck_elman_and_indrnn_kernels(diagonal, relu):
    g = torch.Generator().manual_seed(2)
    steps, batch, hidden = 4, 3, 3
    keep, var = _masks(steps, batch, hidden, g)
    weight = _rand(hidden, requires_grad=True) if diagonal else _rand(hidden, hidden, requires_grad=True)
    # Pre-activations away from relu's kink, where finite differences would disagree with the gradient.
    projected = (_rand(steps, batch, hidden).abs() + 0.5).requires_grad_()
    inputs = (projected, _rand(batch, hidden).abs().requires_grad_(), weight.detach().abs().requires_grad_())
    for reg in (StepRegularization(), StepRegularization(var, (keep,)), StepRegularization(None, (0.25,))):
        assert torch.autograd.gradcheck(lambda *a, r=reg: SimpleSequence.apply(*a, relu, LENGTHS, r), inputs)


# --- parity with the loop through Recurrent ----------------------------------------------------------

CASES = [
    ("layernorm_lstm", {}), ("layernorm_gru", {}), ("indrnn", {}), ("indrnn", {"nonlinearity": "tanh"}),
    ("lstm", {}), ("gru", {}), ("gru", {"bias": False}), ("elman", {"nonlinearity": "relu"}),
]


def _loss(out, state):
    total = (out * torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).view_as(out)).sum()
    for t in rnnkit.cells.state_tensors(state):
        total = total + (t * torch.linspace(-1.0, 1.0, t.numel(), dtype=t.dtype).view_as(t)).sum()
    return total


def _run(layer, x, h0, lengths):
    out, state = layer(x, h0, lengths)
    params = [x, *rnnkit.cells.state_tensors(h0), *layer.parameters()]
    return out, state, torch.autograd.grad(_loss(out, state), params, allow_unused=True)


@pytest.mark.parametrize(("cell", "options"), CASES, ids=[f"{c}{'-' + str(o) if o else ''}" for c, o in CASES])
def test_fused_equals_loop_with_lengths_both_directions_and_layers(cell, options):
    torch.manual_seed(0)
    loop = rnnkit.Recurrent(cell, 3, 4, num_layers=2, bidirectional=True, backend="loop", **options).double()
    ours = rnnkit.Recurrent(cell, 3, 4, num_layers=2, bidirectional=True, backend="fused", **options).double()
    ours.load_state_dict(loop.state_dict())
    x = _rand(3, 6, 3, requires_grad=True)
    h0 = rnnkit.cells.map_state(lambda t: torch.randn_like(t).requires_grad_(), loop.initial_state(3, dtype=F64))
    lengths = torch.tensor([6, 2, 5])
    out_a, state_a, grads_a = _run(loop, x, h0, lengths)
    out_b, state_b, grads_b = _run(ours, x, h0, lengths)
    assert ours.backend == "fused"
    assert max_diff(out_a, out_b) < 1e-12 and max_diff(state_a, state_b) < 1e-12
    assert out_b[1, 2:].abs().max() == 0  # zero past the end
    for a, b in zip(grads_a, grads_b, strict=True):
        assert (a is None and b is None) or max_diff(a, b) < 1e-10


def test_auto_picks_fused_for_cells_without_a_pytorch_kernel_and_says_why():
    for name in ("layernorm_lstm", "layernorm_gru", "indrnn"):
        layer = rnnkit.Recurrent(name, 2, 3)
        assert layer.backend == "fused" and "compiled CPU kernel" in layer.backend.reason
    zoned = rnnkit.Recurrent("lstm", 2, 3, regularizers=[Zoneout(0.1)])
    assert zoned.backend == "fused" and "zoneout (p=0.1)" not in zoned.backend.reason
    assert zoned.eval().backend == "fused"  # zoneout's expectation is still per step
    dropped = rnnkit.Recurrent("lstm", 2, 3, regularizers=[VariationalDropout(0.2)])
    assert dropped.backend == "fused" and dropped.eval().backend == "native"
    projected = rnnkit.Recurrent("lstm", 2, 3, proj_size=2, regularizers=[Zoneout(0.1)])
    assert projected.backend == "loop" and "proj_size" in projected.backend.reason


class _FixedMasks(StepHook):
    """Zoneout and variational dropout with given masks, stepped one by one (the loop's view)."""

    def __init__(self, keep, var):
        self.keep, self.var, self.t = keep, var, 0

    def before(self, state):
        return LSTMState(state.h * self.var, state.c) if isinstance(state, LSTMState) else state * self.var

    def after(self, old, new, output):
        keep = self.keep[self.t]
        self.t += 1
        if isinstance(new, LSTMState):
            h = torch.where(keep[0] > 0, old.h, new.h)
            return h, LSTMState(h, torch.where(keep[1] > 0, old.c, new.c))
        h = torch.where(keep > 0, old, new)
        return h, h

    def kernel_terms(self, steps):
        zone = (self.keep[:, 0], self.keep[:, 1]) if self.keep.dim() == 4 else (self.keep,)
        return {"var_mask": self.var, "zoneout": zone}


@pytest.mark.parametrize("cell", ["layernorm_lstm", "lstm", "layernorm_gru", "gru", "elman", "indrnn"])
@pytest.mark.parametrize("reverse", [False, True])
def test_training_masks_give_the_loop_s_numbers_and_gradients(cell, reverse):
    torch.manual_seed(1)
    module = rnnkit.Recurrent(cell, 3, 4, backend="loop").double().first_cell
    steps, batch = 5, 3
    g = torch.Generator().manual_seed(3)
    two = isinstance(module.initial_state(1), LSTMState)
    keep = (torch.rand(steps, 2, batch, 4, generator=g) < 0.4).to(F64) if two else (
        torch.rand(steps, batch, 4, generator=g) < 0.4).to(F64)
    var = (torch.rand(batch, 4, generator=g) < 0.7).to(F64) / 0.7
    x = _rand(steps, batch, 3, requires_grad=True)
    state = rnnkit.cells.map_state(lambda t: torch.randn_like(t), module.initial_state(batch, dtype=F64))
    lengths = torch.tensor([5, 3, 1])
    results = []
    for runner in (run_loop, run_fused):
        out, final = runner(HookedCell(module, [_FixedMasks(keep, var)]), x, state, lengths=lengths, reverse=reverse)
        grads = torch.autograd.grad(_loss(out, final), [x, *module.parameters()])
        results.append((out, final, grads))
    (out_a, final_a, grads_a), (out_b, final_b, grads_b) = results
    assert max_diff(out_a, out_b) < 1e-12 and max_diff(final_a, final_b) < 1e-12
    assert max(max_diff(a, b) for a, b in zip(grads_a, grads_b, strict=True)) < 1e-10


def test_training_zoneout_and_dropconnect_through_recurrent():
    # Zoneout's training masks are sampled differently by the two backends; the test checks the rate
    # and the mechanics: with p close to 1 the state barely moves, and DropConnect's masked weights
    # (sampled from the same seed) give the loop's numbers exactly.
    layer = rnnkit.Recurrent("layernorm_lstm", 2, 64, regularizers=[Zoneout(0.999)]).double().train()
    h0 = LSTMState(torch.ones(1, 4, 64, dtype=F64), torch.ones(1, 4, 64, dtype=F64))
    out, _ = layer(_rand(4, 3, 2), h0)
    assert layer.backend == "fused" and (out[:, -1] == 1).double().mean() > 0.98
    torch.manual_seed(5)
    loop = rnnkit.Recurrent("layernorm_gru", 2, 3, regularizers=[DropConnect(0.5)], backend="loop").double()
    ours = rnnkit.Recurrent("layernorm_gru", 2, 3, regularizers=[DropConnect(0.5)], backend="fused").double()
    ours.load_state_dict(loop.state_dict())
    x = _rand(2, 5, 2)
    torch.manual_seed(6)
    a, _ = loop(x)
    torch.manual_seed(6)
    b, _ = ours(x)
    assert max_diff(a, b) < 1e-12


# --- custom cells opt in ---------------------------------------------------------------------------


class SquashedInputLSTMCell(RecurrentCell):
    """An LSTM whose input is squashed before the projection: a custom project_input, a standard step."""

    state_type = LSTMState

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.proj = nn.Linear(input_size, 4 * hidden_size)
        self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, hidden_size) / hidden_size**0.5)

    def state_shapes(self):
        return ((self.hidden_size,), (self.hidden_size,))

    def project_input(self, x):
        return self.proj(torch.tanh(x))

    def step(self, px, state):
        gates = px + F.linear(state.h, self.weight_hh)
        i, f, g, o = gates.chunk(4, -1)
        c = torch.sigmoid(f) * state.c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, LSTMState(h, c)

    def kernel_spec(self):
        return KernelSpec("lstm", self.weight_hh)


def test_a_custom_cell_that_declares_a_kernel_runs_fused_with_the_loop_s_numbers():
    torch.manual_seed(2)
    ours = rnnkit.Recurrent(SquashedInputLSTMCell, 3, 5, num_layers=2).double()
    loop = rnnkit.Recurrent(SquashedInputLSTMCell, 3, 5, num_layers=2, backend="loop").double()
    loop.load_state_dict(ours.state_dict())
    assert ours.backend == "fused"
    x = _rand(2, 7, 3, requires_grad=True)
    h0 = rnnkit.cells.map_state(lambda t: torch.randn_like(t).requires_grad_(), ours.initial_state(2, dtype=F64))
    out_a, state_a, grads_a = _run(loop, x, h0, torch.tensor([7, 4]))
    out_b, state_b, grads_b = _run(ours, x, h0, torch.tensor([7, 4]))
    assert max_diff(out_a, out_b) < 1e-12 and max_diff(state_a, state_b) < 1e-12
    assert all(max_diff(a, b) < 1e-10 for a, b in zip(grads_a, grads_b, strict=True) if a is not None)


def test_a_subclass_that_changes_the_step_is_not_fused():
    class Doubled(SquashedInputLSTMCell):
        def step(self, px, state):
            h, s = super().step(px, state)
            return 2 * h, s

    assert declared_kernel(Doubled(2, 3)) is None
    layer = rnnkit.Recurrent(Doubled, 2, 3)
    assert layer.backend == "loop" and "declares no compiled kernel" in layer.backend.reason
    with pytest.raises(ValueError, match="backend='fused' is not available: Doubled declares no compiled kernel"):
        rnnkit.Recurrent(Doubled, 2, 3, backend="fused")


# --- without a compiler, or when the build fails -----------------------------------------------------


def test_without_a_compiler_auto_runs_the_loop_and_says_why(monkeypatch):
    monkeypatch.setattr(fused.build, "_state", {"loaded": False, "failure": None})
    monkeypatch.setattr(fused.build, "compiler", lambda: None)
    layer = rnnkit.Recurrent("layernorm_lstm", 2, 3)
    assert layer.backend == "loop" and "no C++ compiler found" in layer.backend.reason
    assert layer(torch.randn(1, 4, 2))[0].shape == (1, 4, 3)
    with pytest.raises(ValueError, match="backend='fused' is not available: no C\\+\\+ compiler found"):
        rnnkit.Recurrent("layernorm_lstm", 2, 3, backend="fused")


def test_a_failed_build_is_reported_and_auto_falls_back_to_the_loop(monkeypatch, capsys, tmp_path):
    def failing_load(*args, **kwargs):
        raise RuntimeError("Error building extension 'rnnkit_cpu': g++ exploded")

    monkeypatch.setattr(fused.build, "_state", {"loaded": False, "failure": None})
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("torch.utils.cpp_extension.load", failing_load)
    layer = rnnkit.Recurrent("indrnn", 2, 3)
    assert layer.backend == "fused"  # buildable, as far as anyone can tell before building
    out, _ = layer(torch.randn(1, 4, 2))
    err = capsys.readouterr().err
    assert "building rnnkit CPU kernels, once" in err and "failed to build (Error building extension" in err
    assert layer.backend == "loop" and "failed to build" in layer.backend.reason
    assert out.shape == (1, 4, 3)


def test_the_drop_ins_refuse_backends_they_would_not_run():
    with pytest.raises(ValueError, match=r"backend: the drop-ins take one of .*got 'fused'"):
        rnnkit.LSTM(2, 3, backend="fused")
