"""Gradient flow: the per-step norms equal ∂L/∂h_t computed by hand; recording changes nothing else."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import rnnkit
from rnnkit.diagnostics import gradient_flow
from rnnkit.layers import recording_steps
from rnnkit.models import RecurrentRegressor


@pytest.mark.parametrize("cell", ["elman", "lstm"])
def test_gradient_flow_equals_hand_computed_total_derivatives(cell):
    torch.manual_seed(0)
    model = RecurrentRegressor(cell, 2, 5, 1, num_layers=2).double()
    x, y = torch.randn(4, 7, 2, dtype=torch.float64), torch.randn(4, 1, dtype=torch.float64)
    flow = gradient_flow(model, (x, y))
    assert all(p.grad is None for p in model.parameters())  # parameters' gradients untouched

    # By hand: run the two cells step by step and keep every hidden state's gradient.
    cells = [model.rnn.cells["l0"], model.rnn.cells["l1"]]
    states = [c.initial_state(4, dtype=torch.float64) for c in cells]
    hidden = [[], []]
    for t in range(7):
        inp = x[:, t]
        for k, c in enumerate(cells):
            h, states[k] = c(inp, states[k])
            h.retain_grad()
            hidden[k].append(h)
            inp = h
    F.mse_loss(model.head(inp), y).backward()
    expected = torch.tensor([[h.grad.norm(dim=1).mean().item() for h in layer] for layer in hidden],
                            dtype=torch.float64)

    assert flow.labels == ["rnn layer 0", "rnn layer 1"]
    torch.testing.assert_close(flow.norms, expected, rtol=1e-10, atol=1e-14)
    assert flow.decay()[0] == pytest.approx(expected[0, 0] / expected[0, -1])


def test_recording_is_the_same_function_and_leaves_the_fast_path_alone():
    torch.manual_seed(0)
    layer = rnnkit.Recurrent("gru", 3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(2, 5, 3)
    out, state = layer(x)
    with recording_steps(layer) as records:
        out2, state2 = layer(x)
    torch.testing.assert_close(out, out2)
    torch.testing.assert_close(state, state2)
    assert len(records) == 1 and len(records[0].steps) == 4 and all(len(s) == 5 for s in records[0].steps)
    # The backward direction's list is in time order: its step t output is out[:, t, H:].
    torch.testing.assert_close(records[0].steps[3][0], out2[:, 0, 4:])
    assert layer._step_records is None and layer.backend != "loop"  # the fast path again (fused for GRU)


def test_gradient_flow_needs_a_recurrent_layer():
    class NoRNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def training_step(self, batch):
            return self.lin(batch).pow(2).mean()

    with pytest.raises(ValueError, match=r"ran no rnnkit\.Recurrent layer"):
        gradient_flow(NoRNN(), torch.randn(3, 2))


def test_plot_writes_a_png(tmp_path):
    torch.manual_seed(0)
    model = RecurrentRegressor("lstm", 1, 4, 1)
    flow = gradient_flow(model, (torch.randn(3, 6, 1), torch.randn(3, 1)))
    path = flow.plot(tmp_path / "flow.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "first/last" in flow.summary()
